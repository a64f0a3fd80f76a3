// shiftkit stream library: vector buffer (the input side of a folded dense
// layer).
//
// Takes a vector of WORDS beats of CHUNK codes and sends it REPEAT times, each
// time as the same WORDS beats in order: the input a matrix-vector unit with
// REPEAT neuron folds reads. Two banks of a synchronous RAM (2*WORDS words)
// alternate: while one vector is sent, the next is written into the other
// bank, so both sides run at one beat per cycle.
//
// Timing (mirrored by the generator's timing model): a beat is taken when the
// bank being written is free. The reader issues a RAM read when its bank is
// full and its two-entry output queue (sk_readq) has room for the word; the
// word joins the queue one cycle later. A bank is free again from the cycle
// after its last read issues.
module sk_vecbuf #(
    parameter integer BITS = 8,
    parameter integer CHUNK = 1,
    parameter integer WORDS = 2,
    parameter integer REPEAT = 1,
    // Where the storage goes: "block" RAM, "logic", or "auto" (the tool's choice).
    // (read by synthesis tools only: simulators see an unused parameter)
    // verilator lint_off UNUSEDPARAM
    parameter RAM_STYLE = "auto"
    // verilator lint_on UNUSEDPARAM
) (
    input  wire                  clk,
    input  wire                  rst,
    input  wire [CHUNK*BITS-1:0] s_data,
    input  wire                  s_valid,
    output wire                  s_ready,
    output wire [CHUNK*BITS-1:0] m_data,
    output wire                  m_valid,
    input  wire                  m_ready
);
    // Parameters no design can have stop elaboration here: the missing module's
    // name says which (every tool reports an unknown module by name).
    generate
        if (CHUNK < 1 || WORDS < 1 || REPEAT < 1) begin : g_bad_0
            sk_vecbuf_needs_CHUNK_WORDS_REPEAT_at_least_1 u_bad ();
        end
    endgenerate

    localparam integer DW = CHUNK * BITS;
    localparam integer IW = WORDS > 1 ? $clog2(WORDS) : 1;
    localparam integer AW = WORDS > 1 ? IW + 1 : 1;
    localparam integer RW = REPEAT > 1 ? $clog2(REPEAT) : 1;
    localparam [IW-1:0] I_ONE = 1;
    localparam integer I_LAST_I = WORDS - 1;
    localparam [IW-1:0] I_LAST = I_LAST_I[IW-1:0];
    localparam [RW-1:0] R_ONE = 1;
    localparam integer R_LAST_I = REPEAT - 1;
    localparam [RW-1:0] R_LAST = R_LAST_I[RW-1:0];

    (* ram_style = RAM_STYLE *) reg [DW-1:0] mem [0:2*WORDS-1];
    reg [1:0] full_q;

    reg rbank_q;
    reg [IW-1:0] ridx_q;
    reg [RW-1:0] rrep_q;

    // Writer.
    reg wbank_q;
    reg [IW-1:0] widx_q;
    wire wlast = widx_q == I_LAST;
    assign s_ready = !full_q[wbank_q];
    wire wfire = s_valid && s_ready;
    wire [AW-1:0] waddr;
    wire [AW-1:0] raddr;
    generate
        if (WORDS == 1) begin : g_one_word
            assign waddr = wbank_q;
            assign raddr = rbank_q;
        end else begin : g_words
            localparam [AW-1:0] A_WORDS = WORDS[AW-1:0];
            assign waddr = {1'b0, widx_q} + (wbank_q ? A_WORDS : {AW{1'b0}});
            assign raddr = {1'b0, ridx_q} + (rbank_q ? A_WORDS : {AW{1'b0}});
        end
    endgenerate
    always @(posedge clk) begin
        if (wfire) mem[waddr] <= s_data;
    end
    always @(posedge clk) begin
        if (rst) begin
            wbank_q <= 1'b0;
            widx_q <= {IW{1'b0}};
        end else if (wfire) begin
            widx_q <= wlast ? {IW{1'b0}} : widx_q + I_ONE;
            if (wlast) wbank_q <= !wbank_q;
        end
    end

    // Reader.
    reg [DW-1:0] rdata_q;
    wire issue;
    wire rword_last = ridx_q == I_LAST;
    wire rlast = rword_last && rrep_q == R_LAST;
    always @(posedge clk) begin
        if (issue) rdata_q <= mem[raddr];
    end
    always @(posedge clk) begin
        if (rst) begin
            rbank_q <= 1'b0;
            ridx_q <= {IW{1'b0}};
            rrep_q <= {RW{1'b0}};
        end else if (issue) begin
            ridx_q <= rword_last ? {IW{1'b0}} : ridx_q + I_ONE;
            if (rword_last) rrep_q <= rlast ? {RW{1'b0}} : rrep_q + R_ONE;
            if (rlast) rbank_q <= !rbank_q;
        end
    end
    sk_readq #(.W(DW)) u_out (
        .clk(clk), .rst(rst),
        .avail(full_q[rbank_q]), .issue(issue), .rdata(rdata_q),
        .m_data(m_data), .m_valid(m_valid), .m_ready(m_ready)
    );

    always @(posedge clk) begin
        if (rst) begin
            full_q <= 2'b00;
        end else begin
            if (wfire && wlast) full_q[wbank_q] <= 1'b1;
            if (issue && rlast) full_q[rbank_q] <= 1'b0;
        end
    end
endmodule

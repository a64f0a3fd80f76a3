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
// full and its two-entry output queue has room for the word (counting the
// read in flight and a beat leaving this cycle); the word joins the queue one
// cycle later. A bank is free again from the cycle after its last read issues.
module sk_vecbuf #(
    parameter integer BITS = 8,
    parameter integer CHUNK = 1,
    parameter integer WORDS = 2,
    parameter integer REPEAT = 1
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

    reg [DW-1:0] mem [0:2*WORDS-1];
    reg [1:0] full_q;

    // Writer.
    reg wbank_q;
    reg [IW-1:0] widx_q;
    wire wlast = widx_q == I_LAST;
    assign s_ready = !full_q[wbank_q];
    wire wfire = s_valid && s_ready;
    wire [AW-1:0] waddr;
    wire [AW-1:0] raddr;
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
    reg rbank_q;
    reg [IW-1:0] ridx_q;
    reg [RW-1:0] rrep_q;
    reg inflight_q;
    reg [1:0] count_q;
    reg [DW-1:0] rdata_q;
    reg [DW-1:0] head_q;
    reg [DW-1:0] next_q;
    wire pop = m_valid && m_ready;
    wire [2:0] after = {1'b0, count_q} + {2'b0, inflight_q} - {2'b0, pop};
    wire issue = full_q[rbank_q] && after <= 3'd1;
    wire rword_last = ridx_q == I_LAST;
    wire rlast = rword_last && rrep_q == R_LAST;
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
    assign m_valid = count_q != 2'd0;
    assign m_data = head_q;
    always @(posedge clk) begin
        if (issue) rdata_q <= mem[raddr];
    end
    always @(posedge clk) begin
        if (rst) begin
            rbank_q <= 1'b0;
            ridx_q <= {IW{1'b0}};
            rrep_q <= {RW{1'b0}};
            inflight_q <= 1'b0;
            count_q <= 2'd0;
        end else begin
            inflight_q <= issue;
            count_q <= after[1:0];
            if (issue) begin
                ridx_q <= rword_last ? {IW{1'b0}} : ridx_q + I_ONE;
                if (rword_last) rrep_q <= rlast ? {RW{1'b0}} : rrep_q + R_ONE;
                if (rlast) rbank_q <= !rbank_q;
            end
        end
    end
    // The output queue: head_q, then next_q.
    always @(posedge clk) begin
        if (pop) begin
            if (count_q == 2'd2) begin
                head_q <= next_q;
                if (inflight_q) next_q <= rdata_q;
            end else begin
                head_q <= rdata_q;
            end
        end else if (inflight_q) begin
            if (count_q == 2'd0) head_q <= rdata_q;
            else next_q <= rdata_q;
        end
    end

    always @(posedge clk) begin
        if (rst) begin
            full_q <= 2'b00;
        end else begin
            if (wfire && wlast) full_q[wbank_q] <= 1'b1;
            if (issue && rlast) full_q[rbank_q] <= 1'b0;
        end
    end
endmodule

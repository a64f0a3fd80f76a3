// shiftkit stream library: FIFO between layers.
//
// DEPTH beats in a synchronous-read RAM (block RAM when large) and a
// two-entry output queue in registers (sk_readq), so s_ready and m_valid are
// registers and the FIFO runs at one beat per cycle on both sides. A beat written in
// one cycle can leave three cycles later. The generator sizes DEPTH from its
// timing model, so that bursts of one layer do not stall its neighbours.
//
// Timing (mirrored by the generator's timing model): a beat is taken while
// fewer than DEPTH are in the RAM. A read issues when the RAM holds a beat
// written in an earlier cycle and the output queue has room for it (counting
// the read in flight and a beat leaving this cycle); the beat joins the queue
// one cycle later.
module sk_fifo #(
    parameter integer W = 8,
    parameter integer DEPTH = 2,
    // Where the storage goes: "block" RAM, "logic", or "auto" (the tool's choice).
    // (read by synthesis tools only: simulators see an unused parameter)
    // verilator lint_off UNUSEDPARAM
    parameter RAM_STYLE = "auto"
    // verilator lint_on UNUSEDPARAM
) (
    input  wire         clk,
    input  wire         rst,
    input  wire [W-1:0] s_data,
    input  wire         s_valid,
    output wire         s_ready,
    output wire [W-1:0] m_data,
    output wire         m_valid,
    input  wire         m_ready
);
    // Parameters no design can have stop elaboration here: the missing module's
    // name says which (every tool reports an unknown module by name).
    generate
        if (DEPTH < 1) begin : g_bad_0
            sk_fifo_needs_DEPTH_at_least_1 u_bad ();
        end
    endgenerate

    localparam integer AW = DEPTH > 1 ? $clog2(DEPTH) : 1;
    localparam integer CW = $clog2(DEPTH + 1);
    localparam [AW-1:0] A_ONE = 1;
    localparam integer A_LAST_I = DEPTH - 1;
    localparam [AW-1:0] A_LAST = A_LAST_I[AW-1:0];
    localparam [CW-1:0] C_ONE = 1;
    localparam [CW-1:0] C_FULL = DEPTH[CW-1:0];

    (* ram_style = RAM_STYLE *) reg [W-1:0] mem [0:DEPTH-1];
    reg [AW-1:0] wptr_q;
    reg [AW-1:0] rptr_q;
    reg [CW-1:0] count_q;
    reg [W-1:0] rdata_q;
    wire issue;

    assign s_ready = count_q != C_FULL;
    wire wfire = s_valid && s_ready;

    always @(posedge clk) begin
        if (wfire) mem[wptr_q] <= s_data;
        if (issue) rdata_q <= mem[rptr_q];
    end

    always @(posedge clk) begin
        if (rst) begin
            wptr_q <= {AW{1'b0}};
            rptr_q <= {AW{1'b0}};
            count_q <= {CW{1'b0}};
        end else begin
            if (wfire) wptr_q <= wptr_q == A_LAST ? {AW{1'b0}} : wptr_q + A_ONE;
            if (issue) rptr_q <= rptr_q == A_LAST ? {AW{1'b0}} : rptr_q + A_ONE;
            if (wfire && !issue) count_q <= count_q + C_ONE;
            else if (issue && !wfire) count_q <= count_q - C_ONE;
        end
    end

    sk_readq #(.W(W)) u_out (
        .clk(clk), .rst(rst),
        .avail(count_q != {CW{1'b0}}), .issue(issue), .rdata(rdata_q),
        .m_data(m_data), .m_valid(m_valid), .m_ready(m_ready)
    );
endmodule

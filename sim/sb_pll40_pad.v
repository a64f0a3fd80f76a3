// shiftkit: a simulation model of the iCE40 PLL primitive SB_PLL40_PAD.
//
// The simulated board drives the pad at the PLL's output frequency, so the
// model passes it through; LOCK rises after 16 cycles (RESETB high, not in
// bypass). The dividers are the synthesis tool's business: here they are
// parameters that change nothing.
module SB_PLL40_PAD #(
    // verilator lint_off UNUSEDPARAM
    parameter FEEDBACK_PATH = "SIMPLE",
    parameter [3:0] DIVR = 4'd0,
    parameter [6:0] DIVF = 7'd0,
    parameter [2:0] DIVQ = 3'd0,
    parameter [2:0] FILTER_RANGE = 3'd0
    // verilator lint_on UNUSEDPARAM
) (
    input  wire PACKAGEPIN,
    output wire PLLOUTGLOBAL,
    output wire LOCK,
    input  wire RESETB,
    input  wire BYPASS
);
    reg [4:0] count_q = 5'd0;
    always @(posedge PACKAGEPIN) begin
        if (!RESETB) count_q <= 5'd0;
        else if (!count_q[4]) count_q <= count_q + 5'd1;
    end
    assign PLLOUTGLOBAL = PACKAGEPIN;
    assign LOCK = count_q[4];
    wire unused_bypass = BYPASS;
endmodule

// shiftkit: a simulation model of the ECP5 PLL primitive EHXPLLL, as the
// board top configures it (CLKOP fed back).
//
// The simulated board drives the oscillator pin at the PLL's output
// frequency, so the model passes it through; LOCK rises after 16 cycles (RST
// low). The dividers and the other controls are the synthesis tool's
// business: here they are parameters and inputs that change nothing.
module EHXPLLL #(
    // verilator lint_off UNUSEDPARAM
    parameter CLKI_DIV = 1,
    parameter CLKFB_DIV = 1,
    parameter CLKOP_DIV = 8,
    parameter CLKOP_CPHASE = 0,
    parameter CLKOP_FPHASE = 0,
    parameter CLKOP_ENABLE = "ENABLED",
    parameter FEEDBK_PATH = "CLKOP",
    parameter PLLRST_ENA = "DISABLED",
    parameter INTFB_WAKE = "DISABLED",
    parameter STDBY_ENABLE = "DISABLED",
    parameter DPHASE_SOURCE = "DISABLED",
    parameter OUTDIVIDER_MUXA = "DIVA",
    parameter OUTDIVIDER_MUXB = "DIVB",
    parameter OUTDIVIDER_MUXC = "DIVC",
    parameter OUTDIVIDER_MUXD = "DIVD"
    // verilator lint_on UNUSEDPARAM
) (
    input  wire CLKI,
    input  wire CLKFB,
    input  wire RST,
    input  wire STDBY,
    input  wire PHASESEL0,
    input  wire PHASESEL1,
    input  wire PHASEDIR,
    input  wire PHASESTEP,
    input  wire PHASELOADREG,
    input  wire PLLWAKESYNC,
    input  wire ENCLKOP,
    output wire CLKOP,
    output wire CLKINTFB,
    output wire LOCK
);
    reg [4:0] count_q = 5'd0;
    always @(posedge CLKI) begin
        if (RST) count_q <= 5'd0;
        else if (!count_q[4]) count_q <= count_q + 5'd1;
    end
    assign CLKOP = CLKI;
    assign CLKINTFB = 1'b0;
    assign LOCK = count_q[4];
    wire unused = &{1'b0, CLKFB, STDBY, PHASESEL0, PHASESEL1, PHASEDIR, PHASESTEP,
                    PHASELOADREG, PLLWAKESYNC, ENCLKOP};
endmodule

// Simulation model of the iCE40 UltraPlus DSP block SB_MAC16 in the one
// configuration shiftkit instantiates (hdl/sk_mul16.v: an unregistered
// signed 16 x 16 multiplier, O = A * B). Any other configuration stops
// elaboration by name. For simulators and lint only, never synthesis: the
// tools map SB_MAC16 to the device's block. tests/hdl_parts.rs holds it to
// Yosys's own model of the block (ice40/cells_sim.v) on random operands.
// verilator lint_off UNUSEDSIGNAL
// verilator lint_off UNUSEDPARAM
// verilator lint_off DECLFILENAME
module SB_MAC16 #(
    parameter [0:0] NEG_TRIGGER = 0,
    parameter [0:0] C_REG = 0,
    parameter [0:0] A_REG = 0,
    parameter [0:0] B_REG = 0,
    parameter [0:0] D_REG = 0,
    parameter [0:0] TOP_8x8_MULT_REG = 0,
    parameter [0:0] BOT_8x8_MULT_REG = 0,
    parameter [0:0] PIPELINE_16x16_MULT_REG1 = 0,
    parameter [0:0] PIPELINE_16x16_MULT_REG2 = 0,
    parameter [1:0] TOPOUTPUT_SELECT = 0,
    parameter [1:0] TOPADDSUB_LOWERINPUT = 0,
    parameter [0:0] TOPADDSUB_UPPERINPUT = 0,
    parameter [1:0] TOPADDSUB_CARRYSELECT = 0,
    parameter [1:0] BOTOUTPUT_SELECT = 0,
    parameter [1:0] BOTADDSUB_LOWERINPUT = 0,
    parameter [0:0] BOTADDSUB_UPPERINPUT = 0,
    parameter [1:0] BOTADDSUB_CARRYSELECT = 0,
    parameter [0:0] MODE_8x8 = 0,
    parameter [0:0] A_SIGNED = 0,
    parameter [0:0] B_SIGNED = 0
) (
    input  wire        CLK, CE,
    input  wire [15:0] C, A, B, D,
    input  wire        AHOLD, BHOLD, CHOLD, DHOLD,
    input  wire        IRSTTOP, IRSTBOT, ORSTTOP, ORSTBOT,
    input  wire        OLOADTOP, OLOADBOT, ADDSUBTOP, ADDSUBBOT,
    input  wire        OHOLDTOP, OHOLDBOT,
    input  wire        CI, ACCUMCI, SIGNEXTIN,
    output wire [31:0] O,
    output wire        CO, ACCUMCO, SIGNEXTOUT
);
    // verilator lint_on DECLFILENAME
    generate
        if (C_REG || A_REG || B_REG || D_REG || TOP_8x8_MULT_REG || BOT_8x8_MULT_REG
            || PIPELINE_16x16_MULT_REG1 || PIPELINE_16x16_MULT_REG2
            || TOPOUTPUT_SELECT != 2'b11 || BOTOUTPUT_SELECT != 2'b11 || MODE_8x8
            || !A_SIGNED || !B_SIGNED) begin : g_bad
            sb_mac16_model_knows_only_the_unregistered_signed_16x16_product u_bad ();
        end
    endgenerate
    assign O = $signed(A) * $signed(B);
    assign CO = 1'b0;
    assign ACCUMCO = 1'b0;
    assign SIGNEXTOUT = 1'b0;
endmodule
// verilator lint_on UNUSEDPARAM
// verilator lint_on UNUSEDSIGNAL

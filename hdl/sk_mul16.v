// shiftkit stream library: a signed 16 x 16 multiplier on one iCE40
// UltraPlus DSP block (SB_MAC16), unregistered: O = A * B (32 bits, two's
// complement). The configuration is the one Yosys's synth_ice40 -dsp gives a
// 16 x 16 product ($__MUL16X16 in its ice40/dsp_map.v): no input, product
// or output register, the top half of the output the product's upper 16
// bits, the bottom half its lower 16 (OUTPUT_SELECT 3), both inputs signed.
// For simulation, sim/sb_mac16.v models the block in this configuration.
module sk_mul16 (
    input  wire [15:0] a,
    input  wire [15:0] b,
    output wire [31:0] o
);
    // verilator lint_off UNUSEDSIGNAL
    wire co, accumco, signextout;
    // verilator lint_on UNUSEDSIGNAL
    SB_MAC16 #(
        .NEG_TRIGGER(1'b0),
        .C_REG(1'b0),
        .A_REG(1'b0),
        .B_REG(1'b0),
        .D_REG(1'b0),
        .TOP_8x8_MULT_REG(1'b0),
        .BOT_8x8_MULT_REG(1'b0),
        .PIPELINE_16x16_MULT_REG1(1'b0),
        .PIPELINE_16x16_MULT_REG2(1'b0),
        .TOPOUTPUT_SELECT(2'b11),
        .TOPADDSUB_LOWERINPUT(2'b00),
        .TOPADDSUB_UPPERINPUT(1'b0),
        .TOPADDSUB_CARRYSELECT(2'b00),
        .BOTOUTPUT_SELECT(2'b11),
        .BOTADDSUB_LOWERINPUT(2'b00),
        .BOTADDSUB_UPPERINPUT(1'b0),
        .BOTADDSUB_CARRYSELECT(2'b00),
        .MODE_8x8(1'b0),
        .A_SIGNED(1'b1),
        .B_SIGNED(1'b1)
    ) u_mac (
        .CLK(1'b0), .CE(1'b0),
        .C(16'd0), .A(a), .B(b), .D(16'd0),
        .AHOLD(1'b0), .BHOLD(1'b0), .CHOLD(1'b0), .DHOLD(1'b0),
        .IRSTTOP(1'b0), .IRSTBOT(1'b0), .ORSTTOP(1'b0), .ORSTBOT(1'b0),
        .OLOADTOP(1'b0), .OLOADBOT(1'b0), .ADDSUBTOP(1'b0), .ADDSUBBOT(1'b0),
        .OHOLDTOP(1'b0), .OHOLDBOT(1'b0),
        .CI(1'b0), .ACCUMCI(1'b0), .SIGNEXTIN(1'b0),
        .O(o), .CO(co), .ACCUMCO(accumco), .SIGNEXTOUT(signextout)
    );
endmodule

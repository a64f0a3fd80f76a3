// shiftkit: a simulation model of the iCE40 UltraPlus single-port RAM
// SB_SPRAM256KA (16384 words of 16 bits), for Verilator and Icarus; synthesis
// uses the tool's primitive and never reads this file.
//
// As Yosys's cells_sim.v has it for the modes shiftkit uses: with
// CHIPSELECT high on a clock edge, WREN low reads the word at ADDRESS into
// DATAOUT, WREN high writes the nibbles MASKWREN selects (DATAOUT is then
// undefined: here it keeps its value); with CHIPSELECT low DATAOUT holds.
// STANDBY, SLEEP and a low POWEROFF stop it (shiftkit ties them off). The
// contents at power-up are undefined: here zero, which no design may rely on.
// verilator lint_off DECLFILENAME
module SB_SPRAM256KA (
    input  wire [13:0] ADDRESS,
    input  wire [15:0] DATAIN,
    input  wire [3:0]  MASKWREN,
    input  wire        WREN,
    input  wire        CHIPSELECT,
    input  wire        CLOCK,
    input  wire        STANDBY,
    input  wire        SLEEP,
    input  wire        POWEROFF,
    output reg  [15:0] DATAOUT
);
    // verilator lint_on DECLFILENAME
    reg [15:0] mem [0:16383];
    integer i;
    initial begin
        for (i = 0; i < 16384; i = i + 1) mem[i] = 16'd0;
        DATAOUT = 16'd0;
    end
    wire on = CHIPSELECT && !STANDBY && !SLEEP && POWEROFF;
    always @(posedge CLOCK) begin
        if (on) begin
            if (!WREN) begin
                DATAOUT <= mem[ADDRESS];
            end else begin
                if (MASKWREN[0]) mem[ADDRESS][3:0] <= DATAIN[3:0];
                if (MASKWREN[1]) mem[ADDRESS][7:4] <= DATAIN[7:4];
                if (MASKWREN[2]) mem[ADDRESS][11:8] <= DATAIN[11:8];
                if (MASKWREN[3]) mem[ADDRESS][15:12] <= DATAIN[15:12];
            end
        end
    end
endmodule

// shiftkit simulation model: a SPI NOR flash as sk_flash_reader uses it.
//
// Sampled on the falling edge of the system clock: the reader drives the SPI
// lines from registers of its rising edge, so the model sees every change
// half a cycle later and its answer is there by the next rising edge (a
// real flash's output is valid within some 8 ns of the SPI clock's fall). Powers up asleep (deep power-
// down, as the iCE40 may leave it after configuration): only 0xAB (release)
// is heard, and the chip answers nothing until it has been deselected for
// T_RES clock cycles after it. Then 0x03 with a 24-bit address reads from
// there on, a bit put out after every falling edge, most significant first.
// The contents: the bytes of IMAGE ($readmemh, one byte a line) from OFFSET,
// 0xFF elsewhere (an erased flash); with no IMAGE, byte a is
// (a * 37 + a / 256) mod 256.
module spi_flash #(
    parameter IMAGE = "",
    parameter integer OFFSET = 0,
    parameter integer SIZE = 1,
    parameter integer T_RES = 1
) (
    input  wire clk,
    input  wire sck,
    input  wire ss_n,
    input  wire mosi,
    output reg  miso
);
    reg [7:0] image [0:SIZE-1];
    initial begin
        if (IMAGE != "") $readmemh(IMAGE, image);
        miso = 1'b1;
    end

    function [7:0] content(input [23:0] a);
        integer i;
        begin
            i = {8'd0, a};
            if (IMAGE == "") content = a[7:0] * 8'd37 + a[15:8];
            else if (i >= OFFSET && i < OFFSET + SIZE) content = image[i - OFFSET];
            else content = 8'hff;
        end
    endfunction

    reg sck_q = 1'b0;
    reg awake = 1'b0;
    reg woken = 1'b0;      // 0xAB heard in this selection
    integer since = 0;     // cycles deselected since then
    reg [30:0] header = 31'd0;  // the bits before this one
    integer heard = 0;     // bits of this selection
    reg reading = 1'b0;
    reg [23:0] addr = 24'd0;
    integer bit_i = 0;

    wire [7:0] current = content(addr);

    always @(negedge clk) begin
        sck_q <= sck;
        if (ss_n) begin
            if (woken) begin
                if (since + 1 >= T_RES) begin
                    awake <= 1'b1;
                    woken <= 1'b0;
                end
                since <= since + 1;
            end
            heard <= 0;
            reading <= 1'b0;
            miso <= 1'b1;
        end else if (sck && !sck_q) begin
            header <= {header[29:0], mosi};
            heard <= heard + 1;
            if (heard == 7 && {header[6:0], mosi} == 8'hab) begin
                woken <= 1'b1;
                since <= 0;
            end
            if (awake && heard == 31 && header[30:23] == 8'h03) begin
                reading <= 1'b1;
                addr <= {header[22:0], mosi};
                bit_i <= 0;
            end
        end else if (!sck && sck_q && reading) begin
            miso <= current[7 - bit_i];
            if (bit_i == 7) begin
                bit_i <= 0;
                addr <= addr + 24'd1;
            end else begin
                bit_i <= bit_i + 1;
            end
        end
    end
endmodule

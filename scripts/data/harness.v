// A harness for placing an unrolled top on a small device: its input
// vector shifted in a byte a clock, its output word registered and read a
// byte at a time, so the top's wide ports need no pins. The paths the
// harness adds are one register deep; the top's own set the clock.
module harness #(
    parameter integer IN_BITS = 16,
    parameter integer OUT_BITS = 8
) (
    input  wire       clk,
    input  wire       rst,
    input  wire [7:0] din,
    input  wire       valid,
    input  wire       ready,
    input  wire [7:0] sel,
    output reg  [7:0] dout,
    output wire       out_valid
);
    localparam integer IN_W = (IN_BITS + 7) / 8 * 8;
    reg [IN_W-1:0] in_q;
    always @(posedge clk) in_q <= {in_q[IN_W-9:0], din};
    wire [OUT_BITS-1:0] y;
    shiftkit_top u_top (
        .clk(clk), .rst(rst),
        .s_axis_tdata(in_q[IN_BITS-1:0]), .s_axis_tvalid(valid), .s_axis_tlast(1'b1),
        .s_axis_tready(),
        .m_axis_tdata(y), .m_axis_tvalid(out_valid), .m_axis_tlast(), .m_axis_tready(ready)
    );
    localparam integer OUT_W = (OUT_BITS + 7) / 8 * 8;
    reg [OUT_W-1:0] y_q;
    always @(posedge clk) begin
        y_q <= {{(OUT_W-OUT_BITS){1'b0}}, y};
        dout <= y_q[sel*8 +: 8];
    end
endmodule

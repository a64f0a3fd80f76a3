// shiftkit stream library: streaming max pooling.
//
// Pixels (C codes) in, in raster order; the maximum of every KH x KW window at
// stride (SH, SW), per channel, out, one pixel per beat in raster order (no
// padding, floor mode). The windows come from sk_window (its line buffer holds
// the KH-1 rows above); the maximum is a comparator tree (sk_argmax) on its
// output register, so the module adds no latency of its own. Pools whose
// windows do not overlap are generated as sk_maxpool_serial, which holds no
// window.
module sk_maxpool #(
    parameter integer BITS = 8,
    parameter integer SIGNED = 0,
    parameter integer C = 1,
    parameter integer H = 4,
    parameter integer W = 4,
    parameter integer KH = 2,
    parameter integer KW = 2,
    parameter integer SH = 2,
    parameter integer SW = 2,
    // Where the line buffers go: "block" RAM, "logic", or "auto" (the tool's choice).
    // (read by synthesis tools only: simulators see an unused parameter)
    // verilator lint_off UNUSEDPARAM
    parameter RAM_STYLE = "auto"
    // verilator lint_on UNUSEDPARAM
) (
    input  wire              clk,
    input  wire              rst,
    input  wire [C*BITS-1:0] s_data,
    input  wire              s_valid,
    output wire              s_ready,
    output wire [C*BITS-1:0] m_data,
    output wire              m_valid,
    input  wire              m_ready
);
    // Parameters no design can have stop elaboration here: the missing module's
    // name says which (every tool reports an unknown module by name).
    generate
        if (SH < 1 || SW < 1 || KH > H || KW > W) begin : g_bad_0
            sk_maxpool_needs_a_window_inside_the_image u_bad ();
        end
    endgenerate

    localparam integer K = KH * KW;
    wire [K*C*BITS-1:0] window;
    sk_window #(
        .BITS(BITS), .C(C), .H(H), .W(W), .KH(KH), .KW(KW), .SH(SH), .SW(SW),
        .PH(0), .PW(0), .CHUNK(K * C), .REPEAT(1), .RAM_STYLE(RAM_STYLE)
    ) u_window (
        .clk(clk), .rst(rst),
        .s_data(s_data), .s_valid(s_valid), .s_ready(s_ready),
        .m_data(window), .m_valid(m_valid), .m_ready(m_ready)
    );
    localparam integer IW = K > 1 ? $clog2(K) : 1;
    genvar c, i;
    generate
        for (c = 0; c < C; c = c + 1) begin : g_channel
            wire [K*BITS-1:0] values;
            for (i = 0; i < K; i = i + 1) begin : g_pixel
                assign values[i*BITS +: BITS] = window[(i*C+c)*BITS +: BITS];
            end
            wire [IW-1:0] unused_index;
            sk_argmax #(.N(K), .BITS(BITS), .SIGNED(SIGNED), .IW(IW)) u_max (
                .x(values), .max(m_data[c*BITS +: BITS]), .index(unused_index)
            );
        end
    endgenerate
endmodule

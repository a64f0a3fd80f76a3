// shiftkit stream library: ReLU on a stream (a layer of its own, as after a
// pool or a flatten; a ReLU after a weighted layer is part of its
// requantization). Combinational: max(0, x) per code; valid and ready pass.
module sk_relu #(
    parameter integer LANES = 1,
    parameter integer BITS = 8
) (
    input  wire [LANES*BITS-1:0] s_data,
    input  wire                  s_valid,
    output wire                  s_ready,
    output wire [LANES*BITS-1:0] m_data,
    output wire                  m_valid,
    input  wire                  m_ready
);
    assign s_ready = m_ready;
    assign m_valid = s_valid;
    genvar i;
    generate
        for (i = 0; i < LANES; i = i + 1) begin : g_lane
            wire [BITS-1:0] x = s_data[i*BITS +: BITS];
            assign m_data[i*BITS +: BITS] = x[BITS-1] ? {BITS{1'b0}} : x;
        end
    endgenerate
endmodule

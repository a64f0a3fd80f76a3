// {{ header }}
// Top `{{ module }}`, streaming dataflow: {{ inputs }} inputs ({{ input_format }}) -> {{ outputs }} outputs ({{ output_format }}).
// Input: {{ in_desc }} per image ({{ in_order }});
// code i of a beat at bits [(i+1)*{{ in_bits }}-1 : i*{{ in_bits }}].
// Output: {{ out_desc }} per image ({{ out_order }}).
// Cycles per image (initiation interval, no stalls): {{ cycles }}; latency from an image's
// first input beat to its last output beat: {{ latency }} cycles (from the first cycle after reset
// on: no idle cycles needed). tlast marks the last beat of every image, in and out; s_axis_tlast is
// not needed (images are counted in beats) and no beat of an image leaves before its first beat
// has entered. Every layer is a stream module with valid/ready handshakes (AXI4-Stream
// semantics), followed by a skid buffer or a FIFO: a stall at the output propagates back one
// register slice at a time.
{%- for line in layer_lines %}
//   {{ line }}
{%- endfor %}

module {{ module }} (
    // clock and synchronous active-high reset
    input  wire clk,
    input  wire rst,
{%- if weight_bytes > 0 %}
    // weight load: after power-up, the {{ weight_bytes }} bytes of weights.hex in order
    // (the weights kept in SPRAM, which the bitstream cannot fill); no image enters before
    // the last of them
    input  wire [7:0] w_axis_tdata,
    input  wire w_axis_tvalid,
    output wire w_axis_tready,
{%- endif %}
    // input stream
    input  wire [{{ in_msb }}:0] s_axis_tdata,
    input  wire s_axis_tvalid,
    input  wire s_axis_tlast,
    output wire s_axis_tready,
    // output stream
    output wire [{{ out_msb }}:0] m_axis_tdata,
{%- if argmax_bits > 0 %}
    // index of the largest output (the lowest index on ties)
    output wire [{{ argmax_msb }}:0] m_axis_tuser,
{%- endif %}
    output wire m_axis_tvalid,
    output wire m_axis_tlast,
    input  wire m_axis_tready
);
{%- for line in body %}
{%- if line.is_empty() %}

{%- else %}
    {{ line }}
{%- endif %}
{%- endfor %}
endmodule

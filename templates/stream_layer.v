// {{ header }}
// Layer `{{ layer }}` ({{ op }}), streaming:
{%- for line in summary.lines() %}
// {{ line }}
{%- endfor %}
{%- for line in notes %}
// {{ line }}
{%- endfor %}

module {{ module }} (
    input  wire clk,
    input  wire rst,
{%- if weights %}
    // weight load: 16-bit words of the SPRAM, after power-up
    input  wire [15:0] w_data,
    input  wire w_valid,
    output wire w_ready,
{%- endif %}
    // input stream: {{ in_desc }}
    input  wire [{{ in_msb }}:0] s_data,
    input  wire s_valid,
    output wire s_ready,
    // output stream: {{ out_desc }}
    output wire [{{ out_msb }}:0] m_data,
    output wire m_valid,
    input  wire m_ready
);
{%- for line in body %}
{%- if line.is_empty() %}

{%- else %}
    {{ line }}
{%- endif %}
{%- endfor %}
endmodule

// {{ header }}
// Layer `{{ layer }}`: {{ summary }}
// Input lanes: {{ inputs }} x {{ input_format }}; output lanes: {{ outputs }} x {{ output_format }}.
// Latency: {{ latency }} cycles (register stages, the output register included).
//
{%- for line in notes %}
// {{ line }}
{%- endfor %}

module {{ module }} (
    // clock and pipeline enable
    input  wire clk,
    input  wire ce,
    // lane i at [(i+1)*{{ input_bits }}-1 : i*{{ input_bits }}]
    input  wire [{{ in_msb }}:0] x,
    // lane j at [(j+1)*{{ output_bits }}-1 : j*{{ output_bits }}]
    output wire [{{ out_msb }}:0] y
);
{%- for line in wires %}
    {{ line }}
{%- endfor %}
{%- for line in reg_decls %}
    {{ line }}
{%- endfor %}

    always @(posedge clk) begin
        if (ce) begin
{%- for line in reg_updates %}
            {{ line }}
{%- endfor %}
        end
    end

    assign y = {{ output_concat }};
{%- if !unused.is_empty() %}

    // Bits the proven bounds show to be sign or zero copies, or dropped by shifts.
    wire unused_bits = ^{{ unused }};
{%- endif %}
endmodule

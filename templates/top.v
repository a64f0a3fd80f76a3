// {{ header }}
// Top `{{ module }}`: {{ inputs }} inputs ({{ input_format }}) -> {{ outputs }} outputs ({{ output_format }}).
// One input vector per AXI4-Stream beat; lane i of a vector at bits [(i+1)*W-1 : i*W].
// Every beat is an image's last: m_axis_tlast is high; s_axis_tlast is not needed.
// Latency: {{ latency }} cycles from an accepted input beat to its output beat.
// Back-pressure stalls the whole pipeline: every register advances only when the
// output register is empty or being read, so no beat is lost or duplicated.
{%- for line in layer_lines %}
//   {{ line }}
{%- endfor %}

module {{ module }} (
    // clock and synchronous active-high reset
    input  wire clk,
    input  wire rst,
    // input stream
    input  wire [{{ in_msb }}:0] s_axis_tdata,
    input  wire s_axis_tvalid,
    input  wire s_axis_tlast,
    output wire s_axis_tready,
    // output stream
    output wire [{{ out_msb }}:0] m_axis_tdata,
{%- if argmax_bits > 0 %}
    // index of the largest output lane (the lowest index on ties)
    output wire [{{ argmax_msb }}:0] m_axis_tuser,
{%- endif %}
    output wire m_axis_tvalid,
    output wire m_axis_tlast,
    input  wire m_axis_tready
);
    localparam LATENCY = {{ latency }};

    wire ce = !m_axis_tvalid || m_axis_tready;
    assign s_axis_tready = ce;

    // One valid bit per register stage.
    reg [LATENCY-1:0] valid_q;
    always @(posedge clk) begin
        if (rst) begin
            valid_q <= {LATENCY{1'b0}};
        end else if (ce) begin
            valid_q <= {valid_q[LATENCY-2:0], s_axis_tvalid};
        end
    end
    assign m_axis_tvalid = valid_q[LATENCY-1];
    // One beat per image: every beat is an image's last.
    assign m_axis_tlast = 1'b1;
    wire unused_tlast = s_axis_tlast;

    reg [{{ in_msb }}:0] in_q;
    always @(posedge clk) begin
        if (ce) begin
            in_q <= s_axis_tdata;
        end
    end
{% for inst in instances %}
    wire [{{ inst.out_msb }}:0] {{ inst.output }};
    {{ inst.module }} {{ inst.name }} (
        .clk(clk),
        .ce(ce),
        .x({{ inst.input }}),
        .y({{ inst.output }})
    );
{% endfor %}
{%- for line in argmax %}
    {{ line }}
{%- endfor %}
    assign m_axis_tdata = {{ result }};
endmodule

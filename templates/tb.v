// {{ header }}
// Testbench of `{{ top }}`: streams vectors from a hex file (one packed vector per
// line, lane 0 in the low bits) through the AXI4-Stream ports with seeded random
// valid gaps and tready back-pressure (sk_traffic.v), and writes one line per
// output beat:
// "<beat> <data hex> <argmax> <cycles from its input handshake>".
// Plusargs: +inputs=FILE +outputs=FILE +n=N +seed=S +valid=V +ready=R
// (V, R in 0..16: the chance in 16 that valid/ready is high in a cycle).
`timescale 1ns/1ps
module {{ top }}_tb;
    localparam IN_W = {{ in_width }};
    localparam OUT_W = {{ out_width }};
    localparam USER_W = {{ user_width }};
    localparam MAX_N = {{ max_vectors }};
    localparam LATENCY = {{ latency }};

    reg clk = 1'b0;
    reg rst = 1'b1;
    wire [IN_W-1:0] s_axis_tdata;
    wire s_axis_tvalid;
    wire s_axis_tready;
    wire [OUT_W-1:0] m_axis_tdata;
    wire m_axis_tvalid;
    wire m_axis_tready;
{%- if has_user %}
    wire [USER_W-1:0] m_axis_tuser;
{%- else %}
    wire [USER_W-1:0] m_axis_tuser = {USER_W{1'b0}};
{%- endif %}

    {{ top }} dut (
        .clk(clk),
        .rst(rst),
        .s_axis_tdata(s_axis_tdata),
        .s_axis_tvalid(s_axis_tvalid),
        .s_axis_tready(s_axis_tready),
        .m_axis_tdata(m_axis_tdata),
{%- if has_user %}
        .m_axis_tuser(m_axis_tuser),
{%- endif %}
        .m_axis_tvalid(m_axis_tvalid),
        .m_axis_tready(m_axis_tready)
    );

    reg [IN_W-1:0] vectors [0:MAX_N-1];
    reg [63:0] in_cycle [0:MAX_N-1];
    reg [1023:0] inputs_path;
    reg [1023:0] outputs_path;
    reg [1023:0] trace_path;
    integer trace_file;
    integer n;
    integer seed;
    reg [31:0] valid_chance;
    reg [31:0] ready_chance;
    integer out_file;
    integer received;
    wire [31:0] sent;
    wire [63:0] cycle;

    // The seeded traffic (sk_traffic.v); the vector on offer is vector `sent`.
    sk_traffic u_traffic (
        .clk(clk), .rst(rst),
        .seed(seed), .valid_chance(valid_chance), .ready_chance(ready_chance),
        .warmup(64'd0), .total(n),
        .s_ready(s_axis_tready), .s_valid(s_axis_tvalid), .m_ready(m_axis_tready),
        .sent(sent), .cycle(cycle)
    );
    assign s_axis_tdata = vectors[sent];

    always #5 clk = !clk;

    initial begin
        if (!$value$plusargs("inputs=%s", inputs_path)) inputs_path = "inputs.hex";
        if (!$value$plusargs("outputs=%s", outputs_path)) outputs_path = "outputs.txt";
        if (!$value$plusargs("n=%d", n)) n = 0;
        if (!$value$plusargs("seed=%d", seed)) seed = 1;
        if (!$value$plusargs("valid=%d", valid_chance)) valid_chance = 16;
        if (!$value$plusargs("ready=%d", ready_chance)) ready_chance = 16;
        if (n > MAX_N) begin
            $display("ERROR: n=%0d exceeds MAX_N=%0d", n, MAX_N);
            $finish;
        end
        $readmemh(inputs_path, vectors, 0, n - 1);
        out_file = $fopen(outputs_path, "w");
        trace_file = 0;
        if ($value$plusargs("trace=%s", trace_path)) trace_file = $fopen(trace_path, "w");
        received = 0;
        repeat (3) @(posedge clk);
        #1 rst = 1'b0;
    end

    // The monitor: each output beat with its latency, and per-layer traces.
    always @(posedge clk) begin
        if (!rst) begin
            if (s_axis_tvalid && s_axis_tready) begin
                in_cycle[sent] <= cycle;
                if (trace_file != 0) $fwrite(trace_file, "in %0d\n", cycle);
            end
            if (trace_file != 0) begin
{%- for (name, inst) in traces %}
                $fwrite(trace_file, "{{ name }} %0d %h\n", cycle, dut.{{ inst }}.y);
{%- endfor %}
            end
            if (m_axis_tvalid && m_axis_tready) begin
                $fwrite(out_file, "%0d %h %0d %0d\n", received, m_axis_tdata, m_axis_tuser,
                        cycle - in_cycle[received]);
                received <= received + 1;
                if (received + 1 == n) begin
                    $fclose(out_file);
                    if (trace_file != 0) $fclose(trace_file);
                    $display("DONE %0d beats in %0d cycles", n, cycle);
                    $finish;
                end
            end
            if (cycle > 64'd1000 + 64'd64 * n + 64'd4 * LATENCY) begin
                $fclose(out_file);
                $display("TIMEOUT after %0d cycles: %0d sent, %0d received", cycle, sent, received);
                $finish;
            end
        end
    end
endmodule

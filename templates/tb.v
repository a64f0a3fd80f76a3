// {{ header }}
// Testbench of `{{ top }}` ({{ form }} form): streams images beat by beat from a hex file
// (one packed beat per line, code 0 in the low bits; {{ in_beats }} beat(s) per image)
// through the AXI4-Stream ports with seeded random valid gaps and tready back-pressure
// (sk_traffic.v), s_axis_tlast on every image's last beat, and writes "i <image> <cycle>"
// when an image's first beat is taken and "o <beat> <data hex> <user> <tlast> <cycle>" for
// every output beat ({{ out_beats }} per image).
// Plusargs: +inputs=FILE +outputs=FILE +images=N +seed=S +valid=V +ready=R [+warmup=C]
// [+trace=FILE] (V, R in 0..16: the chance in 16 that valid/ready is high in a cycle; C: silent
// cycles after reset before the first beat is offered). With +trace, every layer's output
// beats are written as "<layer> <cycle> <data hex>".
{%- if weight_bytes > 0 %}
// First the weights: the {{ weight_bytes }} bytes of weights.hex into the weight port (valid
// when a 16-bit LFSR's low bit is set); the traffic and the cycle count start once all are in,
// so the images meet the design as they would one whose weights were there from the start.
{%- endif %}
`timescale 1ns/1ps
module {{ top }}_tb;
    localparam IN_W = {{ in_width }};
    localparam OUT_W = {{ out_width }};
    localparam USER_W = {{ user_width }};
    localparam IN_BEATS = {{ in_beats }};
    localparam OUT_BEATS = {{ out_beats }};
    localparam MAX_IMAGES = {{ max_images }};
    localparam MAX_BEATS = MAX_IMAGES * IN_BEATS;
    // Cycles per image and latency from the manifest, for the time limit only.
    localparam [63:0] INTERVAL = {{ interval }};
    localparam [63:0] LATENCY = {{ latency }};

    reg clk = 1'b0;
    reg rst = 1'b1;
    wire [IN_W-1:0] s_axis_tdata;
    wire s_axis_tvalid;
    wire s_axis_tlast;
    wire s_axis_tready;
    wire [OUT_W-1:0] m_axis_tdata;
    wire m_axis_tvalid;
    wire m_axis_tlast;
    wire m_axis_tready;
{%- if has_user %}
    wire [USER_W-1:0] m_axis_tuser;
{%- else %}
    wire [USER_W-1:0] m_axis_tuser = {USER_W{1'b0}};
{%- endif %}

{%- if weight_bytes > 0 %}
    localparam integer W_BYTES = {{ weight_bytes }};
    reg [7:0] w_bytes [0:W_BYTES-1];
    reg [31:0] w_sent = 32'd0;
    reg [15:0] w_lfsr = 16'hace1;
    reg [63:0] w_cycles = 64'd0;
    reg loaded_q = 1'b0;
    wire w_axis_tvalid = !rst && w_sent < W_BYTES && w_lfsr[0];
    wire [7:0] w_axis_tdata = w_sent < W_BYTES ? w_bytes[w_sent] : 8'd0;
    wire w_axis_tready;
    initial $readmemh("weights.hex", w_bytes);
    always @(posedge clk) begin
        w_lfsr <= {w_lfsr[14:0], w_lfsr[15] ^ w_lfsr[13] ^ w_lfsr[12] ^ w_lfsr[10]};
        if (!rst && !loaded_q) begin
            w_cycles <= w_cycles + 64'd1;
            if (w_cycles > 64'd1000 + 64'd4 * W_BYTES) begin
                $display("TIMEOUT loading the weights: %0d of %0d bytes taken", w_sent, W_BYTES);
                $finish;
            end
        end
        if (w_axis_tvalid && w_axis_tready) begin
            w_sent <= w_sent + 32'd1;
            if (w_sent + 32'd1 == W_BYTES) loaded_q <= 1'b1;
        end
    end
    wire traffic_rst = rst || !loaded_q;
{%- else %}
    wire traffic_rst = rst;
{%- endif %}

    {{ top }} dut (
        .clk(clk),
        .rst(rst),
{%- if weight_bytes > 0 %}
        .w_axis_tdata(w_axis_tdata),
        .w_axis_tvalid(w_axis_tvalid),
        .w_axis_tready(w_axis_tready),
{%- endif %}
        .s_axis_tdata(s_axis_tdata),
        .s_axis_tvalid(s_axis_tvalid),
        .s_axis_tlast(s_axis_tlast),
        .s_axis_tready(s_axis_tready),
        .m_axis_tdata(m_axis_tdata),
{%- if has_user %}
        .m_axis_tuser(m_axis_tuser),
{%- endif %}
        .m_axis_tvalid(m_axis_tvalid),
        .m_axis_tlast(m_axis_tlast),
        .m_axis_tready(m_axis_tready)
    );

    reg [IN_W-1:0] beats [0:MAX_BEATS-1];
    reg [1023:0] inputs_path;
    reg [1023:0] outputs_path;
    reg [1023:0] trace_path;
    integer trace_file;
    integer images;
    integer n_in;
    integer n_out;
    integer seed;
    reg [31:0] valid_chance;
    reg [31:0] ready_chance;
    reg [63:0] warmup;
    integer out_file;
    integer received;
    reg [63:0] limit;
    wire [31:0] sent;
    wire [63:0] cycle;

    // The seeded traffic (sk_traffic.v); the beat on offer is beat `sent`.
    sk_traffic u_traffic (
        .clk(clk), .rst(traffic_rst),
        .seed(seed), .valid_chance(valid_chance), .ready_chance(ready_chance),
        .warmup(warmup), .total(n_in),
        .s_ready(s_axis_tready), .s_valid(s_axis_tvalid), .m_ready(m_axis_tready),
        .sent(sent), .cycle(cycle)
    );
    assign s_axis_tdata = beats[sent];
    assign s_axis_tlast = sent % IN_BEATS == IN_BEATS - 1;

    always #5 clk = !clk;

    initial begin
        if (!$value$plusargs("inputs=%s", inputs_path)) inputs_path = "inputs.hex";
        if (!$value$plusargs("outputs=%s", outputs_path)) outputs_path = "outputs.txt";
        if (!$value$plusargs("images=%d", images)) images = 0;
        if (!$value$plusargs("seed=%d", seed)) seed = 1;
        if (!$value$plusargs("valid=%d", valid_chance)) valid_chance = 16;
        if (!$value$plusargs("ready=%d", ready_chance)) ready_chance = 16;
        if (!$value$plusargs("warmup=%d", warmup)) warmup = 64'd0;
        if (images > MAX_IMAGES) begin
            $display("ERROR: images=%0d exceeds MAX_IMAGES=%0d", images, MAX_IMAGES);
            $finish;
        end
        n_in = images * IN_BEATS;
        n_out = images * OUT_BEATS;
        // Generous: four times the no-stall time at the slowest traffic allowed.
        limit = 64'd2000 + warmup + 64'd4 * LATENCY
              + 64'd64 * (INTERVAL + 64'd16 * IN_BEATS + 64'd16 * OUT_BEATS) * (images + 1);
        $readmemh(inputs_path, beats, 0, n_in - 1);
        out_file = $fopen(outputs_path, "w");
        trace_file = 0;
        if ($value$plusargs("trace=%s", trace_path)) trace_file = $fopen(trace_path, "w");
        received = 0;
        repeat (3) @(posedge clk);
        #1 rst = 1'b0;
    end

    // The monitor: image starts, output beats, per-layer traces.
    always @(posedge clk) begin
        if (!traffic_rst) begin
            if (s_axis_tvalid && s_axis_tready && sent % IN_BEATS == 0) begin
                $fwrite(out_file, "i %0d %0d\n", sent / IN_BEATS, cycle);
            end
            if (trace_file != 0) begin
{%- for (name, fire, data) in traces %}
                if ({{ fire }})
                    $fwrite(trace_file, "{{ name }} %0d %h\n", cycle, {{ data }});
{%- endfor %}
            end
            if (m_axis_tvalid && m_axis_tready) begin
                $fwrite(out_file, "o %0d %h %0d %0d %0d\n", received, m_axis_tdata, m_axis_tuser,
                        m_axis_tlast, cycle);
                received <= received + 1;
                if (received + 1 == n_out) begin
                    $fclose(out_file);
                    if (trace_file != 0) $fclose(trace_file);
                    $display("DONE %0d images in %0d cycles", images, cycle);
                    $finish;
                end
            end
            if (cycle > limit) begin
                $fclose(out_file);
                $display("TIMEOUT after %0d cycles: %0d beats sent, %0d received", cycle, sent,
                         received);
                $finish;
            end
        end
    end
endmodule

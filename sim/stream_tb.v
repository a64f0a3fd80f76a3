// shiftkit: stream harness for the parts of hdl/.
//
// Drives a module `dut` (a small wrapper a test writes around the part, with
// ports clk, rst, s_data, s_valid, s_ready, m_data, m_valid, m_ready) from a
// hex file of input beats, with seeded random valid gaps and back-pressure
// (sk_traffic.v),
// and writes "i <beat> <cycle>" for every input handshake and
// "o <beat> <data hex> <cycle>" for every output handshake. It stops
// 64 cycles after the expected number of output beats (so an extra beat is
// seen), or at a time limit.
// Parameters: IN_W, OUT_W (bits of a beat), MAX_N (beats in the file at most).
// Plusargs: +inputs=FILE +outputs=FILE +n=IN_BEATS +expect=OUT_BEATS +seed=S
// +valid=V +ready=R (V, R in 0..16: the chance in 16 of valid/ready in a cycle).
`timescale 1ns/1ps
module stream_tb;
    parameter integer IN_W = 8;
    parameter integer OUT_W = 8;
    parameter integer MAX_N = 4096;

    reg clk = 1'b0;
    reg rst = 1'b1;
    wire [IN_W-1:0] s_data;
    wire s_valid;
    wire s_ready;
    wire [OUT_W-1:0] m_data;
    wire m_valid;
    wire m_ready;

    dut u_dut (
        .clk(clk),
        .rst(rst),
        .s_data(s_data),
        .s_valid(s_valid),
        .s_ready(s_ready),
        .m_data(m_data),
        .m_valid(m_valid),
        .m_ready(m_ready)
    );

    reg [IN_W-1:0] beats [0:MAX_N-1];
    reg [1023:0] inputs_path;
    reg [1023:0] outputs_path;
    integer n;
    integer expect_n;
    integer seed;
    reg [31:0] valid_chance;
    reg [31:0] ready_chance;
    integer out_file;
    integer received;
    reg [63:0] done_at;
    reg done;
    wire [31:0] sent;
    wire [63:0] cycle;

    sk_traffic u_traffic (
        .clk(clk), .rst(rst),
        .seed(seed), .valid_chance(valid_chance), .ready_chance(ready_chance),
        .warmup(64'd0), .total(n),
        .s_ready(s_ready), .s_valid(s_valid), .m_ready(m_ready),
        .sent(sent), .cycle(cycle)
    );
    assign s_data = beats[sent];

    always #5 clk = !clk;

    initial begin
        if (!$value$plusargs("inputs=%s", inputs_path)) inputs_path = "inputs.hex";
        if (!$value$plusargs("outputs=%s", outputs_path)) outputs_path = "outputs.txt";
        if (!$value$plusargs("n=%d", n)) n = 0;
        if (!$value$plusargs("expect=%d", expect_n)) expect_n = 0;
        if (!$value$plusargs("seed=%d", seed)) seed = 1;
        if (!$value$plusargs("valid=%d", valid_chance)) valid_chance = 16;
        if (!$value$plusargs("ready=%d", ready_chance)) ready_chance = 16;
        $readmemh(inputs_path, beats, 0, n - 1);
        out_file = $fopen(outputs_path, "w");
        received = 0;
        done_at = 0;
        done = 1'b0;
        repeat (3) @(posedge clk);
        #1 rst = 1'b0;
    end

    always @(posedge clk) begin
        if (!rst) begin
            if (s_valid && s_ready) $fwrite(out_file, "i %0d %0d\n", sent, cycle);
            if (m_valid && m_ready) begin
                $fwrite(out_file, "o %0d %h %0d\n", received, m_data, cycle);
                received <= received + 1;
                if (received + 1 == expect_n) begin
                    done = 1'b1;
                    done_at = cycle;
                end
            end
            if ((done && cycle == done_at + 64'd64) || cycle > 64'd200000 + 64'd400 * n) begin
                $fclose(out_file);
                $display("DONE %0d in, %0d out, %0d cycles", sent, received, cycle);
                $finish;
            end
        end
    end
endmodule

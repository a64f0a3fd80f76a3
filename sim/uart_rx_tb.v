// shiftkit: harness of the UART receiver (hdl/sk_uart_rx.v).
//
// Drives `rx` one level per cycle from a file of bits ($readmemb, one level a
// line), takes every byte at once, and writes "b <byte hex> <cycle>" for every
// byte received and "e <cycle>" for every error pulse.
// Parameters: CLKS (cycles per bit), MAX_N (levels in the file at most).
// Plusargs: +levels=FILE +n=LEVELS +outputs=FILE
`timescale 1ns/1ps
module uart_rx_tb;
    parameter integer CLKS = 8;
    parameter integer MAX_N = 65536;

    reg clk = 1'b0;
    reg rst = 1'b1;
    reg levels [0:MAX_N-1];
    reg [1023:0] levels_path;
    reg [1023:0] outputs_path;
    integer n;
    integer out_file;
    integer cycle;
    wire rx = cycle < n ? levels[cycle] : 1'b1;
    wire [7:0] data;
    wire valid;
    wire error;

    sk_uart_rx #(.CLKS(CLKS)) u_rx (
        .clk(clk), .rst(rst), .rx(rx),
        .m_data(data), .m_valid(valid), .m_ready(1'b1), .error(error)
    );

    always #5 clk = !clk;

    initial begin
        if (!$value$plusargs("levels=%s", levels_path)) levels_path = "levels.txt";
        if (!$value$plusargs("outputs=%s", outputs_path)) outputs_path = "outputs.txt";
        if (!$value$plusargs("n=%d", n)) n = 0;
        $readmemb(levels_path, levels, 0, n - 1);
        out_file = $fopen(outputs_path, "w");
        cycle = 0;
        repeat (3) @(posedge clk);
        #1 rst = 1'b0;
    end

    always @(posedge clk) begin
        if (!rst) begin
            if (valid) $fwrite(out_file, "b %h %0d\n", data, cycle);
            if (error) $fwrite(out_file, "e %0d\n", cycle);
            cycle <= cycle + 1;
            if (cycle == n + 4 * CLKS) begin
                $fclose(out_file);
                $display("DONE");
                $finish;
            end
        end
    end
endmodule

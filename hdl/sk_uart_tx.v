// shiftkit board library: UART transmitter, 8N1.
//
// Takes a byte per beat and sends it on `tx`: a start bit (0), the eight data
// bits least significant first, a stop bit (1), each CLKS clock cycles long.
// `tx` idles high and is a register (no glitch reaches the pin). s_ready is
// high while the transmitter is idle; a byte taken starts its start bit on the
// next cycle, so bytes offered back to back leave one every 10*CLKS + 1 cycles.
module sk_uart_tx #(
    parameter integer CLKS = 8
) (
    input  wire       clk,
    input  wire       rst,
    input  wire [7:0] s_data,
    input  wire       s_valid,
    output wire       s_ready,
    output reg        tx
);
    // Parameters no design can have stop elaboration here: the missing module's
    // name says which (every tool reports an unknown module by name).
    generate
        if (CLKS < 2) begin : g_bad_0
            sk_uart_tx_needs_CLKS_at_least_2 u_bad ();
        end
    endgenerate

    localparam integer CW = $clog2(CLKS);
    localparam integer C_LAST_I = CLKS - 1;
    localparam [CW-1:0] C_LAST = C_LAST_I[CW-1:0];
    localparam [CW-1:0] C_ONE = 1;

    // The frame being sent, stop bit first from the top: {1, data, 0}.
    reg [9:0] frame_q;
    // Bits left to send (10 while a frame starts, 0 when idle).
    reg [3:0] left_q;
    reg [CW-1:0] tick_q;

    assign s_ready = left_q == 4'd0;

    always @(posedge clk) begin
        if (rst) begin
            tx <= 1'b1;
            left_q <= 4'd0;
            tick_q <= {CW{1'b0}};
        end else if (left_q == 4'd0) begin
            tx <= 1'b1;
            if (s_valid) begin
                frame_q <= {1'b1, s_data, 1'b0};
                left_q <= 4'd10;
                tick_q <= {CW{1'b0}};
            end
        end else begin
            tx <= frame_q[0];
            if (tick_q == C_LAST) begin
                tick_q <= {CW{1'b0}};
                frame_q <= {1'b1, frame_q[9:1]};
                left_q <= left_q - 4'd1;
            end else begin
                tick_q <= tick_q + C_ONE;
            end
        end
    end
endmodule

// shiftkit board library: UART receiver, 8N1.
//
// Watches `rx` (through two synchronizing registers) for a start bit: a fall
// that is still low half a bit later (a shorter low is a glitch and ignored).
// Samples the eight data bits, least significant first, in the middle of each
// bit (CLKS clock cycles per bit), then the stop bit. A byte whose stop bit is
// high is offered on m_data until taken; a low stop bit is a framing error
// (`error` high for one cycle, the byte dropped), and the receiver then waits
// for the line to go high again, so a break (the line held low) is one error.
// A byte arriving while the last one is still not taken is dropped and also
// flagged as an error (overrun).
module sk_uart_rx #(
    parameter integer CLKS = 8
) (
    input  wire       clk,
    input  wire       rst,
    input  wire       rx,
    output reg  [7:0] m_data,
    output reg        m_valid,
    input  wire       m_ready,
    output reg        error
);
    // Parameters no design can have stop elaboration here: the missing module's
    // name says which (every tool reports an unknown module by name).
    generate
        if (CLKS < 4) begin : g_bad_0
            sk_uart_rx_needs_CLKS_at_least_4 u_bad ();
        end
    endgenerate

    localparam integer CW = $clog2(CLKS);
    localparam integer C_LAST_I = CLKS - 1;
    localparam [CW-1:0] C_LAST = C_LAST_I[CW-1:0];
    localparam integer C_HALF_I = CLKS / 2 - 1;
    localparam [CW-1:0] C_HALF = C_HALF_I[CW-1:0];
    localparam [CW-1:0] C_ONE = 1;

    // The line, synchronized (idle high after reset).
    reg [1:0] sync_q;
    wire line = sync_q[1];
    always @(posedge clk) begin
        if (rst) sync_q <= 2'b11;
        else sync_q <= {sync_q[0], rx};
    end

    localparam [1:0] IDLE = 2'd0, START = 2'd1, BITS = 2'd2, WAIT_HIGH = 2'd3;
    reg [1:0] state_q;
    reg [CW-1:0] tick_q;
    // Bits still to sample: 8 data bits, then the stop bit (0).
    reg [3:0] left_q;
    reg [7:0] shift_q;

    always @(posedge clk) begin
        error <= 1'b0;
        if (rst) begin
            state_q <= IDLE;
            m_valid <= 1'b0;
            error <= 1'b0;
        end else begin
            if (m_valid && m_ready) m_valid <= 1'b0;
            case (state_q)
                IDLE: begin
                    if (!line) begin
                        state_q <= START;
                        tick_q <= {CW{1'b0}};
                    end
                end
                START: begin
                    // The middle of the start bit: still low, or a glitch.
                    if (tick_q == C_HALF) begin
                        if (line) begin
                            state_q <= IDLE;
                        end else begin
                            state_q <= BITS;
                            tick_q <= {CW{1'b0}};
                            left_q <= 4'd8;
                        end
                    end else begin
                        tick_q <= tick_q + C_ONE;
                    end
                end
                BITS: begin
                    if (tick_q == C_LAST) begin
                        tick_q <= {CW{1'b0}};
                        if (left_q != 4'd0) begin
                            shift_q <= {line, shift_q[7:1]};
                            left_q <= left_q - 4'd1;
                        end else if (line) begin
                            // A good stop bit: the byte, unless one still waits.
                            state_q <= IDLE;
                            if (m_valid && !m_ready) begin
                                error <= 1'b1;
                            end else begin
                                m_data <= shift_q;
                                m_valid <= 1'b1;
                            end
                        end else begin
                            error <= 1'b1;
                            state_q <= WAIT_HIGH;
                        end
                    end else begin
                        tick_q <= tick_q + C_ONE;
                    end
                end
                default: begin
                    if (line) state_q <= IDLE;
                end
            endcase
        end
    end
endmodule

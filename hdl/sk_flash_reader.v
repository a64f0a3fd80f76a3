// shiftkit board library: reads bytes from the board's SPI flash after reset.
//
// The flash that holds the bitstream also holds what the design loads at
// power-up (the weights kept in SPRAM), written beside the bitstream
// (`iceprog -o OFFSET`). After reset: the release-from-deep-power-down
// command (0xAB; the flash may have been put to sleep after configuration),
// WAKE clock cycles with the chip deselected (its tRES1), then a read
// (0x03, the 24-bit address OFFSET) that runs for BYTES bytes, each put out
// on m_data as it completes; the flash's clock stops while a byte waits for
// m_ready (SPI needs no steady clock). Then the chip is deselected and done
// rises. SPI mode 0, most significant bit first; the SPI clock's half-period
// is HALF clock cycles (the read command allows up to 33 MHz on every common
// part; HALF = 1 halves the system clock).
module sk_flash_reader #(
    parameter integer OFFSET = 0,
    parameter integer BYTES = 1,
    parameter integer HALF = 1,
    parameter integer WAKE = 1
) (
    input  wire       clk,
    input  wire       rst,
    output wire       spi_sck,
    output wire       spi_ss_n,
    output wire       spi_mosi,
    input  wire       spi_miso,
    output wire [7:0] m_data,
    output wire       m_valid,
    input  wire       m_ready,
    output wire       done
);
    // Parameters no design can have stop elaboration here: the missing module's
    // name says which (every tool reports an unknown module by name).
    generate
        if (BYTES < 1 || HALF < 1 || WAKE < 1 || OFFSET < 0 || OFFSET + BYTES > 16777216)
        begin : g_bad_0
            sk_flash_reader_needs_bytes_within_16_MiB u_bad ();
        end
    endgenerate

    localparam integer HW = $clog2(HALF + 1);
    localparam integer WW = $clog2(WAKE + 1);
    localparam integer BW = $clog2(BYTES + 1);
    localparam integer H_LAST_I = HALF - 1;
    localparam integer W_LAST_I = WAKE - 1;
    localparam [HW-1:0] H_LAST = H_LAST_I[HW-1:0];
    localparam [WW-1:0] W_LAST = W_LAST_I[WW-1:0];
    localparam [BW-1:0] B_ALL = BYTES[BW-1:0];
    localparam [23:0] ADDRESS = OFFSET[23:0];

    localparam [2:0] S_START = 3'd6;  // selecting the chip
    localparam [2:0] S_WAKE = 3'd0;   // sending 0xAB
    localparam [2:0] S_SLEEP = 3'd1;  // deselected for WAKE cycles
    localparam [2:0] S_READ = 3'd2;   // sending 0x03 and the address
    localparam [2:0] S_BYTE = 3'd3;   // receiving a byte
    localparam [2:0] S_HOLD = 3'd4;   // a byte waits for m_ready
    localparam [2:0] S_DONE = 3'd5;

    reg [2:0] state_q;
    reg [31:0] out_q;      // bits to send, the next one on top
    reg [7:0] in_q;        // bits received
    reg [5:0] bits_q;      // bits left in this transfer
    reg sck_q;
    reg ss_n_q;
    reg [HW-1:0] half_q;   // cycles left in this half of the SPI clock
    reg [WW-1:0] wait_q;
    reg [BW-1:0] left_q;   // bytes left to read

    wire shifting = state_q == S_WAKE || state_q == S_READ || state_q == S_BYTE;
    wire tick = shifting && half_q == {HW{1'b0}};
    // The last falling edge of a transfer.
    wire last_fall = tick && sck_q && bits_q == 6'd1;

    assign spi_sck = sck_q;
    assign spi_ss_n = ss_n_q;
    assign spi_mosi = out_q[31];
    assign m_data = in_q;
    assign m_valid = state_q == S_HOLD;
    assign done = state_q == S_DONE;

    always @(posedge clk) begin
        if (rst) begin
            state_q <= S_START;
            out_q <= {8'hAB, 24'd0};
            bits_q <= 6'd8;
            sck_q <= 1'b0;
            ss_n_q <= 1'b1;
            half_q <= H_LAST;
            wait_q <= W_LAST;
            left_q <= B_ALL;
        end else begin
            if (shifting) half_q <= tick ? H_LAST : half_q - 1'b1;
            // Rising edge: the flash's bit is read; falling edge: the next
            // bit goes out.
            if (tick && !sck_q) begin
                sck_q <= 1'b1;
                in_q <= {in_q[6:0], spi_miso};
            end
            if (tick && sck_q) begin
                sck_q <= 1'b0;
                out_q <= {out_q[30:0], 1'b0};
                bits_q <= bits_q - 6'd1;
            end
            case (state_q)
                S_START: begin
                    ss_n_q <= 1'b0;
                    state_q <= S_WAKE;
                end
                S_WAKE: if (last_fall) begin
                    ss_n_q <= 1'b1;
                    state_q <= S_SLEEP;
                end
                S_SLEEP: begin
                    wait_q <= wait_q - 1'b1;
                    if (wait_q == {WW{1'b0}}) begin
                        ss_n_q <= 1'b0;
                        out_q <= {8'h03, ADDRESS};
                        bits_q <= 6'd32;
                        half_q <= H_LAST;
                        state_q <= S_READ;
                    end
                end
                S_READ: if (last_fall) begin
                    bits_q <= 6'd8;
                    state_q <= S_BYTE;
                end
                S_BYTE: if (last_fall) begin
                    left_q <= left_q - 1'b1;
                    state_q <= S_HOLD;
                end
                S_HOLD: if (m_ready) begin
                    if (left_q == {BW{1'b0}}) begin
                        ss_n_q <= 1'b1;
                        state_q <= S_DONE;
                    end else begin
                        bits_q <= 6'd8;
                        state_q <= S_BYTE;
                    end
                end
                default: ;
            endcase
        end
    end
endmodule

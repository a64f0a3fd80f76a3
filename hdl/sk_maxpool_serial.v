// shiftkit stream library: max pooling over the channels as they arrive.
//
// An image in raster order, each pixel's C codes in G = C/P beats of P codes
// (channel chunks, the lowest first); out, the maximum of every KH x KW
// window at stride (SH, SW), per channel, in the same order (no padding,
// floor mode): each output pixel as G beats of P codes. The windows must not
// overlap (KH <= SH, KW <= SW); sk_maxpool takes the others.
//
// No window is ever held whole, so the registers do not grow with the
// window or the channels' chunks:
// - along a row, the maximum of the window's columns so far waits in a shift
//   register of G chunks that moves on every beat of the window's columns,
//   so the chunk at its end holds the same channels one pixel to the left;
// - at a window's last column that maximum meets the maximum of the window's
//   rows above, kept in a buffer of one output row (OW x G chunks, visited in
//   the same order every row, so read one beat ahead from a synchronous
//   RAM), and goes back into the buffer or, on the window's last row, out.
// A beat is taken in any cycle unless it completes a window while the output
// register is full and not being read.
module sk_maxpool_serial #(
    parameter integer BITS = 8,
    parameter integer SIGNED = 0,
    parameter integer C = 1,
    parameter integer P = 1,
    parameter integer H = 4,
    parameter integer W = 4,
    parameter integer KH = 2,
    parameter integer KW = 2,
    parameter integer SH = 2,
    parameter integer SW = 2,
    // Where the row buffer goes: "block" RAM, "logic", or "auto" (the tool's choice).
    // (read by synthesis tools only: simulators see an unused parameter)
    // verilator lint_off UNUSEDPARAM
    parameter RAM_STYLE = "auto"
    // verilator lint_on UNUSEDPARAM
) (
    input  wire              clk,
    input  wire              rst,
    input  wire [P*BITS-1:0] s_data,
    input  wire              s_valid,
    output wire              s_ready,
    output wire [P*BITS-1:0] m_data,
    output wire              m_valid,
    input  wire              m_ready
);
    // Parameters no design can have stop elaboration here: the missing module's
    // name says which (every tool reports an unknown module by name).
    generate
        if (KH < 1 || KW < 1 || KH > SH || KW > SW || KH > H || KW > W) begin : g_bad_0
            sk_maxpool_serial_needs_windows_that_do_not_overlap u_bad ();
        end
        if (P < 1 || C % P != 0) begin : g_bad_1
            sk_maxpool_serial_needs_P_dividing_C u_bad ();
        end
    endgenerate

    localparam integer G = C / P;
    localparam integer LW = P * BITS;
    localparam integer OH = (H - KH) / SH + 1;
    localparam integer OW = (W - KW) / SW + 1;
    // Rows and columns past the last window (floor mode) are read and dropped.
    localparam integer Y_END_I = OH * SH;
    localparam integer X_END_I = OW * SW;
    localparam integer DEPTH = OW * G;
    localparam integer GW = G > 1 ? $clog2(G) : 1;
    // Wide enough for the counts and the ends (which may pass H and W).
    localparam integer YW = $clog2(H + SH + 1);
    localparam integer XW = $clog2(W + SW + 1);
    localparam integer RYW = $clog2(SH + 1);
    localparam integer RXW = $clog2(SW + 1);
    localparam integer AW = DEPTH > 1 ? $clog2(DEPTH) : 1;
    localparam integer G_LAST_I = G - 1;
    localparam integer H_LAST_I = H - 1;
    localparam integer W_LAST_I = W - 1;
    localparam integer SH_LAST_I = SH - 1;
    localparam integer SW_LAST_I = SW - 1;
    localparam integer KH_LAST_I = KH - 1;
    localparam integer KW_LAST_I = KW - 1;
    localparam integer A_LAST_I = DEPTH - 1;
    localparam [GW-1:0] G_LAST = G_LAST_I[GW-1:0];
    localparam [YW-1:0] Y_LAST = H_LAST_I[YW-1:0];
    localparam [XW-1:0] X_LAST = W_LAST_I[XW-1:0];
    localparam [YW-1:0] Y_END = Y_END_I[YW-1:0];
    localparam [XW-1:0] X_END = X_END_I[XW-1:0];
    localparam [RYW-1:0] RY_LAST = SH_LAST_I[RYW-1:0];
    localparam [RXW-1:0] RX_LAST = SW_LAST_I[RXW-1:0];
    localparam [RYW-1:0] KY_LAST = KH_LAST_I[RYW-1:0];
    localparam [RXW-1:0] KX_LAST = KW_LAST_I[RXW-1:0];
    localparam [AW-1:0] A_LAST = A_LAST_I[AW-1:0];
    localparam [GW-1:0] G_ONE = 1;
    localparam [YW-1:0] Y_ONE = 1;
    localparam [XW-1:0] X_ONE = 1;
    localparam [RYW-1:0] RY_ONE = 1;
    localparam [RXW-1:0] RX_ONE = 1;
    localparam [AW-1:0] A_ONE = 1;

    // Where the beat is: its chunk, column and row, and the column's and
    // row's place in their window (ry, rx: 0 to the stride - 1).
    reg [GW-1:0] g_q;
    reg [XW-1:0] x_q;
    reg [YW-1:0] y_q;
    reg [RXW-1:0] rx_q;
    reg [RYW-1:0] ry_q;
    wire in_cols = x_q < X_END && rx_q <= KX_LAST;
    wire last_col = x_q < X_END && rx_q == KX_LAST;
    wire in_rows = y_q < Y_END && ry_q <= KY_LAST;
    // The beat ends its window's row (and updates the row buffer), or the
    // whole window (and goes out).
    wire touch = last_col && in_rows;
    wire emits = touch && ry_q == KY_LAST;

    reg [LW-1:0] out_q;
    reg valid_q;
    assign s_ready = !emits || !valid_q || m_ready;
    wire fire = s_valid && s_ready;
    assign m_valid = valid_q;
    assign m_data = out_q;

    always @(posedge clk) begin
        if (rst) begin
            g_q <= {GW{1'b0}};
            x_q <= {XW{1'b0}};
            y_q <= {YW{1'b0}};
            rx_q <= {RXW{1'b0}};
            ry_q <= {RYW{1'b0}};
        end else if (fire) begin
            if (G == 1 || g_q == G_LAST) begin
                g_q <= {GW{1'b0}};
                if (x_q == X_LAST) begin
                    x_q <= {XW{1'b0}};
                    rx_q <= {RXW{1'b0}};
                    if (y_q == Y_LAST) begin
                        y_q <= {YW{1'b0}};
                        ry_q <= {RYW{1'b0}};
                    end else begin
                        y_q <= y_q + Y_ONE;
                        ry_q <= ry_q == RY_LAST ? {RYW{1'b0}} : ry_q + RY_ONE;
                    end
                end else begin
                    x_q <= x_q + X_ONE;
                    rx_q <= rx_q == RX_LAST ? {RXW{1'b0}} : rx_q + RX_ONE;
                end
            end else begin
                g_q <= g_q + G_ONE;
            end
        end
    end

    // The maximum of the window's columns so far in this row (hmax), and of
    // its rows so far (vmax), lane by lane.
    wire [LW-1:0] head;
    wire [LW-1:0] above;
    wire [LW-1:0] hmax;
    wire [LW-1:0] vmax;
    wire first_col = rx_q == {RXW{1'b0}};
    wire first_row = ry_q == {RYW{1'b0}};
    genvar i;
    generate
        for (i = 0; i < P; i = i + 1) begin : g_lane
            wire [BITS-1:0] h_max;
            wire [BITS-1:0] v_max;
            wire unused_h;
            wire unused_v;
            sk_argmax #(.N(2), .BITS(BITS), .SIGNED(SIGNED), .IW(1)) u_h (
                .x({s_data[i*BITS +: BITS], head[i*BITS +: BITS]}), .max(h_max), .index(unused_h)
            );
            sk_argmax #(.N(2), .BITS(BITS), .SIGNED(SIGNED), .IW(1)) u_v (
                .x({hmax[i*BITS +: BITS], above[i*BITS +: BITS]}), .max(v_max), .index(unused_v)
            );
            assign hmax[i*BITS +: BITS] = first_col ? s_data[i*BITS +: BITS] : h_max;
            assign vmax[i*BITS +: BITS] = first_row ? hmax[i*BITS +: BITS] : v_max;
        end

        // The columns' shift register: G chunks, moved on every beat of a
        // window's columns, so its end is this chunk one pixel to the left.
        if (KW == 1) begin : g_no_cols
            assign head = {LW{1'b0}};
            wire unused_cols = in_cols;
        end else if (G == 1) begin : g_one_chunk
            reg [LW-1:0] cols_q;
            assign head = cols_q;
            always @(posedge clk) begin
                if (fire && in_cols) cols_q <= hmax;
            end
        end else begin : g_chunks
            reg [G*LW-1:0] cols_q;
            assign head = cols_q[LW-1:0];
            always @(posedge clk) begin
                if (fire && in_cols) cols_q <= {hmax, cols_q[G*LW-1:LW]};
            end
        end

        // The row buffer: the rows so far of every window of the output row.
        if (KH == 1) begin : g_no_rows
            assign above = {LW{1'b0}};
        end else if (DEPTH == 1) begin : g_one_word
            reg [LW-1:0] row_q;
            assign above = row_q;
            always @(posedge clk) begin
                if (fire && touch) row_q <= vmax;
            end
        end else begin : g_row_ram
            reg [AW-1:0] a_q;
            reg [LW-1:0] rdata_q;
            (* ram_style = RAM_STYLE *) reg [LW-1:0] mem [0:DEPTH-1];
            wire [AW-1:0] a_next = a_q == A_LAST ? {AW{1'b0}} : a_q + A_ONE;
            assign above = rdata_q;
            always @(posedge clk) begin
                if (rst) begin
                    a_q <= {AW{1'b0}};
                end else if (fire && touch) begin
                    a_q <= a_next;
                end
            end
            // Read one beat ahead: the word the next touching beat needs.
            // A touch writes the word it read and moves on, so the word read
            // is never the one written in the same cycle (DEPTH > 1).
            always @(posedge clk) begin
                if (fire && touch) mem[a_q] <= vmax;
                rdata_q <= mem[fire && touch ? a_next : a_q];
            end
        end
    endgenerate

    always @(posedge clk) begin
        if (rst) begin
            valid_q <= 1'b0;
        end else if (fire && emits) begin
            valid_q <= 1'b1;
        end else if (m_ready) begin
            valid_q <= 1'b0;
        end
    end
    always @(posedge clk) begin
        if (fire && emits) out_q <= vmax;
    end
endmodule

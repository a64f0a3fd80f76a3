// shiftkit stream library: sliding-window generator.
//
// Takes an image one pixel (C codes) per beat in raster order and emits every
// KH x KW window at stride (SH, SW) over the image zero-padded by (PH, PW) on
// each side, in raster order of the windows. A window is KH*KW*C codes, code
// (ky*KW + kx)*C + c holding channel c of window row ky, column kx; it is sent
// as KH*KW*C/CHUNK beats of CHUNK codes, lowest codes first, and the whole
// window is sent REPEAT times (once per neuron fold of the matrix-vector unit
// that reads it).
//
// One step per cycle walks the padded image: an in_image step consumes a pixel,
// a padding step takes zeros without consuming anything. An image's walk starts
// only once its first pixel is offered (s_valid), so no window of an image,
// not even one of padding alone, goes out before the image has begun to arrive. Each step shifts a
// column of KH pixels into the window: KH-1 of them come from a line buffer
// (a synchronous RAM of one word per padded column, holding the KH-1 rows
// above; read one step ahead, so it never adds a bubble), the last is the step's
// pixel. A step whose window is complete and on the stride grid copies it into
// the output register, which must be empty or sending its last beat. The
// windows of the first KH-1 rows and columns are never sent, so whatever the
// line buffer held before (another image, or nothing) is never seen.
//
// COMPACT = 1 keeps one register of a window instead of two (the columns kept
// and the output register): the columns shift through the window register
// itself, which is sent from there, rotated by CHUNK codes a beat (after
// BEATS beats it is whole again). No step moves it while a window is being
// sent, but the one in the cycle of the last beat when a beat is the whole
// window (BEATS = 1), so a folded unit that takes many beats a window pays a
// cycle a window for half the registers.
module sk_window #(
    parameter integer BITS = 8,
    parameter integer C = 1,
    parameter integer H = 4,
    parameter integer W = 4,
    parameter integer KH = 3,
    parameter integer KW = 3,
    parameter integer SH = 1,
    parameter integer SW = 1,
    parameter integer PH = 0,
    parameter integer PW = 0,
    parameter integer CHUNK = 9,
    parameter integer REPEAT = 1,
    parameter integer COMPACT = 0,
    // Where the line buffers go: "block" RAM, "logic", or "auto" (the tool's choice).
    // (read by synthesis tools only: simulators see an unused parameter)
    // verilator lint_off UNUSEDPARAM
    parameter RAM_STYLE = "auto"
    // verilator lint_on UNUSEDPARAM
) (
    input  wire                  clk,
    input  wire                  rst,
    input  wire [C*BITS-1:0]     s_data,
    input  wire                  s_valid,
    output wire                  s_ready,
    output wire [CHUNK*BITS-1:0] m_data,
    output wire                  m_valid,
    input  wire                  m_ready
);
    // Parameters no design can have stop elaboration here: the missing module's
    // name says which (every tool reports an unknown module by name).
    generate
        if (SH < 1 || SW < 1 || KH > H + 2 * PH || KW > W + 2 * PW) begin : g_bad_0
            sk_window_needs_a_window_inside_the_padded_image u_bad ();
        end
        if (CHUNK < 1 || (KH * KW * C) % CHUNK != 0 || REPEAT < 1) begin : g_bad_1
            sk_window_needs_CHUNK_dividing_KH_KW_C u_bad ();
        end
    endgenerate

    localparam integer HP = H + 2 * PH;
    localparam integer WP = W + 2 * PW;
    localparam integer N = KH * KW * C;
    localparam integer PIX = C * BITS;
    localparam integer BEATS = N / CHUNK;
    localparam integer EMIT = BEATS * REPEAT;
    localparam integer YW = HP > 1 ? $clog2(HP) : 1;
    localparam integer XW = WP > 1 ? $clog2(WP) : 1;
    localparam integer EW = $clog2(EMIT + 1);
    localparam [YW-1:0] Y_ONE = 1;
    localparam integer Y_LAST_I = HP - 1;
    localparam [YW-1:0] Y_LAST = Y_LAST_I[YW-1:0];
    localparam [XW-1:0] X_ONE = 1;
    localparam integer X_LAST_I = WP - 1;
    localparam [XW-1:0] X_LAST = X_LAST_I[XW-1:0];
    localparam [EW-1:0] E_ZERO = 0;
    localparam [EW-1:0] E_ONE = 1;
    localparam [EW-1:0] E_FULL = EMIT[EW-1:0];

    reg [YW-1:0] py_q;
    reg [XW-1:0] px_q;
    wire row_last = px_q == X_LAST;
    wire image_last = py_q == Y_LAST;

    // Is the step's pixel inside the image, and does its window go out?
    wire in_image;
    wire emits;
    wire step;
    wire row_in;
    wire col_in;
    wire row_emit;
    wire col_emit;
    wire row_started;
    wire col_started;
    generate
        if (PH == 0) begin : g_row_in
            assign row_in = 1'b1;
        end else begin : g_row_in_pad
            localparam [YW-1:0] Y_TOP = PH[YW-1:0];
            localparam integer Y_END_I = PH + H;
            localparam [YW-1:0] Y_END = Y_END_I[YW-1:0];
            assign row_in = py_q >= Y_TOP && py_q < Y_END;
        end
        if (PW == 0) begin : g_col_in
            assign col_in = 1'b1;
        end else begin : g_col_in_pad
            localparam [XW-1:0] X_LEFT = PW[XW-1:0];
            localparam integer X_END_I = PW + W;
            localparam [XW-1:0] X_END = X_END_I[XW-1:0];
            assign col_in = px_q >= X_LEFT && px_q < X_END;
        end
        assign in_image = row_in && col_in;

        // The row (column) is on the stride grid: (py - KH + 1) mod SH == 0.
        if (KH == 1) begin : g_row_started
            assign row_started = 1'b1;
        end else begin : g_row_started_k
            localparam integer Y_FIRST_I = KH - 1;
            localparam [YW-1:0] Y_FIRST = Y_FIRST_I[YW-1:0];
            assign row_started = py_q >= Y_FIRST;
        end
        if (KW == 1) begin : g_col_started
            assign col_started = 1'b1;
        end else begin : g_col_started_k
            localparam integer X_FIRST_I = KW - 1;
            localparam [XW-1:0] X_FIRST = X_FIRST_I[XW-1:0];
            assign col_started = px_q >= X_FIRST;
        end
        if (SH == 1) begin : g_row_phase
            assign row_emit = row_started;
        end else begin : g_row_phase_s
            localparam integer RW = $clog2(SH);
            localparam [RW-1:0] R_ONE = 1;
            localparam integer R_LAST_I = SH - 1;
            localparam [RW-1:0] R_LAST = R_LAST_I[RW-1:0];
            reg [RW-1:0] ry_q;
            assign row_emit = row_started && ry_q == {RW{1'b0}};
            always @(posedge clk) begin
                if (rst) begin
                    ry_q <= {RW{1'b0}};
                end else if (step && row_last) begin
                    if (image_last) ry_q <= {RW{1'b0}};
                    else if (row_started) ry_q <= ry_q == R_LAST ? {RW{1'b0}} : ry_q + R_ONE;
                end
            end
        end
        if (SW == 1) begin : g_col_phase
            assign col_emit = col_started;
        end else begin : g_col_phase_s
            localparam integer RW = $clog2(SW);
            localparam [RW-1:0] R_ONE = 1;
            localparam integer R_LAST_I = SW - 1;
            localparam [RW-1:0] R_LAST = R_LAST_I[RW-1:0];
            reg [RW-1:0] rx_q;
            assign col_emit = col_started && rx_q == {RW{1'b0}};
            always @(posedge clk) begin
                if (rst) begin
                    rx_q <= {RW{1'b0}};
                end else if (step) begin
                    if (row_last) rx_q <= {RW{1'b0}};
                    else if (col_started) rx_q <= rx_q == R_LAST ? {RW{1'b0}} : rx_q + R_ONE;
                end
            end
        end
        assign emits = row_emit && col_emit;
    endgenerate

    // Output register: the window being sent, rotated by CHUNK codes per beat.
    reg [N*BITS-1:0] out_q;
    reg [EW-1:0] left_q;
    wire out_free = left_q == E_ZERO || (left_q == E_ONE && m_ready);
    wire can_step;
    generate
        if (COMPACT == 0) begin : g_can_step
            assign can_step = !emits || out_free;
        end else if (BEATS == 1) begin : g_can_step_whole
            assign can_step = out_free;
        end else begin : g_can_step_rotated
            assign can_step = left_q == E_ZERO;
            wire unused_free = out_free;
        end
    endgenerate
    // This image's first pixel has been offered: its padding may be walked.
    reg started_q;
    assign step = can_step && (in_image ? s_valid : started_q || s_valid);
    assign s_ready = in_image && can_step;
    assign m_valid = left_q != E_ZERO;
    assign m_data = out_q[CHUNK*BITS-1:0];

    always @(posedge clk) begin
        if (rst) begin
            started_q <= 1'b0;
        end else if (step && row_last && image_last) begin
            started_q <= 1'b0;
        end else if (s_valid) begin
            started_q <= 1'b1;
        end
    end

    always @(posedge clk) begin
        if (rst) begin
            py_q <= {YW{1'b0}};
            px_q <= {XW{1'b0}};
        end else if (step) begin
            if (row_last) begin
                px_q <= {XW{1'b0}};
                py_q <= image_last ? {YW{1'b0}} : py_q + Y_ONE;
            end else begin
                px_q <= px_q + X_ONE;
            end
        end
    end

    // The column entering the window: KH-1 pixels from the line buffer, then
    // the step's own pixel (zeros on padding steps).
    wire [PIX-1:0] pixel = in_image ? s_data : {PIX{1'b0}};
    wire [KH*PIX-1:0] column;
    assign column[KH*PIX-1:(KH-1)*PIX] = pixel;
    generate
        if (KH > 1) begin : g_line_buffer
            localparam integer LBW = (KH - 1) * PIX;
            reg [LBW-1:0] rdata_q;
            wire [LBW-1:0] wdata = column[KH*PIX-1:PIX];
            assign column[LBW-1:0] = rdata_q;
            if (WP == 1) begin : g_one_column
                always @(posedge clk) begin
                    if (step) rdata_q <= wdata;
                end
            end else begin : g_ram
                (* ram_style = RAM_STYLE *) reg [LBW-1:0] mem [0:WP-1];
                wire [XW-1:0] next_px = row_last ? {XW{1'b0}} : px_q + X_ONE;
                always @(posedge clk) begin
                    if (step) begin
                        mem[px_q] <= wdata;
                        rdata_q <= mem[next_px];
                    end
                end
            end
        end
    endgenerate

    // The window after this step: the KW-1 columns kept, then the new column.
    wire [N*BITS-1:0] window;
    genvar ky, kx;
    generate
        if (COMPACT != 0) begin : g_compact
            // The window register is the output register: column kx + 1 moves
            // to kx, the new column comes in as KW - 1.
            for (kx = 0; kx < KW; kx = kx + 1) begin : g_kx
                for (ky = 0; ky < KH; ky = ky + 1) begin : g_ky
                    if (kx < KW - 1) begin : g_kept
                        assign window[(ky*KW+kx)*PIX +: PIX] = out_q[(ky*KW+kx+1)*PIX +: PIX];
                    end else begin : g_new
                        assign window[(ky*KW+kx)*PIX +: PIX] = column[ky*PIX +: PIX];
                    end
                end
            end
        end else if (KW > 1) begin : g_columns
            reg [(KW-1)*KH*PIX-1:0] cols_q;
            for (kx = 0; kx < KW; kx = kx + 1) begin : g_kx
                for (ky = 0; ky < KH; ky = ky + 1) begin : g_ky
                    if (kx < KW - 1) begin : g_kept
                        assign window[(ky*KW+kx)*PIX +: PIX] = cols_q[(kx*KH+ky)*PIX +: PIX];
                    end else begin : g_new
                        assign window[(ky*KW+kx)*PIX +: PIX] = column[ky*PIX +: PIX];
                    end
                end
            end
            if (KW == 2) begin : g_one_kept
                always @(posedge clk) begin
                    if (step) cols_q <= column;
                end
            end else begin : g_shift
                always @(posedge clk) begin
                    if (step) cols_q <= {column, cols_q[(KW-1)*KH*PIX-1:KH*PIX]};
                end
            end
        end else begin : g_one_col
            for (ky = 0; ky < KH; ky = ky + 1) begin : g_ky
                assign window[ky*PIX +: PIX] = column[ky*PIX +: PIX];
            end
        end
    endgenerate

    always @(posedge clk) begin
        if (rst) begin
            left_q <= E_ZERO;
        end else if (step && emits) begin
            left_q <= E_FULL;
        end else if (m_valid && m_ready) begin
            left_q <= left_q - E_ONE;
        end
    end
    // The output register takes the window on every step that emits it; the
    // compact one on every step (its columns shift through it), which comes
    // only while no window is being sent, or in the last beat of a
    // whole-window beat, when rotating is nothing.
    wire load = COMPACT != 0 ? step : step && emits;
    generate
        if (BEATS == 1) begin : g_whole
            always @(posedge clk) begin
                if (load) out_q <= window;
            end
        end else begin : g_rotate
            always @(posedge clk) begin
                if (load) begin
                    out_q <= window;
                end else if (m_valid && m_ready) begin
                    out_q <= {out_q[CHUNK*BITS-1:0], out_q[N*BITS-1:CHUNK*BITS]};
                end
            end
        end
    endgenerate
endmodule

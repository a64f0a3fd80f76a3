// shiftkit stream library: gather with a running argmax.
//
// Beats of A codes in, words of L codes out (L a multiple of A), exactly as
// sk_dwc gathers them (new beats enter at the top; after L/A beats the first
// is lowest; a new beat may enter in the cycle the word leaves), and beside
// each word the index of its largest code, the lowest index on ties. The
// index is kept as the beats arrive: every accepted beat's largest code
// (sk_argmax over its A lanes) is compared with the largest so far, so the
// logic between registers is one beat's comparator tree and one comparator,
// whatever L is, and the index is ready with the word's last beat.
//
// Code i of a beat sits at bits [(i+1)*BITS-1 : i*BITS]; m_index counts codes
// of the word from 0.
module sk_argmax_gather #(
    parameter integer BITS = 8,
    parameter integer A = 1,
    parameter integer L = 1,
    parameter integer SIGNED = 0,
    parameter integer IW = 1
) (
    input  wire              clk,
    input  wire              rst,
    input  wire [A*BITS-1:0] s_data,
    input  wire              s_valid,
    output wire              s_ready,
    output wire [L*BITS-1:0] m_data,
    output wire [IW-1:0]     m_index,
    output wire              m_valid,
    input  wire              m_ready
);
    // Parameters no design can have stop elaboration here: the missing module's
    // name says which (every tool reports an unknown module by name).
    generate
        if (A < 1 || L % A != 0) begin : g_bad_0
            sk_argmax_gather_needs_A_dividing_L u_bad ();
        end
        if (((L - 1) >> IW) != 0) begin : g_bad_1
            sk_argmax_gather_needs_IW_bits_to_count_L u_bad ();
        end
    endgenerate

    localparam integer GN = L / A;  // beats per word
    localparam integer GW = $clog2(GN + 1);
    localparam [GW-1:0] G_ZERO = 0;
    localparam [GW-1:0] G_ONE = 1;
    localparam [GW-1:0] G_FULL = GN[GW-1:0];
    // The step of a beat's first position (wraps to 0 only when A == L,
    // where every beat is a word's first).
    localparam [IW-1:0] STEP = A[IW-1:0];

    reg [L*BITS-1:0] word_q;
    reg [GW-1:0] count_q;
    wire full = count_q == G_FULL;
    wire take = m_ready && full;
    wire fire = s_valid && s_ready;
    assign s_ready = !full || m_ready;
    assign m_valid = full;
    assign m_data = word_q;
    always @(posedge clk) begin
        if (rst) begin
            count_q <= G_ZERO;
        end else if (fire) begin
            count_q <= take ? G_ONE : count_q + G_ONE;
        end else if (take) begin
            count_q <= G_ZERO;
        end
    end
    generate
        if (GN == 1) begin : g_one
            always @(posedge clk) begin
                if (fire) word_q <= s_data;
            end
        end else begin : g_shift
            always @(posedge clk) begin
                if (fire) word_q <= {s_data, word_q[L*BITS-1:A*BITS]};
            end
        end
    endgenerate

    // The beat's largest code and its lane.
    wire [BITS-1:0] beat_max;
    wire [IW-1:0] beat_index;
    sk_argmax #(.N(A), .BITS(BITS), .SIGNED(SIGNED), .IW(IW)) u_beat (
        .x(s_data), .max(beat_max), .index(beat_index)
    );
    // The largest so far, where it is, and where the next beat starts. A
    // beat accepted when the count is 0 or as the word leaves starts a word.
    reg [BITS-1:0] best_q;
    reg [IW-1:0] index_q;
    reg [IW-1:0] base_q;
    wire first = count_q == G_ZERO || take;
    wire larger;
    generate
        if (SIGNED != 0) begin : g_signed
            assign larger = $signed(beat_max) > $signed(best_q);
        end else begin : g_unsigned
            assign larger = beat_max > best_q;
        end
    endgenerate
    always @(posedge clk) begin
        if (fire) begin
            base_q <= first ? STEP : base_q + STEP;
            if (first || larger) begin
                best_q <= beat_max;
                index_q <= (first ? {IW{1'b0}} : base_q) + beat_index;
            end
        end
    end
    assign m_index = index_q;
endmodule

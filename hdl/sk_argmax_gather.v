// shiftkit stream library: gather with a running argmax.
//
// Beats of A codes in, words of L codes out (L a multiple of A), gathered by
// sk_dwc (so with its handshakes), and beside
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

    // The word: sk_dwc gathering (B = L).
    sk_dwc #(.BITS(BITS), .A(A), .B(L), .L(L)) u_gather (
        .clk(clk), .rst(rst),
        .s_data(s_data), .s_valid(s_valid), .s_ready(s_ready),
        .m_data(m_data), .m_valid(m_valid), .m_ready(m_ready)
    );
    wire fire = s_valid && s_ready;
    // Where the next beat starts in its word (0: it starts a word).
    localparam [IW:0] STEP = A[IW:0];
    localparam [IW:0] WORD = L[IW:0];
    reg [IW:0] base_q;
    // Whether the next beat starts a word, kept beside base_q so the
    // update's enable waits on the comparator alone.
    reg first_q;
    wire [IW:0] next_base = base_q + STEP;
    wire wrap = next_base == WORD;

    // The beat's largest code and its lane.
    wire [BITS-1:0] beat_max;
    wire [IW-1:0] beat_index;
    sk_argmax #(.N(A), .BITS(BITS), .SIGNED(SIGNED), .IW(IW)) u_beat (
        .x(s_data), .max(beat_max), .index(beat_index)
    );
    // The largest so far and where it is.
    reg [BITS-1:0] best_q;
    reg [IW-1:0] index_q;
    wire larger;
    generate
        if (SIGNED != 0) begin : g_signed
            // Signed order is unsigned order with the sign bits flipped:
            // the comparator is a carry chain and nothing after it.
            localparam [BITS-1:0] SIGN = {BITS{1'b1}} ^ ({BITS{1'b1}} >> 1);
            assign larger = (beat_max ^ SIGN) > (best_q ^ SIGN);
        end else begin : g_unsigned
            assign larger = beat_max > best_q;
        end
    endgenerate
    always @(posedge clk) begin
        if (rst) begin
            base_q <= {(IW + 1){1'b0}};
            first_q <= 1'b1;
        end else if (fire) begin
            base_q <= wrap ? {(IW + 1){1'b0}} : next_base;
            first_q <= wrap;
        end
    end
    always @(posedge clk) begin
        if (fire && (first_q || larger)) begin
            best_q <= beat_max;
            index_q <= base_q[IW-1:0] + beat_index;
        end
    end
    assign m_index = index_q;
endmodule

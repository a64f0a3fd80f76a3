// shiftkit stream library: data width converter.
//
// Beats of A codes in, beats of B codes out, through words of L codes (L a
// common multiple of A and B): L/A input beats are gathered into a word, which
// is then sent as L/B output beats, lowest codes first. Code i of a beat sits
// at bits [(i+1)*BITS-1 : i*BITS]. Gathering and sending overlap (a register
// for each), so the converter runs at full rate on both sides. When L == B it
// only gathers (the word register is the output register); when L == A it
// only splits.
//
// Timing (what the generator's timing model mirrors): gather-only, the output
// is valid when GN beats are in; a new beat may enter in the cycle the word
// leaves. Splitting, a word enters the send register when it is empty or
// sending its last beat; the gathering side takes beats while its word is
// incomplete, and its last beat only together with that transfer.
//
// HOLD (splitting a beat into beats, L == A): no word register. The beat
// waits on s_data (a stream's data holds while it is not taken) and is sent
// from there through a multiplexer of its SN parts, and taken with its last
// part. The part counter starts the cycle after s_valid, so a word takes SN
// + 1 cycles: for a converter that is not its stream's bottleneck, the word
// register's L*BITS flip-flops and its shifting multiplexers saved.
module sk_dwc #(
    parameter integer BITS = 8,
    parameter integer A = 1,
    parameter integer B = 1,
    parameter integer L = 1,
    parameter integer HOLD = 0
) (
    input  wire              clk,
    input  wire              rst,
    input  wire [A*BITS-1:0] s_data,
    input  wire              s_valid,
    output wire              s_ready,
    output wire [B*BITS-1:0] m_data,
    output wire              m_valid,
    input  wire              m_ready
);
    // Parameters no design can have stop elaboration here: the missing module's
    // name says which (every tool reports an unknown module by name).
    generate
        if (A < 1 || B < 1 || L % A != 0 || L % B != 0) begin : g_bad_0
            sk_dwc_needs_A_and_B_dividing_L u_bad ();
        end
        if (HOLD != 0 && (L != A || B >= A)) begin : g_bad_1
            sk_dwc_holds_only_a_beat_split_into_narrower_beats u_bad ();
        end
    endgenerate

    localparam integer GN = L / A;  // input beats per word
    localparam integer SN = L / B;  // output beats per word
    localparam integer GW = $clog2(GN + 1);
    localparam integer SW = $clog2(SN + 1);
    localparam [GW-1:0] G_ZERO = 0;
    localparam [GW-1:0] G_ONE = 1;
    localparam [GW-1:0] G_FULL = GN[GW-1:0];
    localparam integer G_LAST_I = GN - 1;
    localparam [GW-1:0] G_LAST = G_LAST_I[GW-1:0];
    localparam [SW-1:0] S_ZERO = 0;
    localparam [SW-1:0] S_ONE = 1;
    localparam [SW-1:0] S_FULL = SN[SW-1:0];

    generate
        if (L == B) begin : g_gather
            reg [L*BITS-1:0] word_q;
            reg [GW-1:0] count_q;
            wire full = count_q == G_FULL;
            wire take = m_ready && full;
            assign s_ready = !full || m_ready;
            assign m_valid = full;
            assign m_data = word_q;
            always @(posedge clk) begin
                if (rst) begin
                    count_q <= G_ZERO;
                end else if (s_valid && s_ready) begin
                    count_q <= take ? G_ONE : count_q + G_ONE;
                end else if (take) begin
                    count_q <= G_ZERO;
                end
            end
            if (GN == 1) begin : g_one
                always @(posedge clk) begin
                    if (s_valid && s_ready) word_q <= s_data;
                end
            end else begin : g_shift
                // New beats enter at the top; after GN beats the first is lowest.
                always @(posedge clk) begin
                    if (s_valid && s_ready) word_q <= {s_data, word_q[L*BITS-1:A*BITS]};
                end
            end
        end else if (HOLD != 0) begin : g_hold
            localparam integer IW = $clog2(SN);
            localparam [IW-1:0] I_ZERO = 0;
            localparam [IW-1:0] I_ONE = 1;
            localparam integer I_LAST_I = SN - 1;
            localparam [IW-1:0] I_LAST = I_LAST_I[IW-1:0];
            wire [B*BITS-1:0] part [0:SN-1];
            genvar i;
            for (i = 0; i < SN; i = i + 1) begin : g_part
                assign part[i] = s_data[i*B*BITS +: B*BITS];
            end
            reg busy_q;
            reg [IW-1:0] beat_q;
            wire last = beat_q == I_LAST;
            assign m_valid = busy_q;
            assign m_data = part[beat_q];
            assign s_ready = busy_q && last && m_ready;
            always @(posedge clk) begin
                if (rst) begin
                    busy_q <= 1'b0;
                    beat_q <= I_ZERO;
                end else if (!busy_q) begin
                    busy_q <= s_valid;
                end else if (m_ready) begin
                    busy_q <= !last;
                    beat_q <= last ? I_ZERO : beat_q + I_ONE;
                end
            end
        end else begin : g_split
            reg [L*BITS-1:0] send_q;
            reg [SW-1:0] left_q;
            wire send_free = left_q == S_ZERO || (left_q == S_ONE && m_ready);
            wire [L*BITS-1:0] word;
            wire word_valid;
            assign m_valid = left_q != S_ZERO;
            assign m_data = send_q[B*BITS-1:0];
            if (L == A) begin : g_direct
                assign word = s_data;
                assign word_valid = s_valid;
                assign s_ready = send_free;
            end else begin : g_gather_word
                // The first GN-1 beats of a word; the last completes it on the fly.
                reg [(L-A)*BITS-1:0] gather_q;
                reg [GW-1:0] count_q;
                wire last_beat = count_q == G_LAST;
                assign word = {s_data, gather_q};
                assign word_valid = s_valid && last_beat;
                assign s_ready = !last_beat || send_free;
                always @(posedge clk) begin
                    if (rst) begin
                        count_q <= G_ZERO;
                    end else if (s_valid && s_ready) begin
                        count_q <= last_beat ? G_ZERO : count_q + G_ONE;
                    end
                end
                if (GN == 2) begin : g_two
                    always @(posedge clk) begin
                        if (s_valid && s_ready) gather_q <= s_data;
                    end
                end else begin : g_many
                    always @(posedge clk) begin
                        if (s_valid && s_ready) begin
                            gather_q <= {s_data, gather_q[(L-A)*BITS-1:A*BITS]};
                        end
                    end
                end
            end
            always @(posedge clk) begin
                if (rst) begin
                    left_q <= S_ZERO;
                end else if (word_valid && send_free) begin
                    left_q <= S_FULL;
                end else if (m_valid && m_ready) begin
                    left_q <= left_q - S_ONE;
                end
            end
            always @(posedge clk) begin
                if (word_valid && send_free) begin
                    send_q <= word;
                end else if (m_valid && m_ready) begin
                    send_q <= {{(B*BITS){1'b0}}, send_q[L*BITS-1:B*BITS]};
                end
            end
        end
    endgenerate
endmodule

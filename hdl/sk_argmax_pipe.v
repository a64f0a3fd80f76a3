// shiftkit stream library: argmax, pipelined.
//
// The index of the largest of N codes (code i at [(i+1)*BITS-1 : i*BITS]),
// the lowest index on ties, and that largest value, as sk_argmax gives
// them, but with a register after every LEVELS levels of the comparator
// tree and after its last: level k pairs the values of level k-1 (each pair
// compared by sk_argmax), the lower index winning ties. The result of the codes taken at a clock with en high
// leaves STAGES = ceil(ceil(log2 N) / LEVELS) advances of en later (at least
// one).
module sk_argmax_pipe #(
    parameter integer N = 2,
    parameter integer BITS = 8,
    parameter integer SIGNED = 0,
    parameter integer IW = 1,
    parameter integer LEVELS = 1
) (
    input  wire              clk,
    input  wire              en,
    input  wire [N*BITS-1:0] x,
    output wire [BITS-1:0]   max,
    output wire [IW-1:0]     index
);
    generate
        if (N < 2 || LEVELS < 1) begin : g_bad_0
            sk_argmax_pipe_needs_N_at_least_2_and_LEVELS_at_least_1 u_bad ();
        end
        if (((N - 1) >> IW) != 0) begin : g_bad_1
            sk_argmax_pipe_needs_IW_bits_to_count_N u_bad ();
        end
    endgenerate

    localparam integer DEPTH = $clog2(N);

    genvar k, i;
    generate
        for (k = 0; k <= DEPTH; k = k + 1) begin : g_level
            // Values left after k levels: ceil(N / 2^k).
            localparam integer NK = (N + (1 << k) - 1) >> k;
            wire [NK*BITS-1:0] v;
            wire [NK*IW-1:0] ix;
            if (k == 0) begin : g_leaves
                assign v = x;
                for (i = 0; i < N; i = i + 1) begin : g_index
                    localparam [IW-1:0] I = i;
                    assign ix[i*IW +: IW] = I;
                end
            end else begin : g_pairs
                localparam integer NP = (N + (1 << (k - 1)) - 1) >> (k - 1);
                wire [NK*BITS-1:0] v_d;
                wire [NK*IW-1:0] ix_d;
                for (i = 0; i < NK; i = i + 1) begin : g_node
                    wire [BITS-1:0] a = g_level[k-1].v[2*i*BITS +: BITS];
                    wire [IW-1:0] ia = g_level[k-1].ix[2*i*IW +: IW];
                    if (2 * i + 1 < NP) begin : g_compare
                        wire [BITS-1:0] b = g_level[k-1].v[(2*i+1)*BITS +: BITS];
                        wire [IW-1:0] ib = g_level[k-1].ix[(2*i+1)*IW +: IW];
                        // sk_argmax's comparison of the pair: index 0 is a.
                        wire b_wins;
                        sk_argmax #(.N(2), .BITS(BITS), .SIGNED(SIGNED), .IW(1)) u_pair (
                            .x({b, a}), .max(v_d[i*BITS +: BITS]), .index(b_wins)
                        );
                        assign ix_d[i*IW +: IW] = b_wins ? ib : ia;
                    end else begin : g_pass
                        assign v_d[i*BITS +: BITS] = a;
                        assign ix_d[i*IW +: IW] = ia;
                    end
                end
                if (k % LEVELS == 0 || k == DEPTH) begin : g_reg
                    reg [NK*BITS-1:0] v_q;
                    reg [NK*IW-1:0] ix_q;
                    always @(posedge clk) begin
                        if (en) begin
                            v_q <= v_d;
                            ix_q <= ix_d;
                        end
                    end
                    assign v = v_q;
                    assign ix = ix_q;
                end else begin : g_wire
                    assign v = v_d;
                    assign ix = ix_d;
                end
            end
        end
    endgenerate
    assign max = g_level[DEPTH].v;
    assign index = g_level[DEPTH].ix;
endmodule

// shiftkit stream library: argmax.
//
// The index of the largest of N codes (code i at [(i+1)*BITS-1 : i*BITS]),
// the lowest index on ties, and that largest value. Combinational: a tree of
// comparators, the lower half winning ties at every node.
module sk_argmax #(
    parameter integer N = 2,
    parameter integer BITS = 8,
    parameter integer SIGNED = 0,
    parameter integer IW = 1
) (
    input  wire [N*BITS-1:0] x,
    output wire [BITS-1:0]   max,
    output wire [IW-1:0]     index
);
    // Parameters no design can have stop elaboration here: the missing module's
    // name says which (every tool reports an unknown module by name).
    generate
        if (N < 1) begin : g_bad_0
            sk_argmax_needs_N_at_least_1 u_bad ();
        end
        if (((N - 1) >> IW) != 0) begin : g_bad_1
            sk_argmax_needs_IW_bits_to_count_N u_bad ();
        end
    endgenerate

    generate
        if (N == 1) begin : g_leaf
            assign max = x;
            assign index = {IW{1'b0}};
        end else begin : g_node
            localparam integer NA = (N + 1) / 2;
            localparam integer NB = N - NA;
            localparam [IW-1:0] OFFSET = NA[IW-1:0];
            wire [BITS-1:0] a;
            wire [BITS-1:0] b;
            wire [IW-1:0] ia;
            wire [IW-1:0] ib;
            sk_argmax #(.N(NA), .BITS(BITS), .SIGNED(SIGNED), .IW(IW)) u_a (
                .x(x[NA*BITS-1:0]), .max(a), .index(ia)
            );
            sk_argmax #(.N(NB), .BITS(BITS), .SIGNED(SIGNED), .IW(IW)) u_b (
                .x(x[N*BITS-1:NA*BITS]), .max(b), .index(ib)
            );
            wire a_wins;
            if (SIGNED != 0) begin : g_signed
                // Signed order is unsigned order with the sign bits flipped:
                // the comparator's carry chain is the whole of it.
                localparam [BITS-1:0] SIGN = {BITS{1'b1}} ^ ({BITS{1'b1}} >> 1);
                assign a_wins = (a ^ SIGN) >= (b ^ SIGN);
            end else begin : g_unsigned
                assign a_wins = a >= b;
            end
            assign max = a_wins ? a : b;
            assign index = a_wins ? ia : ib + OFFSET;
        end
    endgenerate
endmodule

// shiftkit stream library: balanced adder tree.
//
// y = the sum of the N signed IW-bit lanes of x (lane i at [(i+1)*IW-1 : i*IW]),
// exact at IW+H bits, as a tree of H levels (N <= 2^H). With PIPE > 0 a
// register (advancing when en) follows every level whose height is a multiple
// of PIPE, so every path has H/PIPE registers. Built recursively: the lower
// 2^(H-1) lanes and the rest are summed by two trees one level lower; a side
// with no lanes is zero but keeps its registers, so both sides stay aligned.
module sk_addtree #(
    parameter integer N = 2,
    parameter integer IW = 8,
    parameter integer H = 1,
    parameter integer PIPE = 0
) (
    input  wire            clk,
    input  wire            en,
    input  wire [N*IW-1:0] x,
    output wire [IW+H-1:0] y
);
    // Parameters no design can have stop elaboration here: the missing module's
    // name says which (every tool reports an unknown module by name).
    generate
        if (N < 1) begin : g_bad_0
            sk_addtree_needs_N_at_least_1 u_bad ();
        end
        if (N > (1 << H)) begin : g_bad_1
            sk_addtree_needs_N_at_most_2_pow_H u_bad ();
        end
    endgenerate

    generate
        if (H == 0) begin : g_leaf
            assign y = x[IW-1:0];
            wire unused_clk = clk ^ en;
        end else begin : g_node
            localparam integer HALF = 1 << (H - 1);
            localparam integer NA = N > HALF ? HALF : N;
            localparam integer NB = N - NA;
            wire [IW+H-2:0] a;
            wire [IW+H-2:0] b;
            sk_addtree #(.N(NA), .IW(IW), .H(H - 1), .PIPE(PIPE)) u_a (
                .clk(clk), .en(en), .x(x[NA*IW-1:0]), .y(a)
            );
            if (NB > 0) begin : g_b
                sk_addtree #(.N(NB), .IW(IW), .H(H - 1), .PIPE(PIPE)) u_b (
                    .clk(clk), .en(en), .x(x[N*IW-1:NA*IW]), .y(b)
                );
            end else begin : g_zero
                assign b = {(IW + H - 1){1'b0}};
            end
            wire [IW+H-1:0] sum = {a[IW+H-2], a} + {b[IW+H-2], b};
            if (PIPE > 0 && H % PIPE == 0) begin : g_reg
                reg [IW+H-1:0] sum_q;
                always @(posedge clk) begin
                    if (en) sum_q <= sum;
                end
                assign y = sum_q;
            end else begin : g_comb
                assign y = sum;
            end
        end
    endgenerate
endmodule

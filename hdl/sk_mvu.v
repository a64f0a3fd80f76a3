// shiftkit stream library: folded matrix-vector unit (MVU) core.
//
// Computes y = W x + b for one M x N weight matrix folded onto PE rows of SIMD
// lanes: M = NF*PE outputs, N = SF*SIMD inputs. For every input vector it
// takes NF*SF beats of SIMD codes (the vector's SF chunks in order, once per
// neuron fold), and after each neuron fold nf puts out the PE accumulators of
// outputs nf*PE .. nf*PE+PE-1 (each multiplied by its channel scale when
// SCALED). Requantization follows outside, generated from the numeric
// contract.
//
// Weight codes sit in a synchronous-read ROM ($readmemh WEIGHTS): word
// nf*SF + sf holds, for PE row p and lane s, the code of weight
// (nf*PE + p, sf*SIMD + s) at bits [(p*SIMD+s+1)*CODE-1 : (p*SIMD+s)*CODE].
// With SPRAM 1 the words sit in the iCE40 UltraPlus's single-port RAMs
// instead (sk_spram_rom), loaded after power-up through ld_data, ld_valid,
// ld_ready (16-bit slices of each word in turn, lowest first; ld_ready
// falls when all are in); with SPRAM 0 the ld ports are unused (ld_ready
// low).
// Lanes by KIND, with x the lane's input code (sign-extended):
//   0 pow2:    code {nonzero, negative, k}: +-(x << k) or 0; selects among
//              the shifted copies of x (zero weights gate x first) and
//              inverts the bits of negative ones; the tree's sum gets one
//              added per negative lane (-v = ~v + 1). No multiplier.
//   1 binary:  code 1 is +1, 0 is -1: sum = 2*(sum of x where +1) - (sum of
//              all x); the second sum is shared by every PE row.
//   2 ternary: code {minus, plus}: sum = (sum of x where +1) - (sum where -1).
//   3 fixed:   code is the signed weight: a multiplier x * w per lane (the
//              first DSP lanes on DSP blocks, sk_mul16).
//   4 shared:  code indexes the CODEBOOK; every lane's products with each
//              codebook value are computed once (constant multiplications,
//              shared by the PE rows) and the lane selects one.
// Biases (BIASES, one word of PE accumulators per neuron fold) start each
// accumulation; channel multipliers (SCALES, PE words of M_BITS) scale it.
//
// Pipeline: every register advances when en (the caller's stall control);
// s_ready is en. Latency from an accepted beat to acc_valid: 2 + LREG +
// H/PIPE + SCALED: input and ROM registers, the lanes' register (LREG 1:
// after the lane products or gates), adder-tree registers, the accumulator,
// and the scale multiplier's stages (SCALED 1: the product; 2: the products
// by the multiplier's low and high halves, then their sum).
module sk_mvu #(
    parameter integer PE = 1,
    parameter integer SIMD = 1,
    parameter integer NF = 1,
    parameter integer SF = 1,
    parameter integer XBITS = 8,
    parameter integer XSIGNED = 0,
    parameter integer KIND = 0,
    parameter integer CODE = 5,
    parameter integer CB_N = 1,
    parameter integer CB_BITS = 2,
    parameter [CB_N*CB_BITS-1:0] CODEBOOK = 0,
    parameter integer LANE_W = 16,
    parameter integer H = 0,
    parameter integer PIPE = 0,
    parameter integer LREG = 0,
    parameter integer SUM_W = 16,
    parameter integer ACC_W = 24,
    parameter integer SCALED = 0,
    parameter integer M_BITS = 2,
    parameter integer OUT_W = 24,
    parameter WEIGHTS = "",
    parameter BIASES = "",
    parameter SCALES = "",
    // The weights in SPRAM, loaded through the ld ports (1), or in a ROM (0).
    parameter integer SPRAM = 0,
    // Fixed-point lanes whose multiplier is an iCE40 UltraPlus DSP block
    // (sk_mul16): the first DSP lanes, p*SIMD + s < DSP; the rest LUTs.
    parameter integer DSP = 0,
    // Where the weight ROM goes: "block" RAM, "logic", or "auto" (the tool's choice).
    // (read by synthesis tools only: simulators see an unused parameter)
    // verilator lint_off UNUSEDPARAM
    parameter ROM_STYLE = "auto"
    // verilator lint_on UNUSEDPARAM
) (
    input  wire                 clk,
    input  wire                 rst,
    input  wire                 en,
    // verilator lint_off UNUSEDSIGNAL
    input  wire [15:0]          ld_data,
    input  wire                 ld_valid,
    // verilator lint_on UNUSEDSIGNAL
    output wire                 ld_ready,
    input  wire [SIMD*XBITS-1:0] s_data,
    input  wire                 s_valid,
    output wire [PE*OUT_W-1:0]  acc_data,
    output wire                 acc_valid
);
    // Parameters no design can have stop elaboration here: the missing module's
    // name says which (every tool reports an unknown module by name).
    generate
        if (PE < 1 || SIMD < 1 || NF < 1 || SF < 1) begin : g_bad_0
            sk_mvu_needs_PE_SIMD_NF_SF_at_least_1 u_bad ();
        end
        if (SIMD > (1 << H)) begin : g_bad_1
            sk_mvu_needs_SIMD_at_most_2_pow_H u_bad ();
        end
        if (KIND < 0 || KIND > 4) begin : g_bad_2
            sk_mvu_needs_KIND_from_0_to_4 u_bad ();
        end
        if (KIND == 0 && CODE < 3) begin : g_bad_3
            sk_mvu_needs_CODE_of_3_bits_or_more_for_pow2 u_bad ();
        end
        if ((KIND == 1 && CODE != 1) || (KIND == 2 && CODE != 2)) begin : g_bad_5
            sk_mvu_needs_CODE_1_for_binary_2_for_ternary u_bad ();
        end
        if (LREG < 0 || LREG > 1) begin : g_bad_6
            sk_mvu_needs_LREG_0_or_1 u_bad ();
        end
        if (KIND == 4 && CB_N > (1 << CODE)) begin : g_bad_4
            sk_mvu_needs_CB_N_at_most_2_pow_CODE u_bad ();
        end
        if (DSP < 0 || (DSP > 0 && (KIND != 3 || XS > 16 || CODE > 16 || LANE_W > 32)))
        begin : g_bad_8
            sk_mvu_needs_DSP_lanes_fixed_with_16_bit_operands u_bad ();
        end
        if (SCALED < 0 || SCALED > 2 || (SCALED == 2 && (M_BITS < 2 || OUT_W <= M_BITS / 2 + 1)))
        begin : g_bad_7
            sk_mvu_needs_SCALED_0_1_or_2_with_M_BITS_to_split u_bad ();
        end
    endgenerate

    localparam integer XS = XSIGNED != 0 ? XBITS : XBITS + 1;
    localparam integer TW = LANE_W + H;  // a product tree's sum
    localparam integer TL = (PIPE > 0 ? H / PIPE : 0) + LREG;
    localparam integer WORDS = NF * SF;
    localparam integer AW = WORDS > 1 ? $clog2(WORDS) : 1;
    localparam integer SFW = SF > 1 ? $clog2(SF) : 1;
    localparam integer NFW = NF > 1 ? $clog2(NF) : 1;
    localparam [AW-1:0] A_ONE = 1;
    localparam integer A_LAST_I = WORDS - 1;
    localparam [AW-1:0] A_LAST = A_LAST_I[AW-1:0];
    localparam [SFW-1:0] S_ONE = 1;
    localparam integer S_LAST_I = SF - 1;
    localparam [SFW-1:0] S_LAST = S_LAST_I[SFW-1:0];
    localparam [NFW-1:0] N_ONE = 1;

    // Fold counters of the beat being accepted.
    reg [AW-1:0] addr_q;
    reg [SFW-1:0] sf_q;
    reg [NFW-1:0] nf_q;
    wire fire = s_valid && en;
    always @(posedge clk) begin
        if (rst) begin
            addr_q <= {AW{1'b0}};
            sf_q <= {SFW{1'b0}};
            nf_q <= {NFW{1'b0}};
        end else if (fire) begin
            addr_q <= addr_q == A_LAST ? {AW{1'b0}} : addr_q + A_ONE;
            sf_q <= sf_q == S_LAST ? {SFW{1'b0}} : sf_q + S_ONE;
            if (sf_q == S_LAST) nf_q <= addr_q == A_LAST ? {NFW{1'b0}} : nf_q + N_ONE;
        end
    end

    // Stage 1: the beat and its weight codes.
    // (The file names default to "" and are read only when given, so that a
    // tool reading this module on its own does not look for a file.)
    wire [PE*SIMD*CODE-1:0] w_q;
    generate
        if (SPRAM != 0) begin : g_spram
            sk_spram_rom #(
                .W(PE * SIMD * CODE),
                .DEPTH(WORDS),
                .AW(AW)
            ) u_rom (
                .clk(clk),
                .rst(rst),
                .ld_data(ld_data),
                .ld_valid(ld_valid),
                .ld_ready(ld_ready),
                .en(en),
                .addr(addr_q),
                .q(w_q)
            );
        end else begin : g_rom
            (* rom_style = ROM_STYLE *) reg [PE*SIMD*CODE-1:0] rom [0:WORDS-1];
            if (WEIGHTS != "") begin : g_weights
                initial $readmemh(WEIGHTS, rom);
            end
            reg [PE*SIMD*CODE-1:0] word_q;
            always @(posedge clk) begin
                if (en) word_q <= rom[addr_q];
            end
            assign w_q = word_q;
            assign ld_ready = 1'b0;
        end
    endgenerate
    reg [SIMD*XBITS-1:0] x_q;
    always @(posedge clk) begin
        if (en) x_q <= s_data;
    end

    // Control, delayed along the adder trees: valid, first and last fold, nf.
    localparam integer CW = 3 + NFW;
    wire [CW-1:0] ctl_in = {nf_q, sf_q == S_LAST, sf_q == {SFW{1'b0}}, fire};
    wire [CW-1:0] ctl;
    generate
        if (TL == 0) begin : g_ctl1
            reg [CW-1:0] ctl_q;
            always @(posedge clk) begin
                if (rst) ctl_q <= {CW{1'b0}};
                else if (en) ctl_q <= ctl_in;
            end
            assign ctl = ctl_q;
        end else begin : g_ctln
            reg [(TL+1)*CW-1:0] ctl_q;
            always @(posedge clk) begin
                if (rst) ctl_q <= {((TL+1)*CW){1'b0}};
                else if (en) ctl_q <= {ctl_q[TL*CW-1:0], ctl_in};
            end
            assign ctl = ctl_q[(TL+1)*CW-1:TL*CW];
        end
    endgenerate
    wire v_t = ctl[0];
    wire first_t = ctl[1];
    wire last_t = ctl[2];
    wire [NFW-1:0] nf_t = ctl[CW-1:3];

    // The inputs, sign-extended.
    wire [SIMD*XS-1:0] xs;
    genvar s, p;
    generate
        for (s = 0; s < SIMD; s = s + 1) begin : g_x
            if (XSIGNED != 0) begin : g_signed
                assign xs[s*XS +: XS] = x_q[s*XBITS +: XBITS];
            end else begin : g_unsigned
                assign xs[s*XS +: XS] = {1'b0, x_q[s*XBITS +: XBITS]};
            end
        end
    endgenerate

    // One fold's sum per PE row.
    wire [PE*SUM_W-1:0] sums;
    generate
        if (KIND == 1 || KIND == 2) begin : g_gated
            // Binary and ternary: trees of gated inputs, XS + H bits wide.
            localparam integer GW = XS + H;
            wire [GW-1:0] total;
            if (KIND == 1) begin : g_total
                wire [SIMD*XS-1:0] xs_l;
                if (LREG != 0) begin : g_xs
                    reg [SIMD*XS-1:0] xs_l_q;
                    always @(posedge clk) begin
                        if (en) xs_l_q <= xs;
                    end
                    assign xs_l = xs_l_q;
                end else begin : g_xs_wire
                    assign xs_l = xs;
                end
                sk_addtree #(.N(SIMD), .IW(XS), .H(H), .PIPE(PIPE)) u_all (
                    .clk(clk), .en(en), .x(xs_l), .y(total)
                );
            end else begin : g_no_total
                assign total = {GW{1'b0}};
            end
            for (p = 0; p < PE; p = p + 1) begin : g_pe
                wire [SIMD*XS-1:0] plus;
                wire [SIMD*XS-1:0] minus;
                for (s = 0; s < SIMD; s = s + 1) begin : g_lane
                    wire [CODE-1:0] c = w_q[(p*SIMD+s)*CODE +: CODE];
                    assign plus[s*XS +: XS] = c[0] ? xs[s*XS +: XS] : {XS{1'b0}};
                    if (KIND == 2) begin : g_minus
                        assign minus[s*XS +: XS] = c[CODE-1] ? xs[s*XS +: XS] : {XS{1'b0}};
                    end else begin : g_no_minus
                        assign minus[s*XS +: XS] = {XS{1'b0}};
                    end
                end
                wire [SIMD*XS-1:0] plus_l;
                wire [SIMD*XS-1:0] minus_l;
                if (LREG != 0) begin : g_plus_l
                    reg [SIMD*XS-1:0] plus_l_q;
                    always @(posedge clk) begin
                        if (en) plus_l_q <= plus;
                    end
                    assign plus_l = plus_l_q;
                end else begin : g_plus_l_wire
                    assign plus_l = plus;
                end
                wire [GW-1:0] pos;
                sk_addtree #(.N(SIMD), .IW(XS), .H(H), .PIPE(PIPE)) u_plus (
                    .clk(clk), .en(en), .x(plus_l), .y(pos)
                );
                wire [SUM_W-1:0] pos_w = {{(SUM_W-GW){pos[GW-1]}}, pos};
                if (KIND == 1) begin : g_binary
                    wire [SUM_W-1:0] total_w = {{(SUM_W-GW){total[GW-1]}}, total};
                    assign sums[p*SUM_W +: SUM_W] = {pos_w[SUM_W-2:0], 1'b0} - total_w;
                    assign minus_l = minus;
                    wire unused_minus = ^{minus_l, pos_w[SUM_W-1]};
                end else begin : g_ternary
                    if (LREG != 0) begin : g_minus_l
                        reg [SIMD*XS-1:0] minus_l_q;
                        always @(posedge clk) begin
                            if (en) minus_l_q <= minus;
                        end
                        assign minus_l = minus_l_q;
                    end else begin : g_minus_l_wire
                        assign minus_l = minus;
                    end
                    wire [GW-1:0] neg;
                    sk_addtree #(.N(SIMD), .IW(XS), .H(H), .PIPE(PIPE)) u_minus (
                        .clk(clk), .en(en), .x(minus_l), .y(neg)
                    );
                    wire [SUM_W-1:0] neg_w = {{(SUM_W-GW){neg[GW-1]}}, neg};
                    assign sums[p*SUM_W +: SUM_W] = pos_w - neg_w;
                end
            end
            if (KIND == 2) begin : g_unused_total
                wire unused_total = ^total;
            end
        end else begin : g_products
            // Power-of-two, fixed and shared weights: one product per lane.
            for (p = 0; p < PE; p = p + 1) begin : g_pe
                wire [SIMD*LANE_W-1:0] lanes;
                for (s = 0; s < SIMD; s = s + 1) begin : g_lane
                    wire [CODE-1:0] c = w_q[(p*SIMD+s)*CODE +: CODE];
                    wire signed [LANE_W-1:0] xe = {{(LANE_W-XS){xs[s*XS+XS-1]}}, xs[s*XS +: XS]};
                    if (KIND == 0) begin : g_pow2
                        wire [LANE_W-1:0] gated = c[CODE-1] ? xe : {LANE_W{1'b0}};
                        wire [LANE_W-1:0] mag = gated << c[CODE-3:0];
                        assign lanes[s*LANE_W +: LANE_W] = mag ^ {LANE_W{c[CODE-2]}};
                    end else if (KIND == 3) begin : g_fixed
                        if (p * SIMD + s < DSP) begin : g_dsp
                            // On a DSP block: the operands sign-extended to 16 bits.
                            wire unused_xe = ^xe;
                            wire [31:0] o;
                            sk_mul16 u_mul (
                                .a({{(16-XS){xs[s*XS+XS-1]}}, xs[s*XS +: XS]}),
                                .b({{(16-CODE){c[CODE-1]}}, c}), .o(o)
                            );
                            assign lanes[s*LANE_W +: LANE_W] = o[LANE_W-1:0];
                            if (LANE_W < 32) begin : g_unused_o
                                wire unused_o = ^o[31:LANE_W];
                            end
                        end else begin : g_lut
                            wire signed [LANE_W-1:0] we = {{(LANE_W-CODE){c[CODE-1]}}, c};
                            assign lanes[s*LANE_W +: LANE_W] = xe * we;
                        end
                    end else begin : g_shared
                        // x times every codebook value (constant multiplications,
                        // identical in every PE row, merged by synthesis).
                        wire [LANE_W-1:0] entry [0:(1<<CODE)-1];
                        genvar k;
                        for (k = 0; k < (1 << CODE); k = k + 1) begin : g_entry
                            if (k < CB_N) begin : g_value
                                localparam [CB_BITS-1:0] V = CODEBOOK[k*CB_BITS +: CB_BITS];
                                wire signed [LANE_W-1:0] ve = {{(LANE_W-CB_BITS){V[CB_BITS-1]}}, V};
                                assign entry[k] = xe * ve;
                            end else begin : g_none
                                assign entry[k] = {LANE_W{1'b0}};
                            end
                        end
                        assign lanes[s*LANE_W +: LANE_W] = entry[c];
                    end
                end
                wire [SIMD*LANE_W-1:0] lanes_l;
                if (LREG != 0) begin : g_lanes_l
                    reg [SIMD*LANE_W-1:0] lanes_l_q;
                    always @(posedge clk) begin
                        if (en) lanes_l_q <= lanes;
                    end
                    assign lanes_l = lanes_l_q;
                end else begin : g_lanes_l_wire
                    assign lanes_l = lanes;
                end
                wire [TW-1:0] tree;
                sk_addtree #(.N(SIMD), .IW(LANE_W), .H(H), .PIPE(PIPE)) u_tree (
                    .clk(clk), .en(en), .x(lanes_l), .y(tree)
                );
                if (KIND == 0) begin : g_ones
                    // Negative lanes were inverted: add one for each. The count
                    // is a tree of the same height and registers as the sum's.
                    wire [2*SIMD-1:0] negs;
                    for (s = 0; s < SIMD; s = s + 1) begin : g_neg
                        assign negs[2*s +: 2] = {1'b0, w_q[(p*SIMD+s)*CODE + CODE - 2]};
                    end
                    wire [2*SIMD-1:0] negs_l;
                    if (LREG != 0) begin : g_negs_l
                        reg [2*SIMD-1:0] negs_l_q;
                        always @(posedge clk) begin
                            if (en) negs_l_q <= negs;
                        end
                        assign negs_l = negs_l_q;
                    end else begin : g_negs_l_wire
                        assign negs_l = negs;
                    end
                    wire [H+1:0] ones;
                    sk_addtree #(.N(SIMD), .IW(2), .H(H), .PIPE(PIPE)) u_ones (
                        .clk(clk), .en(en), .x(negs_l), .y(ones)
                    );
                    assign sums[p*SUM_W +: SUM_W] = tree + {{(TW-H-2){1'b0}}, ones};
                end else begin : g_exact
                    assign sums[p*SUM_W +: SUM_W] = tree;
                end
            end
        end
    endgenerate

    // Accumulators: the bias of the fold's outputs, plus every chunk's sum.
    // (Biases and channel scales are read without a clock: always logic.)
    (* rom_style = "logic" *) reg [PE*ACC_W-1:0] biases [0:NF-1];
    generate
        if (BIASES != "") begin : g_biases
            initial $readmemh(BIASES, biases);
        end
    endgenerate
    wire [PE*ACC_W-1:0] bias = biases[nf_t];
    wire [PE*ACC_W-1:0] accs;
    reg done_q;
    reg [NFW-1:0] done_nf_q;
    generate
        for (p = 0; p < PE; p = p + 1) begin : g_acc
            wire [SUM_W-1:0] sum = sums[p*SUM_W +: SUM_W];
            wire [ACC_W-1:0] add;
            if (SUM_W >= ACC_W) begin : g_narrow
                // Exact modulo 2^ACC_W: the accumulator's proven range fits.
                assign add = sum[ACC_W-1:0];
                if (SUM_W > ACC_W) begin : g_drop
                    wire unused_high = ^sum[SUM_W-1:ACC_W];
                end
            end else begin : g_wide
                assign add = {{(ACC_W-SUM_W){sum[SUM_W-1]}}, sum};
            end
            reg [ACC_W-1:0] acc_q;
            wire [ACC_W-1:0] base = first_t ? bias[p*ACC_W +: ACC_W] : acc_q;
            always @(posedge clk) begin
                if (en && v_t) acc_q <= base + add;
            end
            assign accs[p*ACC_W +: ACC_W] = acc_q;
        end
    endgenerate
    always @(posedge clk) begin
        if (rst) begin
            done_q <= 1'b0;
        end else if (en) begin
            done_q <= v_t && last_t;
        end
    end
    always @(posedge clk) begin
        if (en) done_nf_q <= nf_t;
    end

    generate
        if (SCALED != 0) begin : g_scale
            (* rom_style = "logic" *) reg [PE*M_BITS-1:0] scales [0:NF-1];
            if (SCALES != "") begin : g_scales
                initial $readmemh(SCALES, scales);
            end
            wire [PE*M_BITS-1:0] m = scales[done_nf_q];
            localparam integer PW = OUT_W > ACC_W ? (OUT_W > M_BITS ? OUT_W : M_BITS)
                                                  : (ACC_W > M_BITS ? ACC_W : M_BITS);
            wire [PE*OUT_W-1:0] scaled;
            wire scaled_valid;
            for (p = 0; p < PE; p = p + 1) begin : g_pe
                wire [ACC_W-1:0] a = accs[p*ACC_W +: ACC_W];
                wire [M_BITS-1:0] mp = m[p*M_BITS +: M_BITS];
                wire [PW-1:0] ae = {{(PW-ACC_W){a[ACC_W-1]}}, a};
                reg [OUT_W-1:0] scaled_q;
                // Exact modulo 2^OUT_W: the scaled accumulator's proven range fits.
                if (SCALED == 1) begin : g_whole
                    wire [PW-1:0] me = {{(PW-M_BITS){mp[M_BITS-1]}}, mp};
                    wire [PW-1:0] prod = ae * me;
                    always @(posedge clk) begin
                        if (en) scaled_q <= prod[OUT_W-1:0];
                    end
                    if (PW > OUT_W) begin : g_drop
                        wire unused_high = ^prod[PW-1:OUT_W];
                    end
                end else begin : g_split
                    // m = m_hi * 2^K + m_lo (m_lo the K low bits, unsigned):
                    // a * m = (a * m_hi) * 2^K + a * m_lo, each modulo 2^OUT_W.
                    localparam integer K = M_BITS / 2;
                    wire [PW-1:0] lo_e = {{(PW-K){1'b0}}, mp[K-1:0]};
                    wire [PW-1:0] hi_e = {{(PW-M_BITS+K){mp[M_BITS-1]}}, mp[M_BITS-1:K]};
                    wire [PW-1:0] p_lo = ae * lo_e;
                    wire [PW-1:0] p_hi = ae * hi_e;
                    reg [OUT_W-1:0] lo_q;
                    reg [OUT_W-K-1:0] hi_q;
                    always @(posedge clk) begin
                        if (en) begin
                            lo_q <= p_lo[OUT_W-1:0];
                            hi_q <= p_hi[OUT_W-K-1:0];
                            scaled_q <= lo_q + {hi_q, {K{1'b0}}};
                        end
                    end
                    wire unused_high = ^{p_lo[PW-1:OUT_W-1], p_hi[PW-1:OUT_W-K-1]};
                end
                assign scaled[p*OUT_W +: OUT_W] = scaled_q;
            end
            // The scale's valid, one register a stage.
            if (SCALED == 1) begin : g_valid_whole
                reg v_q;
                always @(posedge clk) begin
                    if (rst) v_q <= 1'b0;
                    else if (en) v_q <= done_q;
                end
                assign scaled_valid = v_q;
            end else begin : g_valid_split
                reg [1:0] v_q;
                always @(posedge clk) begin
                    if (rst) v_q <= 2'b00;
                    else if (en) v_q <= {v_q[0], done_q};
                end
                assign scaled_valid = v_q[1];
            end
            assign acc_data = scaled;
            assign acc_valid = scaled_valid;
        end else begin : g_plain
            assign acc_data = accs;
            assign acc_valid = done_q;
            wire unused_nf = ^done_nf_q;
        end
    endgenerate
endmodule

// shiftkit stream library: a weight ROM in the iCE40 UltraPlus's single-port
// RAMs (SB_SPRAM256KA, 16384 words of 16 bits each).
//
// DEPTH words of W bits take K = ceil(W/16) SPRAMs side by side (SPRAM k
// holds bits [16k+15 : 16k]) in B = ceil(DEPTH/16384) banks of 16384 words.
// An SPRAM has no initial contents (the bitstream cannot fill it), so the
// words arrive after power-up as a stream of 16-bit slices (ld_data,
// ld_valid, ld_ready): word 0's K slices, lowest bits first, then word 1's,
// and so on; ld_ready falls once all DEPTH*K slices are written (full).
//
// Reads are those of a synchronous ROM: q is word addr one cycle after a
// cycle with en, and holds while en is low. The RAM is single-ported and
// the two phases never overlap: until full it only writes, then it only
// reads (the design's input waits for full). A reset during loading starts
// the loading over; a reset after it keeps the words.
module sk_spram_rom #(
    parameter integer W = 16,
    parameter integer DEPTH = 16,
    parameter integer AW = 4
) (
    input  wire          clk,
    input  wire          rst,
    input  wire [15:0]   ld_data,
    input  wire          ld_valid,
    output wire          ld_ready,
    input  wire          en,
    input  wire [AW-1:0] addr,
    output wire [W-1:0]  q
);
    localparam integer K = (W + 15) / 16;
    localparam integer B = (DEPTH + 16383) / 16384;
    localparam integer KW = K > 1 ? $clog2(K) : 1;
    localparam integer BW = B > 1 ? $clog2(B) : 1;
    generate
        if (W < 1 || DEPTH < 1 || (1 << AW) < DEPTH || (DEPTH > 1 && AW > $clog2(DEPTH)))
        begin : g_bad_0
            sk_spram_rom_needs_AW_clog2_DEPTH u_bad ();
        end
    endgenerate
    localparam [KW-1:0] K_ONE = 1;
    localparam integer K_LAST_I = K - 1;
    localparam [KW-1:0] K_LAST = K_LAST_I[KW-1:0];
    localparam [AW-1:0] A_ONE = 1;
    localparam integer A_LAST_I = DEPTH - 1;
    localparam [AW-1:0] A_LAST = A_LAST_I[AW-1:0];

    // Loading: which slice of which word comes next.
    reg [KW-1:0] col_q = {KW{1'b0}};
    reg [AW-1:0] waddr_q = {AW{1'b0}};
    reg full_q = 1'b0;
    wire wr = ld_valid && !full_q;
    assign ld_ready = !full_q;
    always @(posedge clk) begin
        if (rst && !full_q) begin
            col_q <= {KW{1'b0}};
            waddr_q <= {AW{1'b0}};
        end else if (wr) begin
            if (col_q == K_LAST) begin
                col_q <= {KW{1'b0}};
                if (waddr_q == A_LAST) full_q <= 1'b1;
                else waddr_q <= waddr_q + A_ONE;
            end else begin
                col_q <= col_q + K_ONE;
            end
        end
    end

    // The word address the RAMs see: the next slice's while loading, the
    // read's after.
    wire [AW-1:0] a = full_q ? addr : waddr_q;
    wire [13:0] row;
    wire [BW-1:0] bank;
    generate
        if (AW > 14) begin : g_banked
            assign row = a[13:0];
            assign bank = a[AW-1:14];
        end else begin : g_one_bank
            assign row = {{(14 - AW){1'b0}}, a};
            assign bank = {BW{1'b0}};
        end
    endgenerate

    // The bank of the word being read, for the output multiplexer.
    reg [BW-1:0] rbank_q = {BW{1'b0}};
    always @(posedge clk) begin
        if (en) rbank_q <= bank;
    end

    wire [B*K*16-1:0] dout;
    genvar b, k;
    generate
        for (b = 0; b < B; b = b + 1) begin : g_bank
            for (k = 0; k < K; k = k + 1) begin : g_col
                localparam [BW-1:0] BANK = b;
                localparam [KW-1:0] COL = k;
                wire we = wr && col_q == COL && bank == BANK;
                wire cs = full_q ? en && bank == BANK : we;
                SB_SPRAM256KA u_ram (
                    .ADDRESS(row),
                    .DATAIN(ld_data),
                    .MASKWREN(4'b1111),
                    .WREN(we),
                    .CHIPSELECT(cs),
                    .CLOCK(clk),
                    .STANDBY(1'b0),
                    .SLEEP(1'b0),
                    .POWEROFF(1'b1),
                    .DATAOUT(dout[(b*K+k)*16 +: 16])
                );
            end
        end
    endgenerate

    // (the last SPRAM's bits above W are never read)
    // verilator lint_off UNUSEDSIGNAL
    wire [K*16-1:0] word = dout[rbank_q*K*16 +: K*16];
    // verilator lint_on UNUSEDSIGNAL
    assign q = word[W-1:0];
endmodule

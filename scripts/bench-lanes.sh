#!/usr/bin/env bash
# LUT4 per lane of the folded matrix-vector unit (hdl/sk_mvu.v) on iCE40, per
# weight kind: one PE row of 16 lanes, 8-bit unsigned inputs, 256 folds of
# random weight codes in a ROM (block RAM), the adder tree and a 24-bit
# accumulator included, through Yosys synth_ice40. DESIGN.md's naive lane
# measured ~107 LUT4 (power of two) and ~43 (binary) in the same setting.
#
# Usage: scripts/bench-lanes.sh [OUT_DIR]   (default: target/bench-lanes). Needs yosys.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/bench-lanes}
mkdir -p "$out"
cp hdl/sk_mvu.v hdl/sk_addtree.v "$out/"

# kind, KIND, CODE, LANE_W, SUM_W, extra parameters (widths as the generator
# derives them for 8-bit unsigned inputs, 9 bits signed, and 16 lanes)
kinds="pow2:0:5:17:21: binary:1:1:9:15: ternary:2:2:9:14: fixed8:3:8:17:21: shared3:4:3:17:21:CB"
python3 - "$out" <<'PY'
import random, sys
out = sys.argv[1]
random.seed(1)
for name, code in [("pow2", 5), ("binary", 1), ("ternary", 2), ("fixed8", 8), ("shared3", 3)]:
    width = 16 * code
    words = []
    for _ in range(256):
        codes = []
        for _ in range(16):
            if name == "ternary":
                codes.append(random.choice([0, 1, 2]))
            else:
                codes.append(random.getrandbits(code))
        word = sum(c << (i * code) for i, c in enumerate(codes))
        words.append(f"{word:0{(width + 3) // 4}x}")
    open(f"{out}/{name}.hex", "w").write("\n".join(words) + "\n")
open(f"{out}/bias.hex", "w").write("000000\n")
PY
echo "| kind | LUT4 | SB_CARRY | DFF | EBR | LUT4 per lane |"
echo "|---|---|---|---|---|---|"
for k in $kinds; do
  IFS=: read -r name kind code lane sum extra <<< "$k"
  book=""
  [ "$extra" = CB ] && book=".CB_N(8), .CB_BITS(8), .CODEBOOK(64'h7f_51_23_05_fb_dd_af_81),"
  cat > "$out/top_$name.v" <<EOF
module top (input wire clk, input wire rst, input wire en, input wire [127:0] s_data,
            input wire s_valid, output wire [23:0] acc_data, output wire acc_valid);
    sk_mvu #(.PE(1), .SIMD(16), .NF(1), .SF(256), .XBITS(8), .XSIGNED(0), .KIND($kind),
             .CODE($code), $book .LANE_W($lane), .H(4), .PIPE(0), .SUM_W($sum),
             .ACC_W(24), .OUT_W(24), .WEIGHTS("$name.hex"), .BIASES("bias.hex"))
        u (.clk(clk), .rst(rst), .en(en), .s_data(s_data), .s_valid(s_valid),
           .acc_data(acc_data), .acc_valid(acc_valid));
endmodule
EOF
  (cd "$out" && yosys -q -p "read_verilog sk_mvu.v sk_addtree.v top_$name.v; synth_ice40 -top top; \
    tee -q -o $name.json stat -json" > /dev/null)
  python3 - "$out/$name.json" "$name" <<'PY'
import json, re, sys
c = json.load(open(sys.argv[1]))["design"]["num_cells_by_type"]
n = lambda p: sum(v for k, v in c.items() if re.fullmatch(p, k))
lut, carry, dff, ram = n(r"SB_LUT4"), n(r"SB_CARRY"), n(r"SB_DFF\w*"), n(r"SB_RAM40_4K")
print(f"| {sys.argv[2]} | {lut} | {carry} | {dff} | {ram} | {lut / 16:.0f} |")
PY
done

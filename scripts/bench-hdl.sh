#!/usr/bin/env bash
# Cost model against Yosys for the digits MLP (mlp:64-32-10): the INQ-5 and
# fixed8 shift-add designs (and INQ-5 with per-output adder trees, nothing
# shared) through synth_xilinx and synth_ice40, and a
# baseline with true multipliers (8-bit weights loadable at run time, so
# nothing folds into shifts) through synth_xilinx without DSPs.
#
# Usage: scripts/bench-hdl.sh [OUT_DIR]   (default: target/bench-hdl). Needs yosys.
# The baseline synthesis is slow (minutes); set SKIP_BASELINE=1 to leave it out.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/bench-hdl}
mkdir -p "$out"
cargo build --release -q
bin=target/release/shiftkit

$bin train --arch mlp:64-32-10 --data digits --epochs 60 --batch 32 -o "$out/float.skm" > /dev/null 2>&1
$bin compress "$out/float.skm" --method inq --bits 5 -o "$out/inq5.skm" > /dev/null 2>&1
$bin quantize "$out/float.skm" --weights fixed8 -o "$out/fixed8.skm" > /dev/null
$bin hdl "$out/inq5.skm" -o "$out/inq5" --form unrolled --json > "$out/inq5.json"
# The same network with one adder tree per output (nothing shared): before
# and after shared subexpressions.
$bin hdl "$out/inq5.skm" -o "$out/inq5_trees" --form unrolled --no-share --json \
  > "$out/inq5_trees.json"
$bin hdl "$out/fixed8.skm" -o "$out/fixed8" --form unrolled --json --multiplier-baseline "$out/mult.v" > "$out/fixed8.json"

synth() { # dir/files, top, yosys synth command, output json
  local files=$1 top=$2 cmd=$3 json=$4
  local t0=$(date +%s)
  yosys -q -p "read_verilog $files; $cmd -top $top; tee -q -o $json stat -json" > /dev/null
  echo $(( $(date +%s) - t0 )) > "$json.seconds"
}
for d in inq5 inq5_trees fixed8; do
  files=$(sed "s|^|$out/$d/|" "$out/$d/files.f" | tr '\n' ' ')
  synth "$files" shiftkit_top "synth_xilinx -flatten -nodsp" "$out/$d.xilinx.json"
  synth "$files" shiftkit_top "synth_ice40" "$out/$d.ice40.json"
done
if [ -z "${SKIP_BASELINE:-}" ]; then
  synth "$out/mult.v" shiftkit_top_mult "synth_xilinx -flatten -nodsp" "$out/mult.xilinx.json"
fi

python3 - "$out" <<'PY'
import json, os, re, sys
out = sys.argv[1]
def cells(path):
    if not os.path.exists(path):
        return None
    d = json.load(open(path))
    c = d["design"]["num_cells_by_type"]
    s = int(open(path + ".seconds").read())
    lut = sum(v for k, v in c.items() if re.fullmatch(r"(\$lut|LUT\d|SB_LUT4)", k))
    ff = sum(v for k, v in c.items() if re.fullmatch(r"(FD\w*|SB_DFF\w*)", k))
    carry = sum(v for k, v in c.items() if re.fullmatch(r"(CARRY\d|SB_CARRY)", k))
    return lut, ff, carry, s
print("| design | model LUTs | model FFs | xilinx LUT | FF | CARRY | s | ice40 LUT4 | DFF | CARRY | s |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for d in ["inq5", "inq5_trees", "fixed8"]:
    m = json.load(open(f"{out}/{d}.json"))["manifest"]["cost"]
    x = cells(f"{out}/{d}.xilinx.json"); i = cells(f"{out}/{d}.ice40.json")
    print(f"| {d} shift-add | {m['luts']} | {m['ffs']} | {x[0]} | {x[1]} | {x[2]} | {x[3]} | {i[0]} | {i[1]} | {i[2]} | {i[3]} |")
b = cells(f"{out}/mult.xilinx.json")
if b:
    print(f"| fixed8 multipliers (baseline) | | | {b[0]} | {b[1]} | {b[2]} | {b[3]} | | | | |")
    x = cells(f"{out}/inq5.xilinx.json")
    print(f"\nINQ-5 shift-add LUTs / multiplier baseline LUTs: {x[0]}/{b[0]} = {x[0]/b[0]:.3f} (goal: at most 0.333)")
PY

#!/usr/bin/env bash
# The streaming designs of issue 12 on Fashion-MNIST: lenet5 at INQ-5, binary
# (first and last layers fixed8) and ternary, and mlp:784-300-100-10 at INQ-5,
# each generated with the default folding (`hdl --form streaming`), verified on
# Verilator with the 10,000 test images plus 10,000 random images and the
# range's extremes, on Icarus with five images, and synthesized with Yosys
# (synth_ice40 and synth_xilinx -nodsp). Prints one table: cycles per image and
# latency (the timing model's, checked by verify), LUT/FF/block RAM from Yosys
# beside the cost model's estimate, Verilator build and run times, generation
# time. The mlp's unrolled design is generated for its cost-model figures only.
#
# Usage: scripts/bench-stream.sh [OUT_DIR]   (default: target/bench-stream)
# Takes about an hour on two cores (Yosys on the largest designs is most of
# it); SKIP_SYNTH=1 leaves synthesis out.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/bench-stream}
model_log=train.json
source scripts/common.sh
model lenet $bin train --arch lenet5 --data fashion-mnist --epochs 10 --lr 0.02
model lenet_inq5 $bin compress "$out/lenet.skm" --method inq --bits 5
model lenet_binary $bin compress "$out/lenet.skm" --method binary --keep-first-last fixed8
model lenet_ternary $bin compress "$out/lenet.skm" --method ternary
model mlp $bin train --arch mlp:784-300-100-10 --data fashion-mnist --epochs 10
model mlp_inq5 $bin compress "$out/mlp.skm" --method inq --bits 5

designs="lenet_inq5 lenet_binary lenet_ternary mlp_inq5"
step() { # output json, then the command; skipped when its result exists
  local json=$1; shift
  if [ ! -s "$json" ]; then
    "$@" --json > "$json.tmp"
    mv "$json.tmp" "$json"
  fi
}
for d in $designs; do
  step "$out/$d.hdl.json" $bin hdl "$out/$d.skm" -o "$out/$d" --form streaming --argmax
  step "$out/$d.verilator.json" $bin verify "$out/$d.skm" "$out/$d" --sim verilator \
    --data fashion-mnist --vectors 10000
  # Icarus runs these designs at tens of cycles a second once every layer is
  # busy: the extremes, one random and one test image.
  step "$out/$d.icarus.json" $bin verify "$out/$d.skm" "$out/$d" --sim icarus \
    --data fashion-mnist --vectors 1
done
$bin hdl "$out/mlp_inq5.skm" -o "$out/mlp_inq5_unrolled" --form unrolled --json \
  > "$out/mlp_inq5_unrolled.hdl.json"

synth() { # design, yosys synth command, output json
  local d=$1 cmd=$2 json=$3
  local t0=$(date +%s)
  (cd "$out/$d" && yosys -q -p "read_verilog $(tr '\n' ' ' < files.f); $cmd -top shiftkit_top; \
    tee -q -o stat.tmp.json stat -json" > /dev/null && mv stat.tmp.json "../$json")
  echo $(( $(date +%s) - t0 )) > "$out/$json.seconds"
}
if [ -z "${SKIP_SYNTH:-}" ]; then
  for d in $designs; do
    [ -f "$out/$d.ice40.json" ] || synth "$d" "synth_ice40" "$d.ice40.json"
    [ -f "$out/$d.xilinx.json" ] || synth "$d" "synth_xilinx -flatten -nodsp" "$d.xilinx.json"
  done
fi

python3 - "$out" $designs <<'PY'
import json, os, re, sys
out, designs = sys.argv[1], sys.argv[2:]
def load(path):
    return json.load(open(path)) if os.path.exists(path) else None
def cells(path):
    d = load(path)
    if d is None:
        return None
    c = d["design"]["num_cells_by_type"]
    count = lambda pat: sum(v for k, v in c.items() if re.fullmatch(pat, k))
    return {
        "lut": count(r"(\$lut|LUT\d|SB_LUT4)"),
        "ff": count(r"(FD\w*|SB_DFF\w*)"),
        "ram": count(r"SB_RAM40_4K") + count(r"RAMB18E1") + 2 * count(r"RAMB36E1"),
        "s": int(open(path + ".seconds").read()),
    }
def fmt(x):
    return f"{x:,}"
print("| design | cycles/image | latency | ice40 LUT4 / DFF / EBR (Yosys, s) | xc7 LUT / FF / RAMB18 (Yosys, s) "
      "| model LUTs / FFs / ROM kbit | Verilator build | verified images (s) | Icarus images (s) | generation |")
print("|---|---|---|---|---|---|---|---|---|---|")
for d in designs:
    h = load(f"{out}/{d}.hdl.json")
    m = h["manifest"]; s = m["stream"]; c = m["cost"]
    v = load(f"{out}/{d}.verilator.json"); i = load(f"{out}/{d}.icarus.json")
    ok = lambda r: all(run["mismatch"] is None for rep in r["reports"] for run in rep["runs"])
    vr = v["reports"][0]; ir = i["reports"][0]
    ice = cells(f"{out}/{d}.ice40.json"); xil = cells(f"{out}/{d}.xilinx.json")
    syn = lambda x: "-" if x is None else f"{fmt(x['lut'])} / {fmt(x['ff'])} / {x['ram']} ({x['s']})"
    run = vr["runs"][1]
    print(f"| {d} | {s['cycles_per_image']} | {s['latency']} | {syn(ice)} | {syn(xil)} "
          f"| {fmt(c['luts'])} / {fmt(c['ffs'])} / {c['rom_bits'] // 1024} | {vr['build_seconds']:.1f} s "
          f"| {run['vectors']:,} {'pass' if ok(v) else 'FAIL'} ({run['seconds']:.1f}) "
          f"| {ir['runs'][1]['vectors']} {'pass' if ok(i) else 'FAIL'} ({ir['runs'][1]['seconds']:.0f}) "
          f"| {h['seconds']:.2f} s |")
u = load(f"{out}/mlp_inq5_unrolled.hdl.json")
if u:
    c = u["manifest"]["cost"]
    print(f"| mlp_inq5, unrolled (cost model only) | 1 | {u['manifest']['latency']} | | "
          f"| {fmt(c['luts'])} / {fmt(c['ffs'])} / 0 | | | | {u['seconds']:.2f} s |")
PY

#!/usr/bin/env bash
# The timing model against nextpnr-ice40 on unrolled shift-add graphs: the
# streaming form with a layer unrolled (every weight its own lane) and
# unrolled tops. Each design is generated with `hdl --device ice40-up5k
# --clock MHZ` (registers placed for that clock by the model), synthesized
# with Yosys and placed and routed by nextpnr-ice40 asked for the model's
# clock, as `build` does; an unrolled top's wide ports go through
# scripts/data/harness.v (its input shifted in a byte a clock, its output
# read a byte at a time), whose own paths are one register deep; icetime
# times the designs with DSP blocks, whose paths nextpnr does not. Prints per
# design: the model's clock, nextpnr's, the model's error, logic cells.
#
# Usage: scripts/bench-timing.sh [OUT_DIR]   (default: target/bench-timing)
# About 5 minutes on two cores (the models train in seconds; each place and
# route takes 15 to 40 s). Results are cached per design.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/bench-timing}
source scripts/common.sh
out=$(cd "$out" && pwd)
harness=$(pwd)/scripts/data/harness.v
model small $bin train --arch mlp:64-16-10 --data digits --epochs 20
model small_inq5 $bin compress "$out/small.skm" --method inq --bits 5 --data digits
model small_ternary $bin compress "$out/small.skm" --method ternary
model small_fixed8 $bin quantize "$out/small.skm" --weights fixed8
model linear $bin train --arch mlp:64-10 --data digits --epochs 20
cat > "$out/prune60-inq5.toml" <<'EOF'
[train]
lr = 0.01
weight_decay = 0.0
[[step]]
method = "prune"
sparsity = 0.6
scope = "global"
iterations = 2
epochs = 5
[[step]]
method = "inq"
bits = 5
epochs = 2
EOF
model linear_p60 $bin compress "$out/linear.skm" --recipe "$out/prune60-inq5.toml" --data digits
model linear_ternary $bin compress "$out/linear.skm" --method ternary

# name model form clock
designs=(
  "s_inq5_25 small_inq5 streaming 25"
  "s_inq5_40 small_inq5 streaming 40"
  "s_ternary_25 small_ternary streaming 25"
  "s_ternary_40 small_ternary streaming 40"
  "s_fixed8_25 small_fixed8 streaming 25"
  "s_fixed8_40 small_fixed8 streaming 40"
  "u_p60_20 linear_p60 unrolled 20"
  "u_p60_40 linear_p60 unrolled 40"
  "u_ternary_20 linear_ternary unrolled 20"
  "u_ternary_40 linear_ternary unrolled 40"
)
rows=()
for d in "${designs[@]}"; do
  read -r name m form clock <<< "$d"
  dir="$out/$name"
  rows+=("$name $form")
  if [ -s "$dir/report.json" ]; then
    icetime_mhz "$dir" top.json top.asc
    continue
  fi
  rm -rf "$dir"
  case $form in
    # The second layer unrolled, the first folded to one output at a time.
    streaming) extra=(--fold fc2=10x16,fc1=1x4 --input-lanes 1 --output-lanes 1) ;;
    *) extra=() ;;
  esac
  $bin hdl "$out/$m.skm" -o "$dir" --form "$form" --device ice40-up5k --clock "$clock" \
    "${extra[@]}" --json > "$dir.hdl.json"
  ask=$(python3 -c "import json; print(round(json.load(open('$dir/manifest.json'))['model_mhz'], 1))")
  (
    cd "$dir"
    if [ "$form" = unrolled ]; then
      read -r ib ob < <(python3 -c "import json; m = json.load(open('manifest.json'));
print(m['inputs'] * m['input_format']['bits'], m['outputs'] * m['output_format']['bits'])")
      top="harness"
      read_extra="$harness; chparam -set IN_BITS $ib -set OUT_BITS $ob harness"
    else
      top="shiftkit_top"
      read_extra=""
    fi
    yosys -q -l yosys.log -p "read_verilog $(tr '\n' ' ' < files.f) $read_extra; \
      synth_ice40 -top $top -json top.json" > /dev/null
    # nextpnr exits 1 when it misses the clock; the report is written.
    nextpnr-ice40 --up5k --package sg48 --json top.json --freq "$ask" --report report.tmp.json \
      --asc top.asc -q -l pnr.log 2> /dev/null || true
    [ -s report.tmp.json ] && mv report.tmp.json report.json
  )
  icetime_mhz "$dir" top.json top.asc
done

python3 - "$out" "${rows[@]}" <<'EOF'
import json, os, sys
out, rows = sys.argv[1], sys.argv[2:]
print(f"{'design':<14} {'form':<10} {'asked for':>9} {'model MHz':>9} {'achieved':>8} "
      f"{'model err':>9} {'cells':>6} {'FFs (model)':>11}")
errs = []
for r in rows:
    name, form = r.split()
    m = json.load(open(f"{out}/{name}/manifest.json"))
    h = json.load(open(f"{out}/{name}.hdl.json"))
    try:
        rep = json.load(open(f"{out}/{name}/report.json"))
    except FileNotFoundError:
        print(f"{name:<14} {form:<10} no placement (see {out}/{name}/pnr.log)")
        continue
    a = min(c["achieved"] for c in rep["fmax"].values())
    if os.path.exists(f"{out}/{name}/icetime.mhz"):
        a = min(a, float(open(f"{out}/{name}/icetime.mhz").read()))
    cells = rep["utilization"]["ICESTORM_LC"]["used"]
    clock = name.rsplit("_", 1)[1]
    err = 100 * (m["model_mhz"] - a) / a
    errs.append(err)
    print(f"{name:<14} {form:<10} {clock:>9} {m['model_mhz']:>9.1f} {a:>8.1f} {err:>+8.0f}% "
          f"{cells:>6} {m['cost']['ffs']:>11}")
if errs:
    print(f"model error: {min(errs):+.0f}% to {max(errs):+.0f}%, "
          f"{sum(abs(e) <= 15 for e in errs)} of {len(errs)} within 15%")
EOF

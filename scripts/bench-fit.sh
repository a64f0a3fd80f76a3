#!/usr/bin/env bash
# Networks fitted to devices with `shiftkit build`: Fashion-MNIST LeNet-5
# compressed for the iCE40 UP5K (recipes/lenet-up5k.toml: structured pruning,
# INQ-5, 4-bit activations), placed, routed and packed, then verified on
# Verilator against the simulator on the 10,000 test images; LeNet-5 INQ-5 and
# mlp:784-300-100-10 INQ-5 fitted to the xc7a35t (Yosys counts); the digits
# flow to an UP5K bitstream, timed. Prints one table per device.
#
# Usage: scripts/bench-fit.sh [OUT_DIR]   (default: target/bench-fit)
# About 15 minutes on two cores; models are trained once and cached (the
# LeNet-5 and MLP of scripts/bench-stream.sh are reused when present).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/bench-fit}
source scripts/common.sh
# The models of scripts/bench-stream.sh, when it has run.
for name in lenet lenet_inq5 mlp mlp_inq5; do
  if [ ! -f "$out/$name.skm" ] && [ -f "target/bench-stream/$name.skm" ]; then
    cp "target/bench-stream/$name.skm" "$out/$name.skm"
    cp "target/bench-stream/$name.train.json" "$out/$name.log"
  fi
done
model lenet $bin train --arch lenet5 --data fashion-mnist --epochs 10 --lr 0.02
model lenet_inq5 $bin compress "$out/lenet.skm" --method inq --bits 5
model lenet_up5k $bin compress "$out/lenet.skm" --recipe recipes/lenet-up5k.toml
model mlp $bin train --arch mlp:784-300-100-10 --data fashion-mnist --epochs 10
model mlp_inq5 $bin compress "$out/mlp.skm" --method inq --bits 5

build() { # name, model, device, extra flags
  local name=$1 m=$2 device=$3; shift 3
  [ -s "$out/$name.json" ] || $bin build "$out/$m.skm" -o "$out/$name" --target "$device" "$@" \
    --json > "$out/$name.json"
}
build lenet_up5k_ice40 lenet_up5k ice40-up5k --max-util 0.97
build lenet_inq5_xc7 lenet_inq5 xc7a35t
build mlp_inq5_xc7 mlp_inq5 xc7a35t
[ -s "$out/lenet_up5k_verify.json" ] || $bin verify "$out/lenet_up5k.skm" "$out/lenet_up5k_ice40" \
  --sim verilator --data fashion-mnist --vectors 10000 --json > "$out/lenet_up5k_verify.json"
rm -rf "$out/digits"
t0=$(date +%s)
$bin flow --target ice40-up5k -o "$out/digits" --json > "$out/digits.json"
echo $(( $(date +%s) - t0 )) > "$out/digits.seconds"

python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
def load(name):
    return json.load(open(f"{out}/{name}"))
def acc(name):
    return load(f"{name}.log")["integer_accuracy"] * 100
print(f"{'design':<34} {'accuracy':>8} {'cycles/img':>10} {'clock MHz':>15} {'img/s':>7}  "
      f"LUT / cells / FF / RAM (tools; model)")
rows = [("lenet5 up5k recipe, ice40-up5k", "lenet_up5k", "lenet_up5k_ice40"),
        ("lenet5 INQ-5, xc7a35t", "lenet_inq5", "lenet_inq5_xc7"),
        ("mlp:784-300-100-10 INQ-5, xc7a35t", "mlp_inq5", "mlp_inq5_xc7")]
for title, m, b in rows:
    d = load(f"{b}.json")
    u = {x["resource"]: x for x in d["utilization"]}
    f = lambda r: f"{u[r]['used']}"
    e = lambda r: f"{u[r]['estimate']}"
    clock = (f"{d['achieved_mhz']:.1f} (asked {d['requested_mhz']:g})"
             if d["achieved_mhz"] else "-")
    ips = f"{d['images_per_second']:.0f}" if d["images_per_second"] else "-"
    print(f"{title:<34} {acc(m):>7.2f}% {d['cycles_per_image']:>10} {clock:>15} {ips:>7}  "
          f"{f('LUTs')} / {f('logic cells')} / {f('FFs')} / {f('RAM blocks')} of "
          f"{u['RAM blocks']['available']} ({e('LUTs')} / {e('logic cells')} / {e('FFs')} / "
          f"{e('RAM blocks')}); folding {','.join(l + '=' + x for l, x in d['folds'])}")
v = load("lenet_up5k_verify.json")
print(f"lenet5 up5k on Verilator: {'pass' if v['passed'] else 'FAIL'}, {v['vectors']} images "
      f"(test split, random and extremes), with and without back-pressure")
dg = load("digits.json")
b = dg["build"]
secs = float(open(f"{out}/digits.seconds").read())
print(f"digits flow --target ice40-up5k: {secs:.0f} s in all; {b['cycles_per_image']} cycles per "
      f"image, {b['achieved_mhz']:.1f} MHz, timing {'met' if b['timing_met'] else 'FAILED'}, "
      f"bitstream {b['bitstream']}")
PY

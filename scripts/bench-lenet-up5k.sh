#!/usr/bin/env bash
# Fashion-MNIST LeNet-5 on the iCE40 UP5K, accurate and fast together: for
# each seed, `shiftkit train --arch lenet5` (the defaults), then
# recipes/lenet-up5k-wide.toml (a quarter of the convolutions' filters and
# half of the dense neurons removed, INQ-5, 4-bit activations with 8-bit
# scores, quantization-aware training), `build --target ice40-up5k` twice
# (the build chooses the folding, the weights' places and the clock): with
# the default budget (the resource model may fill 85% of the cells) and with
# `--max-util 1.0` (all of them; nextpnr has the last word), and `verify` of
# each on Verilator with the 10,000 test images and random back-pressure.
# Prints the integer test accuracy (bit-exact simulator) per seed and their
# mean, and per build the cycles an image, the timing model's clock,
# nextpnr's achieved clock, images/s at it, cells and memories, and whether
# all outputs equalled the simulator's.
#
# Usage: scripts/bench-lenet-up5k.sh [OUT_DIR]   (default: target/bench-lenet-up5k)
#   SEEDS="1 2 3"   seeds of the training and the recipe (default 1 2 3)
# A step whose JSON exists in OUT_DIR is not run again. Measured here: the
# recipe about 2.5 minutes a seed, a build 17 to 55 s, a verification about 2
# minutes (training LeNet-5 takes longer; it was not timed with this script).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/bench-lenet-up5k}
. scripts/common.sh
seeds=${SEEDS:-1 2 3}

for seed in $seeds; do
  s="lenet5_s$seed"
  run "${s}_float" $bin -q train --arch lenet5 --data fashion-mnist --seed "$seed" \
      -o "$out/$s.skm"
  run "${s}_up5k" $bin -q compress "$out/$s.skm" --recipe recipes/lenet-up5k-wide.toml \
      --seed "$seed" -o "$out/${s}_up5k.skm"
  # A build that misses the clock still writes build.json (and exits 1).
  for budget in 0.85 1.0; do
    b="${s}_build_$budget"
    run "$b" $bin -q build "$out/${s}_up5k.skm" --target ice40-up5k --max-util "$budget" \
        -o "$out/$b" || true
    [ -f "$out/$b/shiftkit_top.bin" ] &&
      { run "${b}_verify" $bin -q verify "$out/${s}_up5k.skm" "$out/$b" --sim verilator \
          --data fashion-mnist --vectors 10000 || true; }
  done
done

python3 - "$out" "$seeds" <<'PY'
import json, os, statistics, sys
out, seeds = sys.argv[1], sys.argv[2].split()
def load(name):
    path = f"{out}/{name}.json"
    return json.load(open(path)) if os.path.exists(path) else None
print("| seed | integer test | --max-util | cycles | model MHz | achieved MHz | met | images/s "
      "| cells | RAM | SPRAM | verified on Verilator |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
accs = []
for s in seeds:
    q = load(f"lenet5_s{s}_up5k")
    accs.append(q["integer_accuracy"])
    for budget in ["0.85", "1.0"]:
        name = f"lenet5_s{s}_build_{budget}"
        b = load(name)
        if b is None and os.path.exists(f"{out}/{name}/build.json"):
            b = json.load(open(f"{out}/{name}/build.json"))
        v = load(f"{name}_verify")
        row = f"| {s} | {q['integer_accuracy']*100:.2f}% | {budget} "
        if b is None:
            print(row + "| no build |")
            continue
        used = {u["resource"]: u["used"] for u in b["utilization"]}
        if v is None:
            checked = "not run"
        else:
            images = sum(r["vectors"] for rep in v["reports"] for r in rep["runs"])
            checked = f"{images} images, {'all equal' if v['passed'] else 'MISMATCH'}"
        print(row + f"| {b['cycles_per_image']} | {b['model_mhz']:.1f} | {b['achieved_mhz']:.1f} "
              f"| {'yes' if b['timing_met'] else 'no'} | {b['images_per_second']:,.0f} "
              f"| {used['logic cells']:,} | {used['RAM blocks']} | {used['SPRAM']} | {checked} |")
worst = min(zip(accs, seeds))
print(f"\nmean integer test accuracy {statistics.mean(accs)*100:.2f}% over seeds {', '.join(seeds)}; "
      f"worst seed {worst[1]}: {worst[0]*100:.2f}%")
PY

#!/usr/bin/env bash
# The clock a build earns on the UP5K, and the timing model against it:
# designs of every weight kind built with `shiftkit build --target
# ice40-up5k` and no --clock (the build chooses: folded units pipelined for
# the model's ceiling, nextpnr asked for the timing model's clock, then a
# little under what nextpnr achieved when it missed). The model's constants
# for the scale, the max pool and shared-weight lanes were fitted to the
# first seven designs; the rest (after them in the table) were not used. Prints per design: cycles per image, the timing model's clock
# (its estimate for the folded units' datapath), the clock asked, nextpnr's
# achieved clock and whether it was met, the model's error against nextpnr,
# images per second at the achieved clock, and logic cells.
#
# Usage: scripts/bench-clock.sh [OUT_DIR]   (default: target/bench-clock)
# Trains and compresses the digits models (a minute), and with Fashion-MNIST
# a LeNet-5 with recipes/lenet-up5k.toml (about 10 minutes; SKIP_LENET=1
# leaves it out, built with --max-util 1.0); each build takes 15 s (digits)
# to 12 minutes (LeNet-5, whose placements can run to nextpnr's time limit).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/bench-clock}
source scripts/common.sh
model digits $bin train --arch mlp:64-32-10 --data digits --epochs 20
model d_inq5 $bin compress "$out/digits.skm" --method inq --bits 5 --data digits
model d_binary $bin compress "$out/digits.skm" --method binary
model d_ternary $bin compress "$out/digits.skm" --method ternary
model d_fixed8 $bin quantize "$out/digits.skm" --weights fixed8
model d_kmeans $bin compress "$out/digits.skm" --recipe recipes/deep-compression.toml
echo '{"input":[1,8,8],"layers":[{"op":"conv2d","out_channels":8,"kernel":3,"padding":1},
  {"op":"relu"},{"op":"maxpool2d","kernel":2},{"op":"flatten"},{"op":"dense","out":10}]}' \
  > "$out/cnn.json"
model cnn $bin train --arch "$out/cnn.json" --data digits --epochs 20
model cnn_inq5 $bin compress "$out/cnn.skm" --method inq --bits 5
model cnn_ternary $bin compress "$out/cnn.skm" --method ternary
# Designs the model was not fitted to.
model d_inq3 $bin compress "$out/digits.skm" --method inq --bits 3 --data digits
model d_fixed4 $bin quantize "$out/digits.skm" --weights fixed4
model wide $bin train --arch mlp:64-48-10 --data digits --epochs 20
model wide_inq5 $bin compress "$out/wide.skm" --method inq --bits 5 --data digits
model cnn_binary $bin compress "$out/cnn.skm" --method binary
model cnn_fixed8 $bin quantize "$out/cnn.skm" --weights fixed8
names=(d_inq5 d_binary d_ternary d_fixed8 d_kmeans cnn_inq5 cnn_ternary
  d_inq3 d_fixed4 wide_inq5 cnn_binary cnn_fixed8)
if [ -z "${SKIP_LENET:-}" ]; then
  model lenet $bin train --arch lenet5 --data fashion-mnist --epochs 10
  model lenet_up5k $bin compress "$out/lenet.skm" --recipe recipes/lenet-up5k.toml
  names+=(lenet_up5k)
fi
for name in "${names[@]}"; do
  # A build that missed the clock still writes build.json (and exits 1).
  # LeNet-5's UP5K recipe fills the device: the whole of it for the model.
  util=0.85; [ "$name" = lenet_up5k ] && util=1.0
  [ -s "$out/build-$name/build.json" ] ||
    $bin build "$out/$name.skm" --target ice40-up5k --max-util $util -o "$out/build-$name" -q \
      > "$out/build-$name.log" 2>&1 || true
done
python3 - "$out" "${names[@]}" <<'EOF'
import json, sys
out, names = sys.argv[1], sys.argv[2:]
print(f"{'design':<12} {'cycles':>7} {'model MHz':>9} {'asked':>6} {'achieved':>8} {'met':>4} "
      f"{'model err':>9} {'images/s':>9} {'cells':>6}  tries")
for n in names:
    try:
        b = json.load(open(f"{out}/build-{n}/build.json"))
    except FileNotFoundError:
        print(f"{n:<12} no build: {open(f'{out}/build-{n}.log').read().strip()[:160]}")
        continue
    cells = next(u["used"] for u in b["utilization"] if u["resource"] == "logic cells")
    m, a = b["model_mhz"], b["achieved_mhz"]
    err = f"{100 * (m - a) / a:+.0f}%" if m else "-"
    print(f"{n:<12} {b['cycles_per_image']:>7} {m or 0:>9.1f} {b['requested_mhz']:>6.1f} {a:>8.1f} "
          f"{'yes' if b['timing_met'] else 'NO':>4} {err:>9} {b['images_per_second']:>9,.0f} {cells:>6}  "
          f"{len(b['attempts']) + 1}")
EOF

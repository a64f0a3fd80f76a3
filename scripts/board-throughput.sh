#!/usr/bin/env bash
# The board issue's figures, for the digits MLP (INQ-5) and a Fashion-MNIST
# LeNet-5 on the iCEBreaker: `shiftkit build --board icebreaker` (placed on
# the board's pins, timed at the board's clock), then `shiftkit run --sim`
# (the host program against the simulated board through its terminal). It
# prints, per design:
# - where nextpnr put the clock and UART ports, as package pins (its log's
#   bels looked up in icestorm's chipdb), and whether timing was met;
# - the two throughputs `build` states: compute (clock / cycles an image) and
#   link (baud / bits an image on the line, the longer direction);
# - the simulated board's rate: board clock cycles an image from the first
#   byte in to the last byte out, and images/s at the board clock from it;
# - the images run, how many answers equal the simulator's bit for bit, the
#   board's accuracy and the simulator's on those images, and `eval`'s
#   integer accuracy on the whole split.
#
# Usage: scripts/board-throughput.sh [OUT_DIR]   (default: target/board-throughput)
# IMAGES=N: test images through each simulated board (default 1000; digits
# has 359 and runs them all). Trains the models once (the LeNet-5 of
# scripts/bench-fit.sh is reused when present; about 2 minutes otherwise),
# builds each design once (a few minutes for LeNet-5), then the runs (a
# LeNet-5 image takes about 95,000 board cycles on a 1 Mbaud line).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/board-throughput}
images=${IMAGES:-1000}
source scripts/common.sh
out=$(realpath "$out")
for d in target/bench-fit target/bench-fit-search; do
  if [ ! -f "$out/lenet.skm" ] && [ -f "$d/lenet.skm" ]; then cp "$d/lenet.skm" "$out/"; fi
done
model digits $bin train --arch mlp:64-32-10 --data digits --epochs 20
model digits_inq5 $bin compress "$out/digits.skm" --method inq --bits 5 --data digits
model lenet $bin train --arch lenet5 --data fashion-mnist --epochs 10 --lr 0.02
model lenet_board $bin compress "$out/lenet.skm" --recipe recipes/lenet-icebreaker.toml

chipdb=/usr/share/fpga-icestorm/chipdb/chipdb-5k.txt
# The SG48 package pin of a bel `X12/Y31/io1`.
pin_of() {
  local bel=$1 x y z
  IFS=/ read -r x y z <<<"$bel"
  awk -v x="${x#X}" -v y="${y#Y}" -v z="${z#io}" \
    '/^\.pins sg48/{f=1;next} /^\./{f=0} f && $2==x && $3==y && $4==z {print $1}' "$chipdb"
}

for entry in "digits_inq5:" "lenet_board:--max-util 0.97"; do
  name=${entry%%:*}
  extra=${entry#*:}
  build="$out/build-$name"
  [ -s "$out/build-$name.json" ] ||
    { $bin build "$out/$name.skm" --board icebreaker $extra -o "$build" --json > "$out/build-$name.tmp" &&
      mv "$out/build-$name.tmp" "$out/build-$name.json"; }
  run "run-$name" $bin run "$out/$name.skm" --sim "$build" --limit "$images"
  run "eval-$name" $bin eval "$out/$name.skm"
  echo "== $name"
  pins=""
  for port in clk_osc uart_rx uart_tx; do
    bel=$(sed -n "s/.*constrained '$port' to bel '\([^']*\)'.*/\1/p" "$build/nextpnr.log")
    pins="$pins $port=pin$(pin_of "$bel")"
  done
  python3 - "$out/build-$name.json" "$out/run-$name.json" "$out/eval-$name.json" "$pins" <<'EOF'
import json, sys
b, r, e = (json.load(open(p)) for p in sys.argv[1:4])
board = b["board"]
util = {u["resource"]: u for u in b["utilization"]}
cells, ram = util["logic cells"], util["RAM blocks"]
print(f"placed:{sys.argv[4]}; timing met: {b['timing_met']} ({b['achieved_mhz']:.1f} MHz achieved, "
      f"the board clock {board['clock_mhz']:.1f} MHz); {cells['used']} of {cells['available']} "
      f"logic cells, {ram['used']} of {ram['available']} RAM blocks; folding "
      + ",".join(f"{l}={f}" for l, f in b["folds"]))
print(f"compute: {board['clock_mhz']:.1f} MHz / {b['cycles_per_image']} cycles an image = "
      f"{board['compute_images_per_second']:,.0f} images/s")
print(f"link: {board['baud']:,} baud / {max(board['request_bits'], board['answer_bits'])} bits an image "
      f"({board['request_bits']} a request, {board['answer_bits']} an answer) = "
      f"{board['link_images_per_second']:,.0f} images/s")
per = r["cycles_per_image"]
print(f"simulated board: {per:,.0f} board cycles an image = "
      f"{board['clock_mhz'] * 1e6 / per:,.0f} images/s at {board['clock_mhz']:.1f} MHz")
print(f"run --sim: {r['images']} {r['split']} images, {r['exact']} answers bit-exact; accuracy "
      f"{100 * r['accuracy']:.2f}% on the board, {100 * r['integer_accuracy']:.2f}% in the simulator; "
      f"eval's integer accuracy on all {e['samples']}: {100 * e['integer_accuracy']:.2f}%")
EOF
done

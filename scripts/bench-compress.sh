#!/usr/bin/env bash
# The compression table of issue 4 on Fashion-MNIST: for mlp:784-300-100-10 and
# lenet5, the float model and INQ 5/4/3/2 bits, binary and ternary weights
# (scaled per channel; with and without the first and last layers kept at
# fixed8). Accuracy is the integer simulator's on the 10,000 test images.
#
# Usage: scripts/bench-compress.sh [OUT_DIR]   (default: target/bench-compress)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/bench-compress}
mkdir -p "$out"
cargo build --release -q
bin=target/release/shiftkit
export SHIFTKIT_DATA_DIR=${SHIFTKIT_DATA_DIR:-/usr/share/datasets/fashion-mnist}

run() { # name, then the command; stores the JSON outcome
  local name=$1; shift
  "$@" --json > "$out/$name.json"
}

for arch in mlp:784-300-100-10 lenet5; do
  tag=${arch//[:\-]/_}
  lr=0.05; [ "$arch" = lenet5 ] && lr=0.02
  run "${tag}_float" $bin train --arch "$arch" --data fashion-mnist --epochs 10 --lr $lr \
      -o "$out/$tag.skm"
  for b in 5 4 3 2; do
    run "${tag}_inq$b" $bin compress "$out/$tag.skm" --method inq --bits $b -o "$out/${tag}_inq$b.skm"
  done
  for m in binary ternary; do
    run "${tag}_$m" $bin compress "$out/$tag.skm" --method $m -o "$out/${tag}_$m.skm"
    run "${tag}_${m}_keep" $bin compress "$out/$tag.skm" --method $m --keep-first-last fixed8 \
        -o "$out/${tag}_${m}_keep.skm"
  done
done

python3 - "$out" <<'PY'
import json, sys, glob, os
out = sys.argv[1]
def load(n): return json.load(open(f"{out}/{n}.json"))
print("| network | method | test acc (integer) | vs float | weight bits | model bytes | compression | train s |")
print("|---|---|---|---|---|---|---|---|")
for arch, tag in [("mlp:784-300-100-10", "mlp_784_300_100_10"), ("lenet5", "lenet5")]:
    f = load(f"{tag}_float")
    fa = f["test_accuracy"]
    rows = [("inq5", "INQ 5-bit"), ("inq4", "INQ 4-bit"), ("inq3", "INQ 3-bit"), ("inq2", "INQ 2-bit"),
            ("binary", "binary (all layers)"), ("binary_keep", "binary, first/last fixed8"),
            ("ternary", "ternary (all layers)"), ("ternary_keep", "ternary, first/last fixed8")]
    first = load(f"{tag}_inq5")
    print(f"| {arch} | float32 | {fa*100:.2f}% | | 32 | {first['float_bytes']} | 1.0x | {f['seconds']:.1f} |")
    for key, label in rows:
        r = load(f"{tag}_{key}")
        bits = ", ".join(sorted({str(l['code_bits']) for l in r['layers']}))
        print(f"| {arch} | {label} | {r['integer_accuracy']*100:.2f}% | {(r['integer_accuracy']-fa)*100:+.2f} | {bits} | {r['bytes']} | {r['float_bytes']/r['bytes']:.1f}x | {r['train_seconds']:.1f} |")
PY

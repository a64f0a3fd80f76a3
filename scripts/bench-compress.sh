#!/usr/bin/env bash
# The low-bit compression table on Fashion-MNIST: for mlp:784-300-100-10 and
# lenet5, over several seeds, the float model and INQ 5/4/3/2 bits, binary and
# ternary weights (scaled per channel; all layers, and with the first and last
# layers kept at fixed8). Every method runs with its default flags, retraining
# with the float model's seed. Accuracy is the integer simulator's on the
# validation split (5,000 images held out of the training set) and on the
# 10,000 test images; "vs float" is against the float model of the same seed.
#
# Usage: scripts/bench-compress.sh [OUT_DIR]   (default: target/bench-compress)
#   SEEDS="1 2 3"       seeds (default 1 2 3)
#   ARCHS="lenet5 ..."  networks (default mlp:784-300-100-10 lenet5)
#   METHODS="inq3 ..."  rows (default all: inq5 inq4 inq3 inq2 binary ternary
#                       binary_keep ternary_keep)
# A run that is already in OUT_DIR (its JSON exists) is not run again.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/bench-compress}
mkdir -p "$out"
cargo build --release -q
bin=target/release/shiftkit
export SHIFTKIT_DATA_DIR=${SHIFTKIT_DATA_DIR:-/usr/share/datasets/fashion-mnist}
seeds=${SEEDS:-1 2 3}
archs=${ARCHS:-mlp:784-300-100-10 lenet5}
methods=${METHODS:-inq5 inq4 inq3 inq2 binary ternary binary_keep ternary_keep}

run() { # name, then the command; stores the JSON outcome and the wall time
  local name=$1; shift
  [ -s "$out/$name.json" ] && return
  local start; start=$(date +%s%N)
  "$@" --json > "$out/$name.tmp"
  mv "$out/$name.tmp" "$out/$name.json"
  echo $(( ($(date +%s%N) - start) / 1000000 )) > "$out/$name.ms"
  echo "$name: $(cat "$out/$name.ms") ms" >&2
}

for arch in $archs; do
  tag=${arch//[:\-]/_}
  lr=0.05; [ "$arch" = lenet5 ] && lr=0.02
  for seed in $seeds; do
    s="${tag}_s$seed"
    run "${s}_float" $bin train --arch "$arch" --data fashion-mnist --lr $lr --seed "$seed" \
        -o "$out/$s.skm"
    for m in $methods; do
      case $m in
        inq*) flags=(--method inq --bits "${m#inq}") ;;
        *_keep) flags=(--method "${m%_keep}" --keep-first-last fixed8) ;;
        *) flags=(--method "$m") ;;
      esac
      run "${s}_$m" $bin compress "$out/$s.skm" "${flags[@]}" --seed "$seed" -o "$out/${s}_$m.skm"
    done
  done
done

python3 - "$out" "$seeds" "$archs" "$methods" <<'PY'
import json, sys, statistics
out, seeds, archs, methods = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), sys.argv[4].split()
def load(n): return json.load(open(f"{out}/{n}.json"))
def wall(n): return int(open(f"{out}/{n}.ms").read()) / 1000
labels = {"inq5": "INQ 5-bit", "inq4": "INQ 4-bit", "inq3": "INQ 3-bit", "inq2": "INQ 2-bit",
          "binary": "binary (all layers)", "binary_keep": "binary, first/last fixed8",
          "ternary": "ternary (all layers)", "ternary_keep": "ternary, first/last fixed8"}
def pct(xs): return f"{statistics.mean(xs)*100:.2f}%"
def spread(xs):
    m = statistics.mean(xs)
    return f"{m*100:+.2f} [{min(xs)*100:+.2f}, {max(xs)*100:+.2f}]"
print(f"Seeds {', '.join(seeds)}: means, with [min, max] of the differences; seconds are wall time per run.\n")
print("| network | method | val acc | test acc | test vs float | val vs float | weight bits | model bytes | compression | seconds |")
print("|---|---|---|---|---|---|---|---|---|---|")
for arch in archs:
    tag = arch.replace(":", "_").replace("-", "_")
    floats = {s: load(f"{tag}_s{s}_float") for s in seeds}
    ftest = [floats[s]["test_accuracy"] for s in seeds]
    fval = [floats[s]["val_accuracy"] for s in seeds]
    secs = statistics.mean(wall(f"{tag}_s{s}_float") for s in seeds)
    print(f"| {arch} | float32 | {pct(fval)} | {pct(ftest)} | | | 32 | | 1.0x | {secs:.0f} |")
    for m in methods:
        rows = {s: load(f"{tag}_s{s}_{m}") for s in seeds}
        test = [rows[s]["integer_accuracy"] for s in seeds]
        val = [rows[s]["val_integer_accuracy"] for s in seeds]
        dtest = [rows[s]["integer_accuracy"] - rows[s]["original_accuracy"] for s in seeds]
        dval = [rows[s]["val_integer_accuracy"] - rows[s]["original_val_accuracy"] for s in seeds]
        r = rows[seeds[0]]
        bits = ", ".join(sorted({str(l["code_bits"]) for l in r["layers"]}))
        secs = statistics.mean(wall(f"{tag}_s{s}_{m}") for s in seeds)
        print(f"| {arch} | {labels.get(m, m)} | {pct(val)} | {pct(test)} | {spread(dtest)} | {spread(dval)} | {bits} | {r['bytes']} | {r['float_bytes']/r['bytes']:.1f}x | {secs:.0f} |")
PY

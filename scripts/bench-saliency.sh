#!/usr/bin/env bash
# Pruning criteria at equal sparsity on Fashion-MNIST LeNet-5, over seeds:
# unstructured magnitude against OBD (global threshold), and structured L1
# against Taylor and APoZ (the same fraction of every hidden layer's units),
# each without fine-tuning and with EPOCHS of it. OBD, Taylor and APoZ
# measure on 2,000 validation images. Accuracy is the integer simulator's;
# "vs float" is against the float original of the same seed.
#
# Usage: scripts/bench-saliency.sh [OUT_DIR]   (default: target/bench-saliency)
#   SEEDS="1 2 3"            seeds (default 1 2 3)
#   SPARSITIES="0.7 0.9"     unstructured sparsities (default 0.5 0.7 0.8 0.9)
#   FRACTIONS="0.25 0.5"     structured fractions (default 0.25 0.5)
#   EPOCHS=2                 fine-tuning epochs of the second column
# Float models come from OUT_DIR/lenet5_sN.skm (trained here when missing).
# A run whose JSON exists in OUT_DIR is not run again.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/bench-saliency}
. scripts/common.sh
seeds=${SEEDS:-1 2 3}
sparsities=${SPARSITIES:-0.5 0.7 0.8 0.9}
fractions=${FRACTIONS:-0.25 0.5}
epochs=${EPOCHS:-2}

for seed in $seeds; do
  s="lenet5_s$seed"
  run "${s}_float" $bin -q train --arch lenet5 --data fashion-mnist --lr 0.02 --seed "$seed" \
      -o "$out/$s.skm"
  for e in 0 "$epochs"; do
    for sp in $sparsities; do
      for c in magnitude obd; do
        name="${s}_prune${sp}_${c}_e$e"
        printf '[[step]]\nmethod = "prune"\nsparsity = %s\nscope = "global"\ncriterion = "%s"\nepochs = %s\n' \
          "$sp" "$c" "$e" > "$out/$name.toml"
        run "$name" $bin -q compress "$out/$s.skm" --recipe "$out/$name.toml" --seed "$seed" \
            -o "$out/$name.skm"
      done
    done
    for f in $fractions; do
      for c in l1 taylor apoz; do
        name="${s}_structured${f}_${c}_e$e"
        printf '[[step]]\nmethod = "structured"\nfraction = %s\ncriterion = "%s"\nepochs = %s\n' \
          "$f" "$c" "$e" > "$out/$name.toml"
        run "$name" $bin -q compress "$out/$s.skm" --recipe "$out/$name.toml" --seed "$seed" \
            -o "$out/$name.skm"
      done
    done
  done
done

python3 - "$out" "$seeds" "$sparsities" "$fractions" "$epochs" <<'PY'
import json, sys, statistics
out, seeds, sparsities, fractions, epochs = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), sys.argv[4].split(), sys.argv[5]
def load(n): return json.load(open(f"{out}/{n}.json"))
def cell(key):
    d = [load(f"lenet5_s{s}_{key}") for s in seeds]
    test = statistics.mean(x["integer_accuracy"] for x in d) * 100
    dv = [(x["val_integer_accuracy"] - x["original_val_accuracy"]) * 100 for x in d]
    dt = [(x["integer_accuracy"] - x["original_accuracy"]) * 100 for x in d]
    return test, statistics.mean(dv), statistics.mean(dt), (min(dt), max(dt))
def table(title, rows, crits):
    print(f"\n{title}\n")
    head = " | ".join(f"{c}, {e} ep" for e in ("0", epochs) for c in crits)
    print(f"| setting | {head} |")
    print("|---|" + "---|" * (2 * len(crits)))
    for label, key in rows:
        cells = []
        for e in ("0", epochs):
            vals = {c: cell(key(c, e)) for c in crits}
            best = max(crits, key=lambda c: vals[c][1])  # chosen on validation
            for c in crits:
                t, dv, dt, (lo, hi) = vals[c]
                mark = "**" if c == best else ""
                cells.append(f"{mark}{t:.2f}% ({dt:+.2f} [{lo:+.2f}, {hi:+.2f}]; val {dv:+.2f}){mark}")
        print(f"| {label} | " + " | ".join(cells) + " |")
print(f"Seeds {', '.join(seeds)}. Each cell: test accuracy (test vs float mean [min, max]; validation vs float mean), integer network. Bold: the best on validation.")
table("Unstructured, one global threshold over all layers:",
      [(f"{float(sp)*100:.0f}% of weights", lambda c, e, sp=sp: f"prune{sp}_{c}_e{e}") for sp in sparsities],
      ["magnitude", "obd"])
table("Structured, that fraction of the units of conv1, conv2, fc1, fc2:",
      [(f"{float(f)*100:.0f}% of units", lambda c, e, f=f: f"structured{f}_{c}_e{e}") for f in fractions],
      ["l1", "taylor", "apoz"])
PY

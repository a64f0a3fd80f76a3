#!/usr/bin/env bash
# Low rank for LeNet-5's conv2 on Fashion-MNIST (Jaderberg et al. 2014,
# scheme 2): the 5x5 convolution 6 -> 16 becomes a 5x1 convolution 6 -> R and
# a 1x5 convolution R -> 16, fitted by SVD and fine-tuned, for each rank R and
# seed. The rank is chosen on the validation split: the smallest whose mean
# validation loss (integer network against the float original of the same
# seed) is at most 0.3 points; its test figures are then read, and its
# streaming designs are verified on Verilator against the simulator on the
# test images.
#
# Usage: scripts/bench-lowrank.sh [OUT_DIR]   (default: target/bench-lowrank)
#   SEEDS="1 2 3"   seeds (default 1 2 3)
#   RANKS="..."     ranks (default 2 3 4 6 8 9 12)
#   EPOCHS=3        fine-tuning epochs
#   VERIFY=0        skip the Verilator runs
# Float models come from OUT_DIR/lenet5_sN.skm (trained here when missing).
# A run whose JSON exists in OUT_DIR is not run again.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/bench-lowrank}
. scripts/common.sh
seeds=${SEEDS:-1 2 3}
ranks=${RANKS:-2 3 4 6 8 9 12}
epochs=${EPOCHS:-3}

for seed in $seeds; do
  s="lenet5_s$seed"
  run "${s}_float" $bin -q train --arch lenet5 --data fashion-mnist --lr 0.02 --seed "$seed" \
      -o "$out/$s.skm"
  # The original at the same epochs of fine-tuning: what the factors must keep up with.
  printf '[[step]]\nmethod = "finetune"\nepochs = %s\n' "$epochs" > "$out/finetune.toml"
  run "${s}_finetune" $bin -q compress "$out/$s.skm" --recipe "$out/finetune.toml" \
      --seed "$seed" -o "$out/${s}_finetune.skm"
  for r in $ranks; do
    printf '[[step]]\nmethod = "svd"\nrank = %s\nlayers = ["conv2"]\nepochs = %s\n' \
      "$r" "$epochs" > "$out/r$r.toml"
    run "${s}_r$r" $bin -q compress "$out/$s.skm" --recipe "$out/r$r.toml" --seed "$seed" \
        -o "$out/${s}_r$r.skm"
    [ -s "$out/${s}_r$r.info.json" ] || $bin info "$out/${s}_r$r.skm" --json > "$out/${s}_r$r.info.json"
  done
  [ -s "$out/$s.info.json" ] || $bin info "$out/$s.skm" --json > "$out/$s.info.json"
done

chosen=$(python3 - "$out" "$seeds" "$ranks" <<'PY'
import json, sys, statistics
out, seeds, ranks = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
def load(n): return json.load(open(f"{out}/{n}.json"))
for r in sorted(ranks, key=int):
    d = [load(f"lenet5_s{s}_r{r}") for s in seeds]
    if statistics.mean(x["val_integer_accuracy"] - x["original_val_accuracy"] for x in d) >= -0.003:
        print(r); break
else:
    print(max(ranks, key=int))
PY
)
echo "chosen on validation: rank $chosen" >&2

if [ "${VERIFY:-1}" = 1 ]; then
  for seed in $seeds; do
    s="lenet5_s${seed}_r$chosen"
    [ -s "$out/$s.verify.json" ] && continue
    rm -rf "$out/$s.hdl"
    $bin -q hdl "$out/$s.skm" --form streaming -o "$out/$s.hdl" > "$out/$s.hdl.txt"
    $bin -q verify "$out/$s.skm" "$out/$s.hdl" --sim verilator --data fashion-mnist \
      --vectors 1000 --json > "$out/$s.verify.tmp"
    mv "$out/$s.verify.tmp" "$out/$s.verify.json"
  done
fi

python3 - "$out" "$seeds" "$ranks" "$chosen" "${VERIFY:-1}" <<'PY'
import json, sys, statistics
out, seeds, ranks, chosen, verify = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), sys.argv[4], sys.argv[5] == "1"
def load(n): return json.load(open(f"{out}/{n}.json"))
def macs(name, layers):
    info = json.load(open(f"{out}/{name}.info.json"))["network"]
    return sum(l["macs"] for l in info["layers"] if l["name"] in layers)
def spread(xs):
    m = statistics.mean(xs)
    return f"{m*100:+.2f} [{min(xs)*100:+.2f}, {max(xs)*100:+.2f}]"
conv2 = macs(f"lenet5_s{seeds[0]}", {"conv2"})
print(f"Seeds {', '.join(seeds)}; differences are the integer network's against the float original of the same seed, mean [min, max].")
print(f"conv2 alone: {conv2} multiplications per image.\n")
print("| conv2 as | conv2 mults | removed | val acc | test acc | test vs float | val vs float |")
print("|---|---|---|---|---|---|---|")
rows = [("finetune", "5x5, fine-tuned", conv2)] + [
    (f"r{r}", f"5x1 + 1x5, rank {r}", macs(f"lenet5_s{seeds[0]}_r{r}", {"conv2_v", "conv2_h"}))
    for r in sorted(ranks, key=int)]
for key, label, m in rows:
    d = [load(f"lenet5_s{s}_{key}") for s in seeds]
    val = statistics.mean(x["val_integer_accuracy"] for x in d)
    test = statistics.mean(x["integer_accuracy"] for x in d)
    dt = [x["integer_accuracy"] - x["original_accuracy"] for x in d]
    dv = [x["val_integer_accuracy"] - x["original_val_accuracy"] for x in d]
    mark = " (chosen)" if key == f"r{chosen}" else ""
    print(f"| {label}{mark} | {m} | {100*(1-m/conv2):.0f}% | {val*100:.2f}% | {test*100:.2f}% | {spread(dt)} | {spread(dv)} |")
if verify:
    print(f"\nStreaming designs of rank {chosen}, Verilator against the simulator:\n")
    for s in seeds:
        v = load(f"lenet5_s{s}_r{chosen}.verify")
        runs = [(rep["simulator"], r["vectors"], r["traffic"], r["mismatch"] is None)
                for rep in v["reports"] for r in rep["runs"]]
        print(f"- seed {s}: {'passed' if v['passed'] else 'FAILED'}, {v['vectors']} vectors "
              f"(1,000 test images, 1,000 random, the extremes), {v['cycles_per_image']} cycles "
              f"per image, latency {v['latency']}; runs: " + "; ".join(
            f"{sim} {n} vectors at valid {t['valid']}/16 ready {t['ready']}/16 "
            f"{'match' if ok else 'MISMATCH'}" for sim, n, t, ok in runs))
PY

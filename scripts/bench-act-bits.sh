#!/usr/bin/env bash
# Narrow activations on Fashion-MNIST LeNet-5 (the network of
# recipes/lenet-up5k.toml: half of every hidden layer's filters and neurons
# removed, INQ-5): what the integer network loses at 4 and 3 activation bits,
# how much of it is the last layer's scores (`output_bits`: the argmax
# compares the last layer's outputs, and at 4 bits many images tie), and what
# quantization-aware training (`qat = true`) adds. Each row is one recipe
# from the same float model per seed; integer accuracy (bit-exact
# simulator), mean [min, max] over the seeds.
#
# Usage: scripts/bench-act-bits.sh [OUT_DIR]   (default: target/bench-act-bits)
#   SEEDS="1 2 3"   seeds (default 1 2 3): the float model's and the recipe's
# A run whose JSON exists in OUT_DIR is not run again (about 15 minutes in all).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/bench-act-bits}
. scripts/common.sh
seeds=${SEEDS:-1 2 3}

# name: [quantize] lines
variants=(
  "a4|act_bits = 4"
  "a4_o8|act_bits = 4
output_bits = 8"
  "a4_o8_qat|act_bits = 4
output_bits = 8
qat = true"
  "a3_o8|act_bits = 3
output_bits = 8"
  "a3_o8_qat|act_bits = 3
output_bits = 8
qat = true"
)
for v in "${variants[@]}"; do
  name=${v%%|*}
  printf '[train]\nlr = 0.01\n\n[quantize]\n%s\n\n[[step]]\nmethod = "structured"\nfraction = 0.5\nepochs = 5\n\n[[step]]\nmethod = "inq"\nbits = 5\nepochs = 2\n' \
    "${v#*|}" > "$out/$name.toml"
done

for seed in $seeds; do
  s="lenet5_s$seed"
  run "${s}_float" $bin -q train --arch lenet5 --data fashion-mnist --seed "$seed" \
      -o "$out/$s.skm"
  for v in "${variants[@]}"; do
    name=${v%%|*}
    run "${s}_$name" $bin -q compress "$out/$s.skm" --recipe "$out/$name.toml" --seed "$seed" \
        -o "$out/${s}_$name.skm"
  done
done

python3 - "$out" "$seeds" "${variants[@]}" <<'PY'
import json, sys, statistics
out, seeds, variants = sys.argv[1], sys.argv[2].split(), sys.argv[3:]
def load(n): return json.load(open(f"{out}/{n}.json"))
def spread(xs):
    return f"{statistics.mean(xs)*100:.2f}% [{min(xs)*100:.2f}, {max(xs)*100:.2f}]"
print(f"Seeds {', '.join(seeds)}; LeNet-5, half of each hidden layer removed (L1), INQ-5.\n")
print("| [quantize] | float | integer, test | integer, val |")
print("|---|---|---|---|")
for v in variants:
    name, settings = v.split("|", 1)
    d = [load(f"lenet5_s{s}_{name}") for s in seeds]
    print(f"| {', '.join(settings.splitlines())} | {spread([x['float_accuracy'] for x in d])} "
          f"| {spread([x['integer_accuracy'] for x in d])} "
          f"| {spread([x['val_integer_accuracy'] for x in d])} |")
PY

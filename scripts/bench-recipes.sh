#!/usr/bin/env bash
# The compression report of issue 8 on Fashion-MNIST: for mlp:784-300-100-10
# and lenet5, the recipes in recipes/ (magnitude pruning, pruning + INQ-5
# without and with distillation, Deep Compression = pruning + k-means +
# Huffman, L1 structured pruning, neuron merging without fine-tuning, SVD), and
# for the MLP a distilled student mlp:784-100-10 against the same student
# trained alone, then the student's float accuracy over a grid of T and lambda.
# Accuracy is the integer simulator's on the 10,000 test images; every table
# comes from `shiftkit report` against the float original.
#
# Usage: scripts/bench-recipes.sh [OUT_DIR]   (default: target/bench-recipes)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/bench-recipes}
mkdir -p "$out"
cargo build --release -q
bin=target/release/shiftkit
export SHIFTKIT_DATA_DIR=${SHIFTKIT_DATA_DIR:-/usr/share/datasets/fashion-mnist}
recipes="prune prune-inq5 prune-inq5-kd deep-compression structured merge svd"

for arch in mlp:784-300-100-10 lenet5; do
  tag=${arch//[:\-]/_}
  lr=0.05; [ "$arch" = lenet5 ] && lr=0.02
  $bin train --arch "$arch" --data fashion-mnist --epochs 10 --lr $lr -o "$out/$tag.skm" >/dev/null
  models=()
  for r in $recipes; do
    $bin compress "$out/$tag.skm" --recipe "recipes/$r.toml" -o "$out/${tag}_$r.skm" \
      --json > "$out/${tag}_$r.json"
    models+=("$out/${tag}_$r.skm")
  done
  if [ "$arch" = mlp:784-300-100-10 ]; then
    # The student alone and distilled from the 300-100 teacher: same seed, epochs, lr.
    $bin train --arch mlp:784-100-10 --data fashion-mnist --epochs 10 --lr 0.05 \
      -o "$out/student_alone_float.skm" --json > "$out/student_alone_train.json"
    $bin train --arch mlp:784-100-10 --data fashion-mnist --epochs 10 --lr 0.05 \
      --teacher "$out/$tag.skm" --temperature 4 --lambda 0.3 \
      -o "$out/student_distilled_float.skm" --json > "$out/student_distilled_train.json"
    for s in alone distilled; do
      $bin quantize "$out/student_${s}_float.skm" -o "$out/student_$s.skm" >/dev/null
      models+=("$out/student_$s.skm")
    done
  fi
  echo "## $arch"
  echo
  $bin report --reference "$out/$tag.skm" "${models[@]}" -o "$out/${tag}_report.md" \
    --json > "$out/${tag}_report.json"
  cat "$out/${tag}_report.md"
  echo
done

# Distillation over T and lambda (float test accuracy of the student; there is
# no validation split, so the T and lambda above were chosen on this table).
echo "## mlp:784-100-10 student, float test accuracy"
echo
alone=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["test_accuracy"])' \
  "$out/student_alone_train.json")
echo "| T | lambda | distilled | trained alone | difference |"
echo "|---|---|---|---|---|"
for t in 2 4 8; do
  for l in 0.3 0.5 0.7 0.9; do
    acc=$($bin train --arch mlp:784-100-10 --data fashion-mnist --epochs 10 --lr 0.05 \
      --teacher "$out/mlp_784_300_100_10.skm" --temperature $t --lambda $l \
      -o "$out/student_t${t}_l$l.skm" --json |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["test_accuracy"])')
    python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); \
print(f'| $t | $l | {a*100:.2f}% | {b*100:.2f}% | {(a-b)*100:+.2f} |')" "$acc" "$alone"
  done
done

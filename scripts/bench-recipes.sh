#!/usr/bin/env bash
# The compression report of issue 8 on Fashion-MNIST: for mlp:784-300-100-10
# and lenet5, the recipes in recipes/ (magnitude pruning, pruning + INQ-5 with
# distillation, Deep Compression = pruning + k-means + Huffman, L1 structured
# pruning, neuron merging without fine-tuning, SVD), and for the MLP a
# distilled student mlp:784-100-10 against the same student trained alone.
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
recipes="prune prune-inq5 deep-compression structured merge svd"

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
      --teacher "$out/$tag.skm" --temperature 4 --lambda 0.7 \
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

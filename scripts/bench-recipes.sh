#!/usr/bin/env bash
# The compression report of issue 8 on Fashion-MNIST: for mlp:784-300-100-10
# and lenet5, the recipes in recipes/ (magnitude pruning, pruning + INQ-5
# without and with distillation, Deep Compression = pruning + k-means +
# Huffman, L1 structured pruning, neuron merging without fine-tuning, SVD), and
# for the MLP a distilled student mlp:784-100-10 against the same student
# trained alone, T and lambda chosen on the validation split over a grid (then
# the grid's table). Accuracy is the integer simulator's on the 10,000 test
# images; every table comes from `shiftkit report` against the float original.
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
    # The student alone and distilled from the 300-100 teacher: same seed,
    # epochs, lr; T and lambda chosen on the validation split over a grid.
    $bin train --arch mlp:784-100-10 --data fashion-mnist --epochs 10 --lr 0.05 \
      -o "$out/student_alone_float.skm" --json > "$out/student_alone_train.json"
    for t in 2 4 8; do
      for l in 0.3 0.5 0.7 0.9; do
        $bin train --arch mlp:784-100-10 --data fashion-mnist --epochs 10 --lr 0.05 \
          --teacher "$out/$tag.skm" --temperature $t --lambda $l \
          -o "$out/student_t${t}_l$l.skm" --json > "$out/student_t${t}_l$l.json"
      done
    done
    best=$(python3 - "$out" <<'PY'
import glob, json, os, sys
runs = sorted(glob.glob(f"{sys.argv[1]}/student_t*_l*.json"))
best = max(runs, key=lambda p: json.load(open(p))["val_accuracy"])
print(os.path.basename(best)[:-len(".json")])
PY
)
    cp "$out/$best.skm" "$out/student_distilled_float.skm"
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

# Distillation over T and lambda: the student's float accuracy on the
# validation split (what chose the student above) and the test split.
echo "## mlp:784-100-10 student, float accuracy (chosen: $best)"
echo
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
alone = json.load(open(f"{out}/student_alone_train.json"))
print(f"trained alone: validation {alone['val_accuracy']*100:.2f}%, test {alone['test_accuracy']*100:.2f}%")
print()
print("| T | lambda | validation | test | test vs alone |")
print("|---|---|---|---|---|")
for t in (2, 4, 8):
    for l in ("0.3", "0.5", "0.7", "0.9"):
        r = json.load(open(f"{out}/student_t{t}_l{l}.json"))
        print(f"| {t} | {l} | {r['val_accuracy']*100:.2f}% | {r['test_accuracy']*100:.2f}% | "
              f"{(r['test_accuracy'] - alone['test_accuracy'])*100:+.2f} |")
PY

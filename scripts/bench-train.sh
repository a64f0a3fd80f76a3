#!/usr/bin/env bash
# Times one Fashion-MNIST training epoch (batch 64, SGD with momentum) of
# mlp:784-300-100-10 and lenet5 in shiftkit and in PyTorch (CPU), with the same
# number of threads, and prints the ratio.
#
# PyTorch is installed from PyPI into a throwaway virtualenv inside this script
# only (set BENCH_VENV to reuse one). It is never a dependency of shiftkit.
set -euo pipefail
cd "$(dirname "$0")/.."

threads=${THREADS:-$(nproc)}
batch=64
data_dir=${SHIFTKIT_DATA_DIR:-/usr/share/datasets/fashion-mnist}
venv=${BENCH_VENV:-$(mktemp -d)/venv}

if [ ! -e "$data_dir/train-images-idx3-ubyte.gz" ]; then
  echo "Fashion-MNIST not found in $data_dir: apt-get install dataset-fashion-mnist" >&2
  exit 1
fi
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import torch' 2>/dev/null; then
  echo "installing PyTorch into $venv (PyPI) ..." >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q torch numpy >&2
fi

cargo build --release -q
bin=target/release/shiftkit
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

printf '%-22s %14s %14s %10s\n' "model" "shiftkit s/ep" "pytorch s/ep" "ratio"
for arch in mlp:784-300-100-10 lenet5; do
  # Second epoch of two: the first pays for page faults and allocator warm-up.
  sk=$(RAYON_NUM_THREADS=$threads "$bin" train --arch "$arch" --data fashion-mnist \
        --epochs 2 --batch $batch --optimizer sgd --lr 0.05 --lr-schedule constant \
        -o "$tmp/m.skm" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["epochs"][-1]["seconds"])')
  pt=$("$venv/bin/python" scripts/bench_train_torch.py "$arch" "$threads" $batch "$data_dir" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["seconds"])')
  python3 - "$arch" "$sk" "$pt" <<'PY'
import sys
arch, sk, pt = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
print(f"{arch:<22} {sk:>14.2f} {pt:>14.2f} {sk/pt:>9.2f}x")
PY
done
echo "(ratio = shiftkit time / PyTorch time; below 1 means shiftkit is faster; threads=$threads)"

#!/usr/bin/env bash
# Holds shiftkit against onnxruntime, an independent ONNX runtime: the fixture
# models and shiftkit's own exports of them, run on the fixtures' inputs by
# onnxruntime and by `shiftkit sim`, must agree within 1e-5 relative error.
#
# onnxruntime is installed from PyPI into a throwaway virtualenv inside this
# script only (set BENCH_VENV to reuse one).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${BENCH_VENV:-$(mktemp -d)/venv}
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import onnxruntime' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q onnxruntime numpy >&2
fi
cargo build --release -q
bin=target/release/shiftkit
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fx=tests/fixtures/onnx
for model in mlp lenet5; do
  python3 -c "import json; d=json.load(open('$fx/${model}_io.json')); print('\n'.join(' '.join(repr(v) for v in r) for r in d['inputs']))" > "$tmp/in.txt"
  for exporter in torchscript dynamo; do
    name=${model}_$exporter
    $bin import "$fx/$name.onnx" -o "$tmp/$name.skm" > /dev/null
    $bin export "$tmp/$name.skm" -o "$tmp/$name.back.onnx" > /dev/null
    $bin sim "$tmp/$name.skm" --input "$tmp/in.txt" --output "$tmp/$name.out" 2> /dev/null
    "$venv/bin/python" - "$fx/$name.onnx" "$tmp/$name.back.onnx" "$tmp/$name.out" "$fx/${model}_io.json" <<'PY'
import json, sys
import numpy as np
import onnxruntime as ort
original, exported, sim_out, io = sys.argv[1:]
d = json.load(open(io))
x = np.array(d["inputs"], dtype=np.float32).reshape([-1] + d["input_shape"])
ours = np.loadtxt(sim_out, dtype=np.float64, ndmin=2)
def run(path):
    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return np.concatenate([s.run(None, {s.get_inputs()[0].name: x[i:i+1]})[0] for i in range(len(x))])
for label, path in [("original", original), ("shiftkit export", exported)]:
    y = run(path)
    err = np.max(np.abs(y - ours) / np.maximum(np.max(np.abs(y), axis=1, keepdims=True), 1e-6))
    status = "ok" if err <= 1e-5 else "MISMATCH"
    print(f"{original.split('/')[-1]:<26} onnxruntime on {label:<16} vs shiftkit sim: max relative error {err:.2e} {status}")
    assert err <= 1e-5
PY
  done
done

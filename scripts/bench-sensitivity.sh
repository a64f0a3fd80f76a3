#!/usr/bin/env bash
# Per-layer sensitivity of Fashion-MNIST LeNet-5 over seeds: `shiftkit
# sensitivity` on each seed's float model (each layer pruned by magnitude and
# by OBD, INQ-coded, factored; one at a time, no retraining, on the
# validation split), then the mean over seeds of the validation accuracy lost
# per layer and setting, and one HTML page with every seed's tables and plots.
#
# Usage: scripts/bench-sensitivity.sh [OUT_DIR]   (default: target/bench-sensitivity)
#   SEEDS="1 2 3"
# Float models come from OUT_DIR/lenet5_sN.skm (trained here when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/bench-sensitivity}
. scripts/common.sh
seeds=${SEEDS:-1 2 3}

runs=()
for seed in $seeds; do
  s="lenet5_s$seed"
  [ -s "$out/$s.skm" ] || $bin -q train --arch lenet5 --data fashion-mnist --lr 0.02 \
      --seed "$seed" -o "$out/$s.skm"
  [ -s "$out/$s.sens.json" ] || $bin -q sensitivity "$out/$s.skm" -o "$out/$s.sens.json" > /dev/null
  [ -s "$out/${s}_q.skm" ] || $bin -q quantize "$out/$s.skm" -o "$out/${s}_q.skm" > /dev/null
  runs+=(--sensitivity "$out/$s.sens.json")
done
first=$(echo $seeds | cut -d' ' -f1)
$bin -q report "$out/lenet5_s${first}_q.skm" "${runs[@]}" --html "$out/sensitivity.html" > /dev/null
echo "HTML: $out/sensitivity.html" >&2

python3 - "$out" "$seeds" <<'PY'
import json, sys, statistics
out, seeds = sys.argv[1], sys.argv[2].split()
runs = [json.load(open(f"{out}/lenet5_s{s}.sens.json")) for s in seeds]
print(f"Seeds {', '.join(seeds)}: validation accuracy lost in points (mean over seeds; test in brackets), one layer at a time, no retraining.")
print("As they are: validation " + ", ".join(f"{r['val_accuracy']*100:.2f}%" for r in runs) + ".\n")
methods = []
for r in runs[0]["rows"]:
    if r["method"] not in methods: methods.append(r["method"])
for m in methods:
    rows0 = [r for r in runs[0]["rows"] if r["method"] == m]
    settings, layers = [], []
    for r in rows0:
        if r["setting"] not in settings: settings.append(r["setting"])
        if r["layer"] not in layers: layers.append(r["layer"])
    print(f"| {m} | " + " | ".join(settings) + " |")
    print("|---|" + "---|" * len(settings))
    for l in layers:
        cells = []
        for st in settings:
            drops, tdrops, comp, ks = [], [], None, None
            for run in runs:
                r = next((r for r in run["rows"] if r["method"] == m and r["layer"] == l and r["setting"] == st), None)
                if r is None: continue
                drops.append((run["val_accuracy"] - r["val_accuracy"]) * 100)
                tdrops.append((run["test_accuracy"] - r["test_accuracy"]) * 100)
                comp, ks = r["compression"], r.get("rank")
            k = f", k={ks}" if ks else ""
            cells.append(f"{statistics.mean(drops):.2f} [{statistics.mean(tdrops):.2f}] ({comp:.1f}x{k})" if drops else "-")
        print(f"| {l} | " + " | ".join(cells) + " |")
    print()
PY

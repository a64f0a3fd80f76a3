#!/usr/bin/env bash
# How long `shiftkit build` takes to choose its design (the fitter's search
# over foldings and memory placements, then writing the chosen design), for
# the Fashion-MNIST LeNet-5 UP5K recipe (recipes/lenet-up5k.toml, at
# --max-util 0.97 as scripts/bench-fit.sh builds it) and the digits MLP
# (INQ-5) on the iCE40 UP5K. Synthesis is not timed: a stand-in `yosys`
# first on PATH keeps a copy of the design it is handed and stops the build.
#
# With BASE_REV, the same runs with the binary of that git revision (built
# in a worktree under target/), side by side: median seconds of each, their
# ratio, whether both chose the same foldings, and whether the designs are
# the same bytes (every file handed to synthesis: Verilog, ROM contents,
# manifest; a revision that changes the generated Verilog on purpose differs
# there and not in its foldings).
#
# Usage: scripts/bench-fit-search.sh [BASE_REV] [OUT_DIR]   (default: target/bench-fit-search)
# Trains the models once (about 10 minutes; the LeNet-5 models of
# scripts/bench-fit.sh are reused when present), then a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
base_rev=${1:-}
out=${2:-target/bench-fit-search}
source scripts/common.sh
out=$(realpath "$out")
for name in lenet lenet_up5k; do
  if [ ! -f "$out/$name.skm" ] && [ -f "target/bench-fit/$name.skm" ]; then
    cp "target/bench-fit/$name.skm" "$out/$name.skm"
  fi
done
model lenet $bin train --arch lenet5 --data fashion-mnist --epochs 10 --lr 0.02
model lenet_up5k $bin compress "$out/lenet.skm" --recipe recipes/lenet-up5k.toml
model digits $bin train --arch mlp:64-32-10 --data digits --epochs 20
model digits_inq5 $bin compress "$out/digits.skm" --method inq --bits 5 --data digits

bins=("new=$(realpath "$bin")")
if [ -n "$base_rev" ]; then
  tree=target/base-$base_rev
  if [ ! -x "$tree/target/release/shiftkit" ]; then
    [ -d "$tree" ] || git worktree add --detach "$tree" "$base_rev" >/dev/null
    (cd "$tree" && CARGO_TARGET_DIR=target cargo build --release -q)
  fi
  bins=("base=$(realpath "$tree/target/release/shiftkit")" "${bins[@]}")
fi

# The stand-in synthesis: copies what it is handed to $out/chosen/$CAPTURE.
fake="$out/fake-yosys"
mkdir -p "$fake" "$out/chosen"
cat > "$fake/yosys" <<EOF
#!/bin/sh
rm -rf "$out/chosen/\$CAPTURE"
cp -r . "$out/chosen/\$CAPTURE"
exit 1
EOF
chmod +x "$fake/yosys"

runs=5
designs=("lenet_up5k:--max-util 0.97" "digits_inq5:")
for entry in "${bins[@]}"; do
  tag=${entry%%=*}
  b=${entry#*=}
  for d in "${designs[@]}"; do
    name=${d%%:*}
    flags=${d#*:}
    : > "$out/$tag-$name.times"
    for _ in $(seq $runs); do
      rm -rf "$out/o"
      start=$EPOCHREALTIME
      # shellcheck disable=SC2086
      CAPTURE=$tag-$name PATH="$fake:$PATH" "$b" -q build "$out/$name.skm" -o "$out/o" \
        --target ice40-up5k $flags 2>/dev/null || true
      echo "$start $EPOCHREALTIME" >> "$out/$tag-$name.times"
    done
  done
done

python3 - "$out" "${bins[@]}" <<'PY'
import json, os, statistics, subprocess, sys
out, tags = sys.argv[1], [b.split("=")[0] for b in sys.argv[2:]]
print(f"{'design':<14}" + "".join(f"{t + ' s (median of 5)':>22}" for t in tags)
      + ("   speed-up   same folding   same bytes" if len(tags) == 2 else "   folding"))
def folding(tag, name):
    m = json.load(open(f"{out}/chosen/{tag}-{name}/manifest.json"))
    return ",".join(f"{l['name']}={l['pe']}x{l['simd']}" for l in m["stream"]["layers"]
                    if l["pe"] is not None)
for name in ["lenet_up5k", "digits_inq5"]:
    def seconds(t):
        pairs = [line.split() for line in open(f"{out}/{t}-{name}.times")]
        return statistics.median(float(b) - float(a) for a, b in pairs)
    med = [seconds(t) for t in tags]
    folds = folding(tags[-1], name)
    row = f"{name:<14}" + "".join(f"{x:>22.3f}" for x in med)
    if len(tags) == 2:
        same = subprocess.run(["diff", "-r", f"{out}/chosen/{tags[0]}-{name}",
                               f"{out}/chosen/{tags[1]}-{name}"], capture_output=True).returncode == 0
        same_folds = folding(tags[0], name) == folds
        row += (f"   {med[0] / med[1]:>7.1f}x   {'yes' if same_folds else 'NO':>12}   "
                f"{'yes' if same else 'no'} ({folds})")
    else:
        row += f"   {folds}"
    print(row)
PY

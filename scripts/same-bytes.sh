#!/usr/bin/env bash
# A fixed run of the tool on the embedded digits data whose every output file
# is hashed: the digits flow, a trained MLP compressed by flags (INQ-5,
# ternary) and by three recipes, each quantized model through both hardware
# forms, and the design the fitter chooses for the UP5K (when yosys is
# installed: of a build, only the design handed to synthesis is hashed, not
# the tools' logs and results). Run it before and after a change that should
# not change behaviour and diff the two listings (simulator builds and runs,
# which hold absolute paths, are left out).
# Each model file is listed twice: its bytes, and (as `PATH#content`) the hash
# of everything but its format version and provenance section, so a change to
# what the file records of its history shows apart from a change of the network.
#
# Usage: scripts/same-bytes.sh OUT_DIR [BINARY]   (default: target/release/shiftkit, built)
# Prints one `sha256  path` line per file under OUT_DIR, sorted.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/same-bytes.sh OUT_DIR [BINARY]}
bin=${2:-}
if [ -z "$bin" ]; then
  cargo build --release -q
  bin=target/release/shiftkit
fi
rm -rf "$out"
mkdir -p "$out"
q() { "$bin" "$@" >/dev/null; }

q flow -o "$out/flow" --vectors 200
q train --arch mlp:64-24-10 --epochs 8 -o "$out/float.skm"
q compress "$out/float.skm" --method inq --bits 5 --epochs-per-step 1 -o "$out/inq5.skm"
q compress "$out/float.skm" --method ternary --epochs 2 -o "$out/ternary.skm"
for r in prune-inq5 deep-compression structured; do
  q compress "$out/float.skm" --recipe "recipes/$r.toml" -o "$out/$r.skm"
done
for m in inq5 ternary prune-inq5 deep-compression structured; do
  q hdl "$out/$m.skm" --form unrolled -o "$out/hdl-$m-unrolled"
  q hdl "$out/$m.skm" --form streaming --argmax -o "$out/hdl-$m-streaming"
done
if command -v yosys >/dev/null && command -v nextpnr-ice40 >/dev/null; then
  q build "$out/inq5.skm" -o "$out/build-inq5-up5k" --target ice40-up5k
fi
(cd "$out" && find . -type f ! -path '*/build/verilator/*' ! -path '*/build/icarus/*' \
  \( ! -path './build-*' -o -name '*.v' -o -name '*.hex' -o -name files.f \
     -o -name manifest.json -o -name graph.json \) -print0 | sort -z | xargs -0 sha256sum)
(cd "$out" && find . -name '*.skm' -print0 | sort -z | xargs -0 python3 -c '
import hashlib, json, struct, sys
for path in sys.argv[1:]:
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = json.loads(header["__metadata__"]["shiftkit"])
    meta.pop("version")
    meta["sections"].pop("provenance", None)
    header["__metadata__"]["shiftkit"] = meta
    h = hashlib.sha256(json.dumps(header, sort_keys=True).encode() + raw[8 + n:])
    print(f"{h.hexdigest()}  {path}#content")
')

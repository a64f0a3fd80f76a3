# Sourced by the benchmark scripts after they set `out` (their output
# directory): builds the release binary as $bin (under $CARGO_TARGET_DIR when
# set), points at Fashion-MNIST, and defines `model NAME COMMAND...`, which
# runs COMMAND -o $out/NAME.skm --json once, its JSON in $out/NAME.$model_log
# (default "log"); and `run NAME COMMAND...`, which runs COMMAND --json once,
# its JSON in $out/NAME.json (written whole: a run cut short leaves none, and
# is run again).
mkdir -p "$out"
cargo build --release -q
bin=${CARGO_TARGET_DIR:-target}/release/shiftkit
export SHIFTKIT_DATA_DIR=${SHIFTKIT_DATA_DIR:-/usr/share/datasets/fashion-mnist}
model_log=${model_log:-log}

model() {
  local name=$1; shift
  [ -f "$out/$name.skm" ] || "$@" -o "$out/$name.skm" --json > "$out/$name.$model_log"
}

run() {
  local name=$1; shift
  [ -s "$out/$name.json" ] && return
  "$@" --json > "$out/$name.tmp" || return
  mv "$out/$name.tmp" "$out/$name.json"
  echo "$name done" >&2
}

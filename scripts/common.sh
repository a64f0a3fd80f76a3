# Sourced by the benchmark scripts after they set `out` (their output
# directory): builds the release binary as $bin, points at Fashion-MNIST, and
# defines `model NAME COMMAND...`, which runs COMMAND -o $out/NAME.skm --json
# once, its JSON in $out/NAME.$model_log (default "log").
mkdir -p "$out"
cargo build --release -q
bin=target/release/shiftkit
export SHIFTKIT_DATA_DIR=${SHIFTKIT_DATA_DIR:-/usr/share/datasets/fashion-mnist}
model_log=${model_log:-log}

model() {
  local name=$1; shift
  [ -f "$out/$name.skm" ] || "$@" -o "$out/$name.skm" --json > "$out/$name.$model_log"
}

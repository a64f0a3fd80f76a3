#!/usr/bin/env bash
# Shared-subexpression adders against da4ml (issue 16), side by side on the
# same constant matrices: adders, adder depth and solve time of both tools,
# and Yosys `synth_xilinx -flatten` LUT/FF/CARRY4 of both designs.
#
# Usage: scripts/cmvm-vs-da4ml.sh [OUT_DIR]   (default: target/cmvm-vs-da4ml)
# Run by hand, not in CI: it installs da4ml 0.6.0 from PyPI into a virtual
# environment ($DA4ML_VENV, default OUT_DIR/venv) and needs yosys. The
# mlp:784-300-100-10 row needs Fashion-MNIST (Debian package
# dataset-fashion-mnist) and trains the network (minutes); da4ml had not
# solved its fc1 after 45 minutes here (SKIP_BIG=1 leaves the row out), and
# its Yosys runs only with YOSYS_BIG=1.
#
# Both tools get the same text matrix (rows are inputs, y = x @ W, da4ml's
# convention) and the same integer inputs: signed 8-bit, except the digits
# network's fc1, whose inputs are its unsigned 8-bit pixel codes. shiftkit's
# module registers its outputs (FFs); da4ml's is combinational.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/cmvm-vs-da4ml}
venv=${DA4ML_VENV:-$out/venv}
mkdir -p "$out/m"
cargo build --release -q
bin=$PWD/target/release/shiftkit
export SHIFTKIT_DATA_DIR=${SHIFTKIT_DATA_DIR:-/usr/share/datasets/fashion-mnist}

[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -c "import da4ml" 2> /dev/null || "$venv/bin/pip" install -q "da4ml==0.6.0"

# The matrices. digits fc1: the INQ-5 network `shiftkit flow` makes.
cp scripts/data/dense64x32_pow2.txt "$out/m/dense64x32.txt"
[ -f "$out/flow/compressed.skm" ] || $bin -q flow -o "$out/flow" > /dev/null
$bin dump "$out/flow/compressed.skm" > "$out/m/digits.json"
if [ -d "$SHIFTKIT_DATA_DIR" ] && [ -z "${SKIP_BIG:-}" ]; then
  [ -f "$out/mlp.skm" ] || $bin -q train --arch mlp:784-300-100-10 --data fashion-mnist \
    --epochs 10 -o "$out/mlp.skm" > /dev/null
  [ -f "$out/mlp_inq5.skm" ] || $bin -q compress "$out/mlp.skm" --method inq --bits 5 \
    -o "$out/mlp_inq5.skm" > /dev/null
  $bin dump "$out/mlp_inq5.skm" > "$out/m/mlp.json"
  # The whole network's Verilog, unrolled: the time `hdl` takes.
  start=$(date +%s%N)
  $bin -q hdl "$out/mlp_inq5.skm" -o "$out/mlp_hdl" --form unrolled --json > "$out/mlp_hdl.json"
  echo $(( ($(date +%s%N) - start) / 1000000 )) > "$out/mlp_hdl.ms"
fi

BIN=$bin OUT=$out YOSYS_BIG=${YOSYS_BIG:-0} "$venv/bin/python" - << 'EOF'
import json, os, subprocess, time
from pathlib import Path
import numpy as np
import da4ml
from da4ml.trace import FixedVariableArrayInput, comb_trace
from da4ml.codegen.rtl.verilog.comb import comb_logic_gen

bin_, out = os.environ['BIN'], Path(os.environ['OUT'])
m = out / 'm'
src = Path(da4ml.__file__).parent / 'codegen/rtl/verilog/source'

def layer_matrix(dump, name, path):
    layer = next(l for l in json.loads(Path(dump).read_text())['layers'] if l['name'] == name)
    w = np.array(layer['weights']).reshape(layer['weight_shape'])  # [outputs, inputs]
    np.savetxt(path, w.T, fmt='%d')  # rows are inputs

def da4ml_solve(path, signed):
    w = np.loadtxt(path, dtype=np.float32, ndmin=2)
    inp = FixedVariableArrayInput((w.shape[0],))
    x = inp.quantize(1, 7, 0) if signed else inp.quantize(0, 8, 0)
    t = time.time()
    comb = comb_trace(inp, x @ w)
    seconds = time.time() - t
    adders = sum(1 for op in comb.ops if op.opcode in (0, 1))
    return comb, adders, int(max(comb.latency)), seconds

def shiftkit(path, signed, verilog=None, extra=()):
    args = [bin_, 'cmvm', str(path), '--json', '--force', *extra]
    if not signed:
        args.append('--unsigned')
    if verilog:
        args += ['-o', str(verilog), '--top', 'shiftkit_cmvm']
    r = json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)
    return r['adders'], r['depth'], r['seconds']

def yosys(files, top):
    stat = out / f'{top}.stat.json'
    script = f"read_verilog {' '.join(map(str, files))}; synth_xilinx -flatten -top {top}; " \
             f"tee -q -o {stat} stat -json"
    subprocess.run(['yosys', '-q', '-p', script], check=True, capture_output=True)
    cells = json.loads(stat.read_text())['design']['num_cells_by_type']
    luts = sum(v for k, v in cells.items() if k.startswith('LUT'))
    ffs = sum(v for k, v in cells.items() if k.startswith('FD'))
    return luts, ffs, cells.get('CARRY4', 0)

rows = []
def compare(label, path, signed, synth=True):
    """Two rows: shiftkit at its default depth, and given da4ml's depth."""
    comb, d_add, d_depth, d_sec = da4ml_solve(path, signed)
    tag = Path(path).stem
    p_add, p_depth, _ = shiftkit(path, signed, extra=['--no-share'])
    d = None
    if synth:
        top = f'da4ml_{tag}'
        (out / f'{top}.v').write_text(comb_logic_gen(comb, top))
        lib = [f for f in sorted(src.glob('*.v')) if f.name != 'lookup_table.v']
        d = yosys([out / f'{top}.v', *lib], top)
    extra = max(0, min(16, d_depth - p_depth))
    for name, flags in [('default depth', []), ("at da4ml's depth", ['--share-depth', str(extra)])]:
        if name != 'default depth' and extra == 0:
            continue
        v = out / f'{tag}_shiftkit_{len(flags)}.v'
        s_add, s_depth, s_sec = shiftkit(path, signed, v, flags)
        row = [f'{label}, shiftkit {name}', p_add, s_add, d_add, s_depth, d_depth,
               f'{s_sec:.2f}', f'{d_sec:.2f}']
        if synth:
            s = yosys([v], 'shiftkit_cmvm')
            row += [f'{s[0]:,} / {s[1]:,} / {s[2]:,}', f'{d[0]:,} / {d[1]:,} / {d[2]:,}']
        else:
            row += ['(YOSYS_BIG=1)', '(YOSYS_BIG=1)']
        rows.append(row)
        print(' | '.join(map(str, row)), flush=True)

compare('dense64x32_pow2 (s8 inputs)', m / 'dense64x32.txt', True)
layer_matrix(m / 'digits.json', 'fc1', m / 'digits_fc1.txt')
compare('digits mlp:64-32-10 INQ-5 fc1 (u8 inputs)', m / 'digits_fc1.txt', False)

# da4ml's paper benchmark: 20 random 16x16 matrices, constants 129..255.
rng = np.random.default_rng(16)
res = []
for k in range(20):
    p = m / f'random16_{k}.txt'
    np.savetxt(p, rng.integers(129, 256, size=(16, 16)), fmt='%d')
    _, d_add, d_depth, _ = da4ml_solve(p, True)
    s_add, s_depth, _ = shiftkit(p, True)
    p_add, p_depth, _ = shiftkit(p, True, extra=['--no-share'])
    # shiftkit given the depth da4ml's default result has.
    extra = max(0, min(16, d_depth - p_depth))
    a_add, a_depth, _ = shiftkit(p, True, extra=['--share-depth', str(extra)])
    res.append((p_add, s_add, s_depth, a_add, a_depth, d_add, d_depth))
r = np.array(res, dtype=float)
rows.append(['random 16x16 (mean of 20), shiftkit default depth', r[:, 0].mean(), r[:, 1].mean(),
             r[:, 5].mean(), int(r[:, 2].max()), int(r[:, 6].max()), '', '', '', ''])
rows.append(["random 16x16 (mean of 20), shiftkit at da4ml's depth", r[:, 0].mean(),
             r[:, 3].mean(), r[:, 5].mean(), int(r[:, 4].max()), int(r[:, 6].max()), '', '', '', ''])
print(' | '.join(map(str, rows[-2])))
print(' | '.join(map(str, rows[-1])))
print('per matrix (shiftkit at da4ml depth adders/depth vs da4ml):',
      [(int(a), int(b), int(c), int(d)) for a, b, c, d in r[:, 3:7]])

if (m / 'mlp.json').exists():
    layer_matrix(m / 'mlp.json', 'fc1', m / 'mlp_fc1.txt')
    compare('mlp:784-300-100-10 INQ-5 fc1 (u8 inputs)', m / 'mlp_fc1.txt', False,
            synth=os.environ['YOSYS_BIG'] == '1')

head = ['matrix', 'per-output trees', 'shiftkit adders', 'da4ml adders', 'shiftkit depth',
        'da4ml depth', 'shiftkit s', 'da4ml s', 'shiftkit LUT / FF / CARRY4',
        'da4ml LUT / FF / CARRY4']
print()
print('| ' + ' | '.join(head) + ' |')
print('|' + '---|' * len(head))
for row in rows:
    print('| ' + ' | '.join(f'{v:.1f}' if isinstance(v, float) else str(v) for v in row) + ' |')
if (out / 'mlp_hdl.ms').exists():
    print(f"\nshiftkit hdl mlp:784-300-100-10 INQ-5 --form unrolled: "
          f"{int((out / 'mlp_hdl.ms').read_text()) / 1000:.1f} s")
EOF

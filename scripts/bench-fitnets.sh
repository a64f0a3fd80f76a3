#!/usr/bin/env bash
# FitNets on Fashion-MNIST: a thin, deep student (STUDENT, default
# scripts/data/fitnets-student.json: 4 convolutions and 2 dense layers, 21,826
# parameters; fitnets-student-thin.json has 5,614; fitnets-student-deep.json
# has 7 convolutions, 18,302 parameters, and its guided layers are pool1,
# 8x14x14, and relu8, 32 values; fitnets-student-19.json has 19
# convolutions of 4 to 16 maps, 24,054 parameters, and trains at START_LR=0.01
# LRS=0.005: its guided layers are relu12, 8x14x14, and relu20, 32 values)
# learns from a teacher (TEACHER, default scripts/data/fitnets-teacher.json: 2 wide convolutions
# with batch norm and 2 dense layers, 464,714 parameters, trained TEACHER_ARGS;
# TEACHER=lenet5 TEACHER_ARGS="--lr 0.02" gives LeNet-5, 61,706), three ways
# from the same start (one epoch of plain training, seed by seed), with the
# same epoch budget:
#   ce       the student alone: HINT + KD epochs of cross-entropy
#   kd       distillation alone: HINT + KD epochs of distillation
#   fitnets  HINT epochs of the hint (Adam at 0.001), then KD epochs of
#            distillation; the hint is one of PAIRS (teacher:student layers):
#            relu2:relu4, the middle (the student's 16x10x10 maps regress the
#            teacher's 64x10x10, or LeNet-5's 16x10x10, through a 1x1
#            convolution), or relu3:relu5, the last hidden layers (the
#            student's 48 values regress the teacher's 256, or LeNet-5's
#            120, through a dense layer)
# The start is SGD at START_LR (0.02), every later run SGD at LRS (0.02 made the
# distillation after the hint diverge: the regressed maps no longer fit the
# dense layers after them). Distillation's T and lambda (and FitNets' hint
# pair) are chosen per arm on the validation split (mean over seeds) from a
# small grid, which includes lambda annealed from 0.9 to 0 over each step's
# epochs (FitNets' second stage lowers the teacher's weight so; distillation
# alone gets the same schedule over its HINT + KD epochs); test accuracy is then
# reported, with the per-seed difference FitNets minus distillation alone.
# Accuracy is the integer network's (fixed8 weights, 8-bit activations).
#
# Usage: scripts/bench-fitnets.sh [OUT_DIR]   (default: target/bench-fitnets)
#   SEEDS="1 2 3"  HINT=2  KD=8  LRS=0.01  START_LR=0.02
#   LRS="0.01 0.005"     SGD learning rates after the start, chosen per arm on
#                        the validation split like T and lambda
#   GRID="4:0.5 4:0.9 4:0.9:0"   temperature:lambda pairs; temperature:lambda:end
#                        anneals lambda linearly to end over each step
#   PAIRS="relu2:relu4 relu3:relu5"   hint:guided layers
#   TRAIN_SAMPLES=1000   the students learn from only this many training
#                        samples (an equal share of each class; the teachers
#                        still learn from all); give it its own OUT_DIR, and
#                        more epochs: HINT=20 KD=40 at 1000
# Teachers come from OUT_DIR/teacher_sN.skm (trained here when missing).
# A run whose JSON (or, for a failed student run, .err) exists in OUT_DIR is
# not run again.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/bench-fitnets}
. scripts/common.sh
out=$(cd "$out" && pwd)
student=$(realpath "${STUDENT:-scripts/data/fitnets-student.json}")
seeds=${SEEDS:-1 2 3}
hint=${HINT:-2}
kd=${KD:-8}
lrs=${LRS:-0.01}
subset=()
[ -z "${TRAIN_SAMPLES:-}" ] || subset=(--train-samples "$TRAIN_SAMPLES")
# Runs at 0.01 keep their names of before; others end in _lr<rate>.
lr_tag() { [ "$1" = 0.01 ] || echo "_lr$1"; }
start_lr=${START_LR:-0.02}
grid=${GRID:-4:0.5 4:0.9 4:0.9:0}
pairs=${PAIRS:-relu2:relu4 relu3:relu5}
teacher=${TEACHER:-scripts/data/fitnets-teacher.json}
[ "$teacher" = lenet5 ] || teacher=$(realpath "$teacher")
read -r -a teacher_args <<< "${TEACHER_ARGS:---epochs 15 --lr 0.05 --weight-decay 5e-4}"

# A student's run that fails (a setting whose training diverges ends in an
# error naming the epoch and the tensor gone NaN, or saying that the network
# came to give every image one output) leaves NAME.err instead of NAME.json;
# it is not run again, and the summary marks its setting failed.
try_run() {
  local name=$1
  if [ -s "$out/$name.json" ] || [ -s "$out/$name.err" ]; then return; fi
  if run "$@" 2> "$out/$name.log"; then
    cat "$out/$name.log" >&2
  else
    grep '^error' "$out/$name.log" > "$out/$name.err" || echo "no error message" > "$out/$name.err"
    echo "$name failed: $(cat "$out/$name.err")" >&2
  fi
}

for seed in $seeds; do
  t="$out/teacher_s$seed.skm"
  run "teacher_s${seed}" $bin -q train --arch "$teacher" --data fashion-mnist \
      "${teacher_args[@]}" --seed "$seed" -o "$t"
  s="student_s$seed"
  run "${s}_init" $bin -q train --arch "$student" --data fashion-mnist --epochs 1 --lr "$start_lr" \
      "${subset[@]}" --seed "$seed" -o "$out/$s.skm"
  for lr in $lrs; do
    x=$(lr_tag "$lr")
    printf '[[step]]\nmethod = "finetune"\nepochs = %s\nlr = %s\n' \
      $((hint + kd)) "$lr" > "$out/${s}_ce$x.toml"
    try_run "${s}_ce$x" $bin -q compress "$out/$s.skm" --recipe "$out/${s}_ce$x.toml" --seed "$seed" \
        "${subset[@]}" -o "$out/${s}_ce$x.skm"
    for g in $grid; do
      IFS=: read -r T L E <<< "$g"; tag="T${T}_l$L${E:+-$E}$x"
      distill=$(printf '[distill]\nteacher = "%s"\ntemperature = %s\nlambda = %s\n%s' \
        "$t" "$T" "$L" "${E:+lambda_end = $E}")
      printf '%s\n[[step]]\nmethod = "finetune"\nepochs = %s\nlr = %s\n' \
        "$distill" $((hint + kd)) "$lr" > "$out/${s}_kd_$tag.toml"
      try_run "${s}_kd_$tag" $bin -q compress "$out/$s.skm" --recipe "$out/${s}_kd_$tag.toml" \
          --seed "$seed" "${subset[@]}" -o "$out/${s}_kd_$tag.skm"
      for p in $pairs; do
        f="${s}_fitnets_${p%%:*}-${p##*:}_$tag"
        printf '%s\n[[step]]\nmethod = "hint"\nhint = "%s"\nguided = "%s"\nepochs = %s\n[[step]]\nmethod = "finetune"\nepochs = %s\nlr = %s\n' \
          "$distill" "${p%%:*}" "${p##*:}" "$hint" "$kd" "$lr" > "$out/$f.toml"
        try_run "$f" $bin -q compress "$out/$s.skm" --recipe "$out/$f.toml" --seed "$seed" \
          "${subset[@]}" -o "$out/$f.skm"
      done
    done
  done
done

for who in student teacher; do
  [ -s "$out/$who.info.json" ] || $bin info "$out/${who}_s${seeds%% *}.skm" --json > "$out/$who.info.json"
done
# The summary names runs by the same tags: "rate=tag" per learning rate.
lr_tags=$(for lr in $lrs; do printf '%s=%s ' "$lr" "$(lr_tag "$lr")"; done)
python3 - "$out" "$seeds" "$grid" "$pairs" "$lr_tags" <<'PY'
import json, os, sys, statistics
out, seeds, grid, pairs, lr_tags = sys.argv[1], *(a.split() for a in sys.argv[2:6])
x = dict(t.split("=", 1) for t in lr_tags).get
lrs = [t.split("=", 1)[0] for t in lr_tags]
def params(who): return f"{json.load(open(f'{out}/{who}.info.json'))['network']['params']:,}"
def load(n): return json.load(open(f"{out}/{n}.json"))
def arm(name):
    """(val, test, hint explained) per seed, or None when a seed's run failed."""
    if any(os.path.exists(f"{out}/student_s{s}_{name}.err") for s in seeds): return None
    d = [load(f"student_s{s}_{name}") for s in seeds]
    return ([x["val_integer_accuracy"] for x in d], [x["integer_accuracy"] for x in d],
            [x["steps"][0].get("hint_explained") for x in d])
teacher = [load(f"teacher_s{s}") for s in seeds]
mean = lambda xs: statistics.mean(xs) * 100
print(f"Seeds {', '.join(seeds)}; integer networks (fixed8); test accuracy mean [min, max].\n")
print("| model | params | setting | hint explained (val) | val acc | test acc |")
print("|---|---|---|---|---|---|")
tt = [t["test_accuracy"] for t in teacher]
print(f"| teacher (float) | {params('teacher')} | | | {mean([t['val_accuracy'] for t in teacher]):.2f}% | {mean(tt):.2f}% [{min(tt)*100:.2f}, {max(tt)*100:.2f}] |")
best = {}
tag = lambda g, lr: f"T{g.split(':')[0]}_l{'-'.join(g.split(':')[1:])}{x(lr)}"
at = lambda lr: f"lr {lr}" if len(lrs) > 1 else ""
kd_setting = lambda g, lr: ", ".join(filter(None, [f"T {g.split(':')[0]}, lambda {' -> '.join(g.split(':')[1:])}", at(lr)]))
for a in ["ce", "kd", "fitnets"]:
    if a == "ce":
        options = [(at(lr), arm(f"ce{x(lr)}")) for lr in lrs]
    elif a == "kd":
        options = [(kd_setting(g, lr), arm(f"kd_{tag(g, lr)}")) for lr in lrs for g in grid]
    else:
        options = [(f"hint {p.replace(':', ' -> ')}, {kd_setting(g, lr)}", arm(f"fitnets_{p.replace(':', '-')}_{tag(g, lr)}"))
                   for lr in lrs for p in pairs for g in grid]
    pick = max((o for o in options if o[1]), key=lambda o: mean(o[1][0]))[0]
    for setting, result in options:
        label = {"ce": "student alone", "kd": "student, distillation alone", "fitnets": "student, FitNets (hint, then distillation)"}[a]
        if result is None:
            print(f"| {label} | {params('student')} | {setting} |  | failed | failed |")
            continue
        val, test, fit = result
        if setting == pick: best[a] = test
        mark = " (chosen on val)" if setting == pick and setting else ""
        explained = f"{mean(fit):.1f}%" if None not in fit else ""
        print(f"| {label} | {params('student')} | {setting}{mark} | {explained} | {mean(val):.2f}% | {mean(test):.2f}% [{min(test)*100:.2f}, {max(test)*100:.2f}] |")
diff = [(f - k) * 100 for f, k in zip(best["fitnets"], best["kd"])]
se = f" (standard error {statistics.stdev(diff) / len(diff) ** 0.5:.2f})" if len(diff) > 1 else ""
print(f"\nFitNets minus distillation alone (chosen settings), test, per seed: {', '.join(f'{d:+.2f}' for d in diff)}; mean {statistics.mean(diff):+.2f}{se}")
print("\nFitNets minus distillation alone at the same T, lambda and lr, mean over seeds (val / test):")
for lr in lrs:
    for p in pairs:
        for g in grid:
            f, k = arm(f"fitnets_{p.replace(':', '-')}_{tag(g, lr)}"), arm(f"kd_{tag(g, lr)}")
            gap = f"{mean(f[0]) - mean(k[0]):+.2f} / {mean(f[1]) - mean(k[1]):+.2f}" if f and k else \
                f"FitNets {'failed' if not f else 'ran'}, distillation alone {'failed' if not k else 'ran'}"
            print(f"- hint {p.replace(':', ' -> ')}, {kd_setting(g, lr)}: {gap}")
PY

#!/bin/bash
# Per-trace figures of several `vigil eval --scoring` choices on several corpora, side by
# side, with STIDE-6 from the same runs: per corpus and scoring the per-trace AUC, the
# false-alarm rate at 90% detection, and (for `mixed:` scorings) the pool's bimodality
# coefficient; then the mean of each column over the corpora. A benchmark, not a test: it
# prints figures, one Markdown table. Every report is kept in OUT (NAME.SCORING.json).
#
#   bash Benchmarks/scorings.sh OUT SCORING[,SCORING...] NAME=CORPUS...
#   bash Benchmarks/scorings.sh /tmp/r6 novel_ngrams+novel_syscalls+neighbour,mixed:novel_ngrams+novel_syscalls+neighbour \
#       sendmail=/work/shared/datasets/unm/sendmail synth-19=/tmp/r6/corpora/synth-19
#
# Uses .build/release/vigil (swift build -c release --product vigil), or $VIGIL. Corpora
# run one after another; a corpus whose eval fails is reported and left out of the means.
set -euo pipefail
cd "$(dirname "$0")/.."
VIGIL=${VIGIL:-.build/release/vigil}
[ -x "$VIGIL" ] || { echo "scorings.sh: $VIGIL missing; run: swift build -c release --product vigil" >&2; exit 2; }
[ $# -ge 3 ] || { echo "usage: $0 OUT SCORING[,SCORING...] NAME=CORPUS..." >&2; exit 2; }
OUT=$1 SCORINGS=$2
shift 2
mkdir -p "$OUT"
IFS=, read -r -a LIST <<< "$SCORINGS"
NAMES=()
file() { echo "$OUT/$name.$(echo "$1" | tr ':+' '_-').json"; }  # the report of corpus $name, scoring $1
for arg in "$@"; do
    [[ "$arg" == *=* ]] || { echo "scorings.sh: '$arg' is not NAME=CORPUS" >&2; exit 2; }
    name=${arg%%=*} corpus=${arg#*=}
    [ -d "$corpus" ] || { echo "scorings.sh: $name: no corpus directory $corpus" >&2; exit 2; }
    NAMES+=("$name")
    if ! "$VIGIL" eval "$corpus" --json --stide > "$(file stide)" 2> "$OUT/$name.stide.err"; then
        echo "scorings.sh: $name: vigil eval --stide failed: $(tail -1 "$OUT/$name.stide.err")" >&2
    fi
    for s in "${LIST[@]}"; do
        if ! "$VIGIL" eval "$corpus" --json --scoring "$s" > "$(file "$s")" 2> "$OUT/$name.err"; then
            echo "scorings.sh: $name: vigil eval --scoring $s failed: $(tail -1 "$OUT/$name.err")" >&2
        fi
    done
done
python3 - "$OUT" "$SCORINGS" "${NAMES[@]}" <<'EOF'
import json, os, sys
out, scorings, names = sys.argv[1], ["stide"] + sys.argv[2].split(","), sys.argv[3:]
def load(name, s):
    path = os.path.join(out, f"{name}.{s.replace(':', '_').replace('+', '-')}.json")
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
def f(x):
    return "n/a" if x is None else f"{x:.3f}"
print("| corpus | train | " + " | ".join(f"{s}: auc / far@90" for s in scorings) + " | pool bimodality |")
print("|---|---:|" + "---:|" * (len(scorings) + 1))
sums = {s: [] for s in scorings}
for name in names:
    reports = [load(name, s) for s in scorings]
    if any(r is None or r.get("auc") is None for r in reports):
        print(f"| {name} | " + " | ".join("failed" if r is None else f"{f(r.get('auc'))} / {f(r.get('far_at_dr90'))}" for r in reports) + " | |")
        continue
    for s, r in zip(scorings, reports):
        sums[s].append((r["auc"], r["far_at_dr90"]))
    bimodal = next((r.get("pool_bimodality") for r in reports if r.get("pool_bimodality") is not None), None)
    print(f"| {name} | {reports[0]['train']} | " + " | ".join(f"{f(r['auc'])} / {f(r['far_at_dr90'])}" for r in reports)
          + f" | {f(bimodal)} |")
n = len(next(iter(sums.values())))
if n:
    print(f"| mean of {n} | | " + " | ".join(
        f"{sum(a for a, _ in v) / n:.4f} / {sum(b for _, b in v) / n:.4f}" for v in sums.values()) + " | |")
EOF

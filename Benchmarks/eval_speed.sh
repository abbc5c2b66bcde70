#!/bin/bash
# Scoring speed and model size of `vigil eval`, per corpus: ROUNDS interleaved rounds, then
# per corpus the median and range of syscalls scored per CPU second and per wall second
# (million), the calls scored and model_bytes. A benchmark, not a test: it prints figures.
#
#   bash Benchmarks/eval_speed.sh [ROUNDS] CORPUS...
#   bash Benchmarks/eval_speed.sh 5 /work/shared/datasets/unm/{sendmail,lpr-unm,lpr-mit,login,ps,inetd,xlock,named}
#
# Uses .build/release/vigil (build it first: swift build -c release --product vigil), or $VIGIL.
set -euo pipefail
cd "$(dirname "$0")/.."
VIGIL=${VIGIL:-.build/release/vigil}  # another build may be named, e.g. to compare two
[ -x "$VIGIL" ] || { echo "error: $VIGIL missing; run: swift build -c release --product vigil" >&2; exit 2; }
ROUNDS=5
if [[ "${1:-}" =~ ^[0-9]+$ ]]; then ROUNDS=$1; shift; fi
[ $# -gt 0 ] || { echo "usage: $0 [ROUNDS] CORPUS..." >&2; exit 2; }
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
for r in $(seq "$ROUNDS"); do
    for c in "$@"; do
        "$VIGIL" eval "$c" --json | python3 -c '
import json, sys
r = json.load(sys.stdin)
print(sys.argv[1], r["syscalls_per_cpu_second"], r["syscalls_per_second"], r["scored_calls"], r["model_bytes"])' "$c" >> "$OUT"
    done
done
python3 - "$OUT" <<'EOF'
import sys, statistics, collections
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    c, cpu, wall, calls, size = line.split()
    rows[c].append((float(cpu) / 1e6, float(wall) / 1e6, int(calls), int(size)))
print(f"{'corpus':<40} {'calls':>10} {'M/CPU-s median (range)':>26} {'M/wall-s median (range)':>26} {'model KB':>9}")
for c, v in rows.items():
    cpu = [x[0] for x in v]; wall = [x[1] for x in v]
    print(f"{c:<40} {v[0][2]:>10} {statistics.median(cpu):>9.1f} ({min(cpu):.1f}-{max(cpu):.1f}){'':>5} "
          f"{statistics.median(wall):>9.1f} ({min(wall):.1f}-{max(wall):.1f}){'':>5} {v[0][3] / 1000:>9.0f}")
EOF

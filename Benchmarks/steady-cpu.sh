#!/usr/bin/env bash
# The agent's own CPU in a steady state (issue 16): `vigil enforce` guarding one learned,
# steady workload (a getppid() loop, `vigil-bench loop`, pinned to CPU 1) and nothing else.
# Every call of the loop is a known n-gram, answered in the kernel; the agent should have
# almost nothing to do. Prints, per repetition, vigil's user and system CPU time per second
# of wall time over the window (from /proc/PID/stat), as a share of one core, and the
# records the kernel submitted during the run (vigil's own count at exit).
#
#   sudo Benchmarks/steady-cpu.sh [--reps 5] [--seconds 20] [--vigil PATH] [--bench PATH]
#
# Nothing here is a test: it asserts nothing, it prints figures. It learns into and enforces
# from a temporary directory and guards only the loop's executable (--workload exe:...).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/Benchmarks/lib.sh"  # wait_for
REPS=5
SECONDS_WINDOW=20
VIGIL="$ROOT/.build/release/vigil"
BENCH="$ROOT/.build/release/vigil-bench"
while [ $# -gt 0 ]; do
    case "$1" in
        --reps) REPS=$2; shift 2 ;;
        --seconds) SECONDS_WINDOW=$2; shift 2 ;;
        --vigil) VIGIL=$2; shift 2 ;;
        --bench) BENCH=$2; shift 2 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "steady-cpu.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "steady-cpu.sh: run as root (eBPF)" >&2; exit 1; }
[ -x "$VIGIL" ] || { echo "steady-cpu.sh: no vigil at $VIGIL (swift build -c release, or --vigil PATH)" >&2; exit 1; }
[ -x "$BENCH" ] || { echo "steady-cpu.sh: no vigil-bench at $BENCH (swift build -c release --product vigil-bench, or --bench PATH)" >&2; exit 1; }
BENCH=$(readlink -f "$BENCH")
case "$REPS$SECONDS_WINDOW" in *[!0-9]*) echo "steady-cpu.sh: --reps and --seconds take whole numbers" >&2; exit 2 ;; esac

W=$(mktemp -d /tmp/vigil-steady.XXXXXX)
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -INT "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$W"
}
trap cleanup EXIT
log() { echo "steady-cpu: $*" >&2; }

# utime and stime of PID, in clock ticks.
cpu_ticks() { awk '{ print $14, $15 }' "/proc/$1/stat"; }
TICK=$(getconf CLK_TCK)

log "learning the loop into $W/models"
"$VIGIL" learn --models "$W/models" --only "$BENCH" --save-interval 3600 > "$W/learn.out" 2> "$W/learn.err" & L=$!; PIDS+=("$L")
wait_for "$W/learn.err" 'learning into' 120 "$L" || { cat "$W/learn.err" >&2; exit 1; }
for _ in 1 2 3; do "$BENCH" loop --iterations 2000000 --cpu 1 > /dev/null; done
kill -INT "$L"; wait "$L" || true; PIDS=()
# Capped at alert: a late novelty must not act on the loop mid-measurement.
{ echo "caps:"; for f in "$W"/models/*.json; do echo "  $(basename "$f" .json): alert"; done; } > "$W/policy.yaml"

echo "| rep | vigil user ms/s | vigil system ms/s | CPU, % of one core | records submitted in the run | findings |"
echo "|---:|---:|---:|---:|---|---:|"
for rep in $(seq 1 "$REPS"); do
    "$VIGIL" enforce --models "$W/models" --workload "exe:$BENCH" --control-socket none --policy "$W/policy.yaml" \
        --output "file:$W/enforce-$rep.jsonl" > "$W/enforce.out" 2> "$W/enforce.err" & A=$!; PIDS=("$A")
    wait_for "$W/enforce.err" 'enforce: ' 120 "$A" || { log "vigil enforce did not start: $(tail -2 "$W/enforce.err")"; exit 1; }
    # A fresh agent hashes each executable it sees; wait (at most 30 s) until it is quiet.
    for _ in $(seq 1 30); do
        read -r u0 s0 < <(cpu_ticks "$A"); sleep 1; read -r u1 s1 < <(cpu_ticks "$A")
        [ $(( (u1 + s1 - u0 - s0) * 1000 / TICK )) -lt 30 ] && break
    done
    "$BENCH" loop --iterations 4000000000 --cpu 1 > /dev/null & LOOP=$!
    sleep 2 # its exec and first calls (new to nothing: learned) are behind it
    read -r u0 s0 < <(cpu_ticks "$A"); t0=$(date +%s.%N)
    sleep "$SECONDS_WINDOW"
    read -r u1 s1 < <(cpu_ticks "$A"); t1=$(date +%s.%N)
    kill -KILL "$LOOP"; wait "$LOOP" 2>/dev/null || true
    kill -INT "$A"; wait "$A" || true; PIDS=()
    stopped=$(grep -o 'stopped: [^;]*' "$W/enforce.err" | tail -1 || true)
    findings=$(grep -c '"finding"\|"class_uid":2004' "$W/enforce-$rep.jsonl" 2>/dev/null || true)
    awk -v u="$((u1 - u0))" -v s="$((s1 - s0))" -v t0="$t0" -v t1="$t1" -v hz="$TICK" -v rep="$rep" -v st="${stopped:-?}" -v f="${findings:-0}" 'BEGIN {
        w = t1 - t0; us = u * 1000 / hz / w; ss = s * 1000 / hz / w
        printf "| %d | %.1f | %.1f | %.2f | %s | %s |\n", rep, us, ss, (us + ss) / 10, st, f }'
done
echo
echo "Window ${SECONDS_WINDOW} s per repetition, the loop running throughout; CPU from /proc/PID/stat (ticks of 1/${TICK} s). $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)."

#!/usr/bin/env bash
# scale.sh: one host at scale (issue 16 item 4). Generates profiles of a realistic size
# (vigil-bench scale-profiles: 200 n-grams, 40 syscalls, 4 destinations, a listening port,
# 4 write directories and 4 mapped files each, every profile its own program) in a temp
# models directory, starts cheap sleepers (vigil-bench sleepers), and for each step starts
# `vigil monitor` on those models, scoped to the sleepers' executable (--workload exe:), and
# reports how long the agent took to be ready (profile load), its RSS, and the kernel maps'
# memory (bytes_memlock from bpftool, all maps of the agent, and the profile and process
# maps by name with their max_entries). Steps: 0, 10, 100, 1,000 profiles with 1,000
# sleepers, then 1,000 profiles with 10,000 sleepers. Each step REPS times, interleaved.
#
#   sudo Benchmarks/scale.sh [--reps 3] [--no-build] [--debug] [--out FILE.md]
#
# monitor never acts; the sleepers are this script's own and are killed by process group at
# the end. Prints a Markdown table (medians, min-max) on stdout.
set -euo pipefail

REPS=3
BUILD=1
CONF=release
OUT=""
while [ $# -gt 0 ]; do
    case "$1" in
        --reps) REPS=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --debug) CONF=debug; shift ;;
        --out) OUT=$2; shift 2 ;;
        *) echo "usage: sudo Benchmarks/scale.sh [--reps N] [--no-build] [--debug] [--out FILE.md]" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "scale.sh: needs root (it loads the eBPF probes)" >&2; exit 2; }
command -v bpftool >/dev/null || { echo "scale.sh: needs bpftool (apt-get install bpftool)" >&2; exit 2; }
command -v jq >/dev/null || { echo "scale.sh: needs jq (apt-get install jq)" >&2; exit 2; }
cd "$(dirname "$0")/.."
if [ $BUILD = 1 ]; then swift build -c $CONF --product vigil >&2; swift build -c $CONF --product vigil-bench >&2; fi
BIN=$(swift build -c $CONF --show-bin-path)
VIGIL=$BIN/vigil
BENCH=$BIN/vigil-bench
W=$(mktemp -d /tmp/vigil-scale.XXXXXX)
AGENT=""
SLEEPERS=""
cleanup() {
    # The sleepers first (their SIGTERM handler kills their whole group), then the agent:
    # SIGINT, and SIGKILL if it has not stopped within 10 s (it may be mid-load).
    if [ -n "$SLEEPERS" ]; then kill -TERM "$SLEEPERS" 2>/dev/null || true; wait "$SLEEPERS" 2>/dev/null || true; fi
    if [ -n "$AGENT" ]; then
        kill -INT "$AGENT" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$AGENT" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$AGENT" 2>/dev/null || true
        wait "$AGENT" 2>/dev/null || true
    fi
    [ "${VIGIL_SCALE_KEEP:-0}" = 1 ] && echo "kept $W" >&2 || rm -rf "$W"
}
trap cleanup EXIT
log() { echo "scale.sh: $*" >&2; }
now_ns() { date +%s%N; }

for n in 0 10 100 1000; do
    mkdir -m 700 -p "$W/models-$n"
    [ $n -gt 0 ] && "$BENCH" scale-profiles --count $n --out "$W/models-$n" >&2
done
log "profiles on disk: $(du -sh "$W/models-1000" | cut -f1) for 1,000"

# start_sleepers N: this script's own sleepers, in their own process group.
start_sleepers() {
    "$BENCH" sleepers --count "$1" > "$W/sleepers.out" 2>&1 & SLEEPERS=$!
    for _ in $(seq 1 600); do grep -q ready "$W/sleepers.out" && return 0; sleep 0.1; done
    log "sleepers did not start"; exit 1
}
stop_sleepers() { kill -TERM "$SLEEPERS"; wait "$SLEEPERS" 2>/dev/null || true; SLEEPERS=""; }

RES=$W/results.tsv
: > "$RES"
# measure STEP PROFILES: one agent start, its figures appended to $RES.
measure() {
    local step=$1 n=$2 t0 t1 ready=0
    t0=$(now_ns)
    "$VIGIL" monitor --models "$W/models-$n" --workload "exe:$BENCH" --control-socket none \
        --output "file:$W/out.jsonl" > "$W/agent.out" 2> "$W/agent.err" & AGENT=$!
    # Ready: the agent's first line, once every baseline is in the kernel (at most 10 min).
    for _ in $(seq 1 12000); do
        grep -q 'monitor: ' "$W/agent.err" 2>/dev/null && { ready=1; break; }
        kill -0 "$AGENT" 2>/dev/null || break
        sleep 0.05
    done
    t1=$(now_ns)
    if [ $ready = 0 ]; then log "monitor did not start ($step):"; cat "$W/agent.err" >&2; exit 1; fi
    # Settled: the agent's start-up work (hashing the executables it sees) is done when it
    # uses under 30 ms of CPU a second; at most 30 s.
    local a b i
    for i in $(seq 1 30); do
        a=$(awk '{ print $14 + $15 }' "/proc/$AGENT/stat"); sleep 1; b=$(awk '{ print $14 + $15 }' "/proc/$AGENT/stat")
        [ $(((b - a) * 1000 / $(getconf CLK_TCK))) -lt 30 ] && break
    done
    local rss maps all prof
    rss=$(awk '/VmRSS/ { print $2 }' "/proc/$AGENT/status")
    # The agent's maps: the map ids of its file descriptors (bpftool here lists no owners).
    local ids
    ids=$(grep -h '^map_id:' /proc/$AGENT/fdinfo/* 2>/dev/null | awk '{ print $2 }' | sort -un | jq -s -c . )
    maps=$(bpftool -j map show | jq --argjson ids "$ids" '[.[] | select(.id as $i | $ids | index($i))]')
    all=$(echo "$maps" | jq '[.[].bytes_memlock] | add')
    prof=$(echo "$maps" | jq -r '[.[] | select(.name | test("^vg_(known_|procs$|marks$|slot_modes|egress|ingress|unix_allowed|listens)"))
        | "\(.name)=\(.max_entries)/\(.bytes_memlock)"] | join(" ")')
    printf '%s\t%s\t%.3f\t%s\t%s\t%s\n' "$step" "$n" "$(echo "($t1 - $t0) / 1000000000" | bc -l)" "$rss" "$all" "$prof" >> "$RES"
    kill -INT "$AGENT"; wait "$AGENT" 2>/dev/null || true; AGENT=""
    grep -i "full\|no kernel slot\|could not" "$W/agent.err" >&2 || true
}

# SCALE_STEPS="0:1000 100:10000" runs other steps (profiles:processes; profiles one of 0,
# 10, 100, 1000).
STEPS=("0 1000" "10 1000" "100 1000" "1000 1000" "1000 10000")
[ -n "${SCALE_STEPS:-}" ] && read -r -a STEPS <<< "$(echo "$SCALE_STEPS" | tr ':' '_')" && STEPS=("${STEPS[@]//_/ }")
for rep in $(seq 1 "$REPS"); do
    for s in "${STEPS[@]}"; do
        set -- $s
        start_sleepers "$2"
        measure "profiles=$1,processes=$2" "$1"
        stop_sleepers
    done
    log "round $rep/$REPS done (load $(cut -d' ' -f1-3 /proc/loadavg))"
done

# The table: medians (min-max) over the rounds.
report() {
    echo "| profiles | processes | ready after (s) | agent RSS (MiB) | all BPF maps, memlock (MiB) | profile and process maps: max_entries (memlock KiB) |"
    echo "|---|---|---|---|---|---|"
    for s in "${STEPS[@]}"; do
        set -- $s
        local key="profiles=$1,processes=$2"
        local t r m
        t=$(awk -F'\t' -v k="$key" '$1 == k { print $3 }' "$RES" | sort -n | awk '{ v[NR] = $1 } END { printf "%.2f (%.2f-%.2f)", v[int((NR + 1) / 2)], v[1], v[NR] }')
        r=$(awk -F'\t' -v k="$key" '$1 == k { print $4 }' "$RES" | sort -n | awk '{ v[NR] = $1 } END { printf "%.1f (%.1f-%.1f)", v[int((NR + 1) / 2)] / 1024, v[1] / 1024, v[NR] / 1024 }')
        m=$(awk -F'\t' -v k="$key" '$1 == k { print $5 }' "$RES" | sort -n | awk '{ v[NR] = $1 } END { printf "%.1f", v[int((NR + 1) / 2)] / 1048576 }')
        local last
        last=$(awk -F'\t' -v k="$key" '$1 == k { print $6 }' "$RES" | tail -1 | tr ' ' '\n' \
            | awk -F'[=/]' '{ printf "%s%s %s (%d)", (NR > 1 ? ", " : ""), $1, $2, $3 / 1024 }')
        echo "| $1 | $2 | $t | $r | $m | $last |"
    done
    echo
    echo "$REPS rounds, interleaved; $(nproc) CPUs, kernel $(uname -r), $CONF build; load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
}
if [ -n "$OUT" ]; then report | tee "$OUT"; cp "$RES" "${OUT%.md}.tsv"; else report; fi

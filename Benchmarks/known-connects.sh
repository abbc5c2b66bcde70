#!/usr/bin/env bash
# A busy client of one backend (issue 16, item 3): a copy of bash connecting to a local
# listener as fast as it can, learned, then watched by `vigil monitor` scoped to it
# (--workload exe: the copy), once with the kernel keeping known connects back (the default)
# and once with `--events` (every connect sent), interleaved. Prints, per repetition and
# configuration, the client's connects in the run (to the last hundred), the connect
# records the kernel submitted in the agent's run (every process on the host: the client's
# and the rest), the connects it counted as known instead, and vigil's CPU (user + system, from
# /proc/PID/stat) over the window, as a share of one core.
#
#   sudo Benchmarks/known-connects.sh [--reps 3] [--seconds 10] [--vigil PATH] [--stats]
#
# --stats: in the last repetition's `known` run, the kernel's BPF run-time statistics are on
# for the window, and the agent's programs that ran are listed with runs and ns per run
# (upper bounds: the statistics add some 40-50 ns a run). With VIGIL_BPF_OBJECT=FILE the
# agent loads another build of the kernel side, to compare two (as for the own-socket
# lookup of the connect gate, 0fd3d90).
#
# Nothing here is a test: it asserts nothing, it prints figures. It learns into and
# monitors from a temporary directory; the workload is its own copy of bash, so no other
# bash on the host is in scope.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/Benchmarks/lib.sh"  # wait_for
REPS=3
WINDOW=10
VIGIL="$ROOT/.build/release/vigil"
STATS=0
while [ $# -gt 0 ]; do
    case "$1" in
        --reps) REPS=$2; shift 2 ;;
        --seconds) WINDOW=$2; shift 2 ;;
        --vigil) VIGIL=$2; shift 2 ;;
        --stats) STATS=1; shift ;;
        -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
        *) echo "known-connects.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "known-connects.sh: run as root (eBPF)" >&2; exit 1; }
[ -x "$VIGIL" ] || { echo "known-connects.sh: no vigil at $VIGIL (swift build -c release, or --vigil PATH)" >&2; exit 1; }
case "$REPS$WINDOW" in *[!0-9]*) echo "known-connects.sh: --reps and --seconds take whole numbers" >&2; exit 2 ;; esac

W=$(mktemp -d /tmp/vigil-known-connects.XXXXXX)
PIDS=()
STATS_BEFORE=$(sysctl -n kernel.bpf_stats_enabled)
cleanup() {
    local p
    sysctl -q kernel.bpf_stats_enabled="$STATS_BEFORE" || true
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$W"
}
trap cleanup EXIT
log() { echo "known-connects: $*" >&2; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
TICK=$(getconf CLK_TCK)

cp "$(readlink -f /bin/bash)" "$W/client"
"$VIGIL" demo-service > "$W/port" & S=$!; PIDS+=("$S")
for _ in $(seq 1 50); do [ -s "$W/port" ] && break; sleep 0.1; done
PORT=$(head -1 "$W/port")
# Connects until killed, counting them in $W/count-NAME every 100 (no fork per connect).
LOOP='n=0; while :; do exec 3<>/dev/tcp/127.0.0.1/'"$PORT"'; exec 3<&-; n=$((n+1)); [ $((n % 100)) = 0 ] && echo $n > "$0"; done'

log "learning the client into $W/models"
"$VIGIL" learn --models "$W/models" --only "$W/client" --save-interval 3600 > "$W/learn.out" 2> "$W/learn.err" & L=$!; PIDS+=("$L")
wait_for "$W/learn.err" 'learning into' 120 "$L" || { cat "$W/learn.err" >&2; exit 1; }
"$W/client" -c "$LOOP" "$W/count-learn" & C=$!
sleep 5
kill -KILL "$C"; wait "$C" 2>/dev/null || true
kill -INT "$L"; wait "$L" || true

vg_ids() { bpftool -j prog show | python3 -c 'import json,sys; print(" ".join(str(p["id"]) for p in json.load(sys.stdin) if p.get("name","").startswith("vg_")))'; }
if [ "$STATS" = 1 ]; then
    command -v bpftool >/dev/null || { log "--stats needs bpftool (apt-get install bpftool)"; exit 1; }
    BEFORE=$(vg_ids)  # other agents' programs, left out of the figures
fi
echo "| rep | configuration | client connects | connect records submitted (all processes) | connects kept as known | vigil CPU, % of one core |"
echo "|---:|---|---:|---:|---:|---:|"
for rep in $(seq 1 "$REPS"); do
    for config in known events; do
        extra=(); [ "$config" = events ] && extra=(--events)
        "$VIGIL" monitor --models "$W/models" --workload "exe:$W/client" --control-socket none "${extra[@]}" \
            --output "file:$W/monitor.jsonl" > /dev/null 2> "$W/monitor.err" & A=$!; PIDS=("$S" "$A")
        wait_for "$W/monitor.err" 'monitor: ' 120 "$A" || { log "vigil monitor did not start: $(tail -2 "$W/monitor.err")"; exit 1; }
        sleep 2 # the agent's start (hashing what runs) behind it
        rm -f "$W/count-run"
        "$W/client" -c "$LOOP" "$W/count-run" & C=$!
        sleep 1 # its exec and first calls
        measure=0; [ "$STATS" = 1 ] && [ "$rep" = "$REPS" ] && [ "$config" = known ] && measure=1
        if [ "$measure" = 1 ]; then
            MINE=$(comm -13 <(tr ' ' '\n' <<< "$BEFORE" | sort) <(vg_ids | tr ' ' '\n' | sort) | tr '\n' ' ')
            sysctl -q kernel.bpf_stats_enabled=1
            bpftool -j prog show > "$W/stats0.json"
        fi
        a0=$(cpu_ticks "$A"); t0=$(date +%s.%N)
        sleep "$WINDOW"
        a1=$(cpu_ticks "$A"); t1=$(date +%s.%N)
        if [ "$measure" = 1 ]; then
            bpftool -j prog show > "$W/stats1.json"
            sysctl -q kernel.bpf_stats_enabled="$STATS_BEFORE"
        fi
        kill -KILL "$C"; wait "$C" 2>/dev/null || true
        connects=$(cat "$W/count-run" 2>/dev/null || echo 0)
        kill -INT "$A"; wait "$A" || true
        # The stop summary: records submitted and connects kept, over the agent's whole run.
        line=$(grep -o 'stopped: .*' "$W/monitor.err" | tail -1)
        records=$(echo "$line" | sed -n 's/stopped: [0-9]* records from the kernel (connect=\([0-9]*\).*/\1/p')
        known=$(echo "$line" | sed -n 's/.*kept in the kernel (connect=\([0-9]*\).*/\1/p')
        awk -v rep="$rep" -v cfg="$config" -v c="$connects" -v a="$((a1 - a0))" -v t0="$t0" -v t1="$t1" -v hz="$TICK" \
            -v r="${records:-0}" -v k="${known:-0}" 'BEGIN {
            printf "| %d | %s | %d | %d | %d | %.1f |\n", rep, cfg, c, r, k, a * 100 / hz / (t1 - t0) }'
    done
done
echo
echo "The client ran about $((WINDOW + 1)) s per run; records and kept connects are the agent's stop summary over its whole run (the client's and everything else the host did meanwhile); vigil's CPU over the ${WINDOW} s window. $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)."
if [ "$STATS" = 1 ] && [ -s "$W/stats1.json" ]; then
    echo
    echo "The agent's programs over the last \`known\` window (BPF statistics on${VIGIL_BPF_OBJECT:+; kernel side $VIGIL_BPF_OBJECT}):"
    echo
    python3 - "$W/stats0.json" "$W/stats1.json" "$MINE" <<'EOF'
import json, sys
before = {p["id"]: p for p in json.load(open(sys.argv[1]))}
after = {p["id"]: p for p in json.load(open(sys.argv[2]))}
rows = []
for i in {int(x) for x in sys.argv[3].split()}:
    a, b = after.get(i), before.get(i, {})
    runs = (a or {}).get("run_cnt", 0) - b.get("run_cnt", 0)
    if a and runs > 0:
        rows.append((a["name"], runs, (a.get("run_time_ns", 0) - b.get("run_time_ns", 0)) / runs))
print("| program | runs | ns per run |")
print("|---|---:|---:|")
for name, runs, ns in sorted(rows, key=lambda r: -r[1]):
    print(f"| {name} | {runs} | {ns:.0f} |")
EOF
fi

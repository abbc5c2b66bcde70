#!/usr/bin/env bash
# Where a served request's probe cost goes (issue 16): nginx on loopback (one worker pinned
# to CPU 1, a 1 KiB page, as in overhead.sh) learned under wrk, then judged by
# `vigil monitor` (or enforce) scoped to it, with the kernel's BPF run-time statistics on
# for one wrk run. Prints, for each of the agent's programs that ran: runs per request, ns
# per run, and ns per request; then the requests/s of wrk runs with no vigil and under the
# agent with the statistics off, interleaved.
#
#   sudo Benchmarks/program-costs.sh [--mode monitor|enforce] [--learn-seconds 20]
#                                    [--seconds 5] [--reps 3] [--vigil .build/release/vigil]
#
# The statistics (kernel.bpf_stats_enabled) add some 40-50 ns to every program run, so the
# ns per run are upper bounds; runs per request are exact. Only the programs this script's
# agent loaded are counted (their ids, read before and after it starts): other agents'
# programs on the host are left out. It asserts nothing; it prints figures.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/Benchmarks/lib.sh"       # wait_for, bench_nginx
. "$ROOT/Benchmarks/services.sh"  # svc_install, svc_free_port, svc_wait_port
MODE=monitor LEARN_SECONDS=20 SECONDS_PER_RUN=5 REPS=3 VIGIL="$ROOT/.build/release/vigil"
while [ $# -gt 0 ]; do
    case "$1" in
        --mode) MODE=$2; shift 2 ;;
        --learn-seconds) LEARN_SECONDS=$2; shift 2 ;;
        --seconds) SECONDS_PER_RUN=$2; shift 2 ;;
        --reps) REPS=$2; shift 2 ;;
        --vigil) VIGIL=$2; shift 2 ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "program-costs.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$MODE" in monitor|enforce) ;; *) echo "program-costs.sh: --mode is monitor or enforce, not '$MODE'" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "program-costs.sh: run as root (eBPF)" >&2; exit 1; }
[ -x "$VIGIL" ] || { echo "program-costs.sh: no vigil at $VIGIL (swift build -c release, or --vigil)" >&2; exit 1; }
command -v bpftool >/dev/null || { echo "program-costs.sh: needs bpftool (apt-get install bpftool)" >&2; exit 1; }
svc_install
log() { echo "program-costs: $*" >&2; }

W=$(mktemp -d /tmp/vigil-program-costs.XXXXXX)
chmod 700 "$W"
AGENT="" STATS_BEFORE=$(sysctl -n kernel.bpf_stats_enabled)
cleanup() {
    sysctl -q kernel.bpf_stats_enabled="$STATS_BEFORE" || true
    [ -n "$AGENT" ] && kill -INT "$AGENT" 2>/dev/null && wait "$AGENT" 2>/dev/null || true
    [ -s "$W/nginx/nginx.pid" ] && kill -QUIT "$(cat "$W/nginx/nginx.pid")" 2>/dev/null || true
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORT=$(svc_free_port)
mkdir -p "$W/models"
chmod 700 "$W/models"
bench_nginx "$W/nginx" "$PORT"
NGINX=(/usr/sbin/nginx -p "$W/nginx" -c "$W/nginx/nginx.conf" -e "$W/nginx/logs/error.log")
URL="http://127.0.0.1:$PORT/index.html"
# wrk on CPU 0; prints "REQUESTS RPS".
load() { taskset -c 0 wrk -t1 -c8 -d"${1}s" "$URL" 2>&1 | awk '/requests in/ { n = $1 } /Requests\/sec:/ { r = $2 } END { print n, r }'; }
vg_ids() { bpftool -j prog show | python3 -c 'import json,sys; print(" ".join(str(p["id"]) for p in json.load(sys.stdin) if p.get("name","").startswith("vg_")))'; }

# nginx starts (and its worker execs) under learn, so that its profile is the one judged.
log "learning nginx for ${LEARN_SECONDS}s under wrk"
"$VIGIL" learn --models "$W/models" --only /usr/sbin/nginx --save-interval 3600 > "$W/learn.out" 2> "$W/learn.err" & AGENT=$!
wait_for "$W/learn.err" 'learning into' 120 "$AGENT" || { cat "$W/learn.err" >&2; exit 1; }
"${NGINX[@]}"; svc_wait_port "$PORT"
load "$LEARN_SECONDS" > /dev/null
kill -QUIT "$(cat "$W/nginx/nginx.pid")"; sleep 1
kill -INT "$AGENT"; wait "$AGENT" || true; AGENT=""
{ echo "caps:"; for f in "$W/models"/*.json; do echo "  $(basename "$f" .json): alert"; done; } > "$W/policy.yaml"

# Interleaved: none, then the agent, REPS times; the last agent round with the statistics on.
declare -a NONE_RPS AGENT_RPS
BEFORE=$(vg_ids)
for rep in $(seq 1 "$REPS"); do
    "${NGINX[@]}"; svc_wait_port "$PORT"
    NONE_RPS+=("$(load "$SECONDS_PER_RUN" | awk '{ print $2 }')")
    kill -QUIT "$(cat "$W/nginx/nginx.pid")"; sleep 1

    "$VIGIL" "$MODE" --models "$W/models" --workload exe:/usr/sbin/nginx --control-socket none --policy "$W/policy.yaml" \
        --output "file:$W/$MODE.jsonl" > "$W/agent.out" 2> "$W/agent.err" & AGENT=$!
    wait_for "$W/agent.err" "$MODE: " 120 "$AGENT" || { cat "$W/agent.err" >&2; exit 1; }
    "${NGINX[@]}"; svc_wait_port "$PORT"
    load 1 > /dev/null  # the worker's first requests: its start-up n-grams, out of the figures
    AGENT_RPS+=("$(load "$SECONDS_PER_RUN" | awk '{ print $2 }')")
    if [ "$rep" = "$REPS" ]; then
        MINE=$(comm -13 <(tr ' ' '\n' <<< "$BEFORE" | sort) <(vg_ids | tr ' ' '\n' | sort) | tr '\n' ' ')
        sysctl -q kernel.bpf_stats_enabled=1
        bpftool -j prog show > "$W/stats0.json"
        read -r REQUESTS _ < <(load "$SECONDS_PER_RUN")
        bpftool -j prog show > "$W/stats1.json"
        sysctl -q kernel.bpf_stats_enabled="$STATS_BEFORE"
    fi
    kill -QUIT "$(cat "$W/nginx/nginx.pid")"; sleep 1
    kill -INT "$AGENT"; wait "$AGENT" || true; AGENT=""
    log "round $rep/$REPS done"
done

echo "Command: \`sudo Benchmarks/program-costs.sh --mode $MODE --learn-seconds $LEARN_SECONDS --seconds $SECONDS_PER_RUN --reps $REPS\`"
echo
echo "Machine: kernel $(uname -r), $(nproc) CPUs; $(date -u '+%Y-%m-%d %H:%M UTC'); load $(cut -d' ' -f1-3 /proc/loadavg)."
echo
echo "requests/s, interleaved: no vigil ${NONE_RPS[*]}; vigil $MODE ${AGENT_RPS[*]}"
echo
echo "vigil $MODE's programs over one ${SECONDS_PER_RUN}s wrk run of $REQUESTS requests (BPF statistics on):"
echo
python3 - "$W/stats0.json" "$W/stats1.json" "$REQUESTS" "$MINE" <<'EOF'
import json, sys
before = {p["id"]: p for p in json.load(open(sys.argv[1]))}
after = {p["id"]: p for p in json.load(open(sys.argv[2]))}
requests, mine = int(sys.argv[3]), {int(i) for i in sys.argv[4].split()}
rows = []
for i in mine:
    a, b = after.get(i), before.get(i, {})
    if not a:
        continue
    runs = a.get("run_cnt", 0) - b.get("run_cnt", 0)
    ns = a.get("run_time_ns", 0) - b.get("run_time_ns", 0)
    if runs > 0:
        rows.append((ns / requests, a["name"], runs / requests, ns / runs))
print("| program | runs per request | ns per run | ns per request |")
print("|---|---:|---:|---:|")
for per_req, name, rpr, npr in sorted(rows, reverse=True):
    print(f"| {name} | {rpr:.2f} | {npr:.0f} | {per_req:.0f} |")
print(f"| all | | | {sum(r[0] for r in rows):.0f} |")
EOF

#!/usr/bin/env bash
# False alarms on real services, and detection of a small attack set (issue 14).
#
#   sudo Benchmarks/false-alarms.sh [--learn-max 600] [--judge 600] [--no-build] [--keep DIR] [--vigil BIN]
#
# Debian's redis-server and nginx, each in its own configuration on a free loopback port
# (Benchmarks/services.sh), are learned by `vigil learn --only` under one normal workload
# until both profiles are `stable` (at most --learn-max seconds), then judged by
# `vigil monitor --workload exe:...` for --judge seconds under a *different* normal workload:
#
#   learned                                   judged
#   redis  SET/GET, 16-byte values, 4 clients  LPUSH/LPOP/INCR/HSET/MSET, -P 16 pipelining,
#                                              1 KiB values, 50 clients, INFO, BGSAVE
#   nginx  GETs of files of 1-10 KiB,          a 1 MiB file, keep-alive load (wrk), 404s,
#          one connection per request          HEAD requests, query strings
#
# redis runs with Debian's default snapshot points (services.sh), so the learned write load
# makes it save in the background as a production redis would; the judged BGSAVEs come on top.
#
# Then, still under monitor, the attack set, one step at a time:
#   redis  REPLICAOF to a port nobody learned   (a new outbound connection)
#   redis  a shell injected with gdb            (the service runs a program it never ran)
#   nginx  a shell injected with gdb            (the same, in a worker)
#   redis  CONFIG SET dir /tmp/NEW + CONFIG SET dbfilename x + SAVE (a temp file written and
#          renamed where it never writes; services.sh allows local protected configs)
#
# Prints findings per hour about each service by kind and rung, and for each attack step
# whether a finding named it, how long after the step, and at which rung. Nothing here is a
# test: it prints figures. Every process it starts it stops, by pid.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LEARN_MAX=600
JUDGE=600
BUILD=1
KEEP=""
VIGIL=""
while [ $# -gt 0 ]; do
    case "$1" in
        --learn-max) LEARN_MAX=$2; shift 2 ;;
        --judge) JUDGE=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --keep) KEEP=$2; shift 2 ;;
        --vigil) VIGIL=$2; BUILD=0; shift 2 ;;   # a vigil binary to use instead of the release build
        -h|--help) sed -n '2,29p' "$0"; exit 0 ;;
        *) echo "false-alarms.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "false-alarms.sh: run as root (eBPF)" >&2; exit 1; }
log() { echo "false-alarms: $(date +%T) $*" >&2; }

. "$ROOT/Benchmarks/lib.sh"       # wait_for
. "$ROOT/Benchmarks/services.sh"
svc_install

if [ $BUILD = 1 ]; then
    log "building (release)"
    (cd "$ROOT" && swift build -c release >&2)
fi
VIGIL=${VIGIL:-$ROOT/.build/release/vigil}
[ -x "$VIGIL" ] || { echo "false-alarms.sh: no $VIGIL: build first (swift build -c release)" >&2; exit 1; }

if [ -n "$KEEP" ]; then W=$KEEP; mkdir -p "$W"; else W=$(mktemp -d /tmp/vigil-false-alarms.XXXXXX); fi
chmod 700 "$W"
STARTED=()   # pids this script started and has not stopped
LOADS=()     # load-generator loops
cleanup() {
    local p
    for p in "${LOADS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${STARTED[@]}"; do svc_stop "$p"; done
    [ -s "$W/nginx/nginx.pid" ] && svc_stop "$(cat "$W/nginx/nginx.pid")"
    [ -z "$KEEP" ] && rm -rf "$W"
    return 0
}
trap cleanup EXIT

REDIS_PORT=$(svc_free_port)
NGINX_PORT=$(svc_free_port)
STRAY_PORT=$(svc_free_port)    # nothing listens here until the REPLICAOF step

# nginx content: what it learns on (1-10 KiB) and what it is judged on besides (1 MiB).
mkdir -p "$W/nginx/html/static"
for k in 1 2 4 6 8 10; do head -c $((k * 1024)) /dev/urandom | base64 > "$W/nginx/html/static/f$k.txt"; done
echo '<html>index</html>' > "$W/nginx/html/index.html"
head -c $((1024 * 1024)) /dev/urandom > "$W/nginx/html/big.bin"

# --- learn -----------------------------------------------------------------------------
M="$W/models"
log "learning redis-server and nginx (at most ${LEARN_MAX} s, until both are stable)"
"$VIGIL" learn --models "$M" --only /usr/bin/redis-server --only /usr/sbin/nginx \
    --bucket 15 --window 5 --min-observed 180 --save-interval 10 2> "$W/learn.err" &
LEARN=$!; STARTED+=("$LEARN")
# The probes are attached before the services start, so their execs are seen.
wait_for "$W/learn.err" 'learning into' 120 "$LEARN" \
    || { echo "false-alarms.sh: vigil learn did not start: $(tail -3 "$W/learn.err")" >&2; exit 1; }

REDIS=$(svc_redis_start "$W/redis" "$REDIS_PORT"); STARTED+=("$REDIS")
NGINX=$(svc_nginx_start "$W/nginx" "$NGINX_PORT")
log "redis pid $REDIS on :$REDIS_PORT, nginx master $NGINX on :$NGINX_PORT"

learn_load() {
    while :; do
        redis-benchmark -p "$REDIS_PORT" -q -t set,get -n 5000 -c 4 -d 16 >/dev/null 2>&1 || true
        for k in 1 2 4 6 8 10; do curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/static/f$k.txt" || true; done
        curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/" || true
        sleep 0.2
    done
}
learn_load & LOADS+=($!)

# Both profiles stable at two polls in a row (a profile can fall back to learning when
# something new turns up), or --learn-max.
t0=$(date +%s)
streak=0
while :; do
    sleep 15
    kill -0 "$LEARN" 2>/dev/null || { echo "false-alarms.sh: vigil learn stopped: $(tail -3 "$W/learn.err")" >&2; exit 1; }
    list=$("$VIGIL" profile list --models "$M" 2>/dev/null || true)
    stable=$(echo "$list" | awk '($1 ~ /redis-server|nginx/) && $2 == "stable"' | wc -l)
    el=$(( $(date +%s) - t0 ))
    log "learning: ${el} s, stable profiles of the services: $stable"
    if [ "$stable" -ge 2 ]; then streak=$((streak + 1)); else streak=0; fi
    [ "$streak" -ge 2 ] && break
    [ "$el" -ge "$LEARN_MAX" ] && { log "not both stable after ${LEARN_MAX} s: judging anyway"; break; }
done
LEARNED_S=$(( $(date +%s) - t0 ))
# Learning stops while the load still runs, so no half-finished request ends the window.
kill -INT "$LEARN"; wait "$LEARN" || true
kill -TERM "${LOADS[0]}" 2>/dev/null || true; wait "${LOADS[0]}" 2>/dev/null || true; LOADS=()
"$VIGIL" profile list --models "$M" > "$W/profiles.txt" 2>&1 || true

# --- judge -----------------------------------------------------------------------------
F="$W/findings.jsonl"
log "judging for ${JUDGE} s under another normal workload"
"$VIGIL" monitor --models "$M" --workload exe:/usr/bin/redis-server --workload exe:/usr/sbin/nginx \
    --control-socket none --output "file:$F" 2> "$W/monitor.err" &
MON=$!; STARTED+=("$MON")
wait_for "$W/monitor.err" 'monitor: ' 120 "$MON" \
    || { echo "false-alarms.sh: vigil monitor did not start: $(tail -3 "$W/monitor.err")" >&2; exit 1; }
sleep 2   # its start (hashing what runs) behind it

judge_redis() {
    while :; do
        redis-benchmark -p "$REDIS_PORT" -q -t lpush,lpop,incr,hset,mset -n 20000 -c 50 -P 16 -d 1024 >/dev/null 2>&1 || true
        redis-cli -p "$REDIS_PORT" INFO >/dev/null 2>&1 || true
        redis-cli -p "$REDIS_PORT" BGSAVE >/dev/null 2>&1 || true
        sleep 1
    done
}
judge_nginx() {
    while :; do
        wrk -t1 -c8 -d5s "http://127.0.0.1:$NGINX_PORT/big.bin" >/dev/null 2>&1 || true
        curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/missing-$RANDOM.html" || true
        curl -s -I -o /dev/null "http://127.0.0.1:$NGINX_PORT/static/f4.txt" || true
        curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/static/f2.txt?v=$RANDOM" || true
        sleep 0.5
    done
}
JUDGE_START=$(date +%s.%N)
judge_redis & LOADS+=($!)
judge_nginx & LOADS+=($!)
sleep "$JUDGE"
for p in "${LOADS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
wait "${LOADS[@]}" 2>/dev/null || true; LOADS=()
JUDGE_END=$(date +%s.%N)
sleep 2

# --- attacks ---------------------------------------------------------------------------
STEPS="$W/steps.tsv"; : > "$STEPS"
step() { echo -e "$(date +%s.%N)\t$1\t$2\t$3" >> "$STEPS"; }   # time, service, step, expected kinds
inject_shell() {  # a shell started by the service's own process, through ptrace (gdb)
    gdb -p "$1" -batch -nx -ex 'call (int)system("/bin/sh -c \"id >/dev/null\"")' -ex detach >/dev/null 2>&1 || true
}
log "attacks"
python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $STRAY_PORT)); s.listen(4); s.settimeout(8)
try:
    c, _ = s.accept(); time.sleep(1)
except OSError: pass
" & STRAY=$!
sleep 0.5
step redis replicaof-stray-port new-connect
redis-cli -p "$REDIS_PORT" REPLICAOF 127.0.0.1 "$STRAY_PORT" >/dev/null 2>&1 || true
sleep 3; redis-cli -p "$REDIS_PORT" REPLICAOF NO ONE >/dev/null 2>&1 || true
wait "$STRAY" 2>/dev/null || true
sleep 2
step redis gdb-shell new-exec,unknown-executable; inject_shell "$REDIS"; sleep 3
WORKER=$(pgrep -P "$NGINX" | head -1)
step nginx gdb-shell new-exec,unknown-executable; inject_shell "$WORKER"; sleep 3
ELSEWHERE=$(mktemp -d /tmp/vigil-redis-elsewhere.XXXXXX)
step redis write-outside-data-dir new-write-path
for cmd in "CONFIG SET dir $ELSEWHERE" "CONFIG SET dbfilename x" "SAVE"; do
    # shellcheck disable=SC2086
    reply=$(redis-cli -p "$REDIS_PORT" $cmd 2>&1 || true)
    [ "$reply" = OK ] || log "redis refused '$cmd': $reply (the attack step did nothing)"
done
[ -f "$ELSEWHERE/x" ] || log "redis wrote no $ELSEWHERE/x"
sleep 3
rm -rf "$ELSEWHERE"
kill -INT "$MON"; wait "$MON" || true

# --- report ----------------------------------------------------------------------------
python3 - "$F" "$STEPS" "$JUDGE_START" "$JUDGE_END" "$REDIS" "$NGINX" "$LEARNED_S" "$W/profiles.txt" <<'EOF'
import json, sys, collections
path, steps_path, j0, j1, redis_pid, nginx_pid, learned_s, profiles = sys.argv[1:9]
j0, j1 = float(j0) * 1000, float(j1) * 1000
hours = (j1 - j0) / 3.6e6
rungs = ["alert", "deny-network", "suspend", "kill"]
def service(f):
    p = (f.get("actor") or {}).get("process") or {}
    prof = (f.get("unmapped") or {}).get("vigil_profile", "")
    path = ((p.get("file") or {}).get("path") or "") + " " + prof
    chain = [path] + [a.get("path", "") for a in p.get("ancestry", [])]
    for c in chain:
        if "redis" in c: return "redis"
        if "nginx" in c: return "nginx"
    return "other"
def rung(f):
    # status_detail starts with the rung whenever it is above alert (a finding without a
    # new step says where an earlier step left the process).
    r = (f.get("status_detail") or "").split(":")[0].strip()
    return r if r in rungs else "alert"
findings = []
held = collections.Counter()   # findings the throttle held back, by service (counted, not silent)
for line in open(path):
    try: e = json.loads(line)
    except ValueError: continue
    if e.get("class_uid") == 2004: findings.append(e)
    elif e.get("class_uid") == 6002 and j0 <= e.get("time", 0) <= j1 + 60000:
        for prof, n in ((e.get("unmapped") or {}).get("suppressed_findings") or {}).items():
            held["redis" if "redis" in prof else "nginx" if "nginx" in prof else "other"] += n
print(f"learned for {learned_s} s; profiles:")
for l in open(profiles):
    if "redis" in l or "nginx" in l: print("    " + l.rstrip())
print(f"\njudged {(j1 - j0) / 1000:.0f} s of the held-out normal workload\n")
print("| service | findings | per hour | above alert | held back (throttle) | kinds | rungs |")
print("|---|---|---|---|---|---|---|")
for svc in ("redis", "nginx"):
    fs = [f for f in findings if j0 <= f["time"] <= j1 and service(f) == svc]
    kinds = collections.Counter(k for f in fs for k in f["finding_info"].get("types", []))
    rs = collections.Counter(rung(f) for f in fs)
    above = sum(1 for f in fs if rung(f) != "alert")
    print(f"| {svc} | {len(fs)} | {len(fs) / hours:.1f} | {above} | {held[svc]} | "
          f"{', '.join(f'{k} {n}' for k, n in kinds.most_common()) or '-'} | "
          f"{', '.join(f'{k} {n}' for k, n in rs.most_common()) or '-'} |")
for f in findings:
    if j0 <= f["time"] <= j1 and service(f) != "other":
        print(f"    {service(f)}: {f['message']} [{f['finding_info'].get('desc', '')[:160]}]")
print("\n| attack step | service | detected | after | rung | finding |")
print("|---|---|---|---|---|---|")
steps = [l.rstrip("\n").split("\t") for l in open(steps_path)]
for i, (t, svc, name, kinds) in enumerate(steps):
    t = float(t) * 1000
    end = float(steps[i + 1][0]) * 1000 if i + 1 < len(steps) else float("inf")
    hit = [f for f in findings if t <= f["time"] < end and service(f) == svc
           and set(kinds.split(",")) & set(f["finding_info"].get("types", []))]
    if hit:
        f = hit[0]
        best = max((rung(h) for h in hit), key=rungs.index)
        print(f"| {name} | {svc} | yes | {(f['time'] - t) / 1000:.2f} s | {best} | {f['message'][:90]} |")
    else:
        print(f"| {name} | {svc} | no | - | - | - |")
EOF
log "done (work directory: $W${KEEP:+, kept})"

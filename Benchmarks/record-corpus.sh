#!/usr/bin/env bash
# A Linux corpus of real services, recorded by `vigil record` (issue 14): Debian's
# redis-server and nginx (Benchmarks/services.sh) under several normal workloads, then one
# attack case per step of the false-alarm benchmark's attack set, each recorded into its
# own attack/CASE. The context of every trace (program, parent, lineage) is in
# OUT/context.jsonl.
#
#   sudo Benchmarks/record-corpus.sh [--out DIR] [--normal-seconds 120] [--no-build] [--vigil BIN]
#   vigil eval DIR
#
# Workloads are modest (tens of requests per second), so the ring buffer keeps up with
# every syscall; context.jsonl counts what the kernel dropped per trace.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=/var/tmp/vigil-service-corpus
NORMAL=120
BUILD=1
VIGIL=""
while [ $# -gt 0 ]; do
    case "$1" in
        --out) OUT=$2; shift 2 ;;
        --normal-seconds) NORMAL=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --vigil) VIGIL=$2; BUILD=0; shift 2 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "record-corpus.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "record-corpus.sh: run as root (eBPF)" >&2; exit 1; }
log() { echo "record-corpus: $(date +%T) $*" >&2; }

. "$ROOT/Benchmarks/services.sh"
svc_install
if [ $BUILD = 1 ]; then (cd "$ROOT" && swift build -c release >&2); fi
VIGIL=${VIGIL:-$ROOT/.build/release/vigil}
[ -x "$VIGIL" ] || { echo "record-corpus.sh: no $VIGIL: build first (swift build -c release)" >&2; exit 1; }
[ -e "$OUT" ] && { echo "record-corpus.sh: $OUT exists; give another --out or remove it" >&2; exit 2; }

W=$(mktemp -d /tmp/vigil-record-corpus.XXXXXX); chmod 700 "$W"
STARTED=(); LOADS=()
cleanup() {
    local p
    for p in "${LOADS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${STARTED[@]}"; do svc_stop "$p"; done
    [ -s "$W/nginx/nginx.pid" ] && svc_stop "$(cat "$W/nginx/nginx.pid")"
    rm -rf "$W"
    return 0
}
trap cleanup EXIT

REDIS_PORT=$(svc_free_port); NGINX_PORT=$(svc_free_port); STRAY_PORT=$(svc_free_port)
mkdir -p "$W/nginx/html/static"
for k in 1 2 4 8 16 64; do head -c $((k * 1024)) /dev/urandom | base64 > "$W/nginx/html/static/f$k.txt"; done
echo '<html>index</html>' > "$W/nginx/html/index.html"
head -c $((1024 * 1024)) /dev/urandom > "$W/nginx/html/big.bin"

# record SET SECONDS: records the services (and what they start) while the caller works.
record() {
    "$VIGIL" record --out "$OUT" --set "$1" --only /usr/bin/redis-server --only /usr/sbin/nginx \
        --duration "$2" 2>> "$W/record.err" &
    REC=$!
    sleep 2   # probes attached
}

# Normal work: services start under the recording (their start-up is normal too), then
# several workload mixes, one after the other.
record normal "$((NORMAL + 20))"
REDIS=$(svc_redis_start "$W/redis" "$REDIS_PORT"); STARTED+=("$REDIS")
NGINX=$(svc_nginx_start "$W/nginx" "$NGINX_PORT")
log "normal work for ${NORMAL} s (redis $REDIS, nginx $NGINX)"
end=$(( $(date +%s) + NORMAL ))
i=0
while [ "$(date +%s)" -lt "$end" ]; do
    i=$((i + 1))
    case $((i % 4)) in
        0) redis-benchmark -p "$REDIS_PORT" -q -t set,get -n 300 -c 2 -d 16 >/dev/null 2>&1 || true ;;
        1) redis-benchmark -p "$REDIS_PORT" -q -t lpush,lpop,incr -n 300 -c 4 -P 4 -d 256 >/dev/null 2>&1 || true ;;
        2) redis-cli -p "$REDIS_PORT" INFO >/dev/null 2>&1; redis-cli -p "$REDIS_PORT" BGSAVE >/dev/null 2>&1 || true ;;
        3) redis-cli -p "$REDIS_PORT" MSET a 1 b 2 c 3 >/dev/null 2>&1; redis-cli -p "$REDIS_PORT" HSET h f v >/dev/null 2>&1 || true ;;
    esac
    for k in 1 2 4 8 16 64; do curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/static/f$k.txt" || true; done
    curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/missing-$i.html" || true
    curl -s -I -o /dev/null "http://127.0.0.1:$NGINX_PORT/" || true
    [ $((i % 10)) = 0 ] && { curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/big.bin" || true; }
    sleep 0.3
done
# Reload nginx once: new workers are normal too.
kill -HUP "$NGINX"; sleep 2
wait "$REC" || true

inject_shell() {
    gdb -p "$1" -batch -nx -ex 'call (int)system("/bin/sh -c \"id >/dev/null; uname -a >/dev/null\"")' -ex detach >/dev/null 2>&1 || true
}
log "attacks"
record attack/redis-replicaof 8
python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $STRAY_PORT)); s.listen(4); s.settimeout(5)
try:
    c, _ = s.accept(); c.sendall(b'-ERR nope\r\n'); time.sleep(1)
except OSError: pass
" &
redis-cli -p "$REDIS_PORT" REPLICAOF 127.0.0.1 "$STRAY_PORT" >/dev/null 2>&1 || true
sleep 3; redis-cli -p "$REDIS_PORT" REPLICAOF NO ONE >/dev/null 2>&1 || true
wait "$REC" || true

record attack/redis-gdb-shell 6
inject_shell "$REDIS"
wait "$REC" || true

record attack/nginx-gdb-shell 6
inject_shell "$(pgrep -P "$NGINX" | head -1)"
wait "$REC" || true

record attack/redis-write-outside 6
mkdir -p "$W/elsewhere"
redis-cli -p "$REDIS_PORT" CONFIG SET dir "$W/elsewhere" >/dev/null 2>&1 || true
redis-cli -p "$REDIS_PORT" CONFIG SET dbfilename authorized_keys >/dev/null 2>&1 || true
redis-cli -p "$REDIS_PORT" SAVE >/dev/null 2>&1 || true
wait "$REC" || true

# The services' main processes are still running when each recording ends, so every
# attack case also holds their (mostly normal) traces, as in ADFA-LD.
log "done: $OUT ($(find "$OUT" -name '*.trace' | wc -l) traces); drops: $(grep -o '"ring_drops": [1-9][0-9]*' "$OUT/context.jsonl" | wc -l) traces with drops"
grep -h "recorded" "$W/record.err" >&2 || true

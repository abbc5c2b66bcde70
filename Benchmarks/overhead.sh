#!/usr/bin/env bash
# Overhead, side by side (issues 7, 16): the same workloads under no monitoring, the floor (an
# empty tp_btf/sys_enter program), vigil learn, vigil trace, vigil monitor and vigil enforce
# on the learned workloads,
# auditd (exec+connect rules; every syscall of the workloads), bpftrace counting syscalls
# per pid, and libbpf-tools' syscount. Interleaved: each round runs every configuration
# once, so the machine's drift hits all alike. Then the scale runs (profiles, processes).
#
#   sudo Benchmarks/overhead.sh [--reps 5] [--wrk-seconds 5] [--no-scale] [--no-build] [--out FILE]
#                               [--configs 'none,floor,vigil enforce'] [--iterations-divisor N]
#
# Prints Markdown tables (vigil-bench report). Installs what it needs from Debian
# (nginx, wrk, auditd, bpftrace, libbpf-tools) when missing, without starting their
# services; starts and stops every daemon itself from a temporary directory; removes its
# audit rules and restores the audit state it found. Nothing here is a test: it asserts
# nothing, it prints figures.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/Benchmarks/lib.sh"  # wait_for, bench_nginx
REPS=5
WRK_SECONDS=5
SCALE=1
BUILD=1
OUT=""
ONLY_CONFIGS=""
GETPPID_N=2000000
# A program just exec'd, timed from its first loop call (no warm-up): FRESH_RUNS processes
# of FRESH_N getppid() calls each, the median of their figures one sample.
FRESH_N=20000
FRESH_RUNS=9
OPENCLOSE_N=200000
CONNECT_N=20000
# auditd writes a record per audited syscall; at its pace the full loops would take minutes.
AUDIT_ALL_DIVISOR=40
ARGS="$*"
while [ $# -gt 0 ]; do
    case "$1" in
        --reps) REPS=$2; shift 2 ;;
        --wrk-seconds) WRK_SECONDS=$2; shift 2 ;;
        --no-scale) SCALE=0; shift ;;
        --no-build) BUILD=0; shift ;;
        --out) OUT=$2; shift 2 ;;
        --iterations-divisor) # quick trial runs: fewer loop iterations everywhere
            GETPPID_N=$((GETPPID_N / $2)); FRESH_N=$((FRESH_N / $2)); OPENCLOSE_N=$((OPENCLOSE_N / $2)); CONNECT_N=$((CONNECT_N / $2)); shift 2 ;;
        --configs) ONLY_CONFIGS=$2; shift 2 ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "overhead.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "overhead.sh: run as root (eBPF, auditd)" >&2; exit 1; }

log() { echo "overhead: $*" >&2; }

# --- what it needs -------------------------------------------------------------------
install_missing() {
    local need=() pkg
    for pkg in nginx wrk auditd bpftrace libbpf-tools bpftool make gcc util-linux coreutils python3; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
    done
    [ ${#need[@]} -eq 0 ] && return 0
    log "installing ${need[*]}"
    # Their services are not started by the install: this script runs them itself.
    local guard=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; guard=1
    fi
    apt-get update -qq || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2 || {
        log "some packages could not be installed; their configurations will say 'not available'"; }
    [ $guard = 1 ] && rm -f /usr/sbin/policy-rc.d
    return 0
}
install_missing

BIN="$ROOT/.build/release"
if [ $BUILD = 1 ]; then
    log "building (release)"
    (cd "$ROOT" && swift build -c release >&2)
fi
VIGIL="$BIN/vigil"
BENCH=$(readlink -f "$BIN/vigil-bench")
[ -x "$VIGIL" ] && [ -x "$BENCH" ] || { echo "overhead.sh: build first (swift build -c release)" >&2; exit 1; }

W=$(mktemp -d /tmp/vigil-overhead.XXXXXX)
chmod 700 "$W"
RES="$W/results.tsv"
: > "$RES"
PIDS=()            # daemons this script started and has not stopped yet
AUDIT_ENABLED_BEFORE=""

cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    [ -s "$W/nginx/nginx.pid" ] && kill -QUIT "$(cat "$W/nginx/nginx.pid")" 2>/dev/null || true
    if [ -n "$AUDIT_ENABLED_BEFORE" ]; then
        auditctl -D >/dev/null 2>&1 || true
        auditctl -e "$AUDIT_ENABLED_BEFORE" >/dev/null 2>&1 || true
    fi
    sleep 0.5
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    if [ -n "${VIGIL_OVERHEAD_KEEP:-}" ]; then log "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

meta() { printf 'meta\t%s\t-\t%s\n' "$1" "$2" >> "$RES"; }
sample() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$RES"; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
now_ns() { date +%s%N; }

meta command "sudo Benchmarks/overhead.sh${ARGS:+ $ARGS}"
meta kernel "$(uname -r)"
meta cpus "$(nproc)"
meta cpu_model "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
meta memory "$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
meta when "$(date -u '+%Y-%m-%d %H:%M UTC')"
meta reps "$REPS"
meta load_start "$(loadavg)"

# --- the workloads ---------------------------------------------------------------------
# A port where nothing listens (connect is refused) and one for nginx.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
REFUSED_PORT=$(free_port)
NGINX_PORT=$(free_port)

mkdir -p "$W/proj"
bench_nginx "$W/nginx" "$NGINX_PORT"

# A small C project: 12 units and a program, built with make -j1.
for i in $(seq 1 12); do
    cat > "$W/proj/unit$i.c" <<EOF
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
struct item$i { char name[32]; double weight; int rank; };
static int cmp$i(const void *a, const void *b) {
    const struct item$i *x = a, *y = b;
    return x->weight < y->weight ? -1 : x->weight > y->weight;
}
double unit$i(int n) {
    struct item$i *v = calloc((size_t)n, sizeof *v);
    double sum = 0;
    for (int k = 0; k < n; k++) { snprintf(v[k].name, sizeof v[k].name, "item-%d-%d", $i, k); v[k].weight = (k * 7919 % 1000) / 10.0; v[k].rank = k; }
    qsort(v, (size_t)n, sizeof *v, cmp$i);
    for (int k = 0; k < n; k++) sum += v[k].weight * (double)strlen(v[k].name);
    free(v);
    return sum;
}
EOF
done
{
    echo '#include <stdio.h>'
    for i in $(seq 1 12); do echo "double unit$i(int n);"; done
    echo 'int main(void) { double s = 0;'
    for i in $(seq 1 12); do echo "  s += unit$i(100);"; done
    echo '  printf("%f\n", s); return 0; }'
} > "$W/proj/main.c"
{
    echo 'CFLAGS = -O2 -g -Wall'
    echo "OBJS = main.o $(for i in $(seq 1 12); do printf 'unit%s.o ' "$i"; done)"
    echo 'prog: $(OBJS)'
    printf '\t$(CC) $(CFLAGS) -o $@ $(OBJS)\n'
    echo '%.o: %.c'
    printf '\t$(CC) $(CFLAGS) -c -o $@ $<\n'
    echo 'clean:'
    printf '\trm -f prog *.o\n'
} > "$W/proj/Makefile"

# Every executable the workloads run, for `vigil learn --only`: the benchmark learns its
# own workloads, not the other programs of this shared machine. Not the shell: enforce's
# exec guard would then act on every shell of the machine that does something new.
ONLY=()
for p in "$BENCH" /usr/sbin/nginx /usr/bin/wrk /usr/bin/make /usr/bin/gcc /usr/bin/x86_64-linux-gnu-gcc-12 \
         /usr/bin/cc /usr/bin/as /usr/bin/x86_64-linux-gnu-as /usr/bin/ld \
         /usr/bin/x86_64-linux-gnu-ld /usr/bin/x86_64-linux-gnu-ld.bfd; do
    [ -e "$p" ] && ONLY+=(--only "$p")
done
for p in /usr/lib/gcc/x86_64-linux-gnu/*/cc1 /usr/lib/gcc/x86_64-linux-gnu/*/collect2 /usr/libexec/gcc/x86_64-linux-gnu/*/cc1 /usr/libexec/gcc/x86_64-linux-gnu/*/collect2; do
    [ -x "$p" ] && ONLY+=(--only "$p")
done
# The same programs are the workloads enforce guards (it acts on nothing else).
WORKLOADS=()
for ((i = 1; i < ${#ONLY[@]}; i += 2)); do WORKLOADS+=(--workload "exe:${ONLY[$i]}"); done

# p99 from wrk's latency distribution, in ms.
to_ms() { awk '{ v=$1; if (v ~ /us$/) { sub(/us$/,"",v); print v/1000 } else if (v ~ /ms$/) { sub(/ms$/,"",v); print v } else if (v ~ /s$/) { sub(/s$/,"",v); print v*1000 } else print v }'; }

agent_ticks() { [ -n "${1:-}" ] && awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
CLK_TCK=$(getconf CLK_TCK)

# run_workloads SECTION CONFIG DIVISOR AGENT_PID: every workload once; samples to $RES.
# Runs in a subshell with audit login uid 4242, which the "every syscall" audit rule selects.
run_workloads() {
    local section=$1 config=$2 div=$3 agent=${4:-}
    (
        echo 4242 > /proc/self/loginuid
        local t0 c0 t1 c1 out v
        t0=$(now_ns); c0=$(agent_ticks "$agent")
        mkdir -p "$W/writes"
        for kind in getppid openclose writefile connect; do
            case $kind in getppid) n=$GETPPID_N ;; openclose|writefile) n=$OPENCLOSE_N ;; connect) n=$CONNECT_N ;; esac
            v=$("$BENCH" loop --kind $kind --iterations $((n / div)) --cpu 1 --port "$REFUSED_PORT" --dir "$W/writes")
            sample "$section" "$config" "${kind}_ns" "$(echo "$v" | awk '{ print $1 }')"
            sample "$section" "$config" "${kind}_wall_ns" "$(echo "$v" | awk '{ print $2 }')"
        done
        local fresh=() r
        for r in $(seq 1 "$FRESH_RUNS"); do
            fresh+=("$("$BENCH" loop --kind getppid --iterations $((FRESH_N / div)) --warmup 0 --cpu 1 | awk '{ print $1 }')")
        done
        sample "$section" "$config" getppid_fresh_ns "$(printf '%s\n' "${fresh[@]}" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')"
        t1=$(now_ns); c1=$(agent_ticks "$agent")
        if [ -n "$agent" ]; then
            sample "$section" "$config" agent_cpu_ms_per_s_micro "$(awk -v c=$((c1 - c0)) -v t=$((t1 - t0)) -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", c * 1000 / hz / (t / 1e9) }')"
        fi

        /usr/sbin/nginx -p "$W/nginx" -c "$W/nginx/nginx.conf" -e "$W/nginx/logs/error.log"
        for _ in $(seq 1 50); do [ -s "$W/nginx/nginx.pid" ] && break; sleep 0.1; done
        local master worker n0 n1
        master=$(cat "$W/nginx/nginx.pid" 2>/dev/null || true)
        worker=$(pgrep -P "$master" | head -1 || true)
        n0=$(agent_ticks "$worker")
        out=$(taskset -c 0 wrk -t1 -c8 -d"${WRK_SECONDS}s" --latency "http://127.0.0.1:$NGINX_PORT/index.html" 2>&1 || true)
        n1=$(agent_ticks "$worker")
        kill -QUIT "$master" 2>/dev/null || true
        for _ in $(seq 1 50); do [ -e "$W/nginx/nginx.pid" ] || break; sleep 0.1; done
        v=$(echo "$out" | awk '/Requests\/sec:/ { print $2 }')
        [ -n "$v" ] && sample "$section" "$config" nginx_rps "$v"
        # CPU time of the nginx worker per request: what the monitoring costs the service,
        # whatever else the machine runs meanwhile (wall-clock figures depend on that).
        v=$(echo "$out" | awk '/requests in/ { print $1 }')
        [ -n "$v" ] && [ "$v" -gt 0 ] && sample "$section" "$config" nginx_cpu_us_per_req "$(awk -v c=$((n1 - n0)) -v hz="$CLK_TCK" -v r="$v" 'BEGIN { printf "%.2f", c * 1e6 / hz / r }')"
        v=$(echo "$out" | awk '$1 == "99%" { print $2 }' | to_ms)
        [ -n "$v" ] && sample "$section" "$config" nginx_p99_ms "$v"
        [ -z "$v" ] && echo "overhead: wrk under $config: $out" >&2

        # Cleaned by this shell, not by `make clean`: under enforce, make's shell would run
        # rm with make's responses, and the exec guard kills rm once make deviated.
        rm -f "$W/proj"/*.o "$W/proj/prog"
        local b0 b1
        b0=$(now_ns)
        local TIMEFORMAT='%U %S'
        if { time make -s -j1 -C "$W/proj" prog >/dev/null 2>"$W/make.err"; } 2> "$W/make.time"; then
            b1=$(now_ns)
            sample "$section" "$config" build_s "$(awk -v t=$((b1 - b0)) 'BEGIN { printf "%.3f", t / 1e9 }')"
            # CPU time of make and everything it ran (user + system).
            sample "$section" "$config" build_cpu_s "$(awk '{ printf "%.3f", $1 + $2 }' "$W/make.time")"
        else
            echo "overhead: the build failed under $config: $(tail -1 "$W/make.err")" >&2
            sample "$section" "$config" build_failed 1
        fi

        t1=$(now_ns); c1=$(agent_ticks "$agent")
        if [ -n "$agent" ]; then
            sample "$section" "$config" agent_cpu_ms_per_s "$(awk -v c=$((c1 - c0)) -v t=$((t1 - t0)) -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", c * 1000 / hz / (t / 1e9) }')"
            sample "$section" "$config" agent_rss_kb "$(awk '/VmRSS/ { print $2 }' "/proc/$agent/status")"
        fi
    )
}


# stop PID SIGNAL: signal a daemon this script started and wait for it to end.
stop() {
    kill "-$2" "$1" 2>/dev/null || true
    local i
    for i in $(seq 1 300); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    local keep=() p
    for p in "${PIDS[@]}"; do [ "$p" != "$1" ] && keep+=("$p"); done
    PIDS=("${keep[@]}")
}

# settle PID SECTION CONFIG: a freshly started agent hashes every executable it sees run
# (SHA-256, once per path); on a machine where others build, that start-up work takes a
# while. Wait (at most 30 s) until it used under 30 ms of CPU over one second, so what is
# measured is its steady state; record how long that took.
settle() {
    local i a b t0=$(now_ns)
    for i in $(seq 1 30); do
        a=$(agent_ticks "$1"); sleep 1; b=$(agent_ticks "$1")
        [ $(((b - a) * 1000 / CLK_TCK)) -lt 30 ] && break
    done
    sample "$2" "$3" agent_settle_s "$(awk -v t=$(($(now_ns) - t0)) 'BEGIN { printf "%.1f", t / 1e9 }')"
}

drops_from() { grep -oE '[0-9]+ (events )?dropped in the kernel' "$1" | tail -1 | grep -oE '^[0-9]+' || true; }

# --- auditd ------------------------------------------------------------------------------
AUDIT_OK=""
if ! command -v auditd >/dev/null || ! command -v auditctl >/dev/null; then
    AUDIT_OK="auditd is not installed (the Debian package could not be installed)"
elif pgrep -x auditd >/dev/null; then
    AUDIT_OK="an auditd is already running on this host; left alone"
elif ! auditctl -s >/dev/null 2>&1; then
    AUDIT_OK="the kernel refuses audit (auditctl -s failed)"
elif [ "$(auditctl -l 2>/dev/null)" != "No rules" ]; then
    AUDIT_OK="this host has audit rules of its own; left alone"
else
    AUDIT_ENABLED_BEFORE=$(auditctl -s | awk '$1 == "enabled" { print $2 }')
fi
mkdir -p "$W/audit/plugins.d"
cat > "$W/audit/auditd.conf" <<EOF
local_events = yes
write_logs = yes
log_file = $W/audit/audit.log
log_group = root
log_format = ENRICHED
flush = INCREMENTAL_ASYNC
freq = 50
max_log_file = 64
num_logs = 2
max_log_file_action = ROTATE
space_left = 100
space_left_action = IGNORE
admin_space_left = 50
admin_space_left_action = IGNORE
disk_full_action = IGNORE
disk_error_action = IGNORE
priority_boost = 4
q_depth = 2000
plugin_dir = $W/audit/plugins.d
EOF
chmod 640 "$W/audit/auditd.conf"

# --- configurations ----------------------------------------------------------------------
# start_CONFIG: starts the monitor; sets AGENT (pid measured for CPU) and STOP_SIG.
# A start that fails marks the configuration not available, with the reason.
AGENT=""; STOP_SIG=TERM; DIVISOR=1; WHY=""
LEARNED="$W/models"       # learned before the rounds, for enforce
LEARN_SCRATCH="$W/learn"  # where the learn configuration learns (continues across rounds)
mkdir -m 700 -p "$LEARNED" "$LEARN_SCRATCH"

start_config() {
    AGENT=""; STOP_SIG=TERM; DIVISOR=1; WHY=""
    case "$1" in
        none) ;;
        floor)
            "$BENCH" floor > "$W/floor.out" 2>&1 & AGENT=$!; PIDS+=("$AGENT")
            wait_for "$W/floor.out" '^ready' 60 "$AGENT" || WHY="vigil-bench floor did not start: $(tail -2 "$W/floor.out")"
            AGENT="" ;;  # the floor has no user space to measure
        "vigil learn")
            "$VIGIL" learn --models "$LEARN_SCRATCH" "${ONLY[@]}" --save-interval 3600 > "$W/learn.out" 2> "$W/learn.err" & AGENT=$!; PIDS+=("$AGENT")
            wait_for "$W/learn.err" 'learning into' 120 "$AGENT" || WHY="vigil learn did not start: $(tail -2 "$W/learn.err")" ;;
        "vigil trace")
            # Read-only, host-wide: exec, fork, exit and the network calls of every process.
            "$VIGIL" trace --output "file:$W/trace.jsonl" > "$W/trace.out" 2> "$W/trace.err" & AGENT=$!; PIDS+=("$AGENT")
            wait_for "$W/trace.err" 'tracing: ' 120 "$AGENT" || WHY="vigil trace did not start: $(tail -2 "$W/trace.err")" ;;
        "vigil monitor")
            # Judges the learned workloads, acts on nothing.
            "$VIGIL" monitor --models "$LEARNED" "${WORKLOADS[@]}" --control-socket none --output "file:$W/monitor.jsonl" > "$W/monitor.out" 2> "$W/monitor.err" & AGENT=$!; PIDS+=("$AGENT")
            wait_for "$W/monitor.err" 'monitor: ' 120 "$AGENT" || WHY="vigil monitor did not start: $(tail -2 "$W/monitor.err")" ;;
        "vigil enforce")
            "$VIGIL" enforce --models "$LEARNED" "${WORKLOADS[@]}" --control-socket none --policy "$W/policy.yaml" --output "file:$W/enforce.jsonl" > "$W/enforce.out" 2> "$W/enforce.err" & AGENT=$!; PIDS+=("$AGENT")
            wait_for "$W/enforce.err" 'enforce: ' 120 "$AGENT" || WHY="vigil enforce did not start: $(tail -2 "$W/enforce.err")" ;;
        "vigil enforce --segment")
            "$VIGIL" enforce --segment --models "$LEARNED" "${WORKLOADS[@]}" --control-socket none --policy "$W/policy-segment.yaml" --output "file:$W/segment.jsonl" > "$W/segment.out" 2> "$W/segment.err" & AGENT=$!; PIDS+=("$AGENT")
            wait_for "$W/segment.err" 'enforce: ' 120 "$AGENT" || WHY="vigil enforce --segment did not start: $(tail -2 "$W/segment.err")" ;;
        "auditd exec+connect"|"auditd every syscall")
            if [ -n "$AUDIT_OK" ]; then WHY=$AUDIT_OK; return; fi
            auditd -n -c "$W/audit" > "$W/auditd.out" 2>&1 & AGENT=$!; PIDS+=("$AGENT")
            local i
            for i in $(seq 1 50); do auditctl -s | grep -q "^pid $AGENT" && break; sleep 0.1; done
            auditctl -D >/dev/null; auditctl -b 8192 >/dev/null
            if [ "$1" = "auditd exec+connect" ]; then
                auditctl -a always,exit -F arch=b64 -S execve,execveat -k vigil-bench-exec >/dev/null
                auditctl -a always,exit -F arch=b64 -S connect -k vigil-bench-connect >/dev/null
            else
                auditctl -a always,exit -F arch=b64 -S all -F auid=4242 -k vigil-bench-all >/dev/null
                DIVISOR=$AUDIT_ALL_DIVISOR
            fi
            auditctl -e 1 >/dev/null ;;
        "bpftrace (count per pid)")
            command -v bpftrace >/dev/null || { WHY="bpftrace is not installed"; return; }
            bpftrace -e 'tracepoint:raw_syscalls:sys_enter { @[pid] = count(); }' > "$W/bpftrace.out" 2>&1 & AGENT=$!; PIDS+=("$AGENT")
            STOP_SIG=INT
            wait_for "$W/bpftrace.out" 'Attaching' 120 "$AGENT" || WHY="bpftrace did not attach: $(tail -2 "$W/bpftrace.out")"
            sleep 1 ;;  # "Attaching" is printed just before the attach itself
        "syscount (libbpf-tools)")
            [ -x /usr/sbin/syscount ] || { WHY="libbpf-tools' syscount is not installed"; return; }
            stdbuf -oL /usr/sbin/syscount > "$W/syscount.out" 2>&1 & AGENT=$!; PIDS+=("$AGENT")
            STOP_SIG=INT
            wait_for "$W/syscount.out" 'Tracing' 120 "$AGENT" || WHY="syscount did not start: $(tail -2 "$W/syscount.out")" ;;
    esac
}

stop_config() {
    case "$1" in
        floor) stop "${PIDS[-1]}" TERM ;;
        "vigil learn")
            stop "$AGENT" INT
            local d; d=$(drops_from "$W/learn.err"); [ -n "$d" ] && sample main "$1" drops "$d" ;;
        "vigil trace"|"vigil monitor"|"vigil enforce")
            stop "$AGENT" INT
            local f="$W/${1#vigil }.err" d
            d=$(drops_from "$f"); [ -n "$d" ] && sample main "$1" drops "$d" ;;
        "vigil enforce --segment")
            stop "$AGENT" INT
            local d; d=$(drops_from "$W/segment.err"); [ -n "$d" ] && sample main "$1" drops "$d" ;;
        auditd*)
            [ -n "$AUDIT_OK" ] && return
            auditctl -D >/dev/null; auditctl -e "$AUDIT_ENABLED_BEFORE" >/dev/null
            local lost; lost=$(auditctl -s | awk '$1 == "lost" { print $2 }')
            sample main "$1" audit_lost_total "$lost"
            stop "$AGENT" TERM ;;
        bpftrace*|syscount*) [ -n "$AGENT" ] && stop "$AGENT" INT ;;
    esac
    return 0
}

CONFIGS=("none" "floor" "vigil learn" "vigil trace" "vigil monitor" "vigil enforce" "vigil enforce --segment" "auditd exec+connect" "auditd every syscall" "bpftrace (count per pid)" "syscount (libbpf-tools)")
# --configs: a comma-separated subset, in this order; a name not above is an error.
if [ -n "$ONLY_CONFIGS" ]; then
    IFS=, read -r -a WANTED <<< "$ONLY_CONFIGS"
    for want in "${WANTED[@]}"; do
        found=0; for c in "${CONFIGS[@]}"; do [ "$c" = "$want" ] && found=1; done
        [ $found = 1 ] || { echo "overhead.sh: --configs: unknown configuration '$want' (one of: $(IFS=,; echo "${CONFIGS[*]}"))" >&2; exit 2; }
    done
    KEPT=()
    for c in "${CONFIGS[@]}"; do for want in "${WANTED[@]}"; do [ "$c" = "$want" ] && KEPT+=("$c"); done; done
    CONFIGS=("${KEPT[@]}")
fi

# --- learn the workloads for enforce ------------------------------------------------------
log "learning the workloads into $LEARNED (two passes)"
"$VIGIL" learn --models "$LEARNED" "${ONLY[@]}" --save-interval 3600 > "$W/prelearn.out" 2> "$W/prelearn.err" & PRE=$!; PIDS+=("$PRE")
wait_for "$W/prelearn.err" 'learning into' 120 "$PRE" || { cat "$W/prelearn.err" >&2; exit 1; }
run_workloads prelearn prelearn 1 "" || log "a workload failed while learning"
run_workloads prelearn prelearn 1 "" || log "a workload failed while learning"
stop "$PRE" INT
grep -E 'stopped|saved' "$W/prelearn.err" >&2 || true
# The built-in policy, capped at alert for the benchmark's own profiles: a late novelty
# must not suspend or cut off a workload in the middle of a measurement. The kernel side
# (n-gram checks, the exec guard) is the same as with any policy.
{
    echo "caps:"
    for f in "$LEARNED"/*.json; do echo "  $(basename "$f" .json): alert"; done
} > "$W/policy.yaml"
# Segmentation on top: every connect of the workloads is checked against their learned
# destinations in the kernel. The connect loop's refused port is never learned (nothing
# accepts there), so the host-wide segment-allow lets it through after both lookups (the
# costliest path); the profiles, learned for minutes, are opted in while still learning.
{
    cat "$W/policy.yaml"
    echo "enforce-learning: [$(for f in "$LEARNED"/*.json; do printf '%s, ' "$(basename "$f" .json)"; done | sed 's/, $//')]"
    echo "segment-allow: [tcp 127.0.0.1 port $REFUSED_PORT]"
} > "$W/policy-segment.yaml"

# --- the rounds ----------------------------------------------------------------------------
for rep in $(seq 1 "$REPS"); do
    for c in "${CONFIGS[@]}"; do
        start_config "$c"
        if [ -n "$WHY" ]; then
            printf 'na\t%s\t-\t%s\n' "$c" "$WHY" >> "$RES"
            stop_config "$c" || true
            [ -n "$AGENT" ] && stop "$AGENT" KILL
            continue
        fi
        case "$c" in vigil*) settle "$AGENT" main "$c" ;; esac
        run_workloads main "$c" "$DIVISOR" "$AGENT" || log "a workload failed under $c"
        stop_config "$c"
    done
    log "round $rep/$REPS done (load $(loadavg))"
done
meta load_main_end "$(loadavg)"
[ -n "$AUDIT_OK" ] || meta audit_note "auditd (every syscall) ran 1/$AUDIT_ALL_DIVISOR of the loop iterations; audit records lost by the kernel over the run: $(auditctl -s | awk '$1 == "lost" { print $2 }')"

# --- scale ---------------------------------------------------------------------------------
if [ $SCALE = 1 ]; then
    BENCH_PROFILE=$(grep -l "\"executable\" *: *\"$BENCH\"" "$LEARNED"/*.json | head -1 || true)
    NGRAMS_LEARNED=$("$VIGIL" profile list --models "$LEARNED" --json | python3 -c 'import json,sys; print(sum(p["items"].get("ngrams",0) for p in json.load(sys.stdin)))')
    SCALES=("profiles=10" "profiles=100" "profiles=1000" "processes=100" "processes=10000")
    for s in "${SCALES[@]}"; do
        n=${s#*=}
        d="$W/scale-$s"; mkdir -m 700 -p "$d"; cp "$LEARNED"/*.json "$d/"
        if [ "${s%%=*}" = profiles ] && [ -n "$BENCH_PROFILE" ]; then
            "$BENCH" synth-profiles --from "$BENCH_PROFILE" --count "$n" --out "$d" > "$d.synth" 2>&1
        fi
    done
    for rep in $(seq 1 "$REPS"); do
        for s in "${SCALES[@]}"; do
            n=${s#*=}; d="$W/scale-$s"
            "$VIGIL" enforce --models "$d" "${WORKLOADS[@]}" --control-socket none --policy "$W/policy.yaml" --output "file:$W/scale.jsonl" > "$W/scale.out" 2> "$W/scale.err" & AGENT=$!; PIDS+=("$AGENT")
            wait_for "$W/scale.err" 'enforce: ' 300 "$AGENT" || { printf 'na\t%s\t-\t%s\n' "$s" "enforce did not start" >> "$RES"; stop "$AGENT" KILL; continue; }
            settle "$AGENT" scale "$s"
            SLEEPERS=""
            if [ "${s%%=*}" = processes ]; then
                "$BENCH" sleepers --count "$n" > "$W/sleepers.out" 2>&1 & SLEEPERS=$!; PIDS+=("$SLEEPERS")
                wait_for "$W/sleepers.out" '^ready' 300 "$SLEEPERS" || log "sleepers did not start: $(cat "$W/sleepers.out")"
                sleep 2  # let the agent take in the forks
            fi
            v=$("$BENCH" loop --kind getppid --iterations "$GETPPID_N" --cpu 1)
            sample scale "$s" getppid_ns "$(echo "$v" | awk '{ print $1 }')"
            sample scale "$s" agent_rss_kb "$(awk '/VmRSS/ { print $2 }' "/proc/$AGENT/status")"
            mem=0; entries=""
            for fd in /proc/"$AGENT"/fd/*; do
                [ "$(readlink "$fd" 2>/dev/null)" = "anon_inode:bpf-map" ] || continue
                info="/proc/$AGENT/fdinfo/${fd##*/}"
                m=$(awk '/^memlock:/ { print $2 }' "$info" 2>/dev/null || echo 0)
                mem=$((mem + ${m:-0}))
                # The known n-grams map holds 262144 entries at most (its max_entries).
                if [ -z "$entries" ] && command -v bpftool >/dev/null && grep -q '^max_entries:[[:space:]]*262144' "$info"; then
                    id=$(awk '/^map_id:/ { print $2 }' "$info")
                    entries=$(bpftool map dump id "$id" 2>/dev/null | grep -c '"key":' || true)
                fi
            done
            sample scale "$s" map_memlock_kb $((mem / 1024))
            [ -n "$entries" ] && sample scale "$s" ngram_entries "$entries"
            synth=0
            [ -f "$d.synth" ] && synth=$(awk '{ print $1 * $4 }' "$d.synth")
            sample scale "$s" ngram_entries_wanted $((NGRAMS_LEARNED + synth))
            sample scale "$s" profiles_not_loaded "$(grep -c 'could not load profile' "$W/scale.err" || true)"
            if [ -n "$SLEEPERS" ]; then
                kill -TERM -- "-$SLEEPERS" 2>/dev/null || true
                stop "$SLEEPERS" KILL
            fi
            stop "$AGENT" INT
            d2=$(drops_from "$W/scale.err"); [ -n "$d2" ] && sample scale "$s" drops "$d2"
        done
        log "scale round $rep/$REPS done (load $(loadavg))"
    done
    [ -n "$BENCH_PROFILE" ] && meta scale_note "synthetic profiles: copies of the learned $(basename "$BENCH_PROFILE") ($(cut -d' ' -f4 "$W/scale-profiles=10.synth") n-grams) under /opt/vigil-bench-synth/prog-I, next to the $(ls "$LEARNED" | wc -l) learned profiles; processes: vigil-bench children sleeping in pause(), forked after enforce started, each in the learned vigil-bench profile"
fi

meta load_end "$(loadavg)"
"$BENCH" report "$RES" | tee "${OUT:-/dev/null}"
[ -n "$OUT" ] && cp "$RES" "${OUT%.md}.tsv"
exit 0

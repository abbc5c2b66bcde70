#!/usr/bin/env bash
# Fuzzes every decoder of data Vigil did not write itself, with libFuzzer and address
# sanitizer through the Swift toolchain (swiftc -sanitize=fuzzer,address).
#
#   scripts/fuzz.sh TARGET SECONDS [libFuzzer flags...]   fuzz one target for SECONDS
#   scripts/fuzz.sh all SECONDS [libFuzzer flags...]      each target in turn, SECONDS each
#   scripts/fuzz.sh build                                 only build the fuzz executables
#
# Targets, one file each in Fuzz/: record (ring records -> RecordDecoder), profile
# (ProfileCodec), policy (Policy YAML), runconfig (RunConfig YAML), trace (TraceReader),
# replay (the model and trace `vigil replay` reads), http (HTTPSink's response parser).
#
# The package's library modules are built once with coverage and ASan into .build-fuzz/
# (apart from the normal .build/), and each Fuzz/TARGET.swift is linked against their
# objects. Seeds come from Fuzz/corpus/TARGET (committed, small, never written to); inputs
# the fuzzer finds go to .build-fuzz/corpus/TARGET, crashes to .build-fuzz/crashes/TARGET/
# and the run exits non-zero. Reproduce one with: .build-fuzz/fuzz/TARGET CRASH-FILE
set -euo pipefail
cd "$(dirname "$0")/.."

B=.build-fuzz
TARGETS=(record profile policy runconfig trace replay http)
MODULES=(CVigilWire VigilBPF VigilCore VigilSensor VigilOutput Yams CYaml)

usage() { echo "usage: scripts/fuzz.sh (${TARGETS[*]// /|}|all) SECONDS [libFuzzer flags...] | build" >&2; exit 2; }

build() {
    mkdir -p "$B/fuzz" "$B/logs"
    for t in VigilSensor VigilOutput; do
        if ! swift build -c debug --build-path "$B" --target "$t" \
            -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=fuzzer-no-link,address >"$B/logs/build-$t.log" 2>&1; then
            grep -E "error:" "$B/logs/build-$t.log" >&2 || tail -20 "$B/logs/build-$t.log" >&2
            echo "fuzz: building $t with -sanitize=fuzzer,address failed (log: $B/logs/build-$t.log)" >&2
            exit 1
        fi
    done
    local d="$B/debug" objects=() m
    for m in "${MODULES[@]}"; do while IFS= read -r o; do objects+=("$o"); done < <(find "$d/$m.build" -name "*.o" | sort); done
    for t in "${TARGETS[@]}"; do
        local exe="$B/fuzz/$t"
        # Relink only when the harness or a module object is newer than the executable.
        if [[ -x $exe && ! Fuzz/$t.swift -nt $exe ]] && [[ -z $(find "${objects[@]}" -newer "$exe" -print -quit) ]]; then continue; fi
        swiftc -sanitize=fuzzer,address -parse-as-library -g -Onone \
            -I "$d/Modules" -I Sources/CVigilWire/include -I Sources/CLibbpf -I "$B/checkouts/Yams/Sources/CYaml/include" \
            -Xcc -fmodule-map-file="$d/CVigilWire.build/module.modulemap" -Xcc -fmodule-map-file=Sources/CZlib/module.modulemap -Xcc -fmodule-map-file=Sources/COpenSSL/module.modulemap -Xcc -fmodule-map-file=Sources/CNats/module.modulemap \
            "Fuzz/$t.swift" "${objects[@]}" -lbpf -lelf -lz -lssl -lcrypto -lnats -o "$exe" >"$B/logs/link-$t.log" 2>&1 \
            || { grep -v "Cannot export local symbol" "$B/logs/link-$t.log" >&2; echo "fuzz: linking $t failed" >&2; exit 1; }
    done
}

# Runs target $1 for $2 seconds; prints the figures docs/reliability.md records.
run() {
    local t=$1 seconds=$2
    shift 2
    local work="$B/corpus/$t" crashes="$B/crashes/$t" log="$B/logs/$t.log"
    mkdir -p "$work" "$crashes"
    if [[ $t == record && -z $(ls -A Fuzz/corpus/record 2>/dev/null) ]]; then
        VIGIL_FUZZ_WRITE_SEEDS=Fuzz/corpus/record "$B/fuzz/record"
    fi
    local status=0
    # -timeout: an input that takes 10 s is a hang (unbounded work on hostile input), a finding.
    # The Swift runtime's backtracer would read memory after a trap and muddle the report;
    # leaks are off: Foundation keeps caches LeakSanitizer counts as leaks.
    ASAN_OPTIONS=detect_leaks=0 SWIFT_BACKTRACE=enable=no "$B/fuzz/$t" -detect_leaks=0 -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$crashes/" "$@" "$work" "Fuzz/corpus/$t" >"$log" 2>&1 || status=$?
    local execs rate corpus
    execs=$(grep -oE 'stat::number_of_executed_units: +[0-9]+' "$log" | grep -oE '[0-9]+$' || echo "?")
    rate=$(grep -oE 'stat::average_exec_per_sec: +[0-9]+' "$log" | grep -oE '[0-9]+$' || echo "?")
    corpus=$(find "$work" -type f | wc -l)
    if [[ $status -ne 0 ]]; then
        grep -E "^(==[0-9]+==ERROR|SUMMARY|Fatal error|.*: Fatal error)|Test unit written|^artifact_prefix|Swift/|fatal" "$log" | head -20 >&2 || true
        echo "fuzz $t: FAILED after ${seconds}s (status $status); log $log, inputs in $crashes/" >&2
        return 1
    fi
    echo "fuzz $t: ${seconds}s, $execs executions ($rate/s), $corpus inputs in $work, no crash"
}

[[ $# -ge 1 ]] || usage
case $1 in
    build) build; exit 0 ;;
    all) [[ $# -ge 2 ]] || usage; set -- "${TARGETS[@]}" -- "${@:2}" ;;
    *) [[ $# -ge 2 && " ${TARGETS[*]} " == *" $1 "* ]] || usage; set -- "$1" -- "${@:2}" ;;
esac
chosen=()
while [[ $1 != -- ]]; do chosen+=("$1"); shift; done
shift
seconds=$1
shift
[[ $seconds =~ ^[0-9]+$ ]] || usage
build
failed=0
for t in "${chosen[@]}"; do run "$t" "$seconds" "$@" || failed=1; done
exit $failed

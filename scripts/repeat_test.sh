#!/usr/bin/env bash
# Runs one test (or suite) N times in a row and prints the pass count; for flaky tests.
#   scripts/repeat_test.sh N FILTER [--busy] [--e2e]
# --busy: during each run, a compile loop (swiftc -O of a small file, python3) keeps the
# host busy, as another build on the shared cores does.
# --e2e: end-to-end tests as CI runs them (VIGIL_REQUIRE_BPF=1, --no-parallel; needs root),
# e.g. `scripts/repeat_test.sh 10 VigilEndToEndTests --e2e`.
# Needs a prior `swift build --build-tests`.
# Logs: .build/repeat/run-I.log
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -ge 2 && $1 =~ ^[0-9]+$ ]] || { echo "usage: scripts/repeat_test.sh N FILTER [--busy] [--e2e]" >&2; exit 2; }
n=$1 filter=$2 busy= e2e=
for opt in "${@:3}"; do
    case $opt in
        --busy) busy=--busy ;;
        --e2e) e2e=1 ;;
        *) echo "repeat_test.sh: unknown option $opt" >&2; exit 2 ;;
    esac
done
logs=.build/repeat
mkdir -p "$logs"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'struct S { var a = [1, 2, 3] }\nprint(S().a.map { $0 * 2 })\n' >"$work/h.swift"
pass=0
for i in $(seq 1 "$n"); do
    load=
    if [[ $busy == --busy ]]; then
        ( end=$((SECONDS + 25))
          while [[ $SECONDS -lt $end ]]; do
              swiftc -O "$work/h.swift" -o "$work/h" >/dev/null 2>&1 || true
              python3 -c "import os; os.listdir('/usr/lib')" >/dev/null 2>&1 || true
          done ) &
        load=$!
    fi
    start=$SECONDS
    if [[ -n $e2e ]]; then
        VIGIL_REQUIRE_BPF=1 swift test --skip-build --no-parallel --filter "$filter" >"$logs/run-$i.log" 2>&1 && ok=1 || ok=0
    else
        swift test --skip-build --filter "$filter" >"$logs/run-$i.log" 2>&1 && ok=1 || ok=0
    fi
    pass=$((pass + ok))
    [[ -n $load ]] && wait "$load"
    failed=$(grep -oE '✘ Test [^ ]+' "$logs/run-$i.log" | sort -u | sed 's/✘ Test //' | tr '\n' ' ' || true)
    echo "run $i: $([[ $ok == 1 ]] && echo passed || echo FAILED) in $((SECONDS - start)) s${failed:+; failed: $failed}"
done
echo "passed $pass of $n"

#!/usr/bin/env bash
# Runs one test (or suite) N times in a row and prints the pass count; for flaky tests.
#   scripts/repeat_test.sh N FILTER [--busy]
# --busy: during each run, a compile loop (swiftc -O of a small file, python3) keeps the
# host busy, as another build on the shared cores does. Needs a prior `swift build --build-tests`.
# Logs: .build/repeat/run-I.log
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -ge 2 && $1 =~ ^[0-9]+$ ]] || { echo "usage: scripts/repeat_test.sh N FILTER [--busy]" >&2; exit 2; }
n=$1 filter=$2 busy=${3:-}
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
    if swift test --skip-build --filter "$filter" >"$logs/run-$i.log" 2>&1; then pass=$((pass + 1)); fi
    [[ -n $load ]] && wait "$load"
    echo "run $i: $(grep -cE '✘ Test .* (failed|recorded an issue)' "$logs/run-$i.log" || true) issues"
done
echo "passed $pass of $n"

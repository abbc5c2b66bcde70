#!/usr/bin/env bash
# Learns the example baselines in this directory from a small, repeatable workload:
# a Python HTTP server on loopback, a Python client script fetching from it, and a
# shell pipeline compressing and sorting text. Run as root from a built checkout:
#
#   swift build -c release && sudo Models/examples/workload.sh
#
# The profiles land in Models/examples/baselines/ (one JSON file per program).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
vigil=${VIGIL:-$root/.build/release/vigil}
out=$here/baselines
seconds=${SECONDS_TO_LEARN:-40}
# The interpreter itself, not a wrapper script (pyenv shims are shell scripts).
python=$(readlink -f "$(python3 -c 'import sys; print(sys.executable)')")
port=${PORT:-18080}

mkdir -p "$out"
chmod 700 "$out"
"$vigil" learn --models "$out" --duration "$seconds" --bucket 5 --window 3 --min-observed 20 --save-interval 10 \
    --only "$python" --only /usr/bin/gzip --only /usr/bin/sort &
learner=$!
sleep 2

workdir=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$workdir"' EXIT
printf 'alpha\nbeta\ngamma\n' > "$workdir/index.txt"
(cd "$workdir" && exec "$python" -m http.server "$port" --bind 127.0.0.1 >/dev/null 2>&1) &
server=$!
sleep 1

end=$((SECONDS + seconds - 6))
while [ $SECONDS -lt $end ]; do
    "$python" "$here/client.py" "http://127.0.0.1:$port/index.txt" | gzip -c | gzip -dc | sort > /dev/null
    sleep 0.5
done
wait $learner
echo "baselines written to $out:"
ls "$out"

#!/usr/bin/env bash
# Sets everything up, builds Vigil and runs its built-in demo (needs root for eBPF).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null && exec sudo -E "$0" "$@"
    echo "demo: Vigil loads eBPF programs and needs root; run this as root" >&2
    exit 1
fi
scripts/setup.sh
echo "demo: building (release)..."
swift build -c release 2>&1 | grep -E "error|warning: |Compiling BPF|Build complete" || true
exec "$(swift build -c release --show-bin-path)/vigil" demo "$@"

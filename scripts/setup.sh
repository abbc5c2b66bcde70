#!/usr/bin/env bash
# Installs what Vigil needs on a Debian-family host and builds it.
#   scripts/setup.sh            system packages + release build
#   scripts/setup.sh --tests    also what the test suite uses (python schema validator, rsyslog, bpftool, nats-server)
# Idempotent: installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

want_tests=0
[[ "${1:-}" == "--tests" ]] && want_tests=1

as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else echo "setup: need root to run: $*" >&2; exit 1; fi
}

packages=(libbpf-dev libelf-dev zlib1g-dev libssl-dev libnats-dev)
if [[ $want_tests -eq 1 ]]; then
    packages+=(rsyslog rsyslog-gnutls openssl python3 python3-pip nftables linux-libc-dev-arm64-cross bpftool nats-server)
fi
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    echo "setup: installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [[ $want_tests -eq 1 && -f scripts/python-requirements.txt ]]; then
    if ! python3 -c 'import jsonschema, ocsf_json_schema, nats, opentelemetry.proto.collector.logs.v1.logs_service_pb2' 2>/dev/null; then
        echo "setup: installing Python packages (OCSF schema validation, the OTLP test receiver, the outage campaign's NATS reader)"
        python3 -m pip install -q -r scripts/python-requirements.txt 2>/dev/null \
            || python3 -m pip install -q --break-system-packages -r scripts/python-requirements.txt
    fi
fi

if ! command -v swift >/dev/null; then
    echo "setup: the Swift toolchain (6.0 or later) is not on PATH; install it first" >&2
    exit 1
fi

#!/bin/sh
# Installs what the VigilOutput tests need beyond the Swift toolchain (run as root; CI runs
# it before `swift test` with VIGIL_REQUIRE_TOOLS=1 so a missing tool fails instead of skipping):
#   rsyslog, rsyslog-gnutls  a real syslog receiver over TCP, UDP and TLS
#   openssl                  self-signed certificates for the TLS tests (libssl3, which TLS
#                            outputs load at run time, comes with it)
#   python3 + pip packages   OCSF schema validation (scripts/validate_ocsf.py) and the HTTPS receiver
set -eu
here=$(cd "$(dirname "$0")" && pwd)
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends rsyslog rsyslog-gnutls openssl python3 python3-pip
python3 -m pip install --quiet -r "$here/python-requirements.txt" 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages -r "$here/python-requirements.txt"

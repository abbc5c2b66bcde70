#!/usr/bin/env bash
# Sets everything up and runs the whole test suite. As root, the eBPF end-to-end tests run
# against the real kernel; with VIGIL_REQUIRE_BPF=1 they fail instead of skipping when
# eBPF is unavailable.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null && [[ "${VIGIL_NO_SUDO:-}" != 1 ]]; then
    exec sudo -E "$0" "$@"
fi
scripts/setup.sh --tests
swift build --build-tests 2>&1 | grep -E "error|warning: |Build complete" || true
if [[ $# -gt 0 ]]; then
    exec swift test "$@"
fi
# Unit and component tests in parallel; then the end-to-end tests, which load eBPF
# programs and watch the whole host, one at a time so that they do not see each other.
status=0
swift test --skip VigilEndToEndTests || status=$?
# What scripts/install.sh installs (man pages, completions, the unit), staged and checked.
scripts/install.sh --check || status=$?
swift test --filter VigilEndToEndTests --no-parallel || status=$?
# The kernel side must also compile for arm64 (it runs only on x86_64 here).
if [[ "${VIGIL_REQUIRE_TOOLS:-}" == 1 || -d /usr/aarch64-linux-gnu/include/asm ]]; then
    scripts/bpf-cross.sh arm64 || status=$?
fi
# Under CI (VIGIL_REQUIRE_TOOLS=1), or when VIGIL_FUZZ_SECONDS is set: a short libFuzzer run
# of every decoder (scripts/fuzz.sh; 15 s each by default), which fails on any crash.
if [[ "${VIGIL_REQUIRE_TOOLS:-}" == 1 || -n "${VIGIL_FUZZ_SECONDS:-}" ]]; then
    scripts/fuzz.sh all "${VIGIL_FUZZ_SECONDS:-15}" || status=$?
fi
exit $status

#!/usr/bin/env bash
# Compiles the kernel side (BPF/) for an architecture other than this machine's, with the
# Swift toolchain's clang and Debian's cross headers, so that the BPF code stays portable
# (pt_regs access, syscall numbers) though it runs only where Vigil is built.
#   scripts/bpf-cross.sh [arm64]      (needs linux-libc-dev-arm64-cross)
set -euo pipefail
cd "$(dirname "$0")/.."
arch="${1:-arm64}"
case "$arch" in
    arm64) target=__TARGET_ARCH_arm64; headers=/usr/aarch64-linux-gnu/include; pkg=linux-libc-dev-arm64-cross ;;
    x86) target=__TARGET_ARCH_x86; headers=/usr/x86_64-linux-gnu/include; pkg=linux-libc-dev-amd64-cross ;;
    *) echo "bpf-cross: unknown architecture '$arch' (arm64 or x86)" >&2; exit 2 ;;
esac
if [[ ! -d "$headers/asm" ]]; then
    echo "bpf-cross: no $arch kernel headers at $headers (apt-get install -y $pkg)" >&2
    exit 1
fi
clang="$(dirname "$(readlink -f "$(command -v swift)")")/clang"
out="$(mktemp -d)/vigil-$arch.bpf.o"
"$clang" -g -O2 -Wall -Werror -target bpf "-D$target" -I "$headers" -I BPF -I Sources/CVigilWire/include \
    -c BPF/vigil.bpf.c -o "$out"
echo "bpf-cross: BPF/ compiles for $arch ($(stat -c %s "$out") bytes, $out)"

#!/usr/bin/env python3
"""Independent transcription of the two hashes Vigil's kernel and Swift sides share, from
their written definitions (BPF/learn.bpf.c, BPF/response.bpf.c), not from the Swift code.
Prints the golden vectors pinned in Tests/VigilCoreTests/HashVectorTests.swift.

    python3 scripts/hash_vectors.py
"""
M = (1 << 64) - 1
FNV_SEED, FNV_PRIME = 0xCBF29CE484222325, 0x100000001B3
START = 0xFFFFFFFF  # "before the thread's first call"
PATH_MAX_HASHED = 255  # vg_exec.path holds 256 bytes with its NUL: at most 255 are hashed


def fmix64(h):
    h = ((h ^ (h >> 33)) * 0xFF51AFD7ED558CCD) & M
    h = ((h ^ (h >> 33)) * 0xC4CEB9FE1A85EC53) & M
    h ^= h >> 33
    return h or 1


def ngram_hash(calls):
    """calls: syscall numbers, oldest first; folded newest first, then the length."""
    state = FNV_SEED
    for c in reversed(calls):
        state = ((state ^ c) * FNV_PRIME) & M
    return fmix64(state ^ ((len(calls) << 56) & M))


def path_hash(path):
    h = FNV_SEED
    for b in path.encode("utf-8")[:PATH_MAX_HASHED]:
        h = ((h ^ b) * FNV_PRIME) & M
    return h


NGRAMS = [[0], [3], [1, 2, 3], [1, 2], [2, 1], [START, 3], [START, START, START, START, 59],
          [59, 0, 1, 3, 257, 262, 9, 231], [0xFFFFFFFE]]
PATHS = ["", "/", "/bin/sh", "/usr/sbin/nginx", "/usr/bin/redis-server", "/opt/caf\u00e9/bin/x",
         "/" + "a" * 299]

if __name__ == "__main__":
    for g in NGRAMS:
        print(f"ngram {g}: 0x{ngram_hash(g):016X}")
    for p in PATHS:
        label = p if len(p) < 40 else f'"/" + "a" * {len(p) - 1}'
        print(f"path {label!r} ({len(p.encode())} bytes): 0x{path_hash(p):016X}")

/*
 * vigil_transparent.h: the syscalls n-grams look through, the one definition of which
 * calls never enter a thread's n-gram history.
 *
 * Whether a thread calls futex or sched_yield between two pieces of its own work depends
 * on what the other threads happen to be doing at that instant: a lock taken a microsecond
 * earlier or later, a condition variable already signalled or not. In a multi-threaded
 * service these calls land among the reads and writes at places thread timing picks, so
 * every n-gram that spans one is a fresh draw from a long tail. Learning never settled on
 * them: in the false-alarm benchmark (Benchmarks/README.md, "third run"), 29 of the 35
 * n-grams redis-server first showed after its third minute of learning contained futex,
 * and its profile was still learning at the 10-minute limit.
 *
 * So a transparent call is not pushed into the history: the n-grams around it are formed
 * as if it had not been made, and it forms no n-gram of its own. It is still behaviour
 * of the profile as a syscall: the first time a thread of a profile makes one, the kernel
 * checks the profile's known syscalls (vg_known_syscalls), and a call the profile never
 * made is reported as a syscall-only novelty (length 1, VG_NOVELTY_NEW_SYSCALL), learned
 * in learn mode and judged as a new syscall otherwise. `profile export-seccomp` therefore
 * still allows futex for a profile that used it.
 *
 * What is given up: an exploit whose only trace in the sequence is a futex pattern
 * (a futex-requeue bug) is no longer seen by the sequence model. (A profile that never
 * called futex still reports its first one, as a new syscall.)
 *
 * Included by BPF/learn.bpf.c and visible to Swift through the CVigilWire module. VigilCore
 * keeps the same names in SyscallTransparency.swift; a test (VigilSensorTests) checks that the
 * lists agree entry for entry and that the x86_64 numbers are SyscallTable's. Linux corpora
 * (corpus.json "linux-x86_64") are read through the same list; opaque ones are not.
 */
#ifndef VIGIL_TRANSPARENT_H
#define VIGIL_TRANSPARENT_H

#include <linux/types.h>
#include "vigil_syscall_list.h"

/* X(name, x86_64 number, arm64 number, bit): `bit` is the entry's place in a thread's
 * cache of transparent calls already known to its profile (vg_history.transparent_known). */
#define VG_TRANSPARENT_SYSCALLS(X) \
    X(futex,          202,  98, 0) \
    X(futex_waitv,    449, 449, 1) \
    X(futex_wake,     454, 454, 2) \
    X(futex_wait,     455, 455, 3) \
    X(futex_requeue,  456, 456, 4) \
    X(sched_yield,     24, 124, 5)

#define VG_TRANSPARENT_X86_64_(name, x86, arm, bit) case (x86): return 1u << (bit);
#define VG_TRANSPARENT_ARM64_(name, x86, arm, bit) case (arm): return 1u << (bit);

/* The cache bit of `nr` (an x86_64 syscall number) when it is transparent, else 0. */
static inline __u32 vg_transparent_bit_x86_64(__u32 nr)
{
    switch (nr) {
    VG_TRANSPARENT_SYSCALLS(VG_TRANSPARENT_X86_64_)
    default: return 0;
    }
}

/* The cache bit of `nr` (an arm64 syscall number) when it is transparent, else 0. */
static inline __u32 vg_transparent_bit_arm64(__u32 nr)
{
    switch (nr) {
    VG_TRANSPARENT_SYSCALLS(VG_TRANSPARENT_ARM64_)
    default: return 0;
    }
}

#if defined(__TARGET_ARCH_x86) || (!defined(__bpf__) && defined(__x86_64__))
#define vg_transparent_bit(nr) vg_transparent_bit_x86_64(nr)
#elif defined(__TARGET_ARCH_arm64) || (!defined(__bpf__) && defined(__aarch64__))
#define vg_transparent_bit(nr) vg_transparent_bit_arm64(nr)
#elif defined(__bpf__)
#error "vigil_transparent.h: define __TARGET_ARCH_x86 or __TARGET_ARCH_arm64 for the BPF build"
#endif

/* The hash a syscall-only novelty carries, and the key it is remembered under where
 * n-gram novelties are (vg_judged_seen, vg_pending_seen): the n-gram hash v1 finalizer
 * over the call with a length no n-gram has (255), so it never equals an n-gram's. */
#define VG_TRANSPARENT_LENGTH_TAG 255u

#ifndef __bpf__
/* For user space (Swift tests): the list itself, entry by entry (vg_transparent_count,
 * vg_transparent_at). */
#define VG_TRANSPARENT_ENTRY_(name, x86, arm, bit) { #name, (x86), (arm) },
static const struct vg_syscall_entry vg_transparent_table[] = { VG_TRANSPARENT_SYSCALLS(VG_TRANSPARENT_ENTRY_) };
VG_SYSCALL_LIST_ACCESSORS(vg_transparent, vg_transparent_table)
#endif

#endif /* VIGIL_TRANSPARENT_H */

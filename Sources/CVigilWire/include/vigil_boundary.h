/*
 * vigil_boundary.h: the request-boundary syscalls, the one definition of where a
 * thread's n-gram history restarts.
 *
 * A service handling requests in a loop blocks in one of these calls between pieces of
 * work (a new connection, a ready descriptor, a timeout). What it did for the previous
 * request says nothing about the next one, so an n-gram spanning the wait would learn,
 * and later demand, the order in which requests happened to arrive: a service learned
 * on requests A and B alternating then raised `new-sequence` on `close close accept read
 * openat read` when only A arrived. So:
 *
 *   - the n-gram *ending* at a boundary call is formed as usual (how a piece of work ends,
 *     and that it ends in a wait, is behaviour);
 *   - after it, the history restarts: it holds the boundary call alone, the places before
 *     it are the start symbol (0xffffffff). The next call's n-gram is
 *     `^ ^ ^ ^ accept read`, then `^ ^ ^ accept read openat`, ...
 *
 * Keeping the boundary call itself (rather than restarting from nothing) keeps what began
 * the work in every n-gram of its first calls, so `accept read` and `epoll_wait read` stay
 * distinct from each other and from a process's first calls (`^ ^ ^ ^ ^ execve-ed first
 * call`); no n-gram ever spans the wait.
 *
 * Included by BPF/learn.bpf.c (the kernel's novelty filter, which forms every live n-gram)
 * and visible to Swift through the CVigilWire module. VigilCore, which is pure Swift, keeps
 * the same names in SyscallBoundaries.swift; a test (VigilSensorTests) checks that the two
 * lists agree entry for entry and that the numbers below are SyscallTable's.
 *
 * Numbers are per architecture: arm64 (the generic syscall table) lacks the classic forms
 * epoll_wait, poll and select (only their p-forms); VG_BOUNDARY_NONE marks a name that
 * does not exist there.
 */
#ifndef VIGIL_BOUNDARY_H
#define VIGIL_BOUNDARY_H

#include <linux/types.h>
#include "vigil_syscall_list.h"

#define VG_BOUNDARY_NONE 0xfffffffeu

/* X(name, x86_64 number, arm64 number) */
#define VG_BOUNDARY_SYSCALLS(X) \
    X(accept,        43, 202) \
    X(accept4,      288, 242) \
    X(epoll_wait,   232, VG_BOUNDARY_NONE) \
    X(epoll_pwait,  281,  22) \
    X(epoll_pwait2, 441, 441) \
    X(poll,           7, VG_BOUNDARY_NONE) \
    X(ppoll,        271,  73) \
    X(select,        23, VG_BOUNDARY_NONE) \
    X(pselect6,     270,  72)

#define VG_BOUNDARY_X86_64_(name, x86, arm) || nr == (x86)
#define VG_BOUNDARY_ARM64_(name, x86, arm) || nr == (arm)

/* Whether `nr` (an x86_64 syscall number) is a request boundary. */
static inline int vg_is_boundary_x86_64(__u32 nr)
{
    return 0 VG_BOUNDARY_SYSCALLS(VG_BOUNDARY_X86_64_);
}

/* Whether `nr` (an arm64 syscall number) is a request boundary. */
static inline int vg_is_boundary_arm64(__u32 nr)
{
    return nr != VG_BOUNDARY_NONE && (0 VG_BOUNDARY_SYSCALLS(VG_BOUNDARY_ARM64_));
}

#if defined(__TARGET_ARCH_x86) || (!defined(__bpf__) && defined(__x86_64__))
#define vg_is_boundary(nr) vg_is_boundary_x86_64(nr)
#elif defined(__TARGET_ARCH_arm64) || (!defined(__bpf__) && defined(__aarch64__))
#define vg_is_boundary(nr) vg_is_boundary_arm64(nr)
#elif defined(__bpf__)
#error "vigil_boundary.h: define __TARGET_ARCH_x86 or __TARGET_ARCH_arm64 for the BPF build"
#endif

#ifndef __bpf__
/* For user space (Swift tests): the list itself, entry by entry (vg_boundary_count,
 * vg_boundary_at). */
#define VG_BOUNDARY_ENTRY_(name, x86, arm) { #name, (x86), (arm) },
static const struct vg_syscall_entry vg_boundary_table[] = { VG_BOUNDARY_SYSCALLS(VG_BOUNDARY_ENTRY_) };
VG_SYSCALL_LIST_ACCESSORS(vg_boundary, vg_boundary_table)
#endif

#endif /* VIGIL_BOUNDARY_H */

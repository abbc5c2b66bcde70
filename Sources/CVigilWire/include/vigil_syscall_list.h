/*
 * vigil_syscall_list.h: the user-space view of the kernel's syscall lists (the request
 * boundaries of vigil_boundary.h, the transparent calls of vigil_transparent.h), so that
 * Swift tests can read a list entry by entry and check it against VigilCore's copy.
 */
#ifndef VIGIL_SYSCALL_LIST_H
#define VIGIL_SYSCALL_LIST_H

#include <linux/types.h>

#ifndef __bpf__
/* One entry of a list: the syscall's name and its number on each architecture. */
struct vg_syscall_entry {
    const char *name;
    __u32 x86_64;
    __u32 arm64;
};

/* `PREFIX_count()` and `PREFIX_at(i)` (i < count) over the array `table`. */
#define VG_SYSCALL_LIST_ACCESSORS(prefix, table)                                         \
    static inline __u32 prefix##_count(void) { return (__u32)(sizeof table / sizeof table[0]); } \
    static inline struct vg_syscall_entry prefix##_at(__u32 i) { return table[i]; }
#endif

#endif /* VIGIL_SYSCALL_LIST_H */

/* vigil_sys.h: system calls user space needs that the C library does not wrap everywhere
 * (Swift cannot call the variadic syscall(2) itself). Not used by BPF/. */
#ifndef VIGIL_SYS_H
#define VIGIL_SYS_H

#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

/* A file descriptor referring to process `pid`, or -1 with errno. */
static inline int vg_pidfd_open(int pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

/* A duplicate, in this process, of file descriptor `fd` of the process `pidfd` refers to
 * (needs ptrace access to it), or -1 with errno. */
static inline int vg_pidfd_getfd(int pidfd, int fd) { return (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0); }

#endif

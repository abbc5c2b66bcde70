/*
 * vigil_wire.h: the wire format between Vigil's BPF programs and user space.
 *
 * Included by BPF/ (compiled with clang -target bpf) and imported by Swift as the
 * CVigilWire module. Swift never re-declares these structs.
 *
 * Rules: fixed-width fields, explicit padding, every record starts with
 * struct vg_header, record kinds and counter indexes are append-only (never reuse
 * a number), and every layout is pinned by _Static_assert below and by Swift
 * MemoryLayout checks in the test suite.
 */
#ifndef VIGIL_WIRE_H
#define VIGIL_WIRE_H

#include <linux/types.h>

/* Bumped on any incompatible change; the BPF object carries it in .rodata and user
 * space refuses an object whose ABI differs from the one it was built with. */
#define VG_ABI_VERSION 4

#define VG_COMM_LEN 16
#define VG_PATH_MAX 256
#define VG_ARGS_MAX 512
#define VG_UNIX_PATH_MAX 108
#define VG_NGRAM_MAX 8      /* longest n-gram the kernel tracks */

/* Record kinds (vg_header.kind). Append-only. */
enum vg_kind {
    VG_KIND_EXEC = 1,
    VG_KIND_FORK = 2,
    VG_KIND_EXIT = 3,
    VG_KIND_SYSCALL = 4,
    VG_KIND_CONNECT = 5,
    VG_KIND_BIND = 6,
    VG_KIND_LISTEN = 7,
    VG_KIND_ACCEPT = 8,
    VG_KIND_NOVELTY = 9,
    VG_KIND_ACTION = 10,
    VG_KIND_TAMPER = 11,
    VG_KIND_FILE = 12,
    VG_KIND_MAX = 16, /* size of per-kind counter arrays */
};

/* Indexes into the per-CPU `vg_counters` array. Append-only. Each drop slot counts
 * records the kernel could not deliver (ring buffer full), per record kind. */
enum vg_counter {
    VG_CTR_DROP_BASE = 0,          /* + vg_kind: ring buffer reservation failed */
    VG_CTR_EMITTED_BASE = 16,      /* + vg_kind: records submitted */
    VG_CTR_READ_FAIL_ARGS = 32,    /* argv could not be read from user memory */
    VG_CTR_READ_FAIL_SOCKADDR = 33,/* a sockaddr could not be read from user memory */
    VG_CTR_PENDING_FULL = 34,      /* enter/exit pairing map full: a network event was lost */
    VG_CTR_KNOWN_FULL = 35,        /* vg_known_ngrams is full: a new n-gram reported, not stored */
    VG_CTR_HISTORY_FAIL = 36,      /* no per-thread history storage: a syscall was not learned */
    VG_CTR_PATH_TRUNCATED = 37,    /* an opened or mapped file's path was deeper or longer than the kernel walks */
    /* One counter per failure site (each site its own index, so a count names its cause): */
    VG_CTR_KNOWN_FILES_FULL = 38,  /* vg_known_files is full: a file reported, not remembered */
    VG_CTR_KNOWN_SYSCALLS_FULL = 39, /* vg_known_syscalls is full: a new syscall reported, not stored */
    VG_CTR_PATH_TRUNCATED_NAMED = 40, /* a renamed, linked or unlinked name's directory walk was cut short */
    VG_CTR_READ_FAIL_UNIX_PATH = 41, /* a unix socket path could not be read from user memory */
    VG_CTR_PROCS_FULL = 48,        /* vg_procs or vg_marks is full: a new process is not tracked by the kernel */
    VG_CTR_KNOWN_BASE = 64,        /* + vg_kind: calls of a judged slot its profile already knows, counted
                                    * here instead of submitted (network.bpf.c: connect, bind, listen);
                                    * for exec, execs of a known child (still submitted, flagged) */
    VG_CTR_MAX = 80,
};

/* Exec flags (vg_exec.flags). */
#define VG_EXEC_ARGS_TRUNCATED (1u << 0)
#define VG_EXEC_PATH_TRUNCATED (1u << 1)
#define VG_EXEC_KNOWN_CHILD (1u << 2)     /* the exec'ing image's judged profile knows this program as
                                           * a child (vg_known_children); counted as known too */

/* Fork flags (vg_fork.flags). */
#define VG_FORK_THREAD (1u << 0)

/* Common header: first bytes of every record. */
struct vg_header {
    __u16 kind;           /* enum vg_kind */
    __u16 size;           /* bytes of the whole record, this header included */
    __u32 cpu;            /* CPU that produced the record */
    __u64 ktime_ns;       /* CLOCK_MONOTONIC nanoseconds */
    __u32 pid;            /* thread-group id: the process id users see */
    __u32 tid;            /* thread id */
    __u64 cgroup_id;      /* cgroup v2 id of the task */
    char comm[VG_COMM_LEN];
};

/* A successful execve/execveat (sched_process_exec). */
struct vg_exec {
    struct vg_header hdr;
    __u32 ppid;           /* parent's thread-group id */
    __u32 uid;
    __u32 euid;
    __u32 gid;
    __u32 old_pid;        /* the thread id that called exec (differs when a thread execs) */
    __u32 flags;          /* VG_EXEC_* */
    __u16 path_len;       /* bytes of path[] used, NUL excluded */
    __u16 args_len;       /* bytes of args[] used: argv strings, each NUL-terminated */
    __u32 exec_seq;       /* how many execs the kernel has seen this process make, this one
                           * included: user space names it when it assigns the new
                           * program's profile (vg_proc.exec_seq) */
    __u32 slot;           /* the profile slot the kernel named for this exec from
                           * vg_exec_slots (vg_proc.slot, exec_seq above); 0: none, the
                           * process is pending until user space names it */
    __u32 _pad0;
    char path[VG_PATH_MAX];
    char args[VG_ARGS_MAX];
};

/* A new process (sched_process_fork). Threads are not reported. */
struct vg_fork {
    struct vg_header hdr;  /* pid/tid: the parent */
    __u32 child_pid;
    __u32 child_tid;
    __u32 flags;          /* VG_FORK_* */
    __u32 _pad0;
};

/* A process ended (sched_process_exit of its last thread). */
struct vg_exit {
    struct vg_header hdr;
    __u32 exit_code;      /* wait status: (code << 8) | signal */
    __u32 _pad0;
};

/* A syscall entered (tp_btf/sys_enter), only for processes user space asked for. */
struct vg_syscall {
    struct vg_header hdr;
    __s64 nr;             /* syscall number of this architecture */
};

/* An address as the kernel saw it. Ports in host byte order. */
struct vg_sockaddr {
    __u16 family;         /* AF_INET, AF_INET6, AF_UNIX; 0 when unknown */
    __u16 port;
    __u32 _pad0;
    __u8 addr[16];        /* IPv4 in the first 4 bytes, network order */
    char path[VG_UNIX_PATH_MAX]; /* AF_UNIX only; may be abstract (leading NUL) */
};

/* connect, bind, listen, accept: the syscall's exit, with its result. */
struct vg_net {
    struct vg_header hdr;
    __s64 result;         /* 0 or new fd on success, -errno on failure */
    __s32 fd;             /* the socket the call was made on */
    __u16 sock_type;      /* SOCK_STREAM, SOCK_DGRAM, ...; 0 when unknown */
    __u16 flags;          /* VG_NET_* */
    struct vg_sockaddr local;
    struct vg_sockaddr remote;
};

/* vg_net.flags */
#define VG_NET_OWN_SOCKET 1 /* connect: the destination is a socket the caller itself bound (vg_own_ports) */
#define VG_NET_PICKED_PORT 2 /* listen, accept: on a port the kernel picked (bound to port 0, or not bound before listen) */

/* Which probes a sensor runs. What happens to a new n-gram is decided per profile slot
 * (enum vg_slot_mode), not here. */
enum vg_mode {
    VG_MODE_TRACE = 0,    /* nothing: no profiles */
    VG_MODE_LEARN = 1,    /* profiles; no responses, no self-protection hooks */
    VG_MODE_DETECT = 2,   /* profiles, responses and self-protection (monitor, enforce, run) */
};

/* How the kernel treats a new n-gram of a profile slot (value of vg_slot_modes). Slots
 * user space never set read as 0: reported, the known maps stay as they are (monitor). */
#define VG_SLOT_MODE_LEARN (1u << 0)  /* added to the known maps, then reported once */
#define VG_SLOT_MODE_GUARD (1u << 1)  /* the process is marked VG_RESP_DEVIATING at once */
#define VG_MAX_SLOTS 65536            /* profile slots are 1 ..< VG_MAX_SLOTS */

/* A process whose exec user space has not yet assigned to a profile. */
#define VG_SLOT_PENDING 0xffffffffu

/* A learned or watched process, as user space sees it (value of vg_procs, keyed by tgid).
 *
 * One writer per field (docs/architecture.md): user space writes every field of an
 * existing entry; the kernel creates entries (a child's, a copy of its parent's, at fork;
 * an empty one at exec) and deletes them (exit), and changes one only at exec, before the
 * exec's record is out: it names the slot and exec_seq from vg_exec_slots, rewriting the
 * entry whole with its flags and member kept. What the kernel itself decides lives in
 * struct vg_marks instead, so that no rewrite by user space can wipe it.
 *
 * slot 0: no profile (watched only for responses). The slot holds only for the program
 * image user space named: while exec_seq differs from the kernel's vg_marks.execs the
 * process counts as pending (VG_SLOT_PENDING), so a new program never runs under the old
 * one's profile. */
struct vg_proc {
    __u32 slot;
    __u32 exec_seq;       /* the exec (vg_exec.exec_seq) the slot was named for */
    __u32 flags;          /* VG_RESP_*: responses user space set */
    __u32 member;         /* VG_MEMBER_*: may the kernel act on this process at all */
};

/* Responses carried out in the kernel (vg_proc.flags; VG_RESP_DEVIATING also in
 * vg_marks.marks, where the kernel sets it). */
#define VG_RESP_DENY_NET (1u << 0)    /* cgroup connect/sendmsg hooks refuse new connections */
#define VG_RESP_KILL (1u << 1)        /* SIGKILL at the next syscall */
#define VG_RESP_DEVIATING (1u << 2)   /* programs unknown to every baseline are killed at exec */

/* Workload membership (vg_proc.member), set by user space from the declared workloads and
 * inherited at fork, kept at exec. The kernel acts (exec guard, kill at syscall, deny
 * network, marking a process deviating) only on a process that is GUARDED, or on any
 * process not PROTECTED when the sensor was loaded with every process in scope. */
#define VG_MEMBER_GUARDED (1u << 0)   /* in a workload Vigil enforces */
#define VG_MEMBER_PROTECTED (1u << 1) /* never acted on (PID 1, Vigil, the operator's session, ...) */
#define VG_MEMBER_NO_EXEC_GUARD (1u << 2) /* its workload's policy turns the exec guard off */
#define VG_MEMBER_SEGMENT (1u << 3)   /* segmentation: connects only to its profile's learned
                                       * destinations (vg_egress) */
#define VG_MEMBER_SEGMENT_INGRESS (1u << 4) /* ingress segmentation: connections to the ports
                                       * it bound come only from its profile's learned
                                       * peers (vg_ingress) */

/* Key of vg_exec_slots: the file an exec runs as the kernel sees it at sched_process_exec
 * (bprm->file->f_inode, a `#!` script's interpreter), and the command name the exec gave
 * the process. Its value is the profile slot (__u32) the kernel names the process's
 * vg_procs entry with for this exec, so that it is judged from its first syscall. User space
 * (ExecSlotKey.swift, which builds it from stat(2)) publishes only keys whose profile the
 * identity rule gives whatever the command line says; the kernel looks one up only for a
 * file with one link (i_nlink), so a hard link's other path cannot be named by it. */
struct vg_exec_key {
    __u32 dev;            /* i_sb->s_dev, the kernel's encoding: (major << 20) | minor */
    __u32 _pad0;
    __u64 ino;            /* i_ino */
    __s64 size;           /* i_size: a freed inode number reused by another file rarely
                           * comes back with the same size */
    char comm[VG_COMM_LEN]; /* the task's comm after exec, NUL-padded */
};

/* Key of vg_known_exec_files: an executable some baseline knows, as the file the kernel
 * runs (bprm->file->f_inode), so that an exec of it by another path (relative, through a
 * symlink or a hard link, /proc/self/fd) is known as well as by the path vg_known_exec
 * holds. User space (Sensor.setKnownExecutables) fills it from stat(2) of each known path. */
struct vg_file_id {
    __u32 dev;            /* i_sb->s_dev, the kernel's encoding (as in vg_exec_key) */
    __u32 _pad0;
    __u64 ino;            /* i_ino */
    __s64 size;           /* i_size: a freed inode number reused rarely has the same size */
};

/* Key of vg_egress, an LPM trie: the destinations each profile slot may connect to (slot 0:
 * every slot, e.g. the host's resolver). prefixlen counts the bits of what follows that must
 * match: the slot, port, protocol and family always (64), then the address's prefix. */
struct vg_egress_key {
    __u32 prefixlen;
    __u32 slot;
    __u16 port;           /* host order */
    __u8 proto;           /* IPPROTO_TCP, IPPROTO_UDP */
    __u8 family;          /* AF_INET, AF_INET6 */
    __u8 addr[16];        /* network order; IPv4 in the first 4 bytes */
};
#define VG_EGRESS_FIXED_BITS 64

/* vg_egress_key keys vg_ingress too, the peers that may connect to each slot's listeners:
 * there the port is the local (listening) port and the address the peer's. */

/* Key of vg_unix_allowed: the unix-socket paths each profile slot may connect to (slot 0:
 * every slot), by the FNV-1a hash of the path as Vigil writes it (`@name` for an abstract
 * socket; PathHash in Swift). */
struct vg_unix_key {
    __u32 slot;
    __u32 _pad0;
    __u64 hash;
};

/* Key of vg_known_children: the programs each profile slot's processes executed, by the
 * FNV-1a hash of the path as execve was given it (vg_exec.path; PathHash in Swift). */
struct vg_child_key {
    __u32 slot;
    __u32 _pad0;
    __u64 hash;
};

/* Key of vg_listens: the ports each profile slot listened on (slot 0: every slot). */
struct vg_listen_key {
    __u32 slot;
    __u16 port;           /* host order */
    __u8 proto;           /* VG_PROTO_TCP, VG_PROTO_UDP */
    __u8 _pad0;
};
#define VG_PROTO_TCP 6        /* IPPROTO_TCP, as vg_egress_key.proto and vg_action.proto carry it */
#define VG_PROTO_UDP 17       /* IPPROTO_UDP */

/* What the kernel decided about a process (value of vg_marks, keyed by tgid). Only the
 * kernel writes it (created at fork or exec, updated in place, deleted at exit); user
 * space reads it. */
struct vg_marks {
    __u32 execs;          /* execs seen since the entry was made (fork copies the parent's) */
    __u32 marks;          /* VG_RESP_DEVIATING: set the moment a guarded slot saw something new */
};

/* Keys and values of the known-behaviour maps (shared with user space, which preloads
 * them from saved profiles and reads the counts back). */
struct vg_syscall_key {
    __u32 profile;
    __u32 nr;
};

struct vg_ngram_key {
    __u32 profile;
    __u32 _pad0;
    __u64 hash;
};

struct vg_seen {
    __u64 count;          /* times seen since the entry was created */
    __u64 last_ns;        /* CLOCK_MONOTONIC of the last time */
};

/* Novelty flags (vg_novelty.flags). */
#define VG_NOVELTY_NEW_SYSCALL (1u << 0)

/* A syscall whose n-gram is not among its profile's known n-grams (learn, monitor and
 * enforce modes). Known n-grams never leave the kernel: they are counted in place. */
struct vg_novelty {
    struct vg_header hdr;
    __u32 profile;        /* the profile slot user space assigned the process; 0: none */
    __u32 flags;          /* VG_NOVELTY_* */
    __u32 length;         /* n-gram length: entries of calls[] used */
    __u32 _pad0;
    __u64 hash;           /* Vigil n-gram hash v1 of calls[0..length) */
    __u32 calls[VG_NGRAM_MAX]; /* oldest first; 0xffffffff before the thread's first call */
};

/* Actions the kernel took (vg_action.action). */
enum vg_action_kind {
    VG_ACTION_DENY_CONNECT = 1,   /* a connect or sendmsg refused with EPERM */
    VG_ACTION_KILL_SYSCALL = 2,   /* SIGKILL sent at a syscall */
    VG_ACTION_KILL_EXEC = 3,      /* SIGKILL sent at exec of an unknown program */
    VG_ACTION_SEGMENT_DENY = 4,   /* a connect or sendmsg outside the profile's learned
                                   * destinations refused with EPERM (segmentation) */
    VG_ACTION_BIND_DENY = 5,      /* a bind to a port the profile never listened on refused
                                   * with EPERM (segmentation); remote: the local address */
    VG_ACTION_INGRESS_DROP = 6,   /* a connection attempt (TCP SYN) from a peer the profile
                                   * never accepted, dropped (ingress segmentation); remote:
                                   * the peer's address with the local port it reached for;
                                   * the header names the process that bound the listener */
};

/* The kernel carried out a response. */
struct vg_action {
    struct vg_header hdr;
    __u32 action;         /* enum vg_action_kind */
    __s32 result;         /* 0, or the helper's -errno */
    struct vg_sockaddr remote; /* VG_ACTION_DENY_CONNECT, _SEGMENT_DENY: where it tried to go */
    __u32 proto;               /* and its protocol (IPPROTO_TCP, IPPROTO_UDP; 0: unknown) */
    char path[VG_PATH_MAX];    /* VG_ACTION_KILL_EXEC: the program that did not run */
};

/* Self-protection (vg_tamper.what). */
enum vg_tamper_kind {
    VG_TAMPER_SIGNAL = 1,         /* a signal sent to the agent */
    VG_TAMPER_PTRACE = 2,         /* ptrace attach or seize of the agent */
    VG_TAMPER_BPF_DETACH = 3,     /* bpf(BPF_LINK_DETACH / BPF_PROG_DETACH) by another process */
};

/* Someone reached for the agent. The header names the actor. */
struct vg_tamper {
    struct vg_header hdr;
    __u32 what;           /* enum vg_tamper_kind */
    __u32 detail;         /* the signal number, ptrace request or bpf command */
};

/* File operations (vg_file.op, vg_file_key.op). */
enum vg_file_op {
    VG_FILE_WRITE = 1,            /* opened with write access (open/openat/openat2/creat), or the
                                   * target of a rename, link, unlink or chmod +x (flags say which) */
    VG_FILE_MAP_EXEC = 2,         /* mapped executable (mmap PROT_EXEC of a file, mprotect adding it) */
    VG_FILE_READ_SENSITIVE = 3,   /* opened read-only, and its name is in vg_sensitive_names */
    VG_FILE_KEY_CHMOD_EXEC = 17,  /* vg_file_key.op only: a chmod +x in the directory (hash: its
                                   * dir_hash), known apart from writes so that a write reported
                                   * there first cannot hide it; a learned write covers both */
};

/* File flags (vg_file.flags). */
#define VG_FILE_PATH_TRUNCATED (1u << 0)  /* the path's leading components were cut */
#define VG_FILE_VIA_MPROTECT (1u << 1)    /* VG_FILE_MAP_EXEC by mprotect, not mmap */
/* VG_FILE_WRITE by a call that names the file instead of opening it. The path is then the
 * name the caller gave joined to the directory it is relative to (its dirfd's file, or the
 * working directory), both walked from the kernel's objects; the name itself is as given
 * (it may hold "." and "..", and a symlink in it is not followed). */
#define VG_FILE_VIA_RENAME (1u << 2)      /* the target of rename, renameat, renameat2 */
#define VG_FILE_VIA_LINK (1u << 3)        /* the new name of link, linkat */
#define VG_FILE_VIA_UNLINK (1u << 4)      /* the name unlink, unlinkat removed */
#define VG_FILE_CHMOD_EXEC (1u << 5)      /* chmod, fchmod, fchmodat(2) to a mode with an execute bit */
#define VG_FILE_AS_NAMED (1u << 6)        /* the path is as named (above), not the opened file's */

/* A file a profiled process wrote, mapped executable or read from the sensitive set, and
 * whose directory (writes) or path (the others) is new to its profile slot. The path is
 * the file the kernel opened (dentries and mounts walked up from struct file), absolute.
 * dir_hash is FNV-1a 64 of the path's bytes before its last '/', path_hash of the whole
 * path (PathHash.swift); they key vg_known_files. */
struct vg_file {
    struct vg_header hdr;
    __u32 profile;        /* the slot user space assigned the process; 0: pending or none */
    __u32 op;             /* enum vg_file_op */
    __u32 flags;          /* VG_FILE_* */
    __u16 path_len;       /* bytes of path[] used, NUL excluded */
    __u16 _pad0;
    __u64 dir_hash;
    __u64 path_hash;
    char path[VG_PATH_MAX];
};

/* Key of vg_known_files: what each profile slot is known to do with files. hash is the
 * dir_hash for VG_FILE_WRITE, the path_hash for the other ops. */
struct vg_file_key {
    __u32 profile;
    __u32 op;
    __u64 hash;
};

#define VG_ASSERT_SIZE(type, bytes) \
    _Static_assert(sizeof(struct type) == (bytes), "wire layout of " #type " changed")

VG_ASSERT_SIZE(vg_header, 48);
VG_ASSERT_SIZE(vg_exec, 48 + 40 + VG_PATH_MAX + VG_ARGS_MAX);
VG_ASSERT_SIZE(vg_fork, 48 + 16);
VG_ASSERT_SIZE(vg_exit, 48 + 8);
VG_ASSERT_SIZE(vg_syscall, 48 + 8);
VG_ASSERT_SIZE(vg_sockaddr, 24 + VG_UNIX_PATH_MAX);
VG_ASSERT_SIZE(vg_net, 48 + 16 + 2 * (24 + VG_UNIX_PATH_MAX));
VG_ASSERT_SIZE(vg_novelty, 48 + 24 + 4 * VG_NGRAM_MAX);
VG_ASSERT_SIZE(vg_syscall_key, 8);
VG_ASSERT_SIZE(vg_ngram_key, 16);
VG_ASSERT_SIZE(vg_seen, 16);
VG_ASSERT_SIZE(vg_proc, 16);
VG_ASSERT_SIZE(vg_marks, 8);
VG_ASSERT_SIZE(vg_exec_key, 40);
VG_ASSERT_SIZE(vg_egress_key, 28);
VG_ASSERT_SIZE(vg_listen_key, 8);
VG_ASSERT_SIZE(vg_child_key, 16);
VG_ASSERT_SIZE(vg_unix_key, 16);
VG_ASSERT_SIZE(vg_action, 48 + 8 + 24 + VG_UNIX_PATH_MAX + 4 + VG_PATH_MAX);
VG_ASSERT_SIZE(vg_tamper, 48 + 8);
VG_ASSERT_SIZE(vg_file, 48 + 32 + VG_PATH_MAX);
VG_ASSERT_SIZE(vg_file_key, 16);

#endif /* VIGIL_WIRE_H */

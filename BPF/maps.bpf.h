/* maps.bpf.h: every map and every load-time setting of Vigil's BPF side, in one place. */
#ifndef VIGIL_MAPS_BPF_H
#define VIGIL_MAPS_BPF_H

/* Settings written by user space before load (.rodata). */
const volatile __u32 vg_abi_version = VG_ABI_VERSION;
const volatile __u32 vg_self_tgid = 0;          /* Vigil itself: never reported */
const volatile __u32 vg_filter_tgid = 0;        /* 0: every process */
const volatile char vg_filter_comm[VG_COMM_LEN] = {}; /* empty: every command */
const volatile bool vg_want_syscalls = false;   /* emit a record per syscall (vigil trace --syscalls) */
const volatile bool vg_want_files = false;      /* trace mode: report file events (files.bpf.c) */
const volatile bool vg_filter_known = false;   /* detect mode: a judged slot's connect, bind and listen
                                                 * its profile knows is counted (VG_CTR_KNOWN_BASE), not
                                                 * submitted; off for full event streams (--events) */
const volatile __u32 vg_syscall_wakeup_bytes = 256 * 1024; /* batch wakeups for syscall records */
const volatile __u32 vg_wakeup_batch_bytes = 0; /* 0: a record wakes the reader when it was idle (detect
                                                  * mode: responses wait on it); else only once this
                                                  * much is pending (trace, learn: the reader also
                                                  * drains on its poll timeout, Sensor.poll) */

/* Which probes run (enum vg_mode). */
const volatile __u32 vg_mode = 0;
const volatile __u32 vg_ngram_len = 6;          /* n of the n-grams (at most VG_NGRAM_MAX) */
const volatile bool vg_exec_guard = false;      /* a process marked VG_RESP_DEVIATING that execs a
                                                 * program no baseline knows is killed at exec */
const volatile bool vg_guard_all = false;       /* every process not VG_MEMBER_PROTECTED may be acted
                                                 * on (--all-processes); else only VG_MEMBER_GUARDED */

/* Every record goes through this ring buffer (size set by user space before load). */
struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 16 * 1024 * 1024);
} vg_events SEC(".maps");

/* Per-CPU counters (enum vg_counter): drops by kind, emitted by kind, read failures. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, VG_CTR_MAX);
    __type(key, __u32);
    __type(value, __u64);
} vg_counters SEC(".maps");

/* What a network syscall's entry saw, waiting for its exit (keyed by pid_tgid). */
struct vg_pending_net {
    __u32 kind;
    __s32 fd;
    struct vg_sockaddr addr;
    /* Set by the connect gate (detect mode) when the connect reaches a socket the process
     * itself bound (vg_bound_by): the verdict that needs no vg_own_ports entry. */
    __u32 own;
    /* Set by the connect gate (detect mode) when the process's judged profile learned the
     * destination: the exit counts the connect as known without looking again. */
    __u32 known;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16384);
    __type(key, __u64);
    __type(value, struct vg_pending_net);
} vg_pending_net SEC(".maps");

/* Scratch space for building a record too large for the BPF stack. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct vg_pending_net);
} vg_scratch_net SEC(".maps");

/* Learned destinations per profile slot, for segmentation (struct vg_egress_key). */
struct {
    __uint(type, BPF_MAP_TYPE_LPM_TRIE);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __uint(max_entries, 65536);
    __type(key, struct vg_egress_key);
    __type(value, __u8);
} vg_egress SEC(".maps");

/* Learned peers per profile slot and listening port, for ingress segmentation (struct
 * vg_egress_key: port = local port, address = the peer's prefix). */
struct {
    __uint(type, BPF_MAP_TYPE_LPM_TRIE);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __uint(max_entries, 65536);
    __type(key, struct vg_egress_key);
    __type(value, __u8);
} vg_ingress SEC(".maps");

/* The process that bound a socket, for the sockets guarded members bind to a port: the
 * ingress hook runs outside process context and finds its owner here. Freed with the
 * socket; not copied to accepted sockets (only listeners need it). */
struct vg_sock_owner {
    __u32 tgid;
};

struct {
    __uint(type, BPF_MAP_TYPE_SK_STORAGE);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, int);
    __type(value, struct vg_sock_owner);
} vg_sock_owner SEC(".maps");

/* Which process bound a socket, for every bind of a process Vigil tracks (vg_procs), any
 * address and port, port 0 too: the connect and sendmsg gates ask it of the socket a loopback
 * connect would reach, so a self-pipe is told from a destination by the socket itself. Freed
 * with the socket, so nothing is ever evicted or stale (vg_own_ports can be). Kept apart
 * from vg_sock_owner, which marks the listeners ingress segmentation judges. Written in the
 * bind gate, so only in detect mode; learning relies on vg_own_ports. */
struct vg_bound_by {
    __u32 tgid;
};

struct {
    __uint(type, BPF_MAP_TYPE_SK_STORAGE);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, int);
    __type(value, struct vg_bound_by);
} vg_bound_by SEC(".maps");

/* The TCP and UDP ports each process bound on loopback or the wildcard address (with port
 * 0 too: the one the kernel picked, read back at bind's exit). A connect to loopback at one of
 * them reaches the process's own socket, a self-pipe such as Foundation's CFSocket wake-up
 * pair (two UDP sockets on 127.0.0.1:0 connected to each other): not a destination. It is
 * never reported as one, segmentation and deny-network let it through (network.bpf.c,
 * response.bpf.c). The value holds the process's start time, so a reused pid is another
 * process, and the socket's address and inode number, so that only that very socket counts,
 * while it holds the port: entries are not removed when a socket closes (no hook here sees
 * a close), and a new socket may take the old one's memory. LRU: an evicted entry means
 * only that, in learning, such a connect is learned as a destination; in detect mode the
 * connect gate's verdict from vg_bound_by (vg_pending_net.own) flags it all the same, and no
 * gate refuses a process's connect to its own socket for want of an entry here. */
struct vg_own_port_key {
    __u32 tgid;
    __u16 port;
    __u8 proto; /* VG_PROTO_TCP, VG_PROTO_UDP */
    __u8 _pad0;
};

struct vg_own_port {
    __u64 start; /* the process's start time (group leader) */
    __u64 sk;    /* the struct sock bound there, as an address (compared, and read through) */
    __u64 ino;   /* its socket file's inode number: which socket lives at that address */
};

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 16384);
    __type(key, struct vg_own_port_key);
    __type(value, struct vg_own_port);
} vg_own_ports SEC(".maps");

/* When a dropped connection attempt was last reported, per listener owner, port and peer:
 * one record a second at most, whatever a peer sends. */
struct vg_ingress_seen_key {
    __u32 tgid;
    __u16 port;
    __u16 family;
    __u8 addr[16];
};

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 4096);
    __type(key, struct vg_ingress_seen_key);
    __type(value, __u64);
} vg_ingress_seen SEC(".maps");

/* Learned unix-socket paths per profile slot, for segmentation of unix connects
 * (struct vg_unix_key). */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __uint(max_entries, 16384);
    __type(key, struct vg_unix_key);
    __type(value, __u8);
} vg_unix_allowed SEC(".maps");

/* Learned listening ports per profile slot, for segmentation (struct vg_listen_key). */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __uint(max_entries, 16384);
    __type(key, struct vg_listen_key);
    __type(value, __u8);
} vg_listens SEC(".maps");

/* The programs each judged profile slot's processes are known to exec (struct
 * vg_child_key): an exec of one is flagged and counted as known (process.bpf.c). */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __uint(max_entries, 16384);
    __type(key, struct vg_child_key);
    __type(value, __u8);
} vg_known_children SEC(".maps");

/* Scratch space for an exec's path when the exec guard needs it before the record exists. */
struct vg_path_buf {
    char path[VG_PATH_MAX];
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct vg_path_buf);
} vg_scratch_path SEC(".maps");

/* Each learned or watched process (tgid), as user space set it (struct vg_proc: slot,
 * responses, workload membership). User space writes entries; the kernel creates a child's
 * at fork (a copy of the parent's) and an empty one at exec, names the slot at exec when
 * vg_exec_slots knows the file, and deletes the entry at exit. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 65536);
    __type(key, __u32);
    __type(value, struct vg_proc);
} vg_procs SEC(".maps");

/* The profile slot of each executable whose profile user space can tell from the file and
 * the command name alone (struct vg_exec_key -> __u32 slot): an exec that finds its key
 * here is named at once (vg_exec), not pending. Only user space writes it. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __uint(max_entries, 16384);
    __type(key, struct vg_exec_key);
    __type(value, __u32);
} vg_exec_slots SEC(".maps");

/* What the kernel decided about each process (struct vg_marks: exec count, deviating).
 * Only the kernel writes it; fork copies the parent's, exit removes it. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 65536);
    __type(key, __u32);
    __type(value, struct vg_marks);
} vg_marks SEC(".maps");

/* Per profile slot: what a new n-gram does (VG_SLOT_MODE_*), set by user space as profiles
 * move between learn, monitor and enforce. Read only on the novelty path. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, VG_MAX_SLOTS);
    __type(key, __u32);
    __type(value, __u32);
} vg_slot_modes SEC(".maps");

/* Moved on by user space after each change it makes to vg_procs, to vg_slot_modes, and
 * after it removes known n-grams (they invalidate vg_history's cached hits; additions do
 * not: a thread caches only hits). (The kernel's own changes to vg_procs
 * come at exec, which resets the thread's cache, and at fork, whose child starts without
 * one). A thread looks its process up in vg_procs again only when this moved. vg_marks
 * needs no such signal: the kernel reads it where it decides (exec), never from a cache. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} vg_procs_gen SEC(".maps");

/* Executables some baseline knows, by path hash (FNV-1a 64 of the path's bytes). A process
 * marked VG_RESP_DEVIATING that execs anything else is killed before it runs. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __uint(max_entries, 16384);
    __type(key, __u64);
    __type(value, __u8);
} vg_known_exec SEC(".maps");

/* The same executables by file (struct vg_file_id): an exec whose path misses vg_known_exec
 * but runs one of these files (a relative path, a symlink, a hard link) is known too. Only
 * user space writes it. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __uint(max_entries, 16384);
    __type(key, struct vg_file_id);
    __type(value, __u8);
} vg_known_exec_files SEC(".maps");

/* N-grams already reported for a process still pending its profile: each is reported
 * once, not at every occurrence, until user space assigns the process. */
struct vg_pending_key {
    __u32 tgid;
    __u32 _pad0;
    __u64 hash;
};

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 65536);
    __type(key, struct vg_pending_key);
    __type(value, __u8);
} vg_pending_seen SEC(".maps");

/* N-grams a judged process (its slot in monitor or enforce mode) has already reported:
 * each new one crosses the ring once per process, not at every occurrence (a loop doing a
 * new thing is one report, and a busy service's repeats cost no ring space or agent time).
 * The key's `_pad0` holds the low bits of the process's start time, so a pid reused by
 * another process is a new key. LRU: an evicted entry only means one more report. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 65536);
    __type(key, struct vg_pending_key);
    __type(value, __u8);
} vg_judged_seen SEC(".maps");

/* Per thread: how many known n-grams it remembers as known (direct-mapped by the hash's
 * low bits), and after how many uncounted hits of one it adds them to the map's count. A
 * service's request loop cycles through more n-grams than a tight loop: with 8 entries
 * nginx's missed often, and each miss costs a lookup and a flush (Benchmarks/README.md,
 * "Where a served request's probe cost goes"). */
#define VG_HIT_CACHE 32
#define VG_HIT_FLUSH 64

/* Each thread's most recent syscalls, for its n-grams. Reset at exec. */
struct vg_history {
    __u32 calls[VG_NGRAM_MAX];
    __u32 pos;            /* index of the newest call */
    __u32 filled;         /* calls seen since exec, saturating at VG_NGRAM_MAX */
    __u32 from_exec;      /* 1: the history starts at the program's start (exec), so the
                           * calls before the first are the start symbol; 0: the thread
                           * was already running when first seen (a process older than the
                           * agent, a new thread), so no n-gram is formed until it is full */
    __u32 slot;           /* the process's effective slot and the responses the kernel may */
    __u32 flags;          /* carry out for it (vg_proc_view), as of `gen`, so that a syscall */
    __u32 mode;           /* need not look them up, and the slot's VG_SLOT_MODE_*: valid while */
    __u64 gen;            /* `gen` equals vg_procs_gen; 0: nothing cached (a new thread, an exec) */
    /* N-gram hashes of `slot` this thread found in vg_known_ngrams since `gen` (0: none), so
     * that a judged slot's repeats need no map lookup; and each one's hits since its count
     * in the map was last brought up to date (at VG_HIT_FLUSH, when it is replaced, when
     * `gen` moves, at the thread's exit). Not used for a learning slot, whose counts the
     * calibration reads exactly. For a process pending its profile, the n-grams already
     * reported for it (vg_pending_seen), without counts. */
    __u64 hit_hash[VG_HIT_CACHE];
    __u32 hit_pending[VG_HIT_CACHE];
    /* In vg_threads: the thread that owns the entry (0: free) and its start time, so that a
     * thread reusing the id of one that left without release is not taken for it. 0 in task
     * storage. */
    __u32 owner;
    /* The transparent calls (vigil_transparent.h, one bit each) `slot` is known to make, or,
     * for a process pending its profile, already reported for it: the first such call checks
     * vg_known_syscalls, the rest cost nothing. Valid while `gen` is (cleared with the rest
     * of the cache, so a claimed slot, whose gen is 0, starts without it). */
    __u32 transparent_known;
    __u64 owner_start;
};

/* The threads' histories by thread id, slot `tid % VG_THREAD_SLOTS`, each owned by one live
 * thread: an array lookup the verifier inlines, where a task-storage get is a helper call
 * (about 30 ns a syscall on this kernel, Benchmarks/README.md). A thread whose slot another
 * live thread owns keeps its history in task storage (vg_history) instead; a slot is
 * released at its thread's exit. 16,384 slots of 472 bytes: 7.4 MiB. */
#define VG_THREAD_SLOTS 16384
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, VG_THREAD_SLOTS);
    __type(key, __u32);
    __type(value, struct vg_history);
} vg_threads SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, int);
    __type(value, struct vg_history);
} vg_history SEC(".maps");

/* Known behaviour per profile, counted where it happens so it never crosses to user space. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __uint(max_entries, 65536);
    __type(key, struct vg_syscall_key);
    __type(value, struct vg_seen);
} vg_known_syscalls SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __uint(max_entries, 262144);
    __type(key, struct vg_ngram_key);
    __type(value, struct vg_seen);
} vg_known_ngrams SEC(".maps");

/* What each profile slot is known to do with files (struct vg_file_key: a write's
 * directory hash, a mapped or sensitive file's path hash). User space preloads it from
 * saved profiles; the kernel adds what it reports, so each is reported once per run. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __uint(max_entries, 65536);
    __type(key, struct vg_file_key);
    __type(value, __u8);
} vg_known_files SEC(".maps");

/* FNV-1a 64 of the file and directory names of the sensitive set (`shadow`, `.ssh`, ...):
 * a read-only open is resolved to a path only when its name or its directory's is here.
 * Written by user space. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __uint(max_entries, 1024);
    __type(key, __u64);
    __type(value, __u8);
} vg_sensitive_names SEC(".maps");

#endif

/* common.bpf.h: helpers every hook family uses: filtering, counting, the record header. */
#ifndef VIGIL_COMMON_BPF_H
#define VIGIL_COMMON_BPF_H

/* FNV-1a 64-bit constants: the n-gram hash (learn.bpf.c) and the path hash (response.bpf.c). */
#define VG_FNV_SEED 0xcbf29ce484222325ULL
#define VG_FNV_PRIME 0x100000001b3ULL

static __always_inline void vg_count(__u32 idx)
{
    __u64 *v = bpf_map_lookup_elem(&vg_counters, &idx);
    if (v)
        *v += 1;
}

/* Reserve a record in the ring buffer, counting the drop when it is full. */
static __always_inline void *vg_reserve(__u32 size, __u16 kind)
{
    void *rec = bpf_ringbuf_reserve(&vg_events, size, 0);
    if (!rec)
        vg_count(VG_CTR_DROP_BASE + kind);
    return rec;
}

static __always_inline void vg_submit(void *rec, __u16 kind, __u64 flags)
{
    vg_count(VG_CTR_EMITTED_BASE + kind);
    /* A wakeup is an interrupt on this CPU and, often, one to the reader's: microseconds
     * in a VM, paid by the syscall that made the record. Where nothing waits on a record
     * (trace, learn) wakeups come once a batch has piled up. */
    if (!flags && vg_wakeup_batch_bytes)
        flags = bpf_ringbuf_query(&vg_events, BPF_RB_AVAIL_DATA) >= vg_wakeup_batch_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
    bpf_ringbuf_submit(rec, flags);
}

/* True when the current task is one user space asked about (and is not Vigil itself). */
static __always_inline bool vg_wanted(__u32 tgid)
{
    if (tgid == vg_self_tgid)
        return false;
    if (vg_filter_tgid && tgid != vg_filter_tgid)
        return false;
    if (vg_filter_comm[0]) {
        char comm[VG_COMM_LEN];
        bpf_get_current_comm(comm, sizeof comm);
        for (int i = 0; i < VG_COMM_LEN; i++) {
            if (comm[i] != vg_filter_comm[i])
                return false;
            if (!comm[i])
                break;
        }
    }
    return true;
}

static __always_inline void vg_fill_header(struct vg_header *h, __u16 kind, __u16 size)
{
    __u64 id = bpf_get_current_pid_tgid();
    h->kind = kind;
    h->size = size;
    h->cpu = bpf_get_smp_processor_id();
    h->ktime_ns = bpf_ktime_get_ns();
    h->pid = id >> 32;
    h->tid = (__u32)id;
    h->cgroup_id = bpf_get_current_cgroup_id();
    bpf_get_current_comm(h->comm, sizeof h->comm);
}

/* Whether the kernel may act on a process at all (exec guard, kill, deny network, marking
 * it deviating): a member of a guarded workload, or, with every process in scope, any
 * process not protected. A process user space has not placed (no entry) is never acted on. */
static __always_inline bool vg_may_act(const struct vg_proc *p)
{
    if (!p || (p->member & VG_MEMBER_PROTECTED))
        return false;
    return vg_guard_all || (p->member & VG_MEMBER_GUARDED);
}

/* A process as the per-syscall path needs it: the profile slot that holds for its current
 * program (VG_SLOT_PENDING while user space has not named the image the kernel last saw
 * it exec) and the responses the kernel may carry out for it. */
struct vg_view {
    __u32 slot;
    __u32 flags;
};

static __always_inline struct vg_view vg_proc_view(__u32 tgid)
{
    struct vg_view v = { .slot = 0, .flags = 0 };
    struct vg_proc *p = bpf_map_lookup_elem(&vg_procs, &tgid);
    if (!p)
        return v;
    struct vg_marks *m = bpf_map_lookup_elem(&vg_marks, &tgid);
    __u32 execs = m ? m->execs : 0;
    v.slot = p->exec_seq == execs ? p->slot : VG_SLOT_PENDING;
    v.flags = vg_may_act(p) ? p->flags : 0;
    return v;
}

/* The start time of the current process (its group leader): tells it from an earlier
 * process that had its pid. */
static __always_inline __u64 vg_process_start(void)
{
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    return BPF_CORE_READ(task, group_leader, start_time);
}

#define VG_SOCK_BINDPORT_LOCK 8

/* Whether an IPv4 or IPv6 socket's port is one the kernel picked (bound to port 0, or not
 * bound before listen): no caller asked for it (SOCK_BINDPORT_LOCK unset; an accepted socket
 * keeps its listener's), so it differs every time (FTP's passive mode, a test harness, a
 * self-pipe): a profile learns "a port the kernel picks" (port 0), not the number. */
static __always_inline bool vg_sock_port_picked(struct sock *sk)
{
    if (!sk)
        return false;
    __u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
    if (family != AF_INET && family != AF_INET6)
        return false;
    __u8 locks = (__u8)BPF_CORE_READ_BITFIELD_PROBED(sk, sk_userlocks);
    return !(locks & VG_SOCK_BINDPORT_LOCK);
}

/* Loopback addresses as the kernel holds them: 127.0.0.0/8 (network order), ::1 and
 * ::ffff:127.0.0.0/104. */
static __always_inline bool vg_loopback4(__u32 ip_be)
{
    return (bpf_ntohl(ip_be) >> 24) == 127;
}

static __always_inline bool vg_loopback6(const __u32 *w)
{
    if (w[0] || w[1])
        return false;
    if (w[2] == 0)
        return w[3] == bpf_htonl(1);
    return w[2] == bpf_htonl(0x0000ffff) && vg_loopback4(w[3]);
}

/* The inode number of the socket file of the struct sock at address `sk` (0 if unreadable). */
static __always_inline __u64 vg_sock_ino(__u64 sk)
{
    struct sock *s = (struct sock *)sk;
    return BPF_CORE_READ(s, sk_socket, file, f_inode, i_ino);
}

/* Whether the socket recorded in `own` is still the one at its address, holding `port`:
 * closing a socket unhashes it (its port reads 0 then), and a socket made later in its
 * memory has another inode. */
static __always_inline bool vg_own_socket_live(const struct vg_own_port *own, __u16 port)
{
    struct sock *s = (struct sock *)own->sk;
    return BPF_CORE_READ(s, __sk_common.skc_num) == port && vg_sock_ino(own->sk) == own->ino;
}

/* What the current process bound at `port` (VG_PROTO_TCP or _UDP) on loopback or the
 * wildcard address (vg_own_ports), or NULL: a connect to loopback there reaches its own
 * socket, if that socket still holds the port (vg_own_socket_live). */
static __always_inline struct vg_own_port *vg_own_port(__u32 tgid, __u16 port, __u8 proto)
{
    struct vg_own_port_key k = { .tgid = tgid, .port = port, .proto = proto, ._pad0 = 0 };
    struct vg_own_port *o = bpf_map_lookup_elem(&vg_own_ports, &k);
    return o && o->start == vg_process_start() ? o : 0;
}

#endif

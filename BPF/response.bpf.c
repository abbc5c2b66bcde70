/* response.bpf.c: responses carried out in the kernel, and self-protection.
 *
 * Each acts only on a process vg_may_act allows: a member of a guarded workload (or, with
 * every process in scope, one not protected). A response set for anything else is inert.
 *
 * - segmentation: the same hooks refuse a segmented member's connections to destinations
 *   its profile never learned (vg_egress).
 * - neither refuses a connection to the process's own socket on loopback (vg_bound_by).
 * - deny network: cgroup connect4/connect6/sendmsg4/sendmsg6 hooks (attached to the
 *   cgroup v2 root) refuse new connections and datagrams of processes marked
 *   VG_RESP_DENY_NET; children inherit the mark at fork.
 * - kill: a process marked VG_RESP_KILL gets SIGKILL from bpf_send_signal at its next
 *   syscall; a process marked VG_RESP_DEVIATING that execs a program no baseline knows (by
 *   path, or by the file the path leads to) is killed at sched_process_exec, before the
 *   program's first instruction.
 * - tamper: signals to the agent, ptrace attach to it, and BPF detach commands from other
 *   processes are reported as vg_tamper records. */

#define VG_SIGKILL 9
#define VG_PTRACE_ATTACH 16
#define VG_PTRACE_SEIZE 0x4206
#define VG_BPF_PROG_DETACH 9
#define VG_BPF_LINK_DETACH 34

static __always_inline void vg_report_action_proto(__u32 action, __s32 result, const struct vg_sockaddr *remote,
                                                   __u32 proto, const char *path, __u32 path_len)
{
    struct vg_action *a = vg_reserve(sizeof *a, VG_KIND_ACTION);
    if (!a)
        return;
    vg_fill_header(&a->hdr, VG_KIND_ACTION, sizeof *a);
    a->action = action;
    a->result = result;
    a->proto = proto;
    __builtin_memset(&a->remote, 0, sizeof a->remote);
    if (remote)
        __builtin_memcpy(&a->remote, remote, sizeof a->remote);
    a->path[0] = 0;
    if (path)
        bpf_probe_read_kernel_str(a->path, sizeof a->path, path);
    vg_submit(a, VG_KIND_ACTION, 0);
}

static __always_inline void vg_report_action(__u32 action, __s32 result, const struct vg_sockaddr *remote,
                                             const char *path, __u32 path_len)
{
    vg_report_action_proto(action, result, remote, 0, path, path_len);
}

static __always_inline void vg_kill_now(__u32 action)
{
    long rc = bpf_send_signal(VG_SIGKILL);
    vg_report_action(action, (__s32)rc, 0, 0, 0);
}

struct vg_path_hashing {
    const char *path; /* VG_PATH_MAX bytes */
    __u32 len;
    __u32 _pad0;
    __u64 h;
};

static long vg_path_hash_step(__u64 i, void *data)
{
    struct vg_path_hashing *c = data;
    if (i >= c->len)
        return 1;
    c->h = (c->h ^ (__u8)c->path[i & (VG_PATH_MAX - 1)]) * VG_FNV_PRIME;
    return 0;
}

/* FNV-1a 64 over a path's bytes: the key of vg_known_exec (PathHash in Swift). One bpf_loop
 * step a byte: an open-coded loop left the verifier one state per length, each carried into
 * what follows. */
static __always_inline __u64 vg_path_hash(const char *path, __u32 len)
{
    struct vg_path_hashing c = { .path = path, .len = len, ._pad0 = 0, .h = VG_FNV_SEED };
    bpf_loop(VG_PATH_MAX, vg_path_hash_step, &c, 0);
    return c.h;
}

static __always_inline __u64 vg_normal_path_hash(const char *path, __u32 len); /* files.bpf.c */

/* Kills the exec'ing process unless the program it runs is known: by the path execve was
 * given (vg_known_exec), or else by the file itself (vg_known_exec_files), so that a known
 * program run by a relative path or through a link is not taken for an unknown one. Not by
 * the file for a script (or any binfmt that hands the exec to an interpreter: bprm->interp
 * is no longer the name execve was given): bprm->file is then the interpreter, known as it
 * may be, and the script itself is what must be known: by its path as given or, for a
 * relative one or one spelled with "//" or "/./", as the absolute path it names from the
 * working directory, spelled plainly (vg_normal_path_hash). */
static __always_inline void vg_kill_unknown_exec(const char *path, __u32 len, struct linux_binprm *bprm)
{
    __u64 h = vg_path_hash(path, len);
    if (bpf_map_lookup_elem(&vg_known_exec, &h))
        return;
    struct inode *inode = BPF_CORE_READ(bprm, file, f_inode);
    bool interpreted = BPF_CORE_READ(bprm, interp) != BPF_CORE_READ(bprm, filename);
    if (inode && !interpreted) {
        struct vg_file_id id;
        __builtin_memset(&id, 0, sizeof id);
        id.dev = BPF_CORE_READ(inode, i_sb, s_dev);
        id.ino = BPF_CORE_READ(inode, i_ino);
        id.size = BPF_CORE_READ(inode, i_size);
        if (bpf_map_lookup_elem(&vg_known_exec_files, &id))
            return;
    }
    /* Known as the plainly spelled absolute path it names (a script's only way to be known
     * when it is not run by that path). */
    __u64 plain = vg_normal_path_hash(path, len);
    if (plain && plain != h && bpf_map_lookup_elem(&vg_known_exec, &plain))
        return;
    long rc = bpf_send_signal(VG_SIGKILL);
    vg_report_action(VG_ACTION_KILL_EXEC, (__s32)rc, 0, path, len);
}

/* An address as the action records carry it. */
static __always_inline struct vg_sockaddr vg_sockaddr_of(__u16 family, __u16 port, const __u32 *ip4, const __u32 *ip6)
{
    struct vg_sockaddr a = {};
    a.family = family;
    a.port = port;
    if (ip4)
        __builtin_memcpy(a.addr, ip4, 4);
    if (ip6)
        __builtin_memcpy(a.addr, ip6, 16);
    return a;
}

/* Whether `slot`'s profile learned the destination, or (`policy_too`) `segment-allow` names it
 * (slot 0). */
static __always_inline bool vg_egress_known(__u32 slot, bool policy_too, __u16 family, __u16 port, __u32 proto, const __u32 *ip4, const __u32 *ip6)
{
    struct vg_egress_key k = {};
    k.slot = slot;
    k.port = port;
    k.proto = (__u8)proto;
    k.family = (__u8)family;
    if (ip4) {
        __builtin_memcpy(k.addr, ip4, 4);
        k.prefixlen = VG_EGRESS_FIXED_BITS + 32;
    } else {
        __builtin_memcpy(k.addr, ip6, 16);
        k.prefixlen = VG_EGRESS_FIXED_BITS + 128;
    }
    if (bpf_map_lookup_elem(&vg_egress, &k))
        return true;
    if (!policy_too)
        return false;
    k.slot = 0;
    return bpf_map_lookup_elem(&vg_egress, &k) != 0;
}

/* Whether a segmented process's profile (or every profile, slot 0) learned this destination. */
static __always_inline bool vg_egress_learned(__u32 slot, __u16 family, __u16 port, __u32 proto, const __u32 *ip4, const __u32 *ip6)
{
    return vg_egress_known(slot, true, family, port, proto, ip4, ip6);
}

/* Whether a connection or datagram goes to loopback, to a socket the process itself bound
 * (vg_bound_by): a self-pipe, not the network. The kernel finds the socket the traffic would
 * reach, as for an arriving packet from the caller's own address, and asks that socket who
 * bound it. */
static __always_inline bool vg_reaches_own_socket(struct bpf_sock_addr *ctx, __u32 tgid, __u32 port_be, const __u32 *ip4, const __u32 *ip6)
{
    if (ip4 ? !vg_loopback4(*ip4) : !vg_loopback6(ip6))
        return false;
    __u8 proto = (__u8)ctx->protocol;
    if (proto != VG_PROTO_TCP && proto != VG_PROTO_UDP)
        return false;
    struct bpf_sock *caller = ctx->sk;
    if (!caller)
        return false;
    struct bpf_sock_tuple t = {};
    __u32 size;
    if (ip4) {
        t.ipv4.saddr = caller->src_ip4;
        t.ipv4.sport = bpf_htons((__u16)caller->src_port);
        t.ipv4.daddr = *ip4;
        t.ipv4.dport = (__u16)port_be;
        size = sizeof t.ipv4;
    } else {
        t.ipv6.saddr[0] = caller->src_ip6[0];
        t.ipv6.saddr[1] = caller->src_ip6[1];
        t.ipv6.saddr[2] = caller->src_ip6[2];
        t.ipv6.saddr[3] = caller->src_ip6[3];
        t.ipv6.sport = bpf_htons((__u16)caller->src_port);
        __builtin_memcpy(t.ipv6.daddr, ip6, 16);
        t.ipv6.dport = (__u16)port_be;
        size = sizeof t.ipv6;
    }
    struct bpf_sock *found = proto == VG_PROTO_TCP ? bpf_sk_lookup_tcp(ctx, &t, size, BPF_F_CURRENT_NETNS, 0)
                                                   : bpf_sk_lookup_udp(ctx, &t, size, BPF_F_CURRENT_NETNS, 0);
    if (!found)
        return false;
    struct vg_bound_by *b = bpf_sk_storage_get(&vg_bound_by, found, 0, 0);
    bool own = b && b->tgid == tgid;
    bpf_sk_release(found);
    return own;
}

/* 1: let the connection through; 0: refuse it (the caller sees EPERM). A connect to the
 * process's own socket is let through whatever its standing, and the verdict is left for
 * the connect's exit (vg_pending_net.own), which then reports no destination. */
static __always_inline int vg_gate(struct bpf_sock_addr *ctx, __u16 family, __u32 port_be, const __u32 *ip4, const __u32 *ip6)
{
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tgid = id >> 32;
    struct vg_proc *p = bpf_map_lookup_elem(&vg_procs, &tgid);
    if (!p)
        return 1;
    struct vg_pending_net *pending = bpf_map_lookup_elem(&vg_pending_net, &id);
    if (pending && pending->kind != VG_KIND_CONNECT)
        pending = 0;
    bool acts = vg_may_act(p);
    if (!acts && !pending)
        return 1;
    /* The socket lookup below costs some 500 ns a connect (Benchmarks/README.md, "own-socket
     * lookup"), so it is skipped where its verdict changes nothing: a destination a judged
     * profile learned passes unless the process is denied the network, and its connect is
     * known whichever socket it reaches. The verdict is left for the exit, which then need
     * not look the destination up again. */
    struct vg_view v = vg_proc_view(tgid);
    bool judged = v.slot != 0 && v.slot != VG_SLOT_PENDING;
    if (judged && !(acts && (p->flags & VG_RESP_DENY_NET))) {
        __u32 *mode = bpf_map_lookup_elem(&vg_slot_modes, &v.slot);
        if (mode && !(*mode & VG_SLOT_MODE_LEARN)
            && vg_egress_known(v.slot, false, family, bpf_ntohs((__u16)port_be), ctx->protocol, ip4, ip6)) {
            if (pending)
                pending->known = 1;
            return 1;
        }
    }
    if (vg_reaches_own_socket(ctx, tgid, port_be, ip4, ip6)) {
        if (pending)
            pending->own = 1;
        return 1;
    }
    if (!acts)
        return 1;
    __u32 action = 0;
    if (p->flags & VG_RESP_DENY_NET) {
        action = VG_ACTION_DENY_CONNECT;
    } else if (p->member & VG_MEMBER_SEGMENT) {
        /* Segmentation: only what the process's profile learned, for the program it runs
         * now (a pending process, between exec and naming, is let through). */
        if (!judged)
            return 1;
        if (vg_egress_learned(v.slot, family, bpf_ntohs((__u16)port_be), ctx->protocol, ip4, ip6))
            return 1;
        action = VG_ACTION_SEGMENT_DENY;
    } else {
        return 1;
    }
    struct vg_sockaddr remote = vg_sockaddr_of(family, bpf_ntohs((__u16)port_be), ip4, ip6);
    vg_report_action_proto(action, -1 /* EPERM */, &remote, ctx->protocol, 0, 0);
    return 0;
}

/* The cgroup hooks are loaded only in detect mode (the sensor switches them off before
 * load otherwise), so they need no mode check of their own. */
static __always_inline int vg_gate4(struct bpf_sock_addr *ctx)
{
    __u32 ip = ctx->user_ip4;
    return vg_gate(ctx, AF_INET, ctx->user_port, &ip, 0);
}

static __always_inline int vg_gate6(struct bpf_sock_addr *ctx)
{
    __u32 ip[4] = { ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3] };
    return vg_gate(ctx, AF_INET6, ctx->user_port, 0, ip);
}

/* Remembers which process bound a socket, for a guarded member binding a port: the
 * ingress hook, which runs outside process context, judges connection attempts to it by
 * that process's standing at the time. */
static __always_inline void vg_own_socket(struct bpf_sock_addr *ctx, __u32 tgid)
{
    struct vg_sock_owner *o = bpf_sk_storage_get(&vg_sock_owner, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
    if (o)
        o->tgid = tgid;
}

/* Segmentation of listeners: a segmented member may bind only ports its profile listened on
 * (port 0, an ephemeral port a client asks for, always). 1: let it bind; 0: EPERM. */
static __always_inline int vg_bind_gate(struct bpf_sock_addr *ctx, __u16 family, const __u32 *ip4, const __u32 *ip6)
{
    __u32 tgid = bpf_get_current_pid_tgid() >> 32;
    struct vg_proc *p = bpf_map_lookup_elem(&vg_procs, &tgid);
    if (!p)
        return 1;
    /* Who binds it, whatever its standing: a connect to it later may be its own (vg_gate). */
    struct vg_bound_by *b = bpf_sk_storage_get(&vg_bound_by, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
    if (b)
        b->tgid = tgid;
    if (!vg_may_act(p))
        return 1;
    __u16 port = bpf_ntohs((__u16)ctx->user_port);
    if (port == 0)
        return 1;
    if (!(p->member & VG_MEMBER_SEGMENT)) {
        vg_own_socket(ctx, tgid);
        return 1;
    }
    struct vg_view v = vg_proc_view(tgid);
    if (v.slot == 0 || v.slot == VG_SLOT_PENDING) {
        vg_own_socket(ctx, tgid);
        return 1;
    }
    struct vg_listen_key k = { .slot = v.slot, .port = port, .proto = (__u8)ctx->protocol, ._pad0 = 0 };
    if (bpf_map_lookup_elem(&vg_listens, &k)) {
        vg_own_socket(ctx, tgid);
        return 1;
    }
    k.slot = 0;
    if (bpf_map_lookup_elem(&vg_listens, &k)) {
        vg_own_socket(ctx, tgid);
        return 1;
    }
    struct vg_sockaddr local = vg_sockaddr_of(family, port, ip4, ip6);
    vg_report_action_proto(VG_ACTION_BIND_DENY, -1 /* EPERM */, &local, ctx->protocol, 0, 0);
    return 0;
}

SEC("cgroup/bind4")
int vg_bind4(struct bpf_sock_addr *ctx)
{
    __u32 ip = ctx->user_ip4;
    return vg_bind_gate(ctx, AF_INET, &ip, 0);
}

SEC("cgroup/bind6")
int vg_bind6(struct bpf_sock_addr *ctx)
{
    __u32 ip[4] = { ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3] };
    return vg_bind_gate(ctx, AF_INET6, 0, ip);
}

SEC("cgroup/connect4")
int vg_connect4(struct bpf_sock_addr *ctx) { return vg_gate4(ctx); }

SEC("cgroup/connect6")
int vg_connect6(struct bpf_sock_addr *ctx) { return vg_gate6(ctx); }

SEC("cgroup/sendmsg4")
int vg_sendmsg4(struct bpf_sock_addr *ctx) { return vg_gate4(ctx); }

SEC("cgroup/sendmsg6")
int vg_sendmsg6(struct bpf_sock_addr *ctx) { return vg_gate6(ctx); }

static __always_inline void vg_report_tamper(__u32 what, __u32 detail)
{
    struct vg_tamper *t = vg_reserve(sizeof *t, VG_KIND_TAMPER);
    if (!t)
        return;
    vg_fill_header(&t->hdr, VG_KIND_TAMPER, sizeof *t);
    t->what = what;
    t->detail = detail;
    vg_submit(t, VG_KIND_TAMPER, 0);
}

/* Called from sys_enter for ptrace and bpf (detect mode only). */
static __always_inline void vg_watch_tamper(__u32 tgid, long nr, struct pt_regs *regs)
{
    if (tgid == vg_self_tgid || !vg_self_tgid)
        return;
    if (nr == VG_NR_PTRACE) {
        long request = (long)VG_SYSCALL_ARG1(regs);
        if ((request == VG_PTRACE_ATTACH || request == VG_PTRACE_SEIZE) && (__u32)VG_SYSCALL_ARG2(regs) == vg_self_tgid)
            vg_report_tamper(VG_TAMPER_PTRACE, (__u32)request);
    } else if (nr == VG_NR_BPF) {
        long cmd = (long)VG_SYSCALL_ARG1(regs);
        if (cmd == VG_BPF_LINK_DETACH || cmd == VG_BPF_PROG_DETACH)
            vg_report_tamper(VG_TAMPER_BPF_DETACH, (__u32)cmd);
    }
}

SEC("tp_btf/signal_generate")
int BPF_PROG(vg_signal_generate, int sig, void *info, struct task_struct *task)
{
    if (!vg_self_tgid || sig == 0) /* loaded in detect mode only, like the cgroup hooks */
        return 0;
    if ((__u32)BPF_CORE_READ(task, tgid) != vg_self_tgid)
        return 0;
    __u32 sender = bpf_get_current_pid_tgid() >> 32;
    if (sender == vg_self_tgid)
        return 0;
    vg_report_tamper(VG_TAMPER_SIGNAL, (__u32)sig);
    return 0;
}

/* Ingress segmentation: a connection attempt (TCP SYN) to a listener that a member with
 * VG_MEMBER_SEGMENT_INGRESS bound is dropped unless its profile accepted that peer on that
 * port (vg_ingress). Only sockets a guarded member bound carry an owner (vg_sock_owner), so
 * no other listener on the host is ever touched; the owner's standing is read at each SYN, so
 * a workload held at monitor lets everything through at once. 1: pass; 0: drop. */
SEC("cgroup_skb/ingress")
int vg_ingress_gate(struct __sk_buff *skb)
{
    struct bpf_sock *sk = skb->sk;
    if (!sk)
        return 1;
    sk = bpf_sk_fullsock(sk);
    if (!sk || sk->state != BPF_TCP_LISTEN)
        return 1;
    struct vg_sock_owner *o = bpf_sk_storage_get(&vg_sock_owner, sk, 0, 0);
    if (!o)
        return 1;
    __u32 tgid = o->tgid;
    struct vg_proc *p = bpf_map_lookup_elem(&vg_procs, &tgid);
    if (!p || !(p->member & VG_MEMBER_SEGMENT_INGRESS) || !vg_may_act(p))
        return 1;
    struct vg_view v = vg_proc_view(tgid);
    if (v.slot == 0 || v.slot == VG_SLOT_PENDING)
        return 1;

    struct vg_egress_key k = { .slot = v.slot, .proto = VG_PROTO_TCP };
    __u32 l4 = 0;
    __u8 ip[40];
    if (skb->protocol == bpf_htons(0x0800 /* ETH_P_IP */)) {
        if (bpf_skb_load_bytes(skb, 0, ip, 20) < 0 || ip[9] != VG_PROTO_TCP)
            return 1;
        l4 = (ip[0] & 0x0f) * 4;
        k.family = AF_INET;
        __builtin_memcpy(k.addr, &ip[12], 4);
        k.prefixlen = VG_EGRESS_FIXED_BITS + 32;
    } else if (skb->protocol == bpf_htons(0x86DD /* ETH_P_IPV6 */)) {
        /* Extension headers before TCP are not followed: such a packet passes. */
        if (bpf_skb_load_bytes(skb, 0, ip, 40) < 0 || ip[6] != VG_PROTO_TCP)
            return 1;
        l4 = 40;
        k.family = AF_INET6;
        __builtin_memcpy(k.addr, &ip[8], 16);
        k.prefixlen = VG_EGRESS_FIXED_BITS + 128;
    } else {
        return 1;
    }
    __u8 tcp[14];
    if (l4 < 20 || bpf_skb_load_bytes(skb, l4, tcp, sizeof tcp) < 0)
        return 1;
    /* A SYN without ACK opens a connection; everything else belongs to one already let in. */
    if ((tcp[13] & 0x12) != 0x02)
        return 1;
    __u16 port = ((__u16)tcp[2] << 8) | tcp[3];
    /* A listener on a port the kernel picked learned its peers under port 0. */
    k.port = vg_sock_port_picked((struct sock *)bpf_skc_to_tcp_sock(sk)) ? 0 : port;
    if (bpf_map_lookup_elem(&vg_ingress, &k))
        return 1;
    k.slot = 0;
    if (bpf_map_lookup_elem(&vg_ingress, &k))
        return 1;

    struct vg_ingress_seen_key sk_key = { .tgid = tgid, .port = port, .family = k.family };
    __builtin_memcpy(sk_key.addr, k.addr, 16);
    __u64 now = bpf_ktime_get_ns();
    __u64 *last = bpf_map_lookup_elem(&vg_ingress_seen, &sk_key);
    if (last && now - *last < 1000000000ull)
        return 0;
    bpf_map_update_elem(&vg_ingress_seen, &sk_key, &now, BPF_ANY);

    struct vg_action *a = vg_reserve(sizeof *a, VG_KIND_ACTION);
    if (!a)
        return 0;
    /* Not the current task's header: the packet arrives in softirq context. */
    a->hdr.kind = VG_KIND_ACTION;
    a->hdr.size = sizeof *a;
    a->hdr.cpu = bpf_get_smp_processor_id();
    a->hdr.ktime_ns = now;
    a->hdr.pid = tgid;
    a->hdr.tid = tgid;
    a->hdr.cgroup_id = 0;
    __builtin_memset(a->hdr.comm, 0, sizeof a->hdr.comm);
    a->action = VG_ACTION_INGRESS_DROP;
    a->result = 0;
    a->proto = VG_PROTO_TCP;
    __builtin_memset(&a->remote, 0, sizeof a->remote);
    a->remote.family = k.family;
    a->remote.port = port;
    __builtin_memcpy(a->remote.addr, k.addr, 16);
    a->path[0] = 0;
    vg_submit(a, VG_KIND_ACTION, 0);
    return 0;
}

/* The kernel's side of a sock_addr context (Linux 6.7+ for unix sockets): the address the
 * caller passed, as the kernel copied it. */
struct bpf_sock_addr_kern {
    void *uaddr;
    __u32 uaddrlen;
} __attribute__((preserve_access_index));

extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;

/* One step of hashing a unix-socket path (bpf_loop callback): FNV-1a over its bytes as
 * Vigil writes the path, up to the first NUL; an abstract socket's leading NUL as '@'. */
struct vg_unix_hash {
    __u64 h;
    __u32 n;
    char path[VG_UNIX_PATH_MAX];
};

static long vg_unix_hash_step(__u32 i, void *data)
{
    struct vg_unix_hash *u = data;
    if (i >= u->n || i >= VG_UNIX_PATH_MAX - 1)
        return 1;
    __u8 c = (__u8)u->path[i];
    if (i == 0 && c == 0)
        c = '@';
    else if (c == 0)
        return 1;
    u->h = (u->h ^ c) * VG_FNV_PRIME;
    return 0;
}

/* Segmentation of unix-domain sockets (cgroup/connect_unix, Linux 6.7+; loaded only where
 * the kernel has it): a segmented member may connect only to the socket paths its profile
 * learned (an exploited service reaching for /var/run/docker.sock is refused with EPERM).
 * Deny-network leaves unix sockets alone: it cuts the network, not the host's own IPC. */
SEC("cgroup/connect_unix")
int vg_connect_unix(struct bpf_sock_addr *ctx)
{
    __u32 tgid = bpf_get_current_pid_tgid() >> 32;
    struct vg_proc *p = bpf_map_lookup_elem(&vg_procs, &tgid);
    if (!p || !(p->member & VG_MEMBER_SEGMENT) || !vg_may_act(p))
        return 1;
    struct vg_view v = vg_proc_view(tgid);
    if (v.slot == 0 || v.slot == VG_SLOT_PENDING)
        return 1;
    struct bpf_sock_addr_kern *sa = bpf_cast_to_kern_ctx(ctx);
    struct vg_sockaddr remote = { .family = AF_UNIX };
    void *uaddr = BPF_CORE_READ(sa, uaddr);
    __u32 len = BPF_CORE_READ(sa, uaddrlen);
    /* Only the bytes the caller passed after sun_family (the rest of the kernel's copy is
     * not theirs), at most VG_UNIX_PATH_MAX - 1: what the connect event reports too. */
    __u32 n = len > 2 ? len - 2 : 0;
    n &= 127;
    if (n > VG_UNIX_PATH_MAX - 1)
        n = VG_UNIX_PATH_MAX - 1;
    struct vg_unix_hash u = { .h = VG_FNV_SEED, .n = n };
    if (!uaddr || n == 0 || bpf_probe_read_kernel(u.path, n, (char *)uaddr + 2 /* sun_path */) < 0)
        return 1;
    bpf_loop(VG_UNIX_PATH_MAX - 1, vg_unix_hash_step, &u, 0);
    __u64 h = u.h;
    struct vg_unix_key k = { .slot = v.slot, ._pad0 = 0, .hash = h };
    if (bpf_map_lookup_elem(&vg_unix_allowed, &k))
        return 1;
    k.slot = 0;
    if (bpf_map_lookup_elem(&vg_unix_allowed, &k))
        return 1;
    __builtin_memcpy(remote.path, u.path, sizeof remote.path);
    vg_report_action_proto(VG_ACTION_SEGMENT_DENY, -1 /* EPERM */, &remote, 0, 0, 0);
    return 0;
}

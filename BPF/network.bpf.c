/* network.bpf.c: connect, bind, listen and accept, on the per-syscall tracepoints
 * (syscalls/sys_enter_connect, sys_exit_connect, ...).
 *
 * Entry records what the caller passed (fd, sockaddr) in vg_pending_net; exit adds the
 * result and the socket's own view of its addresses, and emits one vg_net record. When
 * tp_btf/sys_enter is loaded anyway (learn, detect, --syscalls), it takes the entry and
 * the enter tracepoints here stay unloaded (syscalls.bpf.c).
 *
 * Why these tracepoints and not the generic sys_enter/sys_exit hooks: a program on the
 * generic hooks runs for every syscall of every task, only to compare the syscall number.
 * The per-syscall tracepoints run a program only for their own syscall; for the others the
 * kernel tests one bit of its enabled-syscalls bitmap. `vigil-bench sensor` measures both
 * (Benchmarks/README.md). */

/* Copy a user sockaddr of `len` bytes into the wire form. */
static __always_inline void vg_read_user_sockaddr(struct vg_sockaddr *out, const void *uaddr, __u32 len)
{
    __u16 family = 0;
    out->family = 0;
    out->port = 0;
    if (!uaddr || len < sizeof(__u16) || bpf_probe_read_user(&family, sizeof family, uaddr)) {
        vg_count(VG_CTR_READ_FAIL_SOCKADDR);
        return;
    }
    out->family = family;
    if (family == AF_INET && len >= 8) {
        __u16 port;
        bpf_probe_read_user(&port, sizeof port, uaddr + 2);
        out->port = bpf_ntohs(port);
        bpf_probe_read_user(out->addr, 4, uaddr + 4);
    } else if (family == AF_INET6 && len >= 24) {
        __u16 port;
        bpf_probe_read_user(&port, sizeof port, uaddr + 2);
        out->port = bpf_ntohs(port);
        bpf_probe_read_user(out->addr, 16, uaddr + 8);
    } else if (family == AF_UNIX) {
        __u32 n = len - sizeof(__u16);
        if (n > VG_UNIX_PATH_MAX - 1)
            n = VG_UNIX_PATH_MAX - 1;
        n &= 127;
        if (n > VG_UNIX_PATH_MAX - 1)
            n = VG_UNIX_PATH_MAX - 1;
        if (n && bpf_probe_read_user(out->path, n, uaddr + 2))
            vg_count(VG_CTR_READ_FAIL_UNIX_PATH);
        out->path[VG_UNIX_PATH_MAX - 1] = 0;
    }
}

/* The struct sock behind file descriptor `fd` of the current task, or NULL. */
static __always_inline struct socket *vg_socket_of_fd(__s32 fd)
{
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
    if (!fdt || fd < 0 || (__u32)fd >= BPF_CORE_READ(fdt, max_fds))
        return 0;
    struct file **fds = BPF_CORE_READ(fdt, fd);
    struct file *file = 0;
    if (bpf_probe_read_kernel(&file, sizeof file, &fds[fd]) || !file)
        return 0;
    umode_t mode = BPF_CORE_READ(file, f_inode, i_mode);
    if ((mode & S_IFMT) != S_IFSOCK)
        return 0;
    return BPF_CORE_READ(file, private_data);
}

/* Fill local and/or remote from the socket's own state (addresses as the kernel holds them). */
static __always_inline void vg_socket_addrs(struct socket *sock, struct vg_sockaddr *local, struct vg_sockaddr *remote)
{
    struct sock *sk = BPF_CORE_READ(sock, sk);
    if (!sk)
        return;
    __u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
    if (family == AF_INET) {
        if (local) {
            local->family = family;
            local->port = BPF_CORE_READ(sk, __sk_common.skc_num);
            __u32 a = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
            __builtin_memcpy(local->addr, &a, 4);
        }
        if (remote) {
            remote->family = family;
            remote->port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
            __u32 a = BPF_CORE_READ(sk, __sk_common.skc_daddr);
            __builtin_memcpy(remote->addr, &a, 4);
        }
    } else if (family == AF_INET6) {
        if (local) {
            local->family = family;
            local->port = BPF_CORE_READ(sk, __sk_common.skc_num);
            BPF_CORE_READ_INTO(&local->addr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
        }
        if (remote) {
            remote->family = family;
            remote->port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
            BPF_CORE_READ_INTO(&remote->addr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
        }
    } else if (family == AF_UNIX) {
        if (local && !local->family)
            local->family = family;
    }
}

static __always_inline int vg_net_enter(__u32 kind, __s32 fd, const void *uaddr, __u32 len, bool has_addr)
{
    __u64 id = bpf_get_current_pid_tgid();
    if (!vg_wanted(id >> 32))
        return 0;
    __u32 zero = 0;
    struct vg_pending_net *p = bpf_map_lookup_elem(&vg_scratch_net, &zero);
    if (!p)
        return 0;
    p->kind = kind;
    p->fd = fd;
    p->own = 0;
    p->known = 0;
    __builtin_memset(&p->addr, 0, sizeof p->addr);
    if (has_addr)
        vg_read_user_sockaddr(&p->addr, uaddr, len);
    if (bpf_map_update_elem(&vg_pending_net, &id, p, BPF_ANY))
        vg_count(VG_CTR_PENDING_FULL);
    return 0;
}

#define VG_SOCK_STREAM 1
#define VG_SOCK_DGRAM 2

/* The transport of a socket as vg_egress_key.proto names it; 0 for neither TCP nor UDP. */
static __always_inline __u8 vg_sock_proto(struct socket *sock)
{
    __u16 type = BPF_CORE_READ(sock, type);
    return type == VG_SOCK_STREAM ? VG_PROTO_TCP : type == VG_SOCK_DGRAM ? VG_PROTO_UDP : 0;
}

/* The egress key of a connect's destination for `slot`: what Sensor.prefixKey writes for a
 * learned address (an IPv4-mapped IPv6 address as the IPv4 one, as Learner.address names
 * it), matched against learned addresses and networks alike by the trie. */
static __always_inline bool vg_dest_key(struct vg_egress_key *k, __u32 slot, __u8 proto, const struct vg_sockaddr *a)
{
    k->slot = slot;
    k->port = a->port;
    k->proto = proto;
    if (a->family == AF_INET) {
        k->family = AF_INET;
        __builtin_memcpy(k->addr, a->addr, 4);
        k->prefixlen = VG_EGRESS_FIXED_BITS + 32;
        return true;
    }
    if (a->family != AF_INET6)
        return false;
    __u32 w0, w1, w2;
    __builtin_memcpy(&w0, a->addr, 4);
    __builtin_memcpy(&w1, a->addr + 4, 4);
    __builtin_memcpy(&w2, a->addr + 8, 4);
    if (w0 == 0 && w1 == 0 && w2 == bpf_htonl(0x0000ffff)) {
        k->family = AF_INET;
        __builtin_memcpy(k->addr, a->addr + 12, 4);
        k->prefixlen = VG_EGRESS_FIXED_BITS + 32;
    } else {
        k->family = AF_INET6;
        __builtin_memcpy(k->addr, a->addr, 16);
        k->prefixlen = VG_EGRESS_FIXED_BITS + 128;
    }
    return true;
}

/* FNV-1a of a unix-socket path as the connect's entry captured it (up to its first NUL; an
 * abstract socket's leading NUL as '@'): the key of vg_unix_allowed, as vg_connect_unix and
 * PathHash compute it. */
static __always_inline __u64 vg_unix_path_hash(const char *path)
{
    __u64 h = VG_FNV_SEED;
    for (__u32 i = 0; i < VG_UNIX_PATH_MAX - 1; i++) {
        __u8 c = (__u8)path[i];
        if (i == 0 && c == 0)
            c = '@';
        else if (c == 0)
            break;
        h = (h ^ c) * VG_FNV_PRIME;
    }
    return h;
}

/* Whether this call's record would tell user space nothing its judge does not already
 * hold: the caller's slot is judged (monitor, enforce: not learning, not pending, not
 * slot 0) and its profile learned the destination (connect: a TCP or UDP address, or a
 * unix socket's path) or the port (bind, listen). The keys are segmentation's (vg_egress,
 * vg_unix_allowed, vg_listens), looked up for the slot alone: slot 0 holds `segment-allow`,
 * which is policy, not what the profile learned. Other transports: user space judges what
 * the kernel does not key. */
static __always_inline bool vg_net_known(__u32 kind, struct socket *sock, const struct vg_pending_net *p, bool picked)
{
    if (!vg_filter_known || vg_mode != VG_MODE_DETECT || !sock)
        return false;
    /* The cheap test first: a socket that is neither TCP nor UDP (nor a unix connect) is
     * never known, whatever its process's slot. */
    bool unix_connect = kind == VG_KIND_CONNECT && p->addr.family == AF_UNIX;
    __u8 proto = unix_connect ? 0 : vg_sock_proto(sock);
    if (!unix_connect && !proto)
        return false;
    struct vg_view v = vg_proc_view(bpf_get_current_pid_tgid() >> 32);
    if (v.slot == 0 || v.slot == VG_SLOT_PENDING)
        return false;
    __u32 *mode = bpf_map_lookup_elem(&vg_slot_modes, &v.slot);
    if (!mode || (*mode & VG_SLOT_MODE_LEARN))
        return false;
    if (unix_connect) {
        struct vg_unix_key k = { .slot = v.slot, ._pad0 = 0, .hash = vg_unix_path_hash(p->addr.path) };
        return bpf_map_lookup_elem(&vg_unix_allowed, &k) != 0;
    }
    if (kind == VG_KIND_CONNECT) {
        struct vg_egress_key k = {};
        return vg_dest_key(&k, v.slot, proto, &p->addr) && bpf_map_lookup_elem(&vg_egress, &k) != 0;
    }
    __u16 port = 0;
    if (kind == VG_KIND_BIND) {
        if (p->addr.family != AF_INET && p->addr.family != AF_INET6)
            return false;
        port = p->addr.port;
    } else {
        struct vg_sockaddr local = {};
        vg_socket_addrs(sock, &local, 0);
        if (local.family != AF_INET && local.family != AF_INET6)
            return false;
        port = picked ? 0 : local.port;
    }
    struct vg_listen_key k = { .slot = v.slot, .port = port, .proto = proto, ._pad0 = 0 };
    return bpf_map_lookup_elem(&vg_listens, &k) != 0;
}

/* After a successful bind: the port the socket holds (the kernel's pick for port 0), kept in
 * vg_own_ports when the address is loopback or the wildcard one, so the process's connects
 * to it are known for what they are. */
static __always_inline void vg_remember_own_port(__u64 id, struct socket *sock)
{
    __u8 proto = vg_sock_proto(sock);
    if (!proto)
        return;
    struct vg_sockaddr local = {};
    vg_socket_addrs(sock, &local, 0);
    if (local.port == 0)
        return;
    __u32 w[4];
    __builtin_memcpy(w, local.addr, 16);
    bool reachable = false;
    if (local.family == AF_INET)
        reachable = w[0] == 0 || vg_loopback4(w[0]);
    else if (local.family == AF_INET6)
        reachable = (w[0] | w[1] | w[2] | w[3]) == 0 || vg_loopback6(w);
    if (!reachable)
        return;
    struct vg_own_port_key k = { .tgid = id >> 32, .port = local.port, .proto = proto, ._pad0 = 0 };
    __u64 sk = (__u64)BPF_CORE_READ(sock, sk);
    struct vg_own_port o = { .start = vg_process_start(), .sk = sk, .ino = vg_sock_ino(sk) };
    bpf_map_update_elem(&vg_own_ports, &k, &o, BPF_ANY);
}

static __always_inline bool vg_port_picked(struct socket *sock)
{
    return vg_sock_port_picked(BPF_CORE_READ(sock, sk));
}

/* Whether a connect's destination is loopback at a port the caller itself bound, on the
 * socket that still holds it (the gates in response.bpf.c also find the socket the traffic
 * reaches). */
static __always_inline bool vg_connects_own_socket(__u64 id, struct socket *sock, const struct vg_sockaddr *a)
{
    if (!sock)
        return false;
    __u32 w[4];
    __builtin_memcpy(w, a->addr, 16);
    bool loopback = a->family == AF_INET ? vg_loopback4(w[0]) : a->family == AF_INET6 && vg_loopback6(w);
    if (!loopback)
        return false;
    __u8 proto = vg_sock_proto(sock);
    struct vg_own_port *own = proto ? vg_own_port(id >> 32, a->port, proto) : 0;
    if (!own)
        return false;
    return vg_own_socket_live(own, a->port);
}

static __always_inline int vg_net_exit(__u64 id, long ret)
{
    struct vg_pending_net *p = bpf_map_lookup_elem(&vg_pending_net, &id);
    if (!p)
        return 0;

    __u32 kind = p->kind;
    struct socket *sock = vg_socket_of_fd(p->fd);
    if (kind == VG_KIND_BIND && ret == 0 && sock)
        vg_remember_own_port(id, sock);
    /* A connect to the process's own socket is no destination: in detect mode it tells the
     * judge nothing and stays here, counted as known; otherwise it goes up flagged. The
     * connect gate's verdict (detect mode) first, vg_own_ports where it gave none. */
    bool gate_known = kind == VG_KIND_CONNECT && p->known; /* the gate found it learned (detect mode) */
    bool own = kind == VG_KIND_CONNECT && !gate_known && (p->own || vg_connects_own_socket(id, sock, &p->addr));
    bool picked = kind == VG_KIND_LISTEN && ret == 0 && sock && vg_port_picked(sock);
    if (((gate_known || own) && vg_filter_known && vg_mode == VG_MODE_DETECT) || (!own && !gate_known && vg_net_known(kind, sock, p, picked))) {
        vg_count(VG_CTR_KNOWN_BASE + kind);
        bpf_map_delete_elem(&vg_pending_net, &id);
        return 0;
    }
    struct vg_net *n = vg_reserve(sizeof *n, kind);
    if (!n) {
        bpf_map_delete_elem(&vg_pending_net, &id);
        return 0;
    }
    vg_fill_header(&n->hdr, kind, sizeof *n);
    n->result = ret;
    n->fd = p->fd;
    n->sock_type = 0;
    n->flags = (own ? VG_NET_OWN_SOCKET : 0) | (picked ? VG_NET_PICKED_PORT : 0);
    __builtin_memset(&n->local, 0, sizeof n->local);
    __builtin_memset(&n->remote, 0, sizeof n->remote);

    if (sock)
        n->sock_type = BPF_CORE_READ(sock, type);

    if (kind == VG_KIND_CONNECT) {
        __builtin_memcpy(&n->remote, &p->addr, sizeof n->remote);
        if (sock && ret == 0)
            vg_socket_addrs(sock, &n->local, 0);
    } else if (kind == VG_KIND_BIND) {
        __builtin_memcpy(&n->local, &p->addr, sizeof n->local);
    } else if (kind == VG_KIND_LISTEN) {
        if (sock)
            vg_socket_addrs(sock, &n->local, 0);
    }
    bpf_map_delete_elem(&vg_pending_net, &id);
    vg_submit(n, kind, 0);
    return 0;
}

/* accept and accept4: the new socket is only known at exit, from the returned fd. */
static __always_inline int vg_accept_exit(long ret)
{
    if (ret < 0)
        return 0;
    struct socket *sock = vg_socket_of_fd((__s32)ret);
    if (!sock)
        return 0;
    struct vg_net *n = vg_reserve(sizeof *n, VG_KIND_ACCEPT);
    if (!n)
        return 0;
    vg_fill_header(&n->hdr, VG_KIND_ACCEPT, sizeof *n);
    n->result = ret;
    n->fd = (__s32)ret;
    n->sock_type = BPF_CORE_READ(sock, type);
    n->flags = vg_port_picked(sock) ? VG_NET_PICKED_PORT : 0; /* an accepted socket keeps its listener's locks */
    __builtin_memset(&n->local, 0, sizeof n->local);
    __builtin_memset(&n->remote, 0, sizeof n->remote);
    vg_socket_addrs(sock, &n->local, &n->remote);
    vg_submit(n, VG_KIND_ACCEPT, 0);
    return 0;
}

/* The tracepoints' records (see /sys/kernel/tracing/events/syscalls/sys_enter_connect/format):
 * 8 bytes of common fields, the syscall number, then the arguments or the return value. */
struct vg_sys_enter_args {
    __u64 common;
    __s32 nr;
    __u32 _pad0;
    __u64 args[6];
};

struct vg_sys_exit_args {
    __u64 common;
    __s32 nr;
    __u32 _pad0;
    __s64 ret;
};

SEC("tracepoint/syscalls/sys_enter_connect")
int vg_enter_connect(struct vg_sys_enter_args *ctx)
{
    return vg_net_enter(VG_KIND_CONNECT, (__s32)ctx->args[0], (const void *)ctx->args[1], (__u32)ctx->args[2], true);
}

SEC("tracepoint/syscalls/sys_enter_bind")
int vg_enter_bind(struct vg_sys_enter_args *ctx)
{
    return vg_net_enter(VG_KIND_BIND, (__s32)ctx->args[0], (const void *)ctx->args[1], (__u32)ctx->args[2], true);
}

SEC("tracepoint/syscalls/sys_enter_listen")
int vg_enter_listen(struct vg_sys_enter_args *ctx)
{
    return vg_net_enter(VG_KIND_LISTEN, (__s32)ctx->args[0], 0, 0, false);
}

SEC("tracepoint/syscalls/sys_exit_connect")
int vg_exit_connect(struct vg_sys_exit_args *ctx)
{
    return vg_net_exit(bpf_get_current_pid_tgid(), ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_bind")
int vg_exit_bind(struct vg_sys_exit_args *ctx)
{
    return vg_net_exit(bpf_get_current_pid_tgid(), ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_listen")
int vg_exit_listen(struct vg_sys_exit_args *ctx)
{
    return vg_net_exit(bpf_get_current_pid_tgid(), ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int vg_exit_accept(struct vg_sys_exit_args *ctx)
{
    if (!vg_wanted(bpf_get_current_pid_tgid() >> 32))
        return 0;
    return vg_accept_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int vg_exit_accept4(struct vg_sys_exit_args *ctx)
{
    if (!vg_wanted(bpf_get_current_pid_tgid() >> 32))
        return 0;
    return vg_accept_exit(ctx->ret);
}

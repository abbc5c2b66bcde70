/* syscalls.bpf.c: the two syscall hooks, sys_enter and sys_exit (BTF raw tracepoints).
 *
 * sys_enter stores the arguments of connect/bind/listen for their exit, feeds profiled
 * processes' calls to the n-gram learner (learn.bpf.c) and, when user space asked for
 * syscall events (vg_want_syscalls), emits one record per syscall of the processes it
 * asked about. sys_exit completes the network calls. Each does a compare on
 * the syscall number before anything else, so other syscalls cost one short program run. */

SEC("tp_btf/sys_enter")
int BPF_PROG(vg_sys_enter, struct pt_regs *regs, long nr)
{
    if (nr != VG_NR_CONNECT && nr != VG_NR_BIND && nr != VG_NR_LISTEN && !vg_want_syscalls && vg_mode == VG_MODE_TRACE)
        return 0;
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tgid = id >> 32;
    if (!vg_wanted(tgid))
        return 0;

    if (vg_mode != VG_MODE_TRACE)
        vg_learn_syscall(tgid, (__u32)nr);
    if (vg_mode == VG_MODE_DETECT && (nr == VG_NR_PTRACE || nr == VG_NR_BPF))
        vg_watch_tamper(tgid, nr, regs);

    if (nr == VG_NR_CONNECT)
        vg_net_enter(id, regs, VG_KIND_CONNECT, true);
    else if (nr == VG_NR_BIND)
        vg_net_enter(id, regs, VG_KIND_BIND, true);
    else if (nr == VG_NR_LISTEN)
        vg_net_enter(id, regs, VG_KIND_LISTEN, false);

    if (!vg_want_syscalls)
        return 0;
    struct vg_syscall *s = vg_reserve(sizeof *s, VG_KIND_SYSCALL);
    if (!s)
        return 0;
    vg_fill_header(&s->hdr, VG_KIND_SYSCALL, sizeof *s);
    s->nr = nr;
    /* Syscall records are many: wake the reader only once a batch has piled up; it
     * also polls on a short timeout, so nothing waits long. */
    __u64 flags = bpf_ringbuf_query(&vg_events, BPF_RB_AVAIL_DATA) >= vg_syscall_wakeup_bytes
                      ? BPF_RB_FORCE_WAKEUP
                      : BPF_RB_NO_WAKEUP;
    vg_submit(s, VG_KIND_SYSCALL, flags);
    return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(vg_sys_exit, struct pt_regs *regs, long ret)
{
    long nr = regs->orig_ax; /* a direct BTF load: cheaper than a probe-read helper call */
    if (nr == VG_NR_ACCEPT || nr == VG_NR_ACCEPT4) {
        if (!vg_wanted(bpf_get_current_pid_tgid() >> 32))
            return 0;
        return vg_accept_exit(ret);
    }
    if (nr == VG_NR_CONNECT || nr == VG_NR_BIND || nr == VG_NR_LISTEN)
        return vg_net_exit(bpf_get_current_pid_tgid(), ret);
    return 0;
}

/* syscalls.bpf.c: the generic syscall hook, sys_enter (a BTF raw tracepoint).
 *
 * sys_enter feeds profiled processes' calls to the n-gram learner (learn.bpf.c), watches
 * for tampering in detect mode and, when user space asked for syscall events
 * (vg_want_syscalls), emits one record per syscall of the processes it asked about. It is
 * loaded only when one of those is wanted: `vigil trace` without --syscalls attaches nothing
 * here (network calls have their own tracepoints, network.bpf.c). */

SEC("tp_btf/sys_enter")
int BPF_PROG(vg_sys_enter, struct pt_regs *regs, long nr)
{
    if (!vg_want_syscalls && vg_mode == VG_MODE_TRACE)
        return 0;
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tgid = id >> 32;
    if (!vg_wanted(tgid))
        return 0;

    if (vg_mode != VG_MODE_TRACE)
        vg_learn_syscall(tgid, (__u32)nr);
    if (vg_mode == VG_MODE_DETECT && (nr == VG_NR_PTRACE || nr == VG_NR_BPF))
        vg_watch_tamper(tgid, nr, regs);

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

/* syscalls.bpf.c: the generic syscall hook, sys_enter (a BTF raw tracepoint).
 *
 * sys_enter feeds profiled processes' calls to the n-gram learner (learn.bpf.c), watches
 * for tampering in detect mode, takes the network and file calls' entry (network.bpf.c,
 * files.bpf.c) and, when
 * user space asked for syscall events
 * (vg_want_syscalls), emits one record per syscall of the processes it asked about. It is
 * loaded only when one of those is wanted: `vigil trace` without --syscalls attaches nothing
 * here (network calls then use their own enter tracepoints, network.bpf.c). */


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
        vg_learn_syscall(id, (__u32)nr);
    if (vg_mode == VG_MODE_DETECT && (nr == VG_NR_PTRACE || nr == VG_NR_BPF))
        vg_watch_tamper(tgid, nr, regs);

    /* The network calls' entry, here since this program runs anyway: the sensor leaves
     * their own enter tracepoints unloaded whenever it loads this one, so that the other
     * syscalls do not also pay for those tracepoints' enabled-syscall test. */
    if (nr == VG_NR_CONNECT)
        vg_net_enter(VG_KIND_CONNECT, (__s32)VG_SYSCALL_ARG1(regs), (const void *)VG_SYSCALL_ARG2(regs), (__u32)VG_SYSCALL_ARG3(regs), true);
    else if (nr == VG_NR_BIND)
        vg_net_enter(VG_KIND_BIND, (__s32)VG_SYSCALL_ARG1(regs), (const void *)VG_SYSCALL_ARG2(regs), (__u32)VG_SYSCALL_ARG3(regs), true);
    else if (nr == VG_NR_LISTEN)
        vg_net_enter(VG_KIND_LISTEN, (__s32)VG_SYSCALL_ARG1(regs), 0, 0, false);
    else
        vg_files_enter(nr, regs); /* and the file calls' (files.bpf.c), for the same reason */

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

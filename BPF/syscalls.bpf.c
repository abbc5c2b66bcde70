/* syscalls.bpf.c: syscall entry per process. Loaded only when user space asks for
 * syscall events (autoload is off otherwise), so it costs nothing when unused. */

SEC("tp_btf/sys_enter")
int BPF_PROG(vg_sys_enter, struct pt_regs *regs, long nr)
{
    __u32 tgid = bpf_get_current_pid_tgid() >> 32;
    if (!vg_wanted(tgid))
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

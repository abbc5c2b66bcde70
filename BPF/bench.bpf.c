/* bench.bpf.c: programs for overhead measurements only, never loaded by the agent (the
 * sensor switches them off; vigil-bench turns one on at a time, SensorOptions.benchmarkLoad).
 *
 * vg_bench_floor is the floor: an empty program on the hook the syscall stream uses, what
 * attaching anything at all to sys_enter costs. The vg_bench_step_* programs are the
 * learn/enforce sys_enter path of syscalls.bpf.c cut short after one step of
 * vg_learn_steps (learn.bpf.c), built from the same code: the difference between two of
 * them is what that step costs. */

SEC("tp_btf/sys_enter")
int BPF_PROG(vg_bench_floor, struct pt_regs *regs, long nr)
{
    return 0;
}

/* An empty program on sys_exit: what attaching anything to the exit side costs, against
 * the syscalls:sys_exit_* tracepoints file and network capture use (which also sit on
 * sys_exit, behind the kernel's test of a bitmap of enabled syscalls). */
SEC("tp_btf/sys_exit")
int BPF_PROG(vg_bench_exit_floor, struct pt_regs *regs, long ret)
{
    return 0;
}

/* The part of vg_sys_enter before the n-gram check: whose call it is. */
static __always_inline int vg_bench_steps(long nr, const int upto)
{
    __u64 id = bpf_get_current_pid_tgid();
    if (!vg_wanted(id >> 32))
        return 0;
    vg_learn_steps(id, (__u32)nr, upto);
    return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(vg_bench_step_storage, struct pt_regs *regs, long nr) { return vg_bench_steps(nr, VG_STEP_STORAGE); }

SEC("tp_btf/sys_enter")
int BPF_PROG(vg_bench_step_view, struct pt_regs *regs, long nr) { return vg_bench_steps(nr, VG_STEP_VIEW); }

SEC("tp_btf/sys_enter")
int BPF_PROG(vg_bench_step_hash, struct pt_regs *regs, long nr) { return vg_bench_steps(nr, VG_STEP_HASH); }

SEC("tp_btf/sys_enter")
int BPF_PROG(vg_bench_step_lookup, struct pt_regs *regs, long nr) { return vg_bench_steps(nr, VG_STEP_LOOKUP); }

SEC("tp_btf/sys_enter")
int BPF_PROG(vg_bench_step_all, struct pt_regs *regs, long nr) { return vg_bench_steps(nr, VG_STEP_ALL); }

/* bench.bpf.c: the floor for overhead measurements: an empty program on the same hook the
 * syscall stream uses. Never loaded by the agent (the sensor switches it off); only the
 * benchmark turns it on, to measure what attaching anything at all to sys_enter costs. */

SEC("tp_btf/sys_enter")
int BPF_PROG(vg_bench_floor, struct pt_regs *regs, long nr)
{
    return 0;
}

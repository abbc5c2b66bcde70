/* process.bpf.c: process lifecycle from BTF tracepoints: exec, fork, exit.
 *
 * The kernel's own bookkeeping (exec guard, exec count, inheritance at fork, removal at
 * exit) comes before the record and does not depend on it: a full ring buffer drops the
 * record, never a kill or a workload's membership. */

/* An exec, as the kernel keeps it. Responses in force were inherited from a deviating
 * parent: they stay, and one of them kills a program no baseline knows before its first
 * instruction (enforce only, and only for a process the kernel may act on). Then the exec
 * is counted: the slot user space named was for the old program, so until it names the new
 * one (by this count) the process is pending. Returns the count. */
static __always_inline __u32 vg_exec_account(__u32 tgid, const char *filename)
{
    struct vg_proc *p = bpf_map_lookup_elem(&vg_procs, &tgid);
    struct vg_marks *m = bpf_map_lookup_elem(&vg_marks, &tgid);
    __u32 deviating = ((p ? p->flags : 0) | (m ? m->marks : 0)) & VG_RESP_DEVIATING;
    if (vg_exec_guard && deviating && vg_may_act(p) && !(p->member & VG_MEMBER_NO_EXEC_GUARD)) {
        __u32 zero = 0;
        struct vg_path_buf *b = bpf_map_lookup_elem(&vg_scratch_path, &zero);
        if (b) {
            long n = bpf_probe_read_kernel_str(b->path, sizeof b->path, filename);
            vg_kill_unknown_exec(b->path, n > 0 ? n - 1 : 0);
        }
    }
    __u32 exec_seq = 1;
    if (m) {
        exec_seq = __sync_add_and_fetch(&m->execs, 1);
    } else {
        struct vg_marks fresh = { .execs = 1, .marks = 0 };
        if (bpf_map_update_elem(&vg_marks, &tgid, &fresh, BPF_ANY) == -7 /* E2BIG */)
            vg_count(VG_CTR_PROCS_FULL);
    }
    if (!p) {
        /* A program user space has not placed yet: pending, and not acted on. */
        struct vg_proc fresh = { .slot = 0, .exec_seq = 0, .flags = 0, .member = 0 };
        if (bpf_map_update_elem(&vg_procs, &tgid, &fresh, BPF_NOEXIST) == -7 /* E2BIG */)
            vg_count(VG_CTR_PROCS_FULL);
    }
    return exec_seq;
}

/* The judged slot of the image that is exec'ing, or 0: read before the exec is counted
 * (after it, the process is pending until user space names the new program). */
static __always_inline __u32 vg_exec_parent_slot(__u32 tgid)
{
    if (!vg_filter_known || vg_mode != VG_MODE_DETECT)
        return 0;
    struct vg_view v = vg_proc_view(tgid);
    if (v.slot == 0 || v.slot == VG_SLOT_PENDING)
        return 0;
    __u32 *mode = bpf_map_lookup_elem(&vg_slot_modes, &v.slot);
    return mode && !(*mode & VG_SLOT_MODE_LEARN) ? v.slot : 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(vg_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tgid = id >> 32;
    if (!vg_wanted(tgid))
        return 0;

    const char *filename = BPF_CORE_READ(bprm, filename);
    __u32 exec_seq = 0;
    __u32 parent_slot = vg_exec_parent_slot(tgid);
    if (vg_mode != VG_MODE_TRACE) {
        exec_seq = vg_exec_account(tgid, filename);
        /* A new program: its n-grams start afresh, and its profile is for user space to
         * decide (the path alone does not say which script an interpreter runs). */
        vg_learn_reset_history();
    }

    struct vg_exec *e = vg_reserve(sizeof *e, VG_KIND_EXEC);
    if (!e)
        return 0;
    vg_fill_header(&e->hdr, VG_KIND_EXEC, sizeof *e);

    e->ppid = BPF_CORE_READ(task, real_parent, tgid);
    e->uid = BPF_CORE_READ(task, cred, uid.val);
    e->euid = BPF_CORE_READ(task, cred, euid.val);
    e->gid = BPF_CORE_READ(task, cred, gid.val);
    e->old_pid = old_pid;
    e->flags = 0;

    long n = bpf_probe_read_kernel_str(e->path, sizeof e->path, filename);
    if (n < 0) {
        e->path[0] = 0;
        n = 1;
    }
    e->path_len = n > 0 ? n - 1 : 0;
    if (n == VG_PATH_MAX)
        e->flags |= VG_EXEC_PATH_TRUNCATED;
    /* A child the old image's profile knows. The record still goes: it creates the process
     * in user space's table and names its profile (docs/architecture.md, "What crosses the
     * ring"); the flag and the count say the kernel found it known. */
    if (parent_slot) {
        struct vg_child_key ck = { .slot = parent_slot, ._pad0 = 0, .hash = vg_path_hash(e->path, e->path_len) };
        if (bpf_map_lookup_elem(&vg_known_children, &ck)) {
            e->flags |= VG_EXEC_KNOWN_CHILD;
            vg_count(VG_CTR_KNOWN_BASE + VG_KIND_EXEC);
        }
    }

    unsigned long start = BPF_CORE_READ(task, mm, arg_start);
    unsigned long end = BPF_CORE_READ(task, mm, arg_end);
    unsigned long len = end - start;
    if (len > VG_ARGS_MAX) {
        len = VG_ARGS_MAX;
        e->flags |= VG_EXEC_ARGS_TRUNCATED;
    }
    /* Bound len for the verifier; the branch above already capped it. */
    len &= (2 * VG_ARGS_MAX - 1);
    if (len > VG_ARGS_MAX)
        len = VG_ARGS_MAX;
    if (len && bpf_probe_read_user(e->args, len, (const void *)start) == 0) {
        e->args_len = len;
    } else {
        e->args_len = 0;
        if (len)
            vg_count(VG_CTR_READ_FAIL_ARGS);
    }
    e->exec_seq = exec_seq;
    vg_submit(e, VG_KIND_EXEC, 0);
    return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(vg_fork, struct task_struct *parent, struct task_struct *child)
{
    __u32 child_pid = BPF_CORE_READ(child, pid);
    __u32 child_tgid = BPF_CORE_READ(child, tgid);
    if (child_pid != child_tgid)
        return 0; /* a new thread, not a new process */
    __u32 tgid = bpf_get_current_pid_tgid() >> 32;
    if (!vg_wanted(tgid))
        return 0;

    if (vg_mode != VG_MODE_TRACE) {
        /* The child runs its parent's program until it execs: same profile, same
         * responses, same workload, same marks. Copied before the record is out, so that
         * what user space writes for the child on reading it comes after. */
        struct vg_proc *p = bpf_map_lookup_elem(&vg_procs, &tgid);
        if (p) {
            struct vg_proc copy = *p;
            if (bpf_map_update_elem(&vg_procs, &child_tgid, &copy, BPF_ANY) == -7 /* E2BIG */)
                vg_count(VG_CTR_PROCS_FULL);
        }
        struct vg_marks *m = bpf_map_lookup_elem(&vg_marks, &tgid);
        if (m) {
            struct vg_marks copy = *m;
            if (bpf_map_update_elem(&vg_marks, &child_tgid, &copy, BPF_ANY) == -7 /* E2BIG */)
                vg_count(VG_CTR_PROCS_FULL);
        }
    }
    struct vg_fork *f = vg_reserve(sizeof *f, VG_KIND_FORK);
    if (!f)
        return 0;
    vg_fill_header(&f->hdr, VG_KIND_FORK, sizeof *f);
    f->child_pid = child_tgid;
    f->child_tid = child_pid;
    f->flags = 0;
    f->_pad0 = 0;
    vg_submit(f, VG_KIND_FORK, 0);
    return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(vg_exit, struct task_struct *task)
{
    if (vg_mode != VG_MODE_TRACE)
        vg_learn_thread_exit();
    /* Report the process, not each thread: only the last thread to leave. */
    if (BPF_CORE_READ(task, signal, live.counter) != 0)
        return 0;
    if (BPF_CORE_READ(task, flags) & PF_KTHREAD)
        return 0;
    __u32 tgid = bpf_get_current_pid_tgid() >> 32;
    if (!vg_wanted(tgid))
        return 0;

    if (vg_mode != VG_MODE_TRACE) {
        bpf_map_delete_elem(&vg_procs, &tgid);
        bpf_map_delete_elem(&vg_marks, &tgid);
    }
    struct vg_exit *x = vg_reserve(sizeof *x, VG_KIND_EXIT);
    if (!x)
        return 0;
    vg_fill_header(&x->hdr, VG_KIND_EXIT, sizeof *x);
    x->exit_code = BPF_CORE_READ(task, exit_code);
    x->_pad0 = 0;
    vg_submit(x, VG_KIND_EXIT, 0);
    return 0;
}

/* process.bpf.c: process lifecycle from BTF tracepoints: exec, fork, exit.
 *
 * The kernel's own bookkeeping (exec guard, exec count, naming the new program's profile
 * slot, inheritance at fork, removal at exit) comes before the record and does not depend
 * on it: a full ring buffer drops the record, never a kill, a slot or a workload's
 * membership.
 *
 * At exec the kernel names the profile slot itself when user space published one for the
 * file that runs and the command name it runs under (vg_exec_slots: device, inode, size and
 * comm; only for a file with one link): the process is judged from its first syscall.
 * Otherwise it is pending until user space reads the exec record and names it, as it still
 * does for every exec (its answer, the same slot or another, is the one that stays). */

/* An exec, as the kernel keeps it. Responses in force were inherited from a deviating
 * parent: they stay, and one of them kills a program no baseline knows before its first
 * instruction (enforce only, and only for a process the kernel may act on). Then the exec
 * is counted: the slot user space named was for the old program, so until the new one is
 * named by this count (vg_exec_name_slot, or user space) the process is pending. Returns
 * the count. */
static __always_inline __u32 vg_exec_account(__u32 tgid, const char *filename, struct linux_binprm *bprm)
{
    struct vg_proc *p = bpf_map_lookup_elem(&vg_procs, &tgid);
    struct vg_marks *m = bpf_map_lookup_elem(&vg_marks, &tgid);
    __u32 deviating = ((p ? p->flags : 0) | (m ? m->marks : 0)) & VG_RESP_DEVIATING;
    if (vg_exec_guard && deviating && vg_may_act(p) && !(p->member & VG_MEMBER_NO_EXEC_GUARD)) {
        __u32 zero = 0;
        struct vg_path_buf *b = bpf_map_lookup_elem(&vg_scratch_path, &zero);
        if (b) {
            long n = bpf_probe_read_kernel_str(b->path, sizeof b->path, filename);
            vg_kill_unknown_exec(b->path, n > 0 ? n - 1 : 0, bprm);
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

/* The slot user space published for the file this exec runs under the name it runs by
 * (vg_exec_slots), or 0. A file with more than one link is never looked up: another path
 * to it may be another profile, and the inode does not say which path was run. */
static __always_inline __u32 vg_exec_published_slot(struct linux_binprm *bprm)
{
    struct inode *inode = BPF_CORE_READ(bprm, file, f_inode);
    if (!inode || BPF_CORE_READ(inode, i_nlink) != 1)
        return 0;
    struct vg_exec_key key;
    __builtin_memset(&key, 0, sizeof key);
    key.dev = BPF_CORE_READ(inode, i_sb, s_dev);
    key.ino = BPF_CORE_READ(inode, i_ino);
    key.size = BPF_CORE_READ(inode, i_size);
    bpf_get_current_comm(key.comm, sizeof key.comm);
    __u32 *slot = bpf_map_lookup_elem(&vg_exec_slots, &key);
    return slot ? *slot : 0;
}

/* Names process `tgid`'s slot for exec number `exec_seq` when vg_exec_slots knows the file
 * (responses and membership kept). The entry is rewritten whole, never a field at a time,
 * so that user space reading it meanwhile never sees a slot with another exec's count.
 * Returns the slot named, or 0 (pending, as before). */
static __always_inline __u32 vg_exec_name_slot(__u32 tgid, __u32 exec_seq, struct linux_binprm *bprm)
{
    __u32 slot = vg_exec_published_slot(bprm);
    if (!slot)
        return 0;
    struct vg_proc *p = bpf_map_lookup_elem(&vg_procs, &tgid);
    if (!p)
        return 0; /* vg_procs is full (vg_exec_account counted it) */
    struct vg_proc named = *p;
    named.slot = slot;
    named.exec_seq = exec_seq;
    if (bpf_map_update_elem(&vg_procs, &tgid, &named, BPF_EXIST) != 0)
        return 0;
    return slot;
}

/* The judged slot of the image that is exec'ing, or 0: read before the exec is counted
 * (after it, the view is the new program's: named at exec, or pending). */
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
    __u32 exec_seq = 0, slot = 0;
    __u32 parent_slot = vg_exec_parent_slot(tgid);
    if (vg_mode != VG_MODE_TRACE) {
        exec_seq = vg_exec_account(tgid, filename, bprm);
        /* A new program: its n-grams start afresh, and its profile is named here when user
         * space published it for this file and name, else left to user space (the path
         * alone does not say which script an interpreter runs). The thread's cached view is
         * dropped either way, so its first syscall reads the entry as it is now. */
        slot = vg_exec_name_slot(tgid, exec_seq, bprm);
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
    e->slot = slot;
    e->_pad0 = 0;
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

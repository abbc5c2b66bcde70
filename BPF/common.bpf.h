/* common.bpf.h: helpers every hook family uses: filtering, counting, the record header. */
#ifndef VIGIL_COMMON_BPF_H
#define VIGIL_COMMON_BPF_H

/* FNV-1a 64-bit constants: the n-gram hash (learn.bpf.c) and the path hash (response.bpf.c). */
#define VG_FNV_SEED 0xcbf29ce484222325ULL
#define VG_FNV_PRIME 0x100000001b3ULL

static __always_inline void vg_count(__u32 idx)
{
    __u64 *v = bpf_map_lookup_elem(&vg_counters, &idx);
    if (v)
        *v += 1;
}

/* Reserve a record in the ring buffer, counting the drop when it is full. */
static __always_inline void *vg_reserve(__u32 size, __u16 kind)
{
    void *rec = bpf_ringbuf_reserve(&vg_events, size, 0);
    if (!rec)
        vg_count(VG_CTR_DROP_BASE + kind);
    return rec;
}

static __always_inline void vg_submit(void *rec, __u16 kind, __u64 flags)
{
    vg_count(VG_CTR_EMITTED_BASE + kind);
    bpf_ringbuf_submit(rec, flags);
}

/* True when the current task is one user space asked about (and is not Vigil itself). */
static __always_inline bool vg_wanted(__u32 tgid)
{
    if (tgid == vg_self_tgid)
        return false;
    if (vg_filter_tgid && tgid != vg_filter_tgid)
        return false;
    if (vg_filter_comm[0]) {
        char comm[VG_COMM_LEN];
        bpf_get_current_comm(comm, sizeof comm);
        for (int i = 0; i < VG_COMM_LEN; i++) {
            if (comm[i] != vg_filter_comm[i])
                return false;
            if (!comm[i])
                break;
        }
    }
    return true;
}

static __always_inline void vg_fill_header(struct vg_header *h, __u16 kind, __u16 size)
{
    __u64 id = bpf_get_current_pid_tgid();
    h->kind = kind;
    h->size = size;
    h->cpu = bpf_get_smp_processor_id();
    h->ktime_ns = bpf_ktime_get_ns();
    h->pid = id >> 32;
    h->tid = (__u32)id;
    h->cgroup_id = bpf_get_current_cgroup_id();
    bpf_get_current_comm(h->comm, sizeof h->comm);
}

#endif

/* learn.bpf.c: per-profile syscall n-grams, in the kernel.
 *
 * For every syscall of a process with a profile slot, the thread's last n calls form an
 * n-gram, hashed with Vigil's n-gram hash v1 (the same definition as NgramHash.swift):
 *
 *     state = 0xcbf29ce484222325
 *     for k = newest .. oldest:  state = (state ^ call[k]) * 0x100000001b3
 *     h = state ^ (n << 56); h = fmix64(h); if h == 0: h = 1
 *
 * A known n-gram is counted in place (vg_known_ngrams) and nothing leaves the kernel; for a
 * judged slot (monitor, enforce) a thread remembers the last known n-grams it met
 * (vg_history.hit_hash) and answers their repeats without the map lookup, adding their
 * counts to the map in batches (VG_HIT_FLUSH, and at the thread's exit). A new
 * one is reported once as a vg_novelty record; for a slot in learn mode (vg_slot_modes) it
 * is added to the known map first, so the next occurrence is already known; for a slot in
 * enforce mode the process is marked deviating at once. A judged process (monitor or
 * enforce) reports each distinct new n-gram once (vg_judged_seen), and so does a process
 * still pending a profile: one just exec'd whose file and name vg_exec_slots did not hold
 * (process.bpf.c names the others at exec), until user space names it.
 *
 * After a request-boundary call (vigil_boundary.h: accept, epoll_wait, poll, select and
 * their *at/p-forms) the history restarts with that call, the start symbol before it.
 * A transparent call (vigil_transparent.h: futex, sched_yield) never enters the history;
 * only whether the profile makes it at all is learned and judged (vg_learn_transparent). */

#define VG_START_SYMBOL 0xffffffffu

static __always_inline __u64 vg_fmix(__u64 h)
{
    h = (h ^ (h >> 33)) * 0xff51afd7ed558ccdULL;
    h = (h ^ (h >> 33)) * 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h ? h : 1;
}

/* The call `back` places before the newest one (0: the newest), or the start symbol for
 * places before the thread's first call. */
static __always_inline __u32 vg_history_call(const struct vg_history *h, __u32 pos, __u32 filled, __u32 back)
{
    return back < filled ? h->calls[(pos - back) & (VG_NGRAM_MAX - 1)] : VG_START_SYMBOL;
}

/* Brings cached n-gram `i`'s count in vg_known_ngrams up to date with its hits, stamping
 * it seen now (an entry user space removed meanwhile is simply gone). */
static __always_inline void vg_flush_hits(struct vg_history *h, __u32 slot, __u32 i)
{
    i &= VG_HIT_CACHE - 1;
    __u32 pending = h->hit_pending[i];
    if (!pending)
        return;
    h->hit_pending[i] = 0;
    struct vg_ngram_key key = { .profile = slot, ._pad0 = 0, .hash = h->hit_hash[i] };
    struct vg_seen *seen = bpf_map_lookup_elem(&vg_known_ngrams, &key);
    if (seen) {
        __sync_fetch_and_add(&seen->count, pending);
        seen->last_ns = bpf_ktime_get_ns();
    }
}

/* Counts every cached hit and forgets them: the slot, the mode or the known map may have
 * changed. */
static __always_inline void vg_drop_hits(struct vg_history *h)
{
    for (__u32 i = 0; i < VG_HIT_CACHE; i++) {
        vg_flush_hits(h, h->slot, i);
        h->hit_hash[i] = 0;
    }
}

/* The current thread's history (`id`: bpf_get_current_pid_tgid): its vg_threads slot when it
 * owns it, or claims it while it is free (with `create`), else its task storage (created
 * with `create`). A claimed slot starts as new task storage does: all zero. */
static __always_inline struct vg_history *vg_thread_history(__u64 id, bool create)
{
    struct task_struct *task = bpf_get_current_task_btf();
    __u32 tid = (__u32)id;
    __u32 idx = tid & (VG_THREAD_SLOTS - 1);
    struct vg_history *h = bpf_map_lookup_elem(&vg_threads, &idx);
    if (h && tid) {
        __u64 start = task->start_time;
        if (h->owner == tid && h->owner_start == start)
            return h;
        if (create && h->owner == 0 && __sync_val_compare_and_swap(&h->owner, 0, tid) == 0) {
            __builtin_memset(h, 0, __builtin_offsetof(struct vg_history, owner)); /* all before the owner */
            h->owner_start = start;
            return h;
        }
    }
    return bpf_task_storage_get(&vg_history, task, 0, create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
}

/* At a thread's exit: its cached hits are counted, not lost, and its vg_threads slot is
 * free again. */
static __always_inline void vg_learn_thread_exit(void)
{
    __u64 id = bpf_get_current_pid_tgid();
    struct vg_history *h = vg_thread_history(id, false);
    if (!h)
        return;
    vg_drop_hits(h);
    if (h->owner == (__u32)id)
        h->owner = 0; /* only the owner writes a taken slot; claims wait for 0 */
}

static __always_inline void vg_learn_reset_history(void)
{
    struct vg_history *h = vg_thread_history(bpf_get_current_pid_tgid(), true);
    if (h) {
        h->filled = 0;
        h->from_exec = 1;
        h->gen = 0; /* exec changes the process's slot: look it up again */
    }
}

/* A guarded slot's process that met something new: from this call on, a program it (or a
 * child it forks) execs must be known to some baseline, or it dies at exec. No waiting for
 * user space; only for a process the kernel may act on, a member of a guarded workload. */
static __always_inline void vg_guard_deviating(__u32 tgid)
{
    if (!vg_may_act(bpf_map_lookup_elem(&vg_procs, &tgid)))
        return;
    /* The entry exists from exec or fork; a process found running has none yet. */
    struct vg_marks fresh = { .execs = 0, .marks = 0 };
    bpf_map_update_elem(&vg_marks, &tgid, &fresh, BPF_NOEXIST);
    struct vg_marks *m = bpf_map_lookup_elem(&vg_marks, &tgid);
    if (m)
        __sync_fetch_and_or(&m->marks, VG_RESP_DEVIATING);
}

/* Whether process `tgid` reports `hash` for the first time, remembering it: a judged
 * process (vg_judged_seen, keyed with its leader's start so a reused pid starts afresh) and
 * a process pending its profile (vg_pending_seen) report each novelty once. */
static __always_inline bool vg_judged_first(__u32 tgid, __u64 hash)
{
    struct task_struct *task = bpf_get_current_task_btf();
    struct vg_pending_key key = {
        .tgid = tgid, ._pad0 = (__u32)BPF_CORE_READ(task, group_leader, start_time), .hash = hash,
    };
    __u8 one = 1;
    return bpf_map_update_elem(&vg_judged_seen, &key, &one, BPF_NOEXIST) == 0;
}

static __always_inline bool vg_pending_first(__u32 tgid, __u64 hash)
{
    struct vg_pending_key key = { .tgid = tgid, ._pad0 = 0, .hash = hash };
    __u8 one = 1;
    return bpf_map_update_elem(&vg_pending_seen, &key, &one, BPF_NOEXIST) == 0;
}

/* A learning slot's new syscall, known from now on. Count 0, as for a new n-gram: the
 * novelty record is its first occurrence. */
static __always_inline void vg_learn_new_syscall(struct vg_syscall_key *skey)
{
    struct vg_seen first = { .count = 0, .last_ns = bpf_ktime_get_ns() };
    if (bpf_map_update_elem(&vg_known_syscalls, skey, &first, BPF_NOEXIST) == -7 /* E2BIG */)
        vg_count(VG_CTR_KNOWN_SYSCALLS_FULL);
}

/* A novelty record with every field but the calls filled in (NULL: the ring buffer is
 * full, counted by vg_reserve); the caller fills `calls` and submits it. */
static __always_inline struct vg_novelty *vg_novelty_start(__u32 slot, __u32 flags, __u32 length, __u64 hash)
{
    struct vg_novelty *r = vg_reserve(sizeof *r, VG_KIND_NOVELTY);
    if (!r)
        return 0;
    vg_fill_header(&r->hdr, VG_KIND_NOVELTY, sizeof *r);
    r->profile = slot == VG_SLOT_PENDING ? 0 : slot;
    r->flags = flags;
    r->length = length;
    r->_pad0 = 0;
    r->hash = hash;
    return r;
}

/* A transparent call (`bit`: its vigil_transparent.h cache bit) by a thread of `slot`: it
 * forms no n-gram, but a call the profile never made is new behaviour all the same. The
 * first one per thread and slot checks the profile's known syscalls; a new one is reported
 * once per process as a syscall-only novelty (length 1), learned at once for a learning
 * slot as a new n-gram is. */
static __always_inline void vg_learn_transparent(struct vg_history *h, __u32 slot, __u32 tgid, __u32 nr, __u32 bit)
{
    if (h->transparent_known & bit)
        return;
    h->transparent_known |= bit;
    __u64 tag = vg_fmix(((VG_FNV_SEED ^ nr) * VG_FNV_PRIME) ^ ((__u64)VG_TRANSPARENT_LENGTH_TAG << 56));
    if (slot == VG_SLOT_PENDING) {
        if (!vg_pending_first(tgid, tag))
            return; /* reported already for this process */
    } else {
        struct vg_syscall_key skey = { .profile = slot, .nr = nr };
        if (bpf_map_lookup_elem(&vg_known_syscalls, &skey))
            return;
        __u32 *modep = bpf_map_lookup_elem(&vg_slot_modes, &slot);
        __u32 mode = modep ? *modep : 0;
        if (mode & VG_SLOT_MODE_GUARD)
            vg_guard_deviating(tgid);
        if (mode & VG_SLOT_MODE_LEARN)
            vg_learn_new_syscall(&skey);
        else if (!vg_judged_first(tgid, tag))
            return; /* reported already by this process */
    }
    struct vg_novelty *r = vg_novelty_start(slot, VG_NOVELTY_NEW_SYSCALL, 1, tag);
    if (!r)
        return;
    for (__u32 k = 0; k < VG_NGRAM_MAX; k++)
        r->calls[k] = k == 0 ? nr : 0;
    vg_submit(r, VG_KIND_NOVELTY, 0);
}

/* How far vg_learn_steps goes: all the way (the agent), or, for vigil-bench only
 * (bench.bpf.c), up to the end of one step, so that each step's cost can be measured as
 * the difference between two programs built from this same code. */
#define VG_STEP_STORAGE 1 /* the thread's state (vg_threads, or task storage) */
#define VG_STEP_VIEW 2    /* + the cached slot and responses (vg_procs_gen) */
#define VG_STEP_HASH 3    /* + the history update and the n-gram hash */
#define VG_STEP_LOOKUP 4  /* + the known-map lookup, the hit not counted */
#define VG_STEP_ALL 5     /* + the hit counted and stamped, the novelty path */

static __always_inline void vg_learn_steps(__u64 id, __u32 nr, const int upto)
{
    __u32 tgid = id >> 32;
    struct vg_history *h = vg_thread_history(id, true);
    if (!h) {
        struct vg_view v = vg_proc_view(tgid);
        if (v.flags & VG_RESP_KILL)
            vg_kill_now(VG_ACTION_KILL_SYSCALL);
        else if (v.slot)
            vg_count(VG_CTR_HISTORY_FAIL);
        return;
    }
    if (upto == VG_STEP_STORAGE)
        return;
    /* The process's slot and responses, cached in the thread's storage while vg_procs
     * has not changed: no hash lookup on the common path. */
    __u32 zero = 0;
    __u64 *gen = bpf_map_lookup_elem(&vg_procs_gen, &zero);
    __u64 now_gen = gen ? *gen : 0;
    if (h->gen != now_gen || now_gen == 0) {
        vg_drop_hits(h); /* counted under the slot they were seen in */
        struct vg_view v = vg_proc_view(tgid);
        h->slot = v.slot;
        h->flags = v.flags;
        __u32 *modep = v.slot ? bpf_map_lookup_elem(&vg_slot_modes, &v.slot) : 0;
        h->mode = modep ? *modep : 0;
        h->transparent_known = 0;
        h->gen = now_gen;
    }
    if (h->flags & VG_RESP_KILL) {
        vg_kill_now(VG_ACTION_KILL_SYSCALL);
        return;
    }
    __u32 slot = h->slot;
    if (slot == 0)
        return; /* watched for responses only, or not watched */
    if (upto == VG_STEP_VIEW)
        return;
    __u32 bit = vg_transparent_bit(nr);
    if (bit) {
        vg_learn_transparent(h, slot, tgid, nr, bit);
        return;
    }
    __u32 pos = (h->pos + 1) & (VG_NGRAM_MAX - 1);
    h->pos = pos;
    h->calls[pos] = nr;
    if (h->filled < VG_NGRAM_MAX)
        h->filled++;
    __u32 filled = h->filled;
    /* A request boundary (vigil_boundary.h): this call's n-gram is formed from the history
     * as it was (`filled` above), then the history restarts with this call alone, the
     * places before it the start symbol, so no n-gram spans the wait between two pieces
     * of work. The calls before the next one are then known, even for a thread that was
     * joined mid-stream. SequenceTrainer and SequenceScanner restart the same way. */
    if (vg_is_boundary(nr)) {
        h->filled = 1;
        h->from_exec = 1;
    }

    __u32 n = vg_ngram_len;
    if (n > VG_NGRAM_MAX)
        n = VG_NGRAM_MAX;
    /* Joined mid-stream: the calls before the first one seen are unknown, not a start. */
    if (!h->from_exec && filled < n)
        return;
    __u64 state = VG_FNV_SEED;
    if (filled >= n) {
        /* The common case: a full window, no start symbols to place. */
        for (__u32 k = 0; k < VG_NGRAM_MAX; k++) {
            if (k >= n)
                break;
            state = (state ^ h->calls[(pos - k) & (VG_NGRAM_MAX - 1)]) * VG_FNV_PRIME;
        }
    } else {
        for (__u32 k = 0; k < VG_NGRAM_MAX; k++) {
            if (k >= n)
                break;
            state = (state ^ vg_history_call(h, pos, filled, k)) * VG_FNV_PRIME;
        }
    }
    __u64 hash = vg_fmix(state ^ ((__u64)n << 56));
    if (upto == VG_STEP_HASH) {
        barrier_var(hash); /* keep the hash computed though nothing uses it */
        return;
    }

    __u32 flags = 0;
    if (slot != VG_SLOT_PENDING) {
        /* A judged slot's n-gram this thread already found known: no lookup. The cache is
         * emptied whenever vg_procs_gen moves (a removal from the known map among others),
         * so it answers as the map would. */
        __u32 i = hash & (VG_HIT_CACHE - 1);
        bool cached = !(h->mode & VG_SLOT_MODE_LEARN);
        if (upto != VG_STEP_LOOKUP && cached && h->hit_hash[i] == hash) {
            if (++h->hit_pending[i] >= VG_HIT_FLUSH)
                vg_flush_hits(h, slot, i);
            return;
        }
        struct vg_ngram_key key = { .profile = slot, ._pad0 = 0, .hash = hash };
        struct vg_seen *seen = bpf_map_lookup_elem(&vg_known_ngrams, &key);
        if (upto == VG_STEP_LOOKUP)
            return;
        if (seen && cached) {
            vg_flush_hits(h, slot, i); /* the n-gram it replaces */
            h->hit_hash[i] = hash;
            __sync_fetch_and_add(&seen->count, 1);
            seen->last_ns = bpf_ktime_get_ns();
            return;
        }
        if (seen) {
            __u64 count = __sync_fetch_and_add(&seen->count, 1);
            /* Last-seen is for ageing baselines (days), not for timing: reading the clock
             * on every hit of a hot n-gram costs more than it tells. */
            if (count < 64 || (count & 63) == 0)
                seen->last_ns = bpf_ktime_get_ns();
            return;
        }
        /* New sequence; is the call itself new too? */
        struct vg_syscall_key skey = { .profile = slot, .nr = nr };
        struct vg_seen *sseen = bpf_map_lookup_elem(&vg_known_syscalls, &skey);
        if (!sseen)
            flags |= VG_NOVELTY_NEW_SYSCALL;
        __u32 *modep = bpf_map_lookup_elem(&vg_slot_modes, &slot);
        __u32 mode = modep ? *modep : 0;
        if (mode & VG_SLOT_MODE_GUARD)
            vg_guard_deviating(tgid);
        if (!(mode & VG_SLOT_MODE_LEARN) && !vg_judged_first(tgid, hash))
            return; /* reported already by this process */
        if (mode & VG_SLOT_MODE_LEARN) {
            /* Count 0: the novelty record below is this first occurrence, and user space
             * counts it from the record; the map counts the occurrences after it. (Starting
             * at 1 counted every learned n-gram twice, so no profile held a singleton and
             * the calibration's held-out estimate saw none.) */
            struct vg_seen first = { .count = 0, .last_ns = bpf_ktime_get_ns() };
            if (bpf_map_update_elem(&vg_known_ngrams, &key, &first, BPF_NOEXIST) == -7 /* E2BIG */)
                vg_count(VG_CTR_KNOWN_FULL);
            if (!sseen)
                vg_learn_new_syscall(&skey);
        }
    } else {
        /* Pending: the thread's cache holds n-grams reported already for this process
         * (no counts: no slot to count them in), so a repeat costs no map update. Naming
         * the process moves vg_procs_gen, which empties the cache. */
        __u32 i = hash & (VG_HIT_CACHE - 1);
        if (h->hit_hash[i] == hash)
            return;
        h->hit_hash[i] = hash;
        h->hit_pending[i] = 0;
        if (!vg_pending_first(tgid, hash))
            return; /* reported already for this process */
    }

    struct vg_novelty *r = vg_novelty_start(slot, flags, n, hash);
    if (!r)
        return;
    /* The n-gram itself, oldest first, only for what is reported: known n-grams, the
     * common case, need the hash alone. */
    for (__u32 k = 0; k < VG_NGRAM_MAX; k++)
        r->calls[k] = k < n ? vg_history_call(h, pos, filled, n - 1 - k) : 0;
    vg_submit(r, VG_KIND_NOVELTY, 0);
}

static __always_inline void vg_learn_syscall(__u64 id, __u32 nr)
{
    vg_learn_steps(id, nr, VG_STEP_ALL);
}

/* files.bpf.c: files a profiled process writes, maps executable or reads from the
 * sensitive set, on the per-syscall tracepoints (the other syscalls never run these).
 *
 *   open, openat, openat2, creat   sys_exit: the fd returned, resolved to the struct file
 *                                  the kernel opened (current->files -> fdtable), so a
 *                                  symlink or a relative or dirfd-relative path resolves to
 *                                  the real file. Write access (FMODE_WRITE) is a write;
 *                                  a read-only open counts only when the file's name (or
 *                                  its directory's) is in vg_sensitive_names.
 *   mmap                           sys_enter with PROT_EXEC on a file descriptor.
 *   mprotect                       sys_enter adding PROT_EXEC to a file mapping that was
 *                                  not executable (bpf_find_vma -> vm_file).
 *
 * Cheap first: the test of the arguments, then one lookup of the process's view, then a
 * per-run cache (vg_file_cache) keyed by the inode (a write: its directory's inode), so a
 * directory or library already handled costs one LRU lookup and no path. Only on a miss is
 * the path built: the dentries walked up to the mount root, the mounts up to the root
 * (bounded, CO-RE), and the path hashed; vg_known_files (preloaded from saved profiles,
 * one writer per field: see docs/architecture.md) holds what each slot is known to do. What
 * is new is reported once per slot and run. arm64 has no open or creat: those tracepoints
 * are simply absent there, and the *at forms cover it. */

#define VG_PATH_DEPTH 32         /* components walked at most */
#define VG_PATH_SCRATCH 1024     /* room for masked offsets: path ends at VG_PATH_MAX */
#define VG_NAME_PEEK 32          /* bytes of a name hashed for the sensitive-name test */

struct vg_file_scratch {
    char buf[VG_PATH_SCRATCH];
    /* vg_normal_step's counters: here, not on the stack, so that the verifier does not
     * follow them as constants (one state per value: the program's check grew too big). */
    __u32 out;      /* where the written part of buf starts */
    __u32 seg;      /* bytes of the component being written */
    __u32 all_dots; /* whether they are all '.' */
    __u32 bad;      /* a ".." component, or a result too long */
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct vg_file_scratch);
} vg_scratch_file SEC(".maps");

/* Per-run cache of what was already handled: slot, op, device and inode (a write's: its
 * directory's). Only the kernel writes it. */
struct vg_file_cache_key {
    __u32 profile;
    __u32 op;
    __u32 dev;
    __u32 tgid;           /* pending processes (no slot yet) are cached per process */
    __u64 ino;
    __u64 name;           /* a named call's: the hash of its name's directory part (else 0) */
};

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 65536);
    __type(key, struct vg_file_cache_key);
    __type(value, __u8);
} vg_file_cache SEC(".maps");

static __always_inline __u64 vg_fnv_bytes(const char *p, __u32 n)
{
    __u64 h = VG_FNV_SEED;
    for (__u32 i = 0; i < VG_NAME_PEEK; i++) {
        if (i >= n || !p[i])
            break;
        h = (h ^ (__u8)p[i]) * VG_FNV_PRIME;
    }
    return h;
}

/* FNV-1a 64 of a dentry's name (its first VG_NAME_PEEK bytes). */
static __always_inline __u64 vg_dentry_name_hash(struct dentry *d)
{
    char name[VG_NAME_PEEK] = {};
    const unsigned char *p = BPF_CORE_READ(d, d_name.name);
    if (!p || bpf_probe_read_kernel_str(name, sizeof name, p) <= 0)
        return 0;
    return vg_fnv_bytes(name, VG_NAME_PEEK);
}

/* Read-only opens found not to be of the sensitive set, by what the test below reads: the
 * file's dentry and its directory's, each with the kernel's length and hash of its name
 * (d_name.hash_len), so that a rename in place is a miss and a reused dentry is only a hit
 * for the same names. A file a service opens for every request then costs one lookup here
 * instead of two names read and hashed. Host-wide (the test depends on the names alone, and
 * vg_sensitive_names is filled before any program runs); LRU: a forgotten entry is only
 * tested again. */
struct vg_plain_read_key {
    __u64 dentry;
    __u64 name;        /* d_name.hash_len */
    __u64 parent;
    __u64 parent_name;
};

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 16384);
    __type(key, struct vg_plain_read_key);
    __type(value, __u8);
} vg_plain_reads SEC(".maps");

/* Whether a read-only open of the file behind dentry `d` may be of the sensitive set: its
 * name or its directory's name is in vg_sensitive_names (user space decides with the full
 * path; this only keeps the walk off ordinary reads). */
static __always_inline bool vg_maybe_sensitive(struct dentry *d)
{
    struct dentry *parent = BPF_CORE_READ(d, d_parent);
    struct vg_plain_read_key k = {
        .dentry = (__u64)d,
        .name = BPF_CORE_READ(d, d_name.hash_len),
        .parent = (__u64)parent,
        .parent_name = parent ? BPF_CORE_READ(parent, d_name.hash_len) : 0,
    };
    if (bpf_map_lookup_elem(&vg_plain_reads, &k))
        return false;
    __u64 h = vg_dentry_name_hash(d);
    if (h && bpf_map_lookup_elem(&vg_sensitive_names, &h))
        return true;
    if (parent && parent != d) {
        h = vg_dentry_name_hash(parent);
        if (h && bpf_map_lookup_elem(&vg_sensitive_names, &h))
            return true;
    }
    __u8 one = 1;
    bpf_map_update_elem(&vg_plain_reads, &k, &one, BPF_ANY);
    return false;
}

/* The walk's state, one bpf_loop step per component (the verifier checks a step once,
 * not every unrolled path through VG_PATH_DEPTH of them). */
struct vg_walk {
    struct vg_file_scratch *s;
    struct vfsmount *vfsmnt;
    struct mount *mnt;
    struct dentry *dentry;
    __u32 off;
    __u32 truncated;
    __u32 done;
    __u32 _pad0;
    __u64 hash;
    __u64 dir;
};

static long vg_walk_step(__u64 i, void *data)
{
    struct vg_walk *w = data;
    /* Locals: BPF_CORE_READ relocates every access it is given, w's own fields too. */
    struct dentry *dentry = w->dentry;
    struct vfsmount *vfsmnt = w->vfsmnt;
    struct mount *mnt = w->mnt;
    struct dentry *mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
    struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
    if (dentry == mnt_root || dentry == parent) {
        if (dentry != mnt_root)
            return 1; /* a detached dentry: what is above it is gone */
        struct mount *mparent = BPF_CORE_READ(mnt, mnt_parent);
        if (!mparent || mparent == mnt)
            return 1; /* the root of the namespace */
        w->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
        w->mnt = mparent;
        w->vfsmnt = (struct vfsmount *)((char *)mparent + bpf_core_field_offset(struct mount, mnt));
        return 0;
    }
    __u32 len = BPF_CORE_READ(dentry, d_name.len);
    const unsigned char *name = BPF_CORE_READ(dentry, d_name.name);
    __u32 off = w->off;
    if (len + 1 > off || off > VG_PATH_MAX - 1) {
        w->truncated = 1;
        return 1;
    }
    off -= len;
    bpf_probe_read_kernel(&w->s->buf[off & (VG_PATH_MAX - 1)], len & (VG_PATH_MAX - 1), name);
    off -= 1;
    w->s->buf[off & (VG_PATH_MAX - 1)] = '/';
    w->off = off;
    w->dentry = parent;
    if (i == VG_PATH_DEPTH - 1)
        w->truncated = 1;
    return 0;
}

/* FNV-1a 64 of the path and of its bytes before the last '/' (PathHash.swift). */
static long vg_hash_step(__u64 i, void *data)
{
    struct vg_walk *w = data;
    __u32 at = w->off + (__u32)i;
    if (at >= VG_PATH_MAX - 1)
        return 1;
    char c = w->s->buf[at & (VG_PATH_MAX - 1)];
    if (c == '/')
        w->dir = w->hash;
    w->hash = (w->hash ^ (__u8)c) * VG_FNV_PRIME;
    return 0;
}

/* Hashes w->s->buf[w->off .. VG_PATH_MAX - 1) into w->hash and w->dir. */
static __always_inline void vg_hash_path(struct vg_walk *w)
{
    w->hash = VG_FNV_SEED;
    w->dir = VG_FNV_SEED;
    bpf_loop(VG_PATH_MAX - 1, vg_hash_step, w, 0);
}

/* Prepends the absolute path of (w->vfsmnt, w->dentry) to what w->s->buf holds from
 * w->off (nothing, or "/" and a name) and hashes the whole. */
static __always_inline void vg_walk_path(struct vg_walk *w)
{
    w->mnt = (struct mount *)((char *)w->vfsmnt - bpf_core_field_offset(struct mount, mnt));
    bpf_loop(VG_PATH_DEPTH, vg_walk_step, w, 0);
    if (w->off == VG_PATH_MAX - 1) {
        w->off -= 1;
        w->s->buf[(VG_PATH_MAX - 2) & (VG_PATH_MAX - 1)] = '/';
    }
    vg_hash_path(w);
}

/* Builds the absolute path of (mnt, dentry) in w->s->buf[w->off .. VG_PATH_MAX - 1) and
 * hashes it. */
static __always_inline void vg_build_path(struct vg_walk *w)
{
    w->off = VG_PATH_MAX - 1;
    w->s->buf[VG_PATH_MAX - 1] = 0;
    w->truncated = 0;
    vg_walk_path(w);
}

/* The state of vg_normal_step: `path` (`len` bytes) read from its end, its kept components
 * written right-aligned into s->buf, each after a '/', ending before s->buf[VG_PATH_MAX - 1]
 * (the counters are in s). */
struct vg_normal {
    const char *path;
    struct vg_file_scratch *s;
    __u32 len;
    __u32 _pad0;
};

/* One byte of the path, last first; step `len` closes the first component. A component ends
 * at a '/' or the path's start: an empty one ("//") and "." are dropped, ".." ends the walk
 * (not resolved: through a symbolic link it is not the parent of what it follows), any
 * other gets its '/'. */
static long vg_normal_step(__u64 i, void *data)
{
    struct vg_normal *n = data;
    struct vg_file_scratch *s = n->s;
    __u32 k = (__u32)i, len = n->len;
    char c = '/';
    if (k < len)
        c = n->path[(len - 1 - k) & (VG_PATH_MAX - 1)];
    if (c == '/') {
        if (s->seg == 1 && s->all_dots) {
            s->out += 1; /* "." */
        } else if (s->seg == 2 && s->all_dots) {
            s->bad = 1;
            return 1;
        } else if (s->seg > 0) {
            if (s->out == 0) {
                s->bad = 1;
                return 1;
            }
            s->out -= 1;
            s->buf[s->out & (VG_PATH_MAX - 1)] = '/';
        }
        s->seg = 0;
        s->all_dots = 1;
        return k >= len;
    }
    if (s->out == 0) {
        s->bad = 1;
        return 1;
    }
    s->out -= 1;
    s->buf[s->out & (VG_PATH_MAX - 1)] = c;
    s->seg += 1;
    if (c != '.')
        s->all_dots = 0;
    return 0;
}

/* The hash (PathHash) of the path an exec names, spelled as user space spells it: "." and
 * empty components dropped ("./x", "a//b", "/opt/./app" as "x", "a/b", "/opt/app") and a
 * relative path made absolute against the current task's working directory: the path the
 * agent makes of an exec (a script's, which the exec guard can know by its path only).
 * `path` is `len` bytes in a map value of VG_PATH_MAX. 0 for a path this cannot place: one
 * with a ".." component (not resolved here; such a path stays unknown), one with no
 * component, or a result too long. */
static __always_inline __u64 vg_normal_path_hash(const char *path, __u32 len)
{
    if (len == 0 || len >= VG_PATH_MAX - 1)
        return 0;
    __u32 zero = 0;
    struct vg_file_scratch *s = bpf_map_lookup_elem(&vg_scratch_file, &zero);
    if (!s)
        return 0;
    s->buf[VG_PATH_MAX - 1] = 0;
    s->out = VG_PATH_MAX - 1;
    s->seg = 0;
    s->all_dots = 1;
    s->bad = 0;
    struct vg_normal n = { .path = path, .s = s, .len = len };
    bpf_loop(VG_PATH_MAX, vg_normal_step, &n, 0);
    __u32 out = s->out;
    if (s->bad || out >= VG_PATH_MAX - 1)
        return 0;
    struct vg_walk w = { .s = s, .off = out, .truncated = 0 };
    if (path[0] == '/') {
        vg_hash_path(&w);
        return w.hash;
    }
    struct task_struct *task = bpf_get_current_task_btf();
    w.vfsmnt = BPF_CORE_READ(task, fs, pwd.mnt);
    w.dentry = BPF_CORE_READ(task, fs, pwd.dentry);
    if (!w.vfsmnt || !w.dentry)
        return 0;
    vg_walk_path(&w);
    return w.truncated ? 0 : w.hash;
}

static __always_inline void vg_file_report(__u32 op, __u32 flags, __u32 slot, struct vg_file_cache_key *ckp,
                                           struct vg_file_scratch *s, __u32 off, __u64 h, __u64 dir);

/* Reports one file operation of the current process, unless its slot knows it already. */
static __always_inline void vg_file_event(__u32 op, struct file *file, __u32 flags)
{
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tgid = id >> 32;
    __u32 slot = 0;
    if (vg_mode != VG_MODE_TRACE) {
        struct vg_view v = vg_proc_view(tgid);
        slot = v.slot;
        if (slot == 0)
            return; /* not profiled */
    }
    struct dentry *dentry = BPF_CORE_READ(file, f_path.dentry);
    struct vfsmount *vfsmnt = BPF_CORE_READ(file, f_path.mnt);
    if (!dentry || !vfsmnt)
        return;
    if (op == VG_FILE_READ_SENSITIVE && !vg_maybe_sensitive(dentry))
        return;

    /* Handled already this run? A write is keyed by its directory, the rest by the file. */
    struct dentry *keyd = op == VG_FILE_WRITE ? BPF_CORE_READ(dentry, d_parent) : dentry;
    struct vg_file_cache_key ck = {
        .profile = slot, .op = flags & VG_FILE_CHMOD_EXEC ? VG_FILE_KEY_CHMOD_EXEC : op,
        .dev = BPF_CORE_READ(keyd, d_inode, i_sb, s_dev),
        .tgid = slot == VG_SLOT_PENDING || slot == 0 ? tgid : 0,
        .ino = BPF_CORE_READ(keyd, d_inode, i_ino),
    };
    if (vg_mode != VG_MODE_TRACE && bpf_map_lookup_elem(&vg_file_cache, &ck))
        return;

    __u32 zero = 0;
    struct vg_file_scratch *s = bpf_map_lookup_elem(&vg_scratch_file, &zero);
    if (!s)
        return;
    struct vg_walk w = { .s = s, .vfsmnt = vfsmnt, .dentry = dentry };
    vg_build_path(&w);
    if (w.truncated) {
        flags |= VG_FILE_PATH_TRUNCATED;
        vg_count(VG_CTR_PATH_TRUNCATED);
    }
    vg_file_report(op, flags, slot, &ck, s, w.off, w.hash, w.dir);
}

/* The path is built (s->buf[off ..]): unless the slot knows it, reports it once. */
static __always_inline void vg_file_report(__u32 op, __u32 flags, __u32 slot, struct vg_file_cache_key *ckp,
                                           struct vg_file_scratch *s, __u32 off, __u64 h, __u64 dir)
{
    struct vg_file_cache_key ck = *ckp;
    __u64 hash = op == VG_FILE_WRITE ? dir : h;
    __u32 keyop = flags & VG_FILE_CHMOD_EXEC ? VG_FILE_KEY_CHMOD_EXEC : op;

    if (slot != 0 && slot != VG_SLOT_PENDING) {
        struct vg_file_key key = { .profile = slot, .op = keyop, .hash = hash };
        if (bpf_map_lookup_elem(&vg_known_files, &key)) {
            __u8 one = 1;
            bpf_map_update_elem(&vg_file_cache, &ck, &one, BPF_ANY);
            return;
        }
        /* Reported once per slot and run: learned (learn mode), or judged once. */
        __u8 one = 1;
        if (bpf_map_update_elem(&vg_known_files, &key, &one, BPF_NOEXIST) == -7 /* E2BIG */)
            vg_count(VG_CTR_KNOWN_FILES_FULL);
    }
    if (vg_mode != VG_MODE_TRACE) {
        __u8 one = 1;
        bpf_map_update_elem(&vg_file_cache, &ck, &one, BPF_ANY);
    }

    struct vg_file *r = vg_reserve(sizeof *r, VG_KIND_FILE);
    if (!r)
        return;
    vg_fill_header(&r->hdr, VG_KIND_FILE, sizeof *r);
    r->profile = slot == VG_SLOT_PENDING ? 0 : slot;
    r->op = op;
    r->flags = flags;
    __u32 len = VG_PATH_MAX - 1 - off;
    r->path_len = len;
    r->_pad0 = 0;
    r->dir_hash = dir;
    r->path_hash = h;
    bpf_probe_read_kernel(r->path, len & (VG_PATH_MAX - 1), &s->buf[off & (VG_PATH_MAX - 1)]);
    r->path[len & (VG_PATH_MAX - 1)] = 0;
    vg_submit(r, VG_KIND_FILE, 0);
}

/* The struct file behind the current task's descriptor `fd`, or NULL. */
static __always_inline struct file *vg_file_of_fd(__s32 fd)
{
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
    if (!fdt || fd < 0 || (__u32)fd >= BPF_CORE_READ(fdt, max_fds))
        return 0;
    struct file **fds = BPF_CORE_READ(fdt, fd);
    struct file *file = 0;
    if (bpf_probe_read_kernel(&file, sizeof file, &fds[fd]))
        return 0;
    return file;
}

static __always_inline int vg_open_exit(long ret)
{
    if (ret < 0 || (vg_mode == VG_MODE_TRACE && !vg_want_files))
        return 0;
    if (!vg_wanted(bpf_get_current_pid_tgid() >> 32))
        return 0;
    struct file *file = vg_file_of_fd((__s32)ret);
    if (!file)
        return 0;
    unsigned int mode = BPF_CORE_READ(file, f_mode);
    vg_file_event(mode & FMODE_WRITE ? VG_FILE_WRITE : VG_FILE_READ_SENSITIVE, file, 0);
    return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat")
int vg_exit_openat(struct vg_sys_exit_args *ctx) { return vg_open_exit(ctx->ret); }

SEC("tracepoint/syscalls/sys_exit_openat2")
int vg_exit_openat2(struct vg_sys_exit_args *ctx) { return vg_open_exit(ctx->ret); }

SEC("tracepoint/syscalls/sys_exit_open")
int vg_exit_open(struct vg_sys_exit_args *ctx) { return vg_open_exit(ctx->ret); }

SEC("tracepoint/syscalls/sys_exit_creat")
int vg_exit_creat(struct vg_sys_exit_args *ctx) { return vg_open_exit(ctx->ret); }

/* mmap(addr, len, prot, flags, fd, off): an executable mapping of a file. */
static __always_inline int vg_mmap_enter(__u64 prot, __u64 flags, __s32 fd)
{
    if (!(prot & PROT_EXEC) || (flags & MAP_ANONYMOUS) || fd < 0)
        return 0;
    if (vg_mode == VG_MODE_TRACE && !vg_want_files)
        return 0;
    if (!vg_wanted(bpf_get_current_pid_tgid() >> 32))
        return 0;
    struct file *file = vg_file_of_fd(fd);
    if (file)
        vg_file_event(VG_FILE_MAP_EXEC, file, 0);
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_mmap")
int vg_enter_mmap(struct vg_sys_enter_args *ctx) { return vg_mmap_enter(ctx->args[2], ctx->args[3], (__s32)ctx->args[4]); }

struct vg_vma_ctx {
    struct file *file;
};

static long vg_vma_file(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
    struct vg_vma_ctx *c = data;
    unsigned long flags = vg_vma_flags(vma);
    c->file = (flags & VM_EXEC) ? 0 : BPF_CORE_READ(vma, vm_file);
    return 0;
}

/* mprotect(start, len, prot) adding PROT_EXEC to a file mapping that was not executable. */
static __always_inline int vg_mprotect_enter(__u64 start, __u64 prot)
{
    if (!(prot & PROT_EXEC))
        return 0;
    if (vg_mode == VG_MODE_TRACE && !vg_want_files)
        return 0;
    if (!vg_wanted(bpf_get_current_pid_tgid() >> 32))
        return 0;
    struct vg_vma_ctx c = { .file = 0 };
    bpf_find_vma(bpf_get_current_task_btf(), start, vg_vma_file, &c, 0);
    if (c.file)
        vg_file_event(VG_FILE_MAP_EXEC, c.file, VG_FILE_VIA_MPROTECT);
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_mprotect")
int vg_enter_mprotect(struct vg_sys_enter_args *ctx) { return vg_mprotect_enter(ctx->args[0], ctx->args[2]); }


/* Calls that name a file instead of opening it: the target of rename and link, the name
 * unlink removes, chmod to a mode with an execute bit. Each is a write into the name's
 * directory (VG_FILE_WRITE with the call's flag). sys_enter keeps the name's user pointer
 * and directory fd per thread; sys_exit, on success only, builds the path: the directory
 * the name is relative to (dirfd's file or the working directory) walked from the kernel's
 * objects, then "/" and the name as given (user space folds "." and ".."). A name is
 * cached per slot by that directory's inode and its own directory part's hash, so a
 * service renaming its saves into one directory walks nothing after the first. */
struct vg_named_op {
    __u64 name;           /* user pointer; 0: fchmod (the fd alone) */
    __s32 dfd;
    __u32 flags;          /* VG_FILE_VIA_* | VG_FILE_CHMOD_EXEC */
};

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 8192);
    __type(key, __u32);   /* thread id */
    __type(value, struct vg_named_op);
} vg_named_ops SEC(".maps");

static __always_inline int vg_named_enter(__s32 dfd, __u64 name, __u32 flags)
{
    if (vg_mode == VG_MODE_TRACE && !vg_want_files)
        return 0;
    __u64 id = bpf_get_current_pid_tgid();
    if (!vg_wanted(id >> 32))
        return 0;
    if (vg_mode != VG_MODE_TRACE && vg_proc_view(id >> 32).slot == 0)
        return 0; /* not profiled */
    struct vg_named_op op = { .name = name, .dfd = dfd, .flags = flags };
    __u32 tid = (__u32)id;
    bpf_map_update_elem(&vg_named_ops, &tid, &op, BPF_ANY);
    return 0;
}

static __always_inline int vg_named_exit(long ret)
{
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)id, tgid = id >> 32;
    struct vg_named_op *pop = bpf_map_lookup_elem(&vg_named_ops, &tid);
    if (!pop)
        return 0;
    struct vg_named_op op = *pop;
    bpf_map_delete_elem(&vg_named_ops, &tid);
    if (ret != 0)
        return 0; /* it did not happen */

    if (!op.name) {
        struct file *file = vg_file_of_fd(op.dfd);
        if (file)
            vg_file_event(VG_FILE_WRITE, file, op.flags);
        return 0;
    }
    __u32 slot = 0;
    if (vg_mode != VG_MODE_TRACE) {
        slot = vg_proc_view(tgid).slot;
        if (slot == 0)
            return 0;
    }
    __u32 zero = 0;
    struct vg_file_scratch *s = bpf_map_lookup_elem(&vg_scratch_file, &zero);
    if (!s)
        return 0;
    /* The name, read past the path area, then moved to end where the path ends. */
    long n = bpf_probe_read_user_str(&s->buf[VG_PATH_MAX], VG_PATH_MAX, (const void *)op.name);
    if (n <= 1) {
        if (n == 1 && op.dfd >= 0 && (op.flags & VG_FILE_CHMOD_EXEC)) {
            /* fchmodat2(fd, "", mode, AT_EMPTY_PATH): the fd itself */
            struct file *file = vg_file_of_fd(op.dfd);
            if (file)
                vg_file_event(VG_FILE_WRITE, file, op.flags);
        }
        return 0;
    }
    __u32 len = (__u32)(n - 1) & (VG_PATH_MAX - 1);
    __u32 flags = op.flags | VG_FILE_AS_NAMED;
    if (n >= VG_PATH_MAX)
        flags |= VG_FILE_PATH_TRUNCATED;
    bool absolute = s->buf[VG_PATH_MAX] == '/';
    __u32 at = (VG_PATH_MAX - 1 - len) & (VG_PATH_MAX - 1);
    bpf_probe_read_kernel(&s->buf[at], len, &s->buf[VG_PATH_MAX]);
    s->buf[VG_PATH_MAX - 1] = 0;

    struct vg_walk w = { .s = s, .off = at };
    vg_hash_path(&w);   /* w.dir: the name's directory part (the seed if it has none) */

    /* The directory the name is relative to. */
    struct vfsmount *vfsmnt = 0;
    struct dentry *base = 0;
    if (!absolute) {
        if (op.dfd == VG_AT_FDCWD) {
            struct task_struct *task = (struct task_struct *)bpf_get_current_task();
            vfsmnt = BPF_CORE_READ(task, fs, pwd.mnt);
            base = BPF_CORE_READ(task, fs, pwd.dentry);
        } else {
            struct file *dir = vg_file_of_fd(op.dfd);
            if (!dir)
                return 0;
            vfsmnt = BPF_CORE_READ(dir, f_path.mnt);
            base = BPF_CORE_READ(dir, f_path.dentry);
        }
        if (!vfsmnt || !base)
            return 0;
    }
    bool bare = w.dir == VG_FNV_SEED; /* a name with no '/': the base is its directory */
    struct vg_file_cache_key ck = {
        .profile = slot, .op = op.flags & VG_FILE_CHMOD_EXEC ? VG_FILE_KEY_CHMOD_EXEC : VG_FILE_WRITE,
        .dev = base ? BPF_CORE_READ(base, d_inode, i_sb, s_dev) : 0,
        .tgid = slot == VG_SLOT_PENDING || slot == 0 ? tgid : 0,
        .ino = base ? BPF_CORE_READ(base, d_inode, i_ino) : 0,
        .name = bare ? 0 : w.dir,
    };
    if (vg_mode != VG_MODE_TRACE && bpf_map_lookup_elem(&vg_file_cache, &ck))
        return 0;
    if (!absolute) {
        if (at == 0) {
            flags |= VG_FILE_PATH_TRUNCATED; /* no room for the directory */
        } else {
            __u32 slash = at - 1;
            asm volatile("" : "+r"(slash)); /* keep the mask: the verifier needs it */
            slash &= VG_PATH_MAX - 1;
            w.off = slash;
            s->buf[slash] = '/';
            w.vfsmnt = vfsmnt;
            w.dentry = base;
            w.truncated = 0;
            vg_walk_path(&w);
            if (w.truncated) {
                flags |= VG_FILE_PATH_TRUNCATED;
                vg_count(VG_CTR_PATH_TRUNCATED_NAMED);
            }
        }
    }
    vg_file_report(VG_FILE_WRITE, flags, slot, &ck, s, w.off, w.hash, w.dir);
    return 0;
}

static __always_inline bool vg_adds_exec(__u64 mode) { return (mode & 0111) != 0; }

SEC("tracepoint/syscalls/sys_enter_rename")
int vg_enter_rename(struct vg_sys_enter_args *ctx) { return vg_named_enter(VG_AT_FDCWD, ctx->args[1], VG_FILE_VIA_RENAME); }
SEC("tracepoint/syscalls/sys_enter_renameat")
int vg_enter_renameat(struct vg_sys_enter_args *ctx) { return vg_named_enter((__s32)ctx->args[2], ctx->args[3], VG_FILE_VIA_RENAME); }
SEC("tracepoint/syscalls/sys_enter_renameat2")
int vg_enter_renameat2(struct vg_sys_enter_args *ctx) { return vg_named_enter((__s32)ctx->args[2], ctx->args[3], VG_FILE_VIA_RENAME); }
SEC("tracepoint/syscalls/sys_enter_link")
int vg_enter_link(struct vg_sys_enter_args *ctx) { return vg_named_enter(VG_AT_FDCWD, ctx->args[1], VG_FILE_VIA_LINK); }
SEC("tracepoint/syscalls/sys_enter_linkat")
int vg_enter_linkat(struct vg_sys_enter_args *ctx) { return vg_named_enter((__s32)ctx->args[2], ctx->args[3], VG_FILE_VIA_LINK); }
SEC("tracepoint/syscalls/sys_enter_unlink")
int vg_enter_unlink(struct vg_sys_enter_args *ctx) { return vg_named_enter(VG_AT_FDCWD, ctx->args[0], VG_FILE_VIA_UNLINK); }
SEC("tracepoint/syscalls/sys_enter_unlinkat")
int vg_enter_unlinkat(struct vg_sys_enter_args *ctx) { return vg_named_enter((__s32)ctx->args[0], ctx->args[1], VG_FILE_VIA_UNLINK); }
SEC("tracepoint/syscalls/sys_enter_chmod")
int vg_enter_chmod(struct vg_sys_enter_args *ctx)
{
    return vg_adds_exec(ctx->args[1]) ? vg_named_enter(VG_AT_FDCWD, ctx->args[0], VG_FILE_CHMOD_EXEC) : 0;
}
SEC("tracepoint/syscalls/sys_enter_fchmod")
int vg_enter_fchmod(struct vg_sys_enter_args *ctx)
{
    return vg_adds_exec(ctx->args[1]) ? vg_named_enter((__s32)ctx->args[0], 0, VG_FILE_CHMOD_EXEC) : 0;
}
SEC("tracepoint/syscalls/sys_enter_fchmodat")
int vg_enter_fchmodat(struct vg_sys_enter_args *ctx)
{
    return vg_adds_exec(ctx->args[2]) ? vg_named_enter((__s32)ctx->args[0], ctx->args[1], VG_FILE_CHMOD_EXEC) : 0;
}
SEC("tracepoint/syscalls/sys_enter_fchmodat2")
int vg_enter_fchmodat2(struct vg_sys_enter_args *ctx)
{
    return vg_adds_exec(ctx->args[2]) ? vg_named_enter((__s32)ctx->args[0], ctx->args[1], VG_FILE_CHMOD_EXEC) : 0;
}

/* The same entries from sys_enter (syscalls.bpf.c), which learn and detect mode load anyway:
 * the sensor then leaves every sys_enter_* tracepoint above unloaded, because while any of
 * them is attached the kernel runs its per-syscall-tracepoint test (perf_syscall_enter) on
 * every syscall of every task. A call an architecture lacks has a negative number here
 * (vigil_kernel.h), which no syscall matches. */
static __always_inline void vg_files_enter(long nr, struct pt_regs *regs)
{
    __u64 a1 = VG_SYSCALL_ARG1(regs), a2 = VG_SYSCALL_ARG2(regs), a3 = VG_SYSCALL_ARG3(regs);
    switch (nr) {
    case VG_NR_MMAP: vg_mmap_enter(a3, VG_SYSCALL_ARG4(regs), (__s32)VG_SYSCALL_ARG5(regs)); break;
    case VG_NR_MPROTECT: vg_mprotect_enter(a1, a3); break;
    case VG_NR_RENAME: vg_named_enter(VG_AT_FDCWD, a2, VG_FILE_VIA_RENAME); break;
    case VG_NR_RENAMEAT:
    case VG_NR_RENAMEAT2: vg_named_enter((__s32)a3, VG_SYSCALL_ARG4(regs), VG_FILE_VIA_RENAME); break;
    case VG_NR_LINK: vg_named_enter(VG_AT_FDCWD, a2, VG_FILE_VIA_LINK); break;
    case VG_NR_LINKAT: vg_named_enter((__s32)a3, VG_SYSCALL_ARG4(regs), VG_FILE_VIA_LINK); break;
    case VG_NR_UNLINK: vg_named_enter(VG_AT_FDCWD, a1, VG_FILE_VIA_UNLINK); break;
    case VG_NR_UNLINKAT: vg_named_enter((__s32)a1, a2, VG_FILE_VIA_UNLINK); break;
    case VG_NR_CHMOD: if (vg_adds_exec(a2)) vg_named_enter(VG_AT_FDCWD, a1, VG_FILE_CHMOD_EXEC); break;
    case VG_NR_FCHMOD: if (vg_adds_exec(a2)) vg_named_enter((__s32)a1, 0, VG_FILE_CHMOD_EXEC); break;
    case VG_NR_FCHMODAT:
    case VG_NR_FCHMODAT2: if (vg_adds_exec(a3)) vg_named_enter((__s32)a1, a2, VG_FILE_CHMOD_EXEC); break;
    default: break;
    }
}

SEC("tracepoint/syscalls/sys_exit_rename")
int vg_exit_rename(struct vg_sys_exit_args *ctx) { return vg_named_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_renameat")
int vg_exit_renameat(struct vg_sys_exit_args *ctx) { return vg_named_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_renameat2")
int vg_exit_renameat2(struct vg_sys_exit_args *ctx) { return vg_named_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_link")
int vg_exit_link(struct vg_sys_exit_args *ctx) { return vg_named_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_linkat")
int vg_exit_linkat(struct vg_sys_exit_args *ctx) { return vg_named_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_unlink")
int vg_exit_unlink(struct vg_sys_exit_args *ctx) { return vg_named_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_unlinkat")
int vg_exit_unlinkat(struct vg_sys_exit_args *ctx) { return vg_named_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_chmod")
int vg_exit_chmod(struct vg_sys_exit_args *ctx) { return vg_named_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_fchmod")
int vg_exit_fchmod(struct vg_sys_exit_args *ctx) { return vg_named_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_fchmodat")
int vg_exit_fchmodat(struct vg_sys_exit_args *ctx) { return vg_named_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_fchmodat2")
int vg_exit_fchmodat2(struct vg_sys_exit_args *ctx) { return vg_named_exit(ctx->ret); }

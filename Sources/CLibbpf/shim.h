/* libbpf for Swift: the headers plus static inline shims for what Swift cannot call
 * directly (LIBBPF_OPTS-style option structs, the va_list print callback). */
#ifndef VIGIL_CLIBBPF_SHIM_H
#define VIGIL_CLIBBPF_SHIM_H

#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <errno.h>
#include <string.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/vfs.h>

/* The filesystem type (statfs f_type) of `path`, or -errno. */
static inline long vigil_fs_type(const char *path) {
    struct statfs st;
    if (statfs(path, &st) != 0) return -errno;
    return (long)st.f_type;
}

/* libbpf reports through a printf-style callback. Swift cannot take a va_list, so the
 * shim formats the message and hands Swift a plain string. */
typedef void (*vigil_libbpf_log_fn)(int level, const char *message);

/* A function-local static: a header-level one would never be emitted by Swift's importer. */
static inline vigil_libbpf_log_fn *vigil_libbpf_log_slot(void) {
    static vigil_libbpf_log_fn slot;
    return &slot;
}

static inline int vigil_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args) {
    vigil_libbpf_log_fn sink = *vigil_libbpf_log_slot();
    if (!sink) return 0;
    char buf[65536]; /* verifier logs come as one message */
    int n = vsnprintf(buf, sizeof buf, fmt, args);
    sink((int)level, buf);
    return n;
}

static inline void vigil_libbpf_set_log(vigil_libbpf_log_fn fn) {
    *vigil_libbpf_log_slot() = fn;
    libbpf_set_print(vigil_libbpf_print);
}

/* bpf_object__open_mem with the object name set (LIBBPF_OPTS is a macro). */
static inline struct bpf_object *vigil_bpf_object_open_mem(const void *buf, size_t size, const char *name) {
    LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = name);
    return bpf_object__open_mem(buf, size, &opts);
}

/* The bytes of global variable `name` in data section `section` (".rodata", ".bss", ...)
 * of an object that is opened but not yet loaded, found through the object's BTF.
 * Returns 0 and sets *where, -ENOENT when the section or variable does not exist,
 * -EINVAL when the variable is not `size` bytes. */
static inline int vigil_find_global(struct bpf_object *obj, const char *section, const char *name,
                                    size_t size, char **where) {
    struct bpf_map *map = bpf_object__find_map_by_name(obj, section);
    struct btf *btf = bpf_object__btf(obj);
    if (!map || !btf) return -ENOENT;
    size_t data_size = 0;
    char *data = (char *)bpf_map__initial_value(map, &data_size);
    if (!data) return -ENOENT;
    int sec_id = btf__find_by_name_kind(btf, section, BTF_KIND_DATASEC);
    if (sec_id < 0) return -ENOENT;
    const struct btf_type *sec = btf__type_by_id(btf, (unsigned)sec_id);
    const struct btf_var_secinfo *vs = btf_var_secinfos(sec);
    for (unsigned i = 0; i < btf_vlen(sec); i++, vs++) {
        const struct btf_type *var = btf__type_by_id(btf, vs->type);
        const char *var_name = btf__name_by_offset(btf, var->name_off);
        if (!var_name || strcmp(var_name, name) != 0) continue;
        if (vs->size != size || vs->offset + size > data_size) return -EINVAL;
        *where = data + vs->offset;
        return 0;
    }
    return -ENOENT;
}

/* Writes `value` into a global of an opened, not yet loaded object (vigil_find_global). */
static inline int vigil_set_global(struct bpf_object *obj, const char *section, const char *name,
                                   const void *value, size_t size) {
    char *where = NULL;
    int rc = vigil_find_global(obj, section, name, size, &where);
    if (rc == 0) memcpy(where, value, size);
    return rc;
}

/* Reads a global of an opened object into `value` (before load: its initial value). */
static inline int vigil_get_global(struct bpf_object *obj, const char *section, const char *name,
                                   void *value, size_t size) {
    char *where = NULL;
    int rc = vigil_find_global(obj, section, name, size, &where);
    if (rc == 0) memcpy(value, where, size);
    return rc;
}

/* 1 when the running kernel's BTF describes the BTF tracepoint `name` (e.g.
 * "sched_process_exec", "sys_enter"), 0 when it does not, -errno when there is no
 * kernel BTF to ask. */
static inline int vigil_kernel_has_btf_tracepoint(const char *name) {
    struct btf *vmlinux = btf__load_vmlinux_btf();
    if (!vmlinux) return -errno;
    char type_name[128];
    snprintf(type_name, sizeof type_name, "btf_trace_%s", name);
    int id = btf__find_by_name_kind(vmlinux, type_name, BTF_KIND_TYPEDEF);
    btf__free(vmlinux);
    return id >= 0 ? 1 : 0;
}

/* Turns on the kernel's per-program run-time accounting (run_time_ns, run_cnt) for as long
 * as the returned descriptor stays open. Returns the descriptor, or -errno. */
static inline int vigil_enable_run_time_stats(void) {
    int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
    return fd >= 0 ? fd : -errno;
}

/* A loaded program's cumulative run time (ns) and run count. Returns 0, or -errno. */
static inline int vigil_prog_run_stats(int prog_fd, __u64 *run_time_ns, __u64 *run_cnt) {
    struct bpf_prog_info info;
    memset(&info, 0, sizeof info);
    __u32 len = sizeof info;
    if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0) return -errno;
    *run_time_ns = info.run_time_ns;
    *run_cnt = info.run_cnt;
    return 0;
}

/* An acquire load of a 64-bit position the kernel (or libbpf) writes concurrently, such as
 * a ring buffer's producer and consumer positions. */
static inline __u64 vigil_load_acquire_u64(const void *where) {
    return __atomic_load_n((const __u64 *)where, __ATOMIC_ACQUIRE);
}

#endif

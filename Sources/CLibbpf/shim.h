/* libbpf for Swift: the headers plus static inline shims for what Swift cannot call
 * directly (LIBBPF_OPTS-style option structs, the va_list print callback). */
#ifndef VIGIL_CLIBBPF_SHIM_H
#define VIGIL_CLIBBPF_SHIM_H

#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <stdarg.h>
#include <stdio.h>

/* libbpf reports through a printf-style callback. Swift cannot take a va_list, so the
 * shim formats the message and hands Swift a plain string. */
typedef void (*vigil_libbpf_log_fn)(int level, const char *message);

static vigil_libbpf_log_fn vigil_libbpf_log_sink;

static inline int vigil_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args) {
    if (!vigil_libbpf_log_sink) return 0;
    char buf[1024];
    int n = vsnprintf(buf, sizeof buf, fmt, args);
    vigil_libbpf_log_sink((int)level, buf);
    return n;
}

static inline void vigil_libbpf_set_log(vigil_libbpf_log_fn fn) {
    vigil_libbpf_log_sink = fn;
    libbpf_set_print(vigil_libbpf_print);
}

/* bpf_object__open_mem with the object name set (LIBBPF_OPTS is a macro). */
static inline struct bpf_object *vigil_bpf_object_open_mem(const void *buf, size_t size, const char *name) {
    LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = name);
    return bpf_object__open_mem(buf, size, &opts);
}

#endif

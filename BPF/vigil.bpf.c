/* vigil.bpf.c: Vigil's kernel side, one object. Hook families live in their own files
 * and are compiled here as one translation unit so they share maps and helpers. */
#include <stdbool.h>
#include <linux/bpf.h>
#include "vigil_kernel.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "vigil_core_fixes.h"
#include <bpf/bpf_endian.h>
#include "vigil_wire.h"
#include "vigil_boundary.h"
#include "vigil_transparent.h"
#include "maps.bpf.h"
#include "common.bpf.h"

#include "response.bpf.c"
#include "learn.bpf.c"
#include "process.bpf.c"
#include "network.bpf.c"
#include "files.bpf.c"
#include "syscalls.bpf.c"
#include "bench.bpf.c"

char LICENSE[] SEC("license") = "GPL";

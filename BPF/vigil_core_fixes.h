/*
 * vigil_core_fixes.h: the one place where a kernel field Vigil reads has changed name or
 * shape between the kernels it runs on (5.17, the first with bpf_find_vma, to today).
 *
 * Each accessor asks, with bpf_core_field_exists, which layout the running kernel has.
 * libbpf answers from the kernel's BTF at load time and turns the test into a constant,
 * so the branch not taken is dead code the verifier never walks. The "___flavour" structs
 * describe a layout by the fields that tell it apart; libbpf ignores the suffix when it
 * matches them against the kernel's types.
 *
 * Every other field in vigil_kernel.h has kept its name and type over that range;
 * docs/architecture.md ("Kernel fields read") lists them. A field that drifts later gets
 * its accessor here and every read goes through it.
 */
#ifndef VIGIL_CORE_FIXES_H
#define VIGIL_CORE_FIXES_H

#include <bpf/bpf_core_read.h>
#include "vigil_kernel.h"

/* vm_area_struct.vm_flags: a plain field up to 6.2. From 6.3 the flags live in
 * __vm_flags, with vm_flags a const alias of it in an anonymous union (only the mm code
 * may write them). Read the storage where it exists. */
struct vm_area_struct___v63 {
    unsigned long __vm_flags;
} __attribute__((preserve_access_index));

static __always_inline unsigned long vg_vma_flags(struct vm_area_struct *vma)
{
    struct vm_area_struct___v63 *v63 = (void *)vma;
    if (bpf_core_field_exists(v63->__vm_flags))
        return BPF_CORE_READ(v63, __vm_flags);
    return BPF_CORE_READ(vma, vm_flags);
}

#endif

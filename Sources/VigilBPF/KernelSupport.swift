import CLibbpf
import Glibc

/// Questions about what the running kernel offers, asked before loading anything.
public enum KernelSupport {
    /// True when the kernel publishes its BTF (needed for CO-RE and `tp_btf` programs).
    public static var hasKernelBTF: Bool { access("/sys/kernel/btf/vmlinux", R_OK) == 0 }

    /// Whether the kernel's BTF describes the BTF tracepoint `name` (e.g. `sched_process_exec`).
    public static func hasBTFTracepoint(_ name: String) -> Bool {
        vigil_kernel_has_btf_tracepoint(name) == 1
    }

    /// Whether the kernel has the cgroup hooks for unix-domain sockets (`cgroup/connect_unix`,
    /// Linux 6.7+; `struct bpf_sock_addr_kern` gained `uaddrlen` with them).
    public static var hasUnixSocketHooks: Bool {
        vigil_kernel_has_struct_member("bpf_sock_addr_kern", "uaddrlen") == 1
    }
}

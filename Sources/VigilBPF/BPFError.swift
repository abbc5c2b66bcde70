import Glibc

/// A libbpf or bpf(2) failure, with the operation that failed and the errno it returned.
public struct BPFError: Error, CustomStringConvertible, Sendable {
    public var operation: String
    public var errno: Int32
    public var detail: String

    public init(_ operation: String, errno: Int32, detail: String = "") {
        self.operation = operation
        self.errno = errno
        self.detail = detail
    }

    public var description: String {
        var s = "\(operation) failed: \(BPFError.name(errno))"
        if !detail.isEmpty { s += " (\(detail))" }
        return s
    }

    static func name(_ e: Int32) -> String {
        switch e {
        case EPERM: "EPERM, operation not permitted"
        case ENOENT: "ENOENT, no such file or directory"
        case E2BIG: "E2BIG, argument list too long"
        case ENOMEM: "ENOMEM, out of memory"
        case EACCES: "EACCES, permission denied"
        case EBUSY: "EBUSY, device or resource busy"
        case EINVAL: "EINVAL, invalid argument"
        case ENOSPC: "ENOSPC, no space left"
        case EOPNOTSUPP: "EOPNOTSUPP, operation not supported"
        // ENOTSUPP is the kernel's own errno (include/linux/errno.h), not exported to user space.
        case 524: "ENOTSUPP, not supported by this kernel"
        default: "errno \(e)"
        }
    }
}

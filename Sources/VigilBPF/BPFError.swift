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
        case 1: "EPERM, operation not permitted"
        case 2: "ENOENT, no such file or directory"
        case 7: "E2BIG, argument list too long"
        case 12: "ENOMEM, out of memory"
        case 13: "EACCES, permission denied"
        case 16: "EBUSY, device or resource busy"
        case 22: "EINVAL, invalid argument"
        case 28: "ENOSPC, no space left"
        case 95: "EOPNOTSUPP, operation not supported"
        case 524: "ENOTSUPP, not supported by this kernel"
        default: "errno \(e)"
        }
    }
}

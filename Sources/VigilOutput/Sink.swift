#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One encoded event on its way to the outputs.
public struct OutputLine: Sendable, Hashable {
    /// One JSON object, without the trailing newline.
    public var bytes: [UInt8]
    /// Its OCSF `class_uid`, for filters and syslog severity.
    public var classUID: Int

    public init(bytes: [UInt8], classUID: Int) {
        self.bytes = bytes
        self.classUID = classUID
    }
}

/// A destination for event lines.
///
/// A sink is driven by exactly one worker thread (see `OutputRouter`), so it may block and
/// keeps its connection state without locks. `deliver` returns only when every line of the
/// batch is handed to the receiver as far as the transport can tell; if it throws, the
/// whole batch is delivered again later (so receivers may see a batch twice: at-least-once).
public protocol Sink: AnyObject {
    /// A short name for stats and health events (never contains credentials).
    var name: String { get }
    /// Delivers `lines` in order, or throws.
    func deliver(_ lines: ArraySlice<OutputLine>) throws
    /// Releases connections and files. Called once, from the worker thread.
    func close()
}

/// Writes each line to standard output.
final class StdoutSink: Sink {
    let name = "stdout"

    func deliver(_ lines: ArraySlice<OutputLine>) throws {
        var buf: [UInt8] = []
        buf.reserveCapacity(lines.reduce(0) { $0 + $1.bytes.count + 1 })
        for l in lines { buf += l.bytes; buf.append(0x0a) }
        try FileDescriptor.writeAll(1, buf, call: "write(stdout)")
    }

    func close() {}
}

/// Helpers for whole-buffer writes on file descriptors.
enum FileDescriptor {
    static func writeAll(_ fd: Int32, _ bytes: [UInt8], call: String) throws {
        try bytes.withUnsafeBytes { buf in
            var off = 0
            while off < buf.count {
                let n = Glibc.write(fd, buf.baseAddress! + off, buf.count - off)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw SystemError(call: call, code: errno)
                }
                off += n
            }
        }
    }
}

/// Appends lines to a file, rotating by size: `path` → `path.1` → … → `path.KEEP`, oldest
/// dropped. A batch never straddles two files, so each file holds whole lines.
final class FileSink: Sink {
    let name: String
    let path: String
    let maxBytes: Int
    let keep: Int
    let fsyncEachBatch: Bool
    private var fd: Int32 = -1
    private var size = 0
    private var regularFile = true

    init(path: String, maxBytes: Int, keep: Int, fsync: Bool) {
        self.name = "file:\(path)"
        self.path = path
        self.maxBytes = maxBytes
        self.keep = keep
        self.fsyncEachBatch = fsync
    }

    deinit { close() }

    func deliver(_ lines: ArraySlice<OutputLine>) throws {
        var buf: [UInt8] = []
        buf.reserveCapacity(lines.reduce(0) { $0 + $1.bytes.count + 1 })
        for l in lines { buf += l.bytes; buf.append(0x0a) }
        try openIfNeeded()
        if regularFile && size > 0 && size + buf.count > maxBytes {
            try rotate()
        }
        try FileDescriptor.writeAll(fd, buf, call: "write(\(path))")
        size += buf.count
        // Acknowledging a batch lets the spool forget it, so it must be on disk first.
        // EINVAL: a pipe or character device (file:/dev/stdout), which has nothing to sync.
        if fsyncEachBatch && fdatasync(fd) != 0 && errno != EINVAL {
            throw SystemError(call: "fdatasync(\(path))", code: errno)
        }
    }

    private func openIfNeeded() throws {
        guard fd < 0 else { return }
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw SystemError(call: "open(\(path))", code: errno) }
        var st = stat()
        size = fstat(fd, &st) == 0 ? Int(st.st_size) : 0
        // Only regular files rotate: renaming /dev/stdout or a FIFO would be a disaster.
        regularFile = st.st_mode & S_IFMT == S_IFREG
    }

    private func rotate() throws {
        close()
        if keep == 0 {
            unlink(path)
        } else {
            unlink("\(path).\(keep)")
            for i in stride(from: keep - 1, through: 1, by: -1) { rename("\(path).\(i)", "\(path).\(i + 1)") }
            if rename(path, "\(path).1") != 0 { throw SystemError(call: "rename(\(path))", code: errno) }
        }
        try openIfNeeded()
    }

    func close() {
        if fd >= 0 { _ = Glibc.close(fd); fd = -1 }
    }
}

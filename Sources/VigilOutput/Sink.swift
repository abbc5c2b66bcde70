import Foundation
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

    /// The event's `metadata.uid`, which Vigil's encoder writes as the first member of the
    /// top-level `metadata` (so it is found without parsing the line); nil when absent.
    /// Inside a JSON string every quote is escaped, so the pattern only matches structure.
    var eventUID: String? {
        let pattern = Self.uidPattern
        guard let start = HTTPSink.find(bytes, pattern) else { return nil }
        let from = start + pattern.count
        guard let end = bytes[from...].firstIndex(of: 0x22), end > from else { return nil }
        let uid = bytes[from..<end]
        guard !uid.contains(0x5c) else { return nil }  // escapes: not one of ours
        return String(decoding: uid, as: UTF8.self)
    }

    private static let uidPattern = Array(#""metadata":{"uid":""#.utf8)
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

/// How a delivery failed, as a sink classifies it; the worker decides from the kind alone.
/// Any other error a sink throws (a refused connection, a reset) counts as `transient`.
struct DeliveryFailure: Error, CustomStringConvertible {
    enum Kind: Equatable {
        /// Try again later (5xx, 408, 429, network errors); `retryAfter` seconds when the
        /// receiver said how long to wait.
        case transient(retryAfter: Double?)
        /// The receiver will never take these lines as they are (4xx other than 401, 403,
        /// 408, 413, 429): they go to the dead-letter file so later lines can flow.
        case rejected
        /// The receiver refuses our credentials (401, 403): the output is failing until an
        /// operator acts; its lines stay spooled and are retried slowly.
        case unauthorized
        /// The request was too large (413): the batch is split and the halves retried.
        case tooLarge
    }

    var kind: Kind
    var message: String
    /// The HTTP status, when there was one.
    var status: Int?

    init(_ kind: Kind, _ message: String, status: Int? = nil) {
        self.kind = kind
        self.message = message
        self.status = status
    }

    var description: String { message }

    /// The kind an HTTP status (not 2xx) stands for.
    static func kind(httpStatus s: Int, retryAfter: Double?) -> Kind {
        switch s {
        case 401, 403: .unauthorized
        case 413: .tooLarge
        case 408, 429: .transient(retryAfter: retryAfter)
        case 400..<500: .rejected
        default: .transient(retryAfter: retryAfter)
        }
    }
}

/// A batch the receiver took in part (Elasticsearch `_bulk` answers per item): the lines at
/// `failed`'s indices (positions in the batch) were not taken, for the reason given; every
/// other line was delivered.
struct PartialDelivery: Error, CustomStringConvertible {
    var failed: [Int: DeliveryFailure]
    var description: String {
        "\(failed.count) items failed: " + (failed.sorted { $0.key < $1.key }.first.map { $0.value.message } ?? "")
    }
}

/// The receiver took the batch but refused `count` of its events without saying which
/// (OTLP's `partialSuccess.rejectedLogRecords`; the protocol forbids retrying them). They
/// are counted lost, with the receiver's reason; the rest are delivered.
struct UnattributedRejection: Error, CustomStringConvertible {
    var count: Int
    var reason: String
    var description: String { reason }
}

/// Where lines a receiver rejected for good are kept, in the output's spool directory:
/// `dead-letter.jsonl`, one JSON object per line with the time, the output, the reason and
/// the event exactly as it was sent. Bounded by `maxBytes`; past it, lines are counted lost.
final class DeadLetterFile {
    let path: String
    let maxBytes: Int
    private var size: Int

    init(directory: String, maxBytes: Int) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        path = directory + "/dead-letter.jsonl"
        self.maxBytes = maxBytes
        var st = stat()
        size = stat(path, &st) == 0 ? Int(st.st_size) : 0
    }

    /// Appends the rejected lines (durably); returns how many were kept.
    func append(_ lines: [(line: OutputLine, reason: String)], output: String, timeNanos: UInt64) -> Int {
        var buf: [UInt8] = []
        var kept = 0
        for (l, reason) in lines {
            var w = JSONWriter(reservingCapacity: l.bytes.count + 160)
            w.object { w in
                w.field("time", Int64(timeNanos / 1_000_000))
                w.field("output", output)
                w.field("reason", reason)
                w.field("class_uid", l.classUID)
                w.key("event"); w.raw(l.bytes)
            }
            guard size + buf.count + w.bytes.count + 1 <= maxBytes else { break }
            buf += w.bytes
            buf.append(0x0a)
            kept += 1
        }
        guard !buf.isEmpty else { return 0 }
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return 0 }
        defer { _ = Glibc.close(fd) }
        guard (try? FileDescriptor.writeAll(fd, buf, call: "write(\(path))")) != nil else { return 0 }
        _ = fdatasync(fd)
        size += buf.count
        return kept
    }
}

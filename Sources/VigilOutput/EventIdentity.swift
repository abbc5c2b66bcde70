import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Names every event an agent emits, for OCSF `metadata.uid`: `INSTANCE-SEQ`, where
/// INSTANCE is the agent's persistent instance id (128 random bits, hex, created once in
/// its state directory as `instance-id`) and SEQ a per-agent sequence number that never
/// repeats, across restarts too. Two agents that see the same kernel event give it two ids;
/// one event sent twice (a retry, a spool replay) keeps its id, so receivers can
/// de-duplicate (`_bulk` uses it as `_id`).
///
/// Sequence numbers are reserved in blocks (file `sequence`, replaced atomically, holding
/// the first number not yet reserved): a restart, or a crash, continues after the block
/// in use, skipping what it did not use, and never reuses one. One write per block, not
/// per event.
public final class EventIdentity: @unchecked Sendable {
    /// The agent's instance id (32 hex digits).
    public let instanceID: String
    private let sequencePath: String?
    private let lock = NSLock()
    private var next: UInt64
    private var reservedEnd: UInt64
    /// Set when a reservation could not be written: ids then carry a run-unique suffix so
    /// they stay unique even though the next start may reuse numbers.
    private var fallbackSuffix: String?
    static let defaultBlockSize: UInt64 = 1 << 20
    /// Sequence numbers reserved per write of `sequence`.
    let blockSize: UInt64

    /// Why the state directory cannot hold the identity.
    public struct Failure: Error, CustomStringConvertible {
        public var file: String
        public var reason: String
        public var description: String { "\(file): \(reason)" }
    }

    /// Loads the identity kept in `directory`, creating it on first use.
    public convenience init(directory: String) throws {
        try self.init(directory: directory, blockSize: Self.defaultBlockSize)
    }

    init(directory: String, blockSize: UInt64) throws {
        self.blockSize = blockSize
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let idPath = directory + "/instance-id"
        instanceID = try Self.loadOrCreateID(idPath)
        sequencePath = directory + "/sequence"
        let start: UInt64
        if let text = try? String(contentsOfFile: directory + "/sequence", encoding: .utf8) {
            guard let n = UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                throw Failure(file: directory + "/sequence", reason: "expected one whole number (the next event sequence number), found '\(text.prefix(40))'")
            }
            start = n
        } else {
            start = 0
        }
        next = start
        reservedEnd = start
        try reserve()
    }

    /// An identity for this run only (no state directory): a random instance id.
    public init() {
        instanceID = Self.randomHex()
        sequencePath = nil
        blockSize = Self.defaultBlockSize
        next = 0
        reservedEnd = .max
    }

    /// The next event's uid.
    public func nextUID() -> String {
        lock.lock()
        defer { lock.unlock() }
        if next >= reservedEnd {
            do { try reserve() } catch { fallbackSuffix = fallbackSuffix ?? "r" + Self.randomHex().prefix(8); reservedEnd = .max }
        }
        let n = next
        next += 1
        if let fallbackSuffix { return "\(instanceID)-\(fallbackSuffix)-\(n)" }
        return "\(instanceID)-\(n)"
    }

    /// Serialises reservations in this process: two identities on one directory (the old
    /// and the new event stream across a reload) must not reserve the same block.
    private static let reservationLock = NSLock()

    /// Reserves the next block: from where the file says (another identity on the same
    /// directory may have reserved since) or where this one is, whichever is later.
    private func reserve() throws {
        guard let sequencePath else { return }
        try Self.reservationLock.withLock {
            if let text = try? String(contentsOfFile: sequencePath, encoding: .utf8),
               let onDisk = UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                next = max(next, onDisk)
            }
            let end = next + blockSize
            try Self.writeAtomically(Array("\(end)\n".utf8), to: sequencePath)
            reservedEnd = end
        }
    }

    private static func randomHex() -> String {
        var g = SystemRandomNumberGenerator()
        return (0..<2).map { _ in
            let h = String(g.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - h.count) + h
        }.joined()
    }

    private static func loadOrCreateID(_ path: String) throws -> String {
        for _ in 0..<2 {
            if let text = try? String(contentsOfFile: path, encoding: .utf8) {
                let id = text.trimmingCharacters(in: .whitespacesAndNewlines)
                guard id.count == 32, id.allSatisfy(\.isHexDigit) else {
                    throw Failure(file: path, reason: "expected the agent's instance id (32 hex digits), found '\(id.prefix(40))'")
                }
                return id.lowercased()
            }
            // Created whole or not at all: written beside it, then linked in (fails if another
            // agent got there first, whose id is then read).
            let temp = path + ".tmp-\(getpid())"
            try writeFile(Array((randomHex() + "\n").utf8), to: temp)
            let rc = link(temp, path)
            let e = errno
            unlink(temp)
            if rc != 0 && e != EEXIST { throw Failure(file: path, reason: "cannot create: \(String(cString: strerror(e)))") }
        }
        throw Failure(file: path, reason: "cannot read the instance id just created")
    }

    private static func writeFile(_ bytes: [UInt8], to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Failure(file: path, reason: "cannot write: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        try FileDescriptor.writeAll(fd, bytes, call: "write(\(path))")
        guard fsync(fd) == 0 else { throw Failure(file: path, reason: "fsync: \(String(cString: strerror(errno)))") }
    }

    private static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        let temp = path + ".tmp-\(getpid())"
        try writeFile(bytes, to: temp)
        guard rename(temp, path) == 0 else {
            let e = errno
            unlink(temp)
            throw Failure(file: path, reason: "cannot replace: \(String(cString: strerror(e)))")
        }
        let dir = open((path as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dir >= 0 { _ = fsync(dir); close(dir) }
    }
}

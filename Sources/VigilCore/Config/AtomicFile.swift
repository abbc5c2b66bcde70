import Foundation

/// Files replaced whole or not at all: written to a temporary file beside the target,
/// synced, renamed over it, and the directory synced. A crash leaves the old file or the
/// new one, never a mix.
enum AtomicFile {
    struct WriteError: Error, CustomStringConvertible {
        var file: String
        var reason: String
        var description: String { "\(file): \(reason)" }
    }

    /// The whole file, read with retries on EINTR (a signal to the agent must not make a
    /// baseline look unreadable).
    static func read(_ path: String) -> Result<[UInt8], POSIXError> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)) }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return .failure(POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO))
            }
            if n == 0 { return .success(out) }
            out.append(contentsOf: chunk[..<n])
        }
    }

    /// Removes temporary files that a writer killed mid-write left in `directory`
    /// (`.NAME.tmp-PID-N` whose PID no longer runs); returns how many.
    @discardableResult
    static func sweepAbandoned(in directory: String) -> Int {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return 0 }
        var removed = 0
        for name in names where name.hasPrefix(".") {
            guard let r = name.range(of: ".tmp-", options: .backwards) else { continue }
            let pidText = name[r.upperBound...].prefix { $0 != "-" }
            guard let pid = Int32(pidText), pid > 0, pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH, unlink(directory + "/" + name) == 0 { removed += 1 }
        }
        return removed
    }

    /// Writes `bytes` to `final` (mode `mode`). `crash` stops after a step (tests only).
    static func write(_ bytes: [UInt8], to final: String, mode: mode_t = 0o644, crash: ProfileStore.CrashPoint? = nil) throws {
        let directory = (final as NSString).deletingLastPathComponent
        let name = (final as NSString).lastPathComponent
        let temp = (directory as NSString).appendingPathComponent(".\(name).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        func fail(_ what: String) -> WriteError { WriteError(file: final, reason: "\(what): \(String(cString: strerror(errno)))") }
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw fail("cannot create \(temp)") }
        var ok = false
        defer { if !ok && crash == nil { unlink(temp) } }
        do {
            defer { if !ok { close(fd) } }
            var offset = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
                if n < 0 { if errno == EINTR { continue }; throw fail("write failed") }
                offset += n
            }
            if crash == .afterTempWrite { return }
            guard fsync(fd) == 0 else { throw fail("fsync failed") }
            if crash == .afterTempSync { return }
            ok = true
            guard close(fd) == 0 else { throw fail("close failed") }
        }
        guard rename(temp, final) == 0 else { ok = false; throw fail("rename failed") }
        let dfd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            _ = fsync(dfd)
            close(dfd)
        }
    }
}

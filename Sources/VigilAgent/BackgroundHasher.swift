import Foundation
import VigilCore

/// SHA-256 of executables, computed on a background queue so that hashing a large binary
/// never stalls the ring-buffer reader. The first request for a path schedules it; the
/// result is handed back through `completed()` and cached by inode, size and mtime.
public final class BackgroundHasher: @unchecked Sendable {
    public init() {}

    private let hasher = CachingFileHasher()
    private let queue = DispatchQueue(label: "vigil.hash", qos: .utility)
    private let lock = NSLock()
    private var cache: [String: String] = [:]
    private var scheduled: Set<String> = []
    private var done: [(String, String)] = []
    private let group = DispatchGroup()

    public func cachedOrSchedule(path: String) -> String? {
        lock.lock()
        defer { lock.unlock() }
        if let h = cache[path] { return h }
        if scheduled.insert(path).inserted {
            queue.async(group: group) { [self] in
                let h = hasher.sha256(path: path)
                lock.lock()
                if let h {
                    cache[path] = h
                    done.append((path, h))
                }
                lock.unlock()
            }
        }
        return nil
    }

    public func completed() -> [(String, String)] {
        lock.lock()
        defer { lock.unlock() }
        let out = done
        done.removeAll()
        return out
    }

    public func waitForPending(seconds: Double) {
        _ = group.wait(timeout: .now() + seconds)
    }
}

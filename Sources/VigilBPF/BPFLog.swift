import CLibbpf
import Glibc

/// Collects libbpf's messages so that a failed load can report the verifier's reasons
/// instead of printing them to stderr unasked.
final class BPFLog: @unchecked Sendable {
    static let shared = BPFLog()
    private var lines: [String] = []
    private var lock = pthread_mutex_t()

    private init() { pthread_mutex_init(&lock, nil) }

    static func install() {
        _ = installed
    }

    private static let installed: Bool = {
        vigil_libbpf_set_log { level, message in
            guard let message else { return }
            BPFLog.shared.append(String(cString: message))
            if level == 0 /* LIBBPF_WARN */, getenv("VIGIL_DEBUG_BPF") != nil {
                _ = write(2, message, strlen(message))
            }
        }
        return true
    }()

    func append(_ line: String) {
        pthread_mutex_lock(&lock)
        lines.append(line)
        if lines.count > 400 { lines.removeFirst(lines.count - 400) }
        pthread_mutex_unlock(&lock)
    }

    func clear() {
        pthread_mutex_lock(&lock)
        lines.removeAll()
        pthread_mutex_unlock(&lock)
    }

    /// The last messages, joined: enough to see why the verifier refused a program.
    func tail(_ n: Int = 12) -> String {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        var text = Substring(lines.suffix(n).joined())
        while let last = text.last, last.isWhitespace { text.removeLast() }
        return String(text)
    }
}

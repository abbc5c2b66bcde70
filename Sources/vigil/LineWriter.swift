import Foundation

/// Buffered, unlocked output of whole lines to a file descriptor. A write error (e.g. a
/// closed pipe) is remembered and reported at the end instead of killing the process.
final class LineWriter {
    private let fd: Int32
    private var buffer: [UInt8] = []
    private(set) var failed = false

    init(fd: Int32) {
        self.fd = fd
        buffer.reserveCapacity(1 << 16)
        signal(SIGPIPE, SIG_IGN)
    }

    func write(_ line: String) {
        buffer.append(contentsOf: line.utf8)
        buffer.append(0x0A)
        if buffer.count >= 1 << 16 { flush() }
    }

    func flush() {
        var offset = 0
        while offset < buffer.count, !failed {
            let n = buffer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                failed = true
            } else {
                offset += n
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }
}

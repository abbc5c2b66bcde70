import Foundation
import VigilSensor

/// Messages for the person running vigil: on stderr, prefixed, never mixed into the event stream.
enum Diagnostics {
    static func error(_ message: String) { emit("vigil: error: \(message)") }
    static func warning(_ message: String) { emit("vigil: warning: \(message)") }
    static func info(_ message: String) { emit("vigil: \(message)") }
    static func raw(_ message: String) { emit(message) }

    private static func emit(_ line: String) {
        var data = Array((line + "\n").utf8)
        data.withUnsafeMutableBytes { _ = Glibc.write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }
}

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

/// SIGINT and SIGTERM ask the main loop to finish: detach, drain, flush, exit 0.
final class StopSignal: @unchecked Sendable {
    private static let shared = StopSignal()
    private var sources: [any DispatchSourceSignal] = []
    private let flag = UnsafeMutablePointer<sig_atomic_t>.allocate(capacity: 1)

    var requested: Bool { flag.pointee != 0 }

    static func install() -> StopSignal {
        let s = shared
        s.flag.pointee = 0
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let src = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            src.setEventHandler { s.flag.pointee = 1 }
            src.resume()
            s.sources.append(src)
        }
        return s
    }
}

enum StatsReport {
    static func summary(_ s: SensorStats) -> String {
        let emitted = s.kernelEmitted.values.reduce(0, +)
        var text = "stopped: \(emitted) records from the kernel, \(s.decoder.decoded) decoded, \(s.totalKernelDrops) dropped in the kernel"
        if s.totalKernelDrops > 0 {
            text += " (" + s.kernelDrops.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue)=\($0.value)" }.joined(separator: ", ") + ")"
        }
        if s.decoder.undecodable > 0 {
            text += ", \(s.decoder.undecodable) undecodable (truncated \(s.decoder.truncated), unknown kind \(s.decoder.unknownKind), bad size \(s.decoder.badSize))"
        }
        if s.pendingLost > 0 { text += ", \(s.pendingLost) network events lost to a full pairing map" }
        return text
    }
}

/// Unbuffered lines on stdout, for people watching (and for a parent reading the first line).
enum Console {
    static func line(_ s: String) { raw(s + "\n") }

    static func raw(_ s: String) {
        var data = Array(s.utf8)
        var offset = 0
        while offset < data.count {
            let n = data.withUnsafeMutableBytes { Glibc.write(STDOUT_FILENO, $0.baseAddress! + offset, $0.count - offset) }
            if n <= 0 { if errno == EINTR { continue } else { return } }
            offset += n
        }
    }
}

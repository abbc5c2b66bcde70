import Foundation
public import Logging
import VigilCore
public import VigilSensor

/// Messages about the agent for the person running vigil: swift-log records through
/// ``VigilLog`` (stderr, text or JSON, journald priorities), never mixed into the event stream.
public enum Diagnostics {
    public static func error(_ message: String, _ metadata: Logger.Metadata? = nil) { VigilLog.logger.error("\(message)", metadata: metadata) }
    public static func warning(_ message: String, _ metadata: Logger.Metadata? = nil) { VigilLog.logger.warning("\(message)", metadata: metadata) }
    public static func notice(_ message: String, _ metadata: Logger.Metadata? = nil) { VigilLog.logger.notice("\(message)", metadata: metadata) }
    public static func info(_ message: String, _ metadata: Logger.Metadata? = nil) { VigilLog.logger.info("\(message)", metadata: metadata) }
    public static func debug(_ message: String, _ metadata: Logger.Metadata? = nil) { VigilLog.logger.debug("\(message)", metadata: metadata) }

    /// A line of command output that belongs on stderr as it is (`--explain`, usage errors):
    /// not a log record, so no level, prefix or JSON.
    public static func raw(_ message: String) { sink(message) }

    /// Where raw lines go: stderr, unless a test or an embedding program replaces it.
    nonisolated(unsafe) public static var sink: (String) -> Void = { line in VigilLogHandler.writeStderr(line + "\n") }
}

/// SIGINT and SIGTERM ask the main loop to finish: detach, drain, flush, exit 0.
public final class StopSignal: @unchecked Sendable {
    private static let shared = StopSignal()
    private var sources: [any DispatchSourceSignal] = []
    private let flag = UnsafeMutablePointer<sig_atomic_t>.allocate(capacity: 1)

    public var requested: Bool { flag.pointee != 0 }

    public static func install() -> StopSignal {
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

public enum StatsReport {
    public static func summary(_ s: SensorStats) -> String {
        let emitted = s.kernelEmitted.values.reduce(0, +)
        // The network calls apart: what the kernel keeps back as known is of these kinds.
        let network: [Event.Kind] = [.connect, .bind, .listen]
        let byKind = network.contains { s.kernelEmitted[$0] != nil }
            ? " (" + network.map { "\($0.rawValue)=\(s.kernelEmitted[$0] ?? 0)" }.joined(separator: ", ") + ")" : ""
        var text = "stopped: \(emitted) records from the kernel\(byKind), \(s.decoder.decoded) decoded, \(s.totalKernelDrops) dropped in the kernel"
        if s.totalKernelDrops > 0 {
            text += " (" + s.kernelDrops.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue)=\($0.value)" }.joined(separator: ", ") + ")"
        }
        let known = s.kernelKnown.values.reduce(0, +)
        if known > 0 {
            text += ", \(known) known to their profile and kept in the kernel ("
                + s.kernelKnown.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue)=\($0.value)" }.joined(separator: ", ") + ")"
        }
        if s.decoder.undecodable > 0 {
            text += ", \(s.decoder.undecodable) undecodable (truncated \(s.decoder.truncated), unknown kind \(s.decoder.unknownKind), bad size \(s.decoder.badSize))"
        }
        if s.pendingLost > 0 { text += ", \(s.pendingLost) network events lost to a full pairing map" }
        return text
    }
}

/// Unbuffered lines on stdout, for people watching (and for a parent reading the first line).
public enum Console {
    public static func line(_ s: String) { raw(s + "\n") }

    public static func raw(_ s: String) { writeAll(s, to: STDOUT_FILENO) }

    /// Writes the whole string to `fd`, retrying short writes and EINTR; gives up on other errors.
    static func writeAll(_ s: String, to fd: Int32) {
        let data = Array(s.utf8)
        var offset = 0
        while offset < data.count {
            let n = data.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n <= 0 { if errno == EINTR { continue } else { return } }
            offset += n
        }
    }
}

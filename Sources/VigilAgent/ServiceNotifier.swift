public import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The service manager's notification protocol (sd_notify) without libsystemd: datagrams
/// to the AF_UNIX socket named by `NOTIFY_SOCKET` (a path, or `@name` for the abstract
/// namespace).
///
/// - `READY=1` once the probes are attached and the baselines loaded (`Type=notify` waits
///   for it), and again after a reload;
/// - `RELOADING=1` with `MONOTONIC_USEC=` when a SIGHUP reload begins;
/// - `STATUS=...`, one line for `systemctl status`;
/// - `STOPPING=1` at shutdown;
/// - `WATCHDOG=1` every half of `WATCHDOG_USEC`, from the agent's own read loop (``tick()``),
///   so that a wedged loop stops pinging and the service manager restarts the agent. Only
///   when `WATCHDOG_PID` is unset or names this process: a child that inherited the
///   variables must not ping for its parent.
///
/// Without `NOTIFY_SOCKET` every call does nothing. A message that cannot be sent is logged
/// once (the first failure), never fatal: the agent's work does not depend on it.
public final class ServiceNotifier {
    /// The socket address as the environment gave it; nil: not started by a service manager.
    public let socketPath: String?
    /// Nanoseconds between watchdog pings (half of `WATCHDOG_USEC`); nil: no watchdog.
    public let watchdogIntervalNanos: UInt64?
    private let clock: any AgentClock
    private let warn: (String) -> Void
    private let fd: Int32
    private var nextPing: UInt64 = 0
    private var nextStatus: UInt64 = 0
    private var lastStatus = ""
    /// How often ``tick(status:)`` asks for a status line: often enough for `systemctl
    /// status`, rarely enough that reading the kernel's counters for it costs nothing.
    public static let statusIntervalNanos: UInt64 = 5_000_000_000
    private var reportedFailure = false
    /// Messages sent, and failures (each counted, only the first logged): for tests.
    public private(set) var sent = 0
    public private(set) var failed = 0

    /// - Parameters:
    ///   - environment: where `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` come from.
    ///   - pid: this process (compared with `WATCHDOG_PID`).
    ///   - warn: where the one failure report goes.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment, pid: Int32 = getpid(),
                clock: any AgentClock = SystemClock(), warn: @escaping (String) -> Void = { Diagnostics.warning($0) }) {
        self.clock = clock
        self.warn = warn
        let path = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        socketPath = path
        watchdogIntervalNanos = path == nil ? nil : Self.watchdogInterval(environment, pid: pid, warn: warn)
        fd = path == nil ? -1 : socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if path != nil, fd < 0 { noteFailure("cannot create a socket: \(String(cString: strerror(errno)))") }
    }

    deinit { if fd >= 0 { _ = Glibc.close(fd) } }

    /// Half of `WATCHDOG_USEC` in nanoseconds, when the watchdog is meant for `pid`.
    /// A malformed value is reported and ignored (no pings), as libsystemd does.
    static func watchdogInterval(_ env: [String: String], pid: Int32, warn: (String) -> Void) -> UInt64? {
        guard let text = env["WATCHDOG_USEC"] else { return nil }
        guard let usec = UInt64(text), usec > 0 else {
            warn("WATCHDOG_USEC='\(text)' is not a positive number of microseconds; no watchdog pings")
            return nil
        }
        if let owner = env["WATCHDOG_PID"] {
            guard let p = Int32(owner) else {
                warn("WATCHDOG_PID='\(owner)' is not a process id; no watchdog pings")
                return nil
            }
            if p != pid { return nil }
        }
        return usec * 1000 / 2
    }

    /// The probes are attached and the baselines loaded; the first watchdog ping goes with it.
    public func ready(status: String) {
        lastStatus = status
        send("READY=1\nSTATUS=\(Self.oneLine(status))")
        let now = clock.nowNanos()
        nextStatus = now + Self.statusIntervalNanos
        ping(now: now)
    }

    /// A reload begins (SIGHUP); ``ready(status:)`` follows when it is done.
    public func reloading() {
        send("RELOADING=1\nMONOTONIC_USEC=\(clock.nowNanos() / 1000)")
    }

    public func status(_ text: String) {
        lastStatus = text
        send("STATUS=\(Self.oneLine(text))")
    }

    public func stopping() { send("STOPPING=1") }

    /// From the read loop, after each read: the watchdog ping when it is due, and every
    /// ``statusIntervalNanos`` the status line `status` makes, when it changed.
    public func tick(status: () -> String = { "" }) {
        guard socketPath != nil else { return }
        let now = clock.nowNanos()
        if watchdogIntervalNanos != nil, now >= nextPing { ping(now: now) }
        if now >= nextStatus {
            nextStatus = now + Self.statusIntervalNanos
            let line = status()
            if !line.isEmpty, line != lastStatus { self.status(line) }
        }
    }

    private func ping(now: UInt64) {
        guard let interval = watchdogIntervalNanos else { return }
        send("WATCHDOG=1")
        nextPing = now + interval
    }

    /// A status must stay one line: the protocol separates assignments by newlines.
    static func oneLine(_ s: String) -> String {
        s.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "\r", with: " ")
    }

    private func send(_ message: String) {
        guard let path = socketPath, fd >= 0 else { return }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }  // the abstract namespace
        let capacity = MemoryLayout.size(ofValue: addr.sun_path)
        guard bytes.count < capacity, bytes.first == 0 || bytes.first == UInt8(ascii: "/") else {
            noteFailure("NOTIFY_SOCKET='\(path)' is not an absolute path or @name of at most \(capacity - 1) bytes")
            return
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { dst in
            for (i, b) in bytes.enumerated() { dst[i] = b }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (bytes.first == 0 ? 0 : 1))
        let payload = Array(message.utf8)
        let n = payload.withUnsafeBytes { buf in
            withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, buf.baseAddress, buf.count, Int32(MSG_NOSIGNAL), $0, length)
                }
            }
        }
        if n == payload.count {
            sent += 1
        } else {
            noteFailure("cannot send to \(path): \(n < 0 ? String(cString: strerror(errno)) : "short write")")
        }
    }

    private func noteFailure(_ reason: String) {
        failed += 1
        guard !reportedFailure else { return }
        reportedFailure = true
        warn("service manager notification failed (\(reason)); the agent runs on, but a watchdog may restart it. Further failures are not logged")
    }
}

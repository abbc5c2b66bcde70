import Foundation
import Testing
@testable import VigilAgent
import VigilTestSupport

/// A datagram socket of the test's own, standing in for the service manager's NOTIFY_SOCKET.
final class NotifyListener {
    let fd: Int32
    /// What goes into NOTIFY_SOCKET: the path, or `@name`.
    let address: String

    init(abstract: Bool = false) throws {
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        let name = abstract ? "@vigil-test-notify-\(UUID().uuidString.prefix(8))" : try makeTempDirectory("vigil-notify") + "/notify.sock"
        address = name
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(name.utf8)
        if abstract { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &addr.sun_path) { for (i, b) in bytes.enumerated() { $0[i] = b } }
        let len = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1))
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        guard fd >= 0, rc == 0 else { throw POSIXError(.EADDRNOTAVAIL) }
    }

    deinit { close(fd) }

    /// Every datagram waiting now, in arrival order.
    func drain() -> [String] {
        var out: [String] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n <= 0 { return out }
            out.append(String(decoding: buf[..<n], as: UTF8.self))
        }
    }
}

@Suite struct ServiceNotifierTests {
    static let t0: UInt64 = 5_000_000_000_000

    @Test func sendsNothingWithoutNotifySocket() {
        let clock = SteppingClock(Self.t0)
        let n = ServiceNotifier(environment: ["WATCHDOG_USEC": "2000000"], pid: 42, clock: clock)
        #expect(n.socketPath == nil)
        #expect(n.watchdogIntervalNanos == nil, "no socket, no watchdog")
        n.ready(status: "run")
        clock.advance(seconds: 10)
        n.tick { "run: busy" }
        n.reloading()
        n.stopping()
        #expect(n.sent == 0 && n.failed == 0)
    }

    @Test func readyReloadAndStopInOrder() throws {
        let listener = try NotifyListener()
        let clock = SteppingClock(Self.t0)
        let n = ServiceNotifier(environment: ["NOTIFY_SOCKET": listener.address], pid: 42, clock: clock)
        n.ready(status: "run: profiles 1 enforce")
        clock.advance(seconds: 1)
        n.reloading()
        n.ready(status: "run: profiles 2 enforce")
        n.stopping()
        #expect(listener.drain() == [
            "READY=1\nSTATUS=run: profiles 1 enforce",
            "RELOADING=1\nMONOTONIC_USEC=\((Self.t0 + 1_000_000_000) / 1000)",
            "READY=1\nSTATUS=run: profiles 2 enforce",
            "STOPPING=1",
        ])
        #expect(n.sent == 4 && n.failed == 0)
    }

    @Test func watchdogPingsEveryHalfOfWatchdogUsec() throws {
        let listener = try NotifyListener()
        let clock = SteppingClock(Self.t0)
        let n = ServiceNotifier(environment: ["NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "2000000"], pid: 42, clock: clock)
        #expect(n.watchdogIntervalNanos == 1_000_000_000)
        n.ready(status: "run")
        #expect(listener.drain() == ["READY=1\nSTATUS=run", "WATCHDOG=1"])
        var pings: [Double] = []
        for step in 1...40 {  // 4 s in 0.1 s steps, one tick each (the read loop's poll timeout)
            clock.advance(seconds: 0.1)
            n.tick()
            if listener.drain() == ["WATCHDOG=1"] { pings.append(Double(step) / 10) }
        }
        #expect(pings == [1, 2, 3, 4], "one ping a second, none in between: \(pings)")
        // A loop that stops ticking stops pinging, however much time passes.
        clock.advance(seconds: 30)
        #expect(listener.drain().isEmpty)
    }

    @Test func noPingsForAnotherWatchdogPid() throws {
        let listener = try NotifyListener()
        let clock = SteppingClock(Self.t0)
        let env = ["NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "41"]
        let n = ServiceNotifier(environment: env, pid: 42, clock: clock)
        #expect(n.watchdogIntervalNanos == nil)
        n.ready(status: "run")
        for _ in 0..<30 { clock.advance(seconds: 0.5); n.tick() }
        #expect(listener.drain() == ["READY=1\nSTATUS=run"], "READY still goes; pings are for pid 41 only")
        let mine = ServiceNotifier(environment: env.merging(["WATCHDOG_PID": "42"]) { $1 }, pid: 42, clock: clock)
        #expect(mine.watchdogIntervalNanos == 1_000_000_000)
    }

    @Test func malformedWatchdogUsecMeansNoWatchdog() throws {
        let listener = try NotifyListener()
        for bad in ["", "abc", "0", "-5", "1.5"] {
            var warnings: [String] = []
            let n = ServiceNotifier(environment: ["NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": bad], pid: 42, clock: SteppingClock(Self.t0),
                                    warn: { warnings.append($0) })
            #expect(n.watchdogIntervalNanos == nil, "WATCHDOG_USEC='\(bad)'")
            #expect(warnings == ["WATCHDOG_USEC='\(bad)' is not a positive number of microseconds; no watchdog pings"])
        }
    }

    @Test func statusEveryFiveSecondsWhenItChanged() throws {
        let listener = try NotifyListener()
        let clock = SteppingClock(Self.t0)
        let n = ServiceNotifier(environment: ["NOTIFY_SOCKET": listener.address], pid: 42, clock: clock)
        n.ready(status: "a")
        _ = listener.drain()
        var asked = 0
        var text = "a"
        func status() -> String { asked += 1; return text }
        clock.advance(seconds: 4.9)
        n.tick(status: status)
        #expect(asked == 0, "not due before 5 s")
        clock.advance(seconds: 0.1)
        n.tick(status: status)
        #expect(asked == 1)
        #expect(listener.drain().isEmpty, "unchanged: not sent again")
        text = "b\nsecond line"
        clock.advance(seconds: 5)
        n.tick(status: status)
        #expect(listener.drain() == ["STATUS=b second line"], "one line: newlines would start another assignment")
    }

    @Test func abstractSocketName() throws {
        let listener = try NotifyListener(abstract: true)
        let n = ServiceNotifier(environment: ["NOTIFY_SOCKET": listener.address], pid: 42, clock: SteppingClock(Self.t0))
        n.stopping()
        #expect(listener.drain() == ["STOPPING=1"])
    }

    @Test func sendFailuresAreCountedNotFatal() throws {
        let dir = try makeTempDirectory("vigil-notify")
        let clock = SteppingClock(Self.t0)
        var warnings: [String] = []
        let n = ServiceNotifier(environment: ["NOTIFY_SOCKET": dir + "/nobody-listens", "WATCHDOG_USEC": "1000000"], pid: 42, clock: clock,
                                warn: { warnings.append($0) })
        n.ready(status: "run")
        clock.advance(seconds: 1)
        n.tick()
        #expect(n.sent == 0)
        #expect(n.failed == 3, "READY, and two pings: each failure counted")
        #expect(warnings.count == 1, "logged once: \(warnings)")
        #expect(warnings.first?.contains(dir + "/nobody-listens") == true, "names the socket: \(warnings)")
        let relative = ServiceNotifier(environment: ["NOTIFY_SOCKET": "relative/path"], pid: 42, clock: clock, warn: { warnings.append($0) })
        relative.stopping()
        #expect(relative.failed == 1 && relative.sent == 0)
        #expect(warnings.last?.contains("NOTIFY_SOCKET='relative/path' is not an absolute path or @name") == true, "\(warnings)")
    }
}

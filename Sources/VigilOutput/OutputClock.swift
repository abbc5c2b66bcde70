public import Foundation

/// The time the output layer reads: event timestamps it stamps itself (health events,
/// syslog headers) and every deadline it keeps (retry backoff, drain timeout, batch wait,
/// housekeeping, request timeouts). Injected so tests drive time by hand instead of
/// sleeping: `SystemOutputClock` in production, `ManualOutputClock` (VigilTestSupport) in tests.
///
/// Every wait in the output layer goes through `wait(_:until:)`, and callers re-check their
/// condition and the clock after it returns (a wake-up may be early or spurious).
public protocol OutputClock: AnyObject, Sendable {
    /// Wall-clock time, nanoseconds since the Unix epoch.
    func wallNanos() -> UInt64
    /// Monotonic time in nanoseconds (any origin): deadlines and intervals.
    func monotonicNanos() -> UInt64
    /// Waits on `condition` (which the caller holds locked) until it is signalled or the
    /// monotonic clock may have reached `deadline`. Returns with the lock held again.
    func wait(_ condition: NSCondition, until deadline: UInt64)
    /// How long, in real milliseconds, one poll of a socket may block before the caller looks
    /// at this clock again (for I/O timeouts measured on this clock).
    func pollSliceMillis(until deadline: UInt64) -> Int32
}

extension OutputClock {
    /// `seconds` from now on the monotonic clock.
    public func deadline(after seconds: Double) -> UInt64 {
        monotonicNanos() &+ UInt64(max(0, seconds) * 1e9)
    }
}

/// The real clocks: `CLOCK_REALTIME` and `CLOCK_MONOTONIC`.
public final class SystemOutputClock: OutputClock {
    public static let shared = SystemOutputClock()

    public init() {}

    public func wallNanos() -> UInt64 { Self.read(CLOCK_REALTIME) }
    public func monotonicNanos() -> UInt64 { Self.read(CLOCK_MONOTONIC) }

    public func wait(_ condition: NSCondition, until deadline: UInt64) {
        let now = monotonicNanos()
        guard deadline > now else { return }
        _ = condition.wait(until: Date(timeIntervalSinceNow: Double(deadline - now) / 1e9))
    }

    public func pollSliceMillis(until deadline: UInt64) -> Int32 {
        let now = monotonicNanos()
        guard deadline > now else { return 0 }
        return Int32(min(Int64(Int32.max), Int64((deadline - now) / 1_000_000) + 1))
    }

    private static func read(_ id: clockid_t) -> UInt64 {
        var ts = timespec()
        clock_gettime(id, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}

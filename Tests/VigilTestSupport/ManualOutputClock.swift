public import Foundation
public import VigilOutput

/// A clock that moves only when told (`advance`), for tests: backoff, drain timeouts and
/// health-report intervals become exact and no test sleeps. Threads waiting on it are woken
/// by every `advance`; `waiting` tells a test which deadlines threads are parked on, so it
/// can advance once a worker has reached the wait it wants to test.
public final class ManualOutputClock: OutputClock, @unchecked Sendable {
    private let lock = NSLock()
    private var wall: UInt64
    private var mono: UInt64
    private var waiters: [ObjectIdentifier: (condition: NSCondition, deadlines: [UInt64])] = [:]
    private var parks = 0

    /// - Parameter wallNanos: the wall time it starts at (default 2026-01-01T00:00:00Z).
    public init(wallNanos: UInt64 = 1_767_225_600_000_000_000) {
        wall = wallNanos
        mono = 1_000_000_000
    }

    public func wallNanos() -> UInt64 { lock.withLock { wall } }
    public func monotonicNanos() -> UInt64 { lock.withLock { mono } }

    /// Moves both clocks forward and wakes every waiting thread.
    public func advance(by seconds: Double) {
        let delta = UInt64(max(0, seconds) * 1e9)
        let conditions: [NSCondition] = lock.withLock {
            wall &+= delta
            mono &+= delta
            return waiters.values.map(\.condition)
        }
        for c in conditions { c.lock(); c.broadcast(); c.unlock() }
    }

    /// The deadlines threads are waiting on now, as seconds from the current time (sorted).
    public var waiting: [Double] {
        lock.withLock {
            waiters.values.flatMap(\.deadlines).map { $0 >= mono ? Double($0 - mono) / 1e9 : 0 }.sorted()
        }
    }

    /// How many waits have begun so far: lets a test see that a thread woke and parked again.
    public var waitCount: Int { lock.withLock { parks } }

    public func wait(_ condition: NSCondition, until deadline: UInt64) {
        let key = ObjectIdentifier(condition)
        let due: Bool = lock.withLock {
            // Registered before the time is checked, under the clock's lock: an `advance`
            // either sees this waiter or happened before the check (no lost wake-up).
            guard deadline > mono else { return true }
            waiters[key, default: (condition, [])].deadlines.append(deadline)
            parks += 1
            return false
        }
        guard !due else { return }
        condition.wait()
        lock.withLock {
            if var w = waiters[key], let i = w.deadlines.firstIndex(of: deadline) {
                w.deadlines.remove(at: i)
                waiters[key] = w.deadlines.isEmpty ? nil : w
            }
        }
    }

    public func pollSliceMillis(until deadline: UInt64) -> Int32 {
        monotonicNanos() >= deadline ? 0 : 20
    }
}

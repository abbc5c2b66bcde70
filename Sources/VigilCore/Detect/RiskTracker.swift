import Foundation

/// The continuous risk of each process: a score from 0 to 100 that deviations raise and
/// time lowers.
///
/// **Decay.** Between changes a score halves every ``Policy/halfLifeSeconds``:
/// `score(t) = score(t0) x 2^(-(t - t0) / halfLife)`. A deviation adds its
/// ``Deviation/score`` to the decayed value; the sum is capped at 100.
///
/// **Inheritance.** A forked child starts with its parent's current score (``fork(parent:child:now:)``),
/// so a deviating process cannot launder its risk by forking; an exec keeps the pid and so
/// the score, and the deviations an exec raises (new program, new parent, unknown
/// executable) are booked on the pid that exec'd, i.e. on the child that runs the new
/// program. A child therefore carries both what its parent had accumulated and the
/// deviation that created it.
public struct RiskTracker: Sendable {
    /// Replaceable (a reload): scores already held decay with the new half-life from now on.
    public var policy: Policy
    private var entries: [Int32: (value: Double, at: UInt64)] = [:]

    public init(policy: Policy = .standard) { self.policy = policy }

    /// Processes with a score.
    public var pids: [Int32] { Array(entries.keys) }

    /// `value` at `at`, decayed to `now` with the policy's half-life.
    public static func decay(_ value: Double, from at: UInt64, to now: UInt64, halfLifeSeconds: Double) -> Double {
        guard now > at, value > 0 else { return value }
        let seconds = Double(now - at) / 1e9
        return value * exp2(-seconds / halfLifeSeconds)
    }

    /// The score of `pid` at `now` (0 for a process with none).
    public func score(_ pid: Int32, now: UInt64) -> Double {
        guard let e = entries[pid] else { return 0 }
        return Self.decay(e.value, from: e.at, to: now, halfLifeSeconds: policy.halfLifeSeconds)
    }

    /// Adds a deviation to its process's score; returns the new score.
    @discardableResult
    public mutating func add(_ deviation: Deviation, now: UInt64) -> Double {
        add(points: deviation.score, pid: deviation.pid, now: now)
    }

    /// Adds `points` to `pid`'s score; returns the new score.
    @discardableResult
    public mutating func add(points: Double, pid: Int32, now: UInt64) -> Double {
        let s = min(100, max(0, score(pid, now: now) + points))
        entries[pid] = (s, max(now, entries[pid]?.at ?? 0))
        return s
    }

    /// A child was forked: it starts with the parent's current score (or keeps its own if
    /// higher). Returns the child's score.
    @discardableResult
    public mutating func fork(parent: Int32, child: Int32, now: UInt64) -> Double {
        let s = max(score(parent, now: now), score(child, now: now))
        if s > 0 { entries[child] = (s, now) }
        return s
    }

    /// Forgets a process (at exit).
    public mutating func remove(_ pid: Int32) { entries[pid] = nil }

    /// Drops scores that decayed below `floor` (call now and then to bound memory).
    public mutating func prune(now: UInt64, below floor: Double = 0.5) {
        entries = entries.filter { Self.decay($0.value.value, from: $0.value.at, to: now, halfLifeSeconds: policy.halfLifeSeconds) >= floor }
    }
}

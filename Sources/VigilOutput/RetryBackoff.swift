import Foundation
import VigilCore

/// Where retry backoff draws its randomness. Jitter spreads the retries of a fleet of
/// agents that lost the same collector at the same moment: without it they all come back
/// at 0.1 s, 0.2 s, 0.4 s ... in lockstep and knock the recovering collector down again.
///
/// Injected (``OutputRouter/Options/retryJitter``) so that tests draw a reproducible
/// sequence from a seed and can still drive every wait with a manual clock.
public final class RetryJitter: @unchecked Sendable {
    private enum Source { case none, system, seeded(UInt64) }
    private let lock = NSLock()
    private var source: Source

    private init(_ source: Source) { self.source = source }

    /// Fresh randomness from the system: what every agent uses, each its own.
    public static func random() -> RetryJitter { RetryJitter(.system) }

    /// A reproducible sequence from `seed` (tests; two seeds give two sequences).
    public static func seeded(_ seed: UInt64) -> RetryJitter { RetryJitter(.seeded(seed)) }

    /// No randomness: the plain doubling (tests that check each step exactly).
    public static func none() -> RetryJitter { RetryJitter(.none) }

    /// A number in [0, 1), or nil when there is no jitter.
    func unit() -> Double? {
        lock.withLock {
            switch source {
            case .none: return nil
            case .system: return Double.random(in: 0..<1)
            case .seeded(var state):
                var rng = SplitMix64(seed: state)
                let v = Double(rng.next() >> 11) / Double(1 << 53)
                state = rng.state
                source = .seeded(state)
                return v
            }
        }
    }
}

/// The retry delays of one output after consecutive failures.
///
/// With jitter it is "decorrelated jitter": each delay is drawn uniformly between
/// `initial` and three times the previous delay, capped at `maximum`, so it grows about
/// as fast as doubling but two agents' delays part after the first failure. Without
/// jitter it doubles from `initial` to `maximum`. A receiver's `Retry-After` is a floor:
/// the wait is at least that (capped at `retryAfterMax`), plus as much as the drawn delay
/// exceeds `initial`, so agents told the same `Retry-After` do not return together either.
struct RetryBackoff {
    let initial: Double
    let maximum: Double
    let retryAfterMax: Double
    let jitter: RetryJitter
    private var step: Double

    init(initial: Double, maximum: Double, retryAfterMax: Double, jitter: RetryJitter) {
        self.initial = max(0, initial)
        self.maximum = max(self.initial, maximum)
        self.retryAfterMax = max(0, retryAfterMax)
        self.jitter = jitter
        step = self.initial
    }

    /// After a delivery: the next failure starts from `initial` again.
    mutating func reset() { step = initial }

    /// The wait after one more failure; `retryAfter` is the receiver's, when it sent one.
    mutating func next(retryAfter: Double?) -> Double {
        let delay: Double
        var spread = 0.0
        if let u = jitter.unit() {
            delay = min(maximum, initial + u * (max(step * 3, initial) - initial))
            step = delay
            spread = delay - initial
        } else {
            delay = step
            step = min(step * 2, maximum)
        }
        guard let retryAfter else { return delay }
        return min(max(retryAfter, 0), retryAfterMax) + spread
    }
}

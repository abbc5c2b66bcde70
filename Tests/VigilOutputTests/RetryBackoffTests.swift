import Foundation
import Testing
@testable import VigilOutput
import VigilTestSupport

/// Jittered retry backoff, through a worker on a manual clock: the waits are read where the
/// worker parks, the randomness is seeded, so every run sees the same numbers.
@Suite(.serialized, .timeLimit(.minutes(1))) struct RetryBackoffTests {
    static let initial = 0.1, maximum = 5.0

    static func options(_ clock: ManualOutputClock, jitter: RetryJitter) -> OutputRouter.Options {
        var o = OutputRouter.Options(clock: clock)
        o.retryInitialSeconds = initial
        o.retryMaxSeconds = maximum
        o.drainTimeoutSeconds = 0
        // Housekeeping parks far away: never mistaken for a backoff.
        o.syncIntervalSeconds = 600
        o.lossReportIntervalSeconds = 600
        o.retryJitter = jitter
        return o
    }

    /// The worker's backoff wait now: the one deadline under 100 s (0: a passed one not yet woken).
    static func backoff(_ clock: ManualOutputClock) -> Double? { clock.waiting.first { $0 > 0 && $0 < 100 } }

    /// The waits before each of the first `n` retries of an output that is down.
    static func waits(_ jitter: RetryJitter, n: Int) throws -> [Double] {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let clock = ManualOutputClock()
        let down = FakeSink()
        down.failing = true
        let router = try OutputRouter(sinks: [(down, try OutputSpec.parse("stdout?queue=10"))], spoolDirectory: dir,
                                      options: options(clock, jitter: jitter))
        defer { router.close() }
        router.publish(testLine(0), classUID: 1007)
        var out: [Double] = []
        for attempt in 1...n {
            #expect(waitFor(10) { down.attempts == attempt && backoff(clock) != nil }, "attempt \(attempt) parked: \(clock.waiting)")
            guard let w = backoff(clock) else { break }
            out.append(w)
            clock.advance(by: w + 1e-6)  // past the deadline, whatever the rounding to ns
        }
        return out
    }

    @Test func eachWaitIsDrawnBetweenTheFloorAndThreeTimesThePreviousOne() throws {
        let waits = try Self.waits(.seeded(1), n: 12)
        #expect(waits.count == 12)
        var previous = Self.initial
        for (i, w) in waits.enumerated() {
            #expect(w >= Self.initial - 1e-6 && w <= min(Self.maximum, 3 * previous) + 1e-6, "wait \(i + 1): \(w) after \(previous)")
            previous = w
        }
        let doubling = (0..<12).map { min(Self.maximum, Self.initial * Double(1 << $0)) }
        #expect(zip(waits, doubling).contains { abs($0 - $1) > 1e-3 }, "jittered, not the plain doubling: \(waits)")
        #expect(waits.suffix(4).allSatisfy { $0 > 4 * Self.initial }, "it still grows: \(waits)")
    }

    @Test func aSeedGivesOneSequenceAndTwoAgentsDoNotRetryInLockstep() throws {
        let a = try Self.waits(.seeded(7), n: 6)
        let again = try Self.waits(.seeded(7), n: 6)
        #expect(zip(a, again).allSatisfy { abs($0 - $1) < 1e-6 }, "reproducible: \(a) \(again)")
        // Five agents that lost the collector together: when does each make its third retry?
        let thirdRetry = try (1...5).map { seed in try Self.waits(.seeded(UInt64(100 + seed)), n: 3).reduce(0, +) }
        // Without jitter all five retry at 0.7 s exactly; with it no two together, and over
        // a spread of more than a tenth of a second.
        let sorted = thirdRetry.sorted()
        #expect(zip(sorted, sorted.dropFirst()).allSatisfy { $1 - $0 > 1e-3 }, "spread apart: \(thirdRetry)")
        #expect(sorted.last! - sorted.first! > 0.1, "spread apart: \(thirdRetry)")
    }

    @Test func withoutJitterTheWaitsDouble() throws {
        let waits = try Self.waits(.none(), n: 8)
        let doubling = (0..<8).map { min(Self.maximum, Self.initial * Double(1 << $0)) }
        #expect(zip(waits, doubling).allSatisfy { abs($0 - $1) < 1e-6 }, "\(waits)")
    }

    /// `Retry-After` is a floor: never sooner, spread above it by the jitter.
    @Test func retryAfterIsAFloorTheJitterSpreadsAbove() throws {
        func firstWaits(_ jitter: RetryJitter) throws -> [Double] {
            let server = try TestHTTPServer()
            defer { server.stop() }
            let calls = Counter()
            server.handler = { _ in
                calls.add() < 3 ? .init(status: 429, headers: [("Retry-After", "2")], body: "slow down") : .init(status: 200)
            }
            let clock = ManualOutputClock()
            let router = try OutputRouter(specs: [try OutputSpec.parse("http://127.0.0.1:\(server.port)/in")], spoolDirectory: nil,
                                          options: Self.options(clock, jitter: jitter))
            router.publish(testLine(1), classUID: 1007)
            var out: [Double] = []
            for attempt in 1...3 {
                #expect(waitFor(10) { server.allRequests.count == attempt && Self.backoff(clock) != nil }, "\(clock.waiting)")
                guard let w = Self.backoff(clock) else { break }
                out.append(w)
                clock.advance(by: w + 1e-6)  // past the deadline, whatever the rounding to ns
            }
            #expect(waitFor(10) { server.lines.count == 1 })
            router.close()
            return out
        }
        let a = try firstWaits(.seeded(3)), b = try firstWaits(.seeded(4))
        for w in a + b { #expect(w >= 2 - 1e-6 && w <= 2 + Self.maximum, "\(a) \(b)") }
        #expect(zip(a, b).allSatisfy { abs($0 - $1) > 1e-3 }, "two agents told the same Retry-After part: \(a) \(b)")
        let exact = try firstWaits(.none())
        #expect(exact.allSatisfy { abs($0 - 2) < 1e-6 }, "no jitter: exactly as asked: \(exact)")
    }

    @Test func theBackoffItselfStartsOverAfterADelivery() {
        var b = RetryBackoff(initial: 0.1, maximum: 5, retryAfterMax: 300, jitter: .seeded(9))
        for _ in 0..<6 { _ = b.next(retryAfter: nil) }
        b.reset()
        let first = b.next(retryAfter: nil)
        #expect(first >= 0.1 && first <= 0.3 + 1e-9, "from the floor again: \(first)")
        var capped = RetryBackoff(initial: 0.1, maximum: 5, retryAfterMax: 30, jitter: .none())
        #expect(capped.next(retryAfter: 900) == 30, "a Retry-After beyond the cap waits the cap")
    }
}

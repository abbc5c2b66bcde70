import Testing
import VigilCore

@Suite struct StabilityTests {
    typealias S = ProfileTestSupport
    /// 2-second buckets, 5 of them in the window, at least 20 s and 50 observations.
    let policy = StabilityPolicy(bucketSeconds: 2, windowBuckets: 5, maxNewPerMinute: 3, minObservedSeconds: 20, minObservations: 50)

    /// Feeds a synthetic stream: 10 observations per second for `seconds`; `newAt(second)`
    /// says how many never-seen syscalls appear in that second.
    func run(seconds: Int, drops: [Int] = [], policy: StabilityPolicy? = nil, newAt: (Int) -> Int) -> (Learner, [LearningState]) {
        let l = Learner(hostID: "h", policy: policy ?? self.policy, now: S.t0, binaryHash: { _ in nil })
        l.apply(S.ev(1, .exec(.init(ppid: 0, uid: 0, euid: 0, gid: 0, path: "/usr/sbin/svc", argv: ["svc"])), at: S.t0), process: nil, now: S.t0)
        let slot = l.profileSlot(for: "usr-sbin-svc")
        var next: UInt32 = 0
        var states: [LearningState] = []
        for s in 0..<seconds {
            let t = S.at(Double(s) + 0.5)
            for _ in 0..<newAt(s) {
                let calls = [next]
                next += 1
                l.apply(S.ev(1, .novelty(.init(profileSlot: slot, calls: calls, hash: NgramHash.hash(calls), newSyscall: true)), at: t), process: nil, now: t)
            }
            l.absorbKernelCounts(slot: slot, syscalls: [(nr: 100_000, count: UInt64(10 * (s + 1)), lastSeen: t)], ngrams: [], now: t)
            if drops.contains(s) { l.noteDrops(3, now: t) }
            states.append(l.stability("usr-sbin-svc", now: t)!.state)
        }
        return (l, states)
    }

    @Test func steadyBehaviourBecomesStable() {
        // A burst of new behaviour at start-up, then nothing new.
        let (l, states) = run(seconds: 40) { $0 < 6 ? 4 : 0 }
        #expect(states.prefix(20).allSatisfy { $0 == .learning })
        #expect(states.last == .stable)
        let r = l.stability("usr-sbin-svc", now: S.at(40))!
        #expect(r.windowNewItems == 0)
        #expect(r.state == .stable)
    }

    @Test func aLowFallingTrickleIsStableButARisingOneIsNot() {
        // Up to 12 new items per minute allowed: at most 2 in the 10 s window.
        let lenient = StabilityPolicy(bucketSeconds: 2, windowBuckets: 5, maxNewPerMinute: 12, minObservedSeconds: 20, minObservations: 50)
        let (l, slow) = run(seconds: 60, policy: lenient) { $0 < 4 ? 5 : ($0 == 48 ? 1 : 0) }
        let r = l.stability("usr-sbin-svc", now: S.at(59.5))!
        #expect(r.windowNewItems == 1)
        #expect(r.slope < 0)
        #expect(slow.last == .stable)
        let (l2, rising) = run(seconds: 60, policy: lenient) { $0 < 4 ? 5 : ($0 == 55 || $0 == 56 ? 1 : 0) }
        #expect(rising.last == .learning)
        #expect(l2.stability("usr-sbin-svc", now: S.at(59.5))!.reason.contains("rising"))
    }

    @Test func driftingBehaviourKeepsLearning() {
        // Something new every second, forever: the rate never levels off.
        let (l, states) = run(seconds: 60) { _ in 1 }
        #expect(states.allSatisfy { $0 == .learning })
        #expect(l.stability("usr-sbin-svc", now: S.at(60))!.reason.contains("/min"))
    }

    @Test func dropsResetTheWindow() {
        // Quiet after start-up, but the kernel drops events at 30 s: stable before, learning
        // for a full window after, then stable again.
        let (_, states) = run(seconds: 60, drops: [30]) { $0 < 4 ? 5 : 0 }
        #expect(states[29] == .stable)
        #expect(states[30..<40].allSatisfy { $0 == .learning })
        #expect(states[59] == .stable)
        // Drops all along: never stable.
        let (l, always) = run(seconds: 60, drops: Array(stride(from: 0, to: 60, by: 5))) { $0 < 4 ? 5 : 0 }
        #expect(always.allSatisfy { $0 == .learning })
        #expect(l.stability("usr-sbin-svc", now: S.at(60))!.reason.contains("dropped"))
    }

    @Test func tooLittleObservationIsNotStable() {
        let strict = StabilityPolicy(bucketSeconds: 2, windowBuckets: 5, maxNewPerMinute: 3, minObservedSeconds: 20, minObservations: 1_000_000)
        var h = LearningHistory(policy: strict)
        h.resume(at: S.t0)
        h.note(newItems: 3, observations: 10, at: S.t0)
        h.advance(to: S.at(100))
        let r = strict.evaluate(h, now: S.at(100))
        #expect(r.state == .learning)
        #expect(r.reason.contains("observations"))
        #expect(policy.evaluate(h, now: S.at(100)).state == .learning, "10 observations < 50")
    }
}

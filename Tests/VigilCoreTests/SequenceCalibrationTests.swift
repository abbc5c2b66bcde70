import Foundation
import Testing
@testable import VigilCore

/// Per-profile sequence thresholds calibrated on the profile's own learned n-grams, held out
/// one occurrence at a time (SequenceCalibration).
@Suite struct SequenceCalibrationTests {
    static func item(_ calls: [UInt32], _ count: UInt64) -> NgramItem {
        NgramItem(calls: calls, seen: Sighting(host: "h", at: 1, count: count))
    }

    static let s = NgramHash.startSymbol
    /// A loop seen many times, and one path seen once.
    static let common: [NgramItem] = [
        item([s, s, s, s, s, 1], 10), item([s, s, s, s, 1, 2], 10), item([s, s, s, 1, 2, 3], 10),
        item([s, s, 1, 2, 3, 4], 10), item([s, 1, 2, 3, 4, 5], 10), item([1, 2, 3, 4, 5, 6], 1000),
    ]
    static let rare = item([2, 3, 4, 5, 6, 9], 1)

    @Test func everythingSeenOftenExpectsNoNewSequences() {
        let c = SequenceCalibration(ngrams: Self.common)
        #expect(c.heldOutNovel == 0)
        #expect(c.expectedNovelRate == 0)
        #expect(c.thresholdBits == 0)
        #expect(c.calls == 1050)
        // Never claims 0 from finite data.
        #expect(c.expectedRateAboveThreshold == 1.0 / 1051)
    }

    @Test func aPathSeenOnceSetsTheThresholdAtItsHeldOutSurprise() {
        let c = SequenceCalibration(ngrams: Self.common + [Self.rare])
        #expect(c.heldOutNovel == 1)
        #expect(abs(c.expectedNovelRate - 1.0 / 1051) < 1e-12)
        // Held out, the once-seen path is what the model of everything else charges it.
        let without = SequenceModel(ngrams: Self.common)
        #expect(abs(c.thresholdBits - without.surprise(ofNgram: Self.rare.calls)) < 0.01,
                "\(c.thresholdBits) vs \(without.surprise(ofNgram: Self.rare.calls))")
        // With 1,051 calls a rate of 1e-6 cannot be resolved: the threshold is the highest
        // held-out surprise, and nothing normal is above it.
        #expect(c.expectedRateAboveThreshold == 1.0 / 1052)
        // A target the data can resolve allows the held-out path: threshold 0.
        #expect(SequenceCalibration(ngrams: Self.common + [Self.rare], targetRate: 0.01).thresholdBits == 0)
    }

    @Test func aNewSequenceFindingCarriesScoreThresholdAndExpectation() {
        let profile = DetectSupport.learnedProfiles().first { $0.identity.executable == "/usr/sbin/nginx" }!
        let d = Detector(profiles: [profile])
        let t = DetectSupport.at(100)
        _ = d.apply(DetectSupport.exec(200, ppid: 1, "/usr/sbin/nginx", at: t), process: nil, now: t)
        // A call the profile never made, after a context it never saw: beyond anything held out.
        let out = d.apply(DetectSupport.novelty(200, ["openat", "read", "mmap", "close", "openat", "ptrace"], at: t + 1), process: nil, now: t + 1)
        let seq = try! #require(out.first { $0.kind == .newSequence })
        let e = try! #require(seq.sequence)
        let cal = d.calibration(for: profile.id)!
        #expect(e.thresholdBits == cal.thresholdBits && e.targetRate == SequenceCalibration.standardRate)
        #expect(e.surpriseBits > e.thresholdBits && e.aboveThreshold)
        #expect(e.expectedNovelRate == cal.expectedNovelRate)
        #expect(seq.scoring.contains("threshold"))
        #expect(seq.expected.contains { $0.hasPrefix("new sequences on held-out normal work:") })
        #expect(out.first { $0.kind != .newSequence }?.sequence == nil)
    }

    /// A profile of a loop seen a million times, with variations of it seen once each: the
    /// held-out singletons are what new orderings of known calls cost on normal work.
    static func loopProfile() -> Profile {
        var p = Profile(identity: ProfileIdentity.of(executable: "/usr/sbin/loopd", argv: ["/usr/sbin/loopd"], comm: "loopd"))
        let loop: [UInt32] = [0, 1, 2, 3, 4, 5]   // read write open close stat fstat
        func add(_ calls: [UInt32], _ count: UInt64) {
            p.ngrams[NgramHash.hash(calls)] = NgramItem(calls: calls, seen: Sighting(host: "h", at: 1, count: count))
            for c in calls where c != NgramHash.startSymbol { p.syscalls[c] = Sighting(host: "h", at: 1, count: count) }
        }
        for r in 0..<6 { add(Array(loop[r...] + loop[..<r]), 1_000_000) }
        // Ten variations seen once: two known calls swapped (not the swaps the tests send).
        for (a, b) in [(0, 2), (0, 3), (0, 4), (0, 5), (1, 3), (1, 4), (1, 5), (2, 3), (2, 4), (2, 5)] {
            var v = loop
            v.swapAt(a, b)
            add(v, 1)
        }
        return p
    }

    @Test func aNewSequenceNoMoreSurprisingThanHeldOutNormalWorkIsCountedNotReported() {
        let p = Self.loopProfile()
        let d = Detector(profiles: [p])
        let t = DetectSupport.at(100)
        _ = d.apply(DetectSupport.exec(300, ppid: 1, "/usr/sbin/loopd", at: t), process: nil, now: t)
        let cal = try! #require(d.calibration(for: p.id))
        #expect(cal.heldOutNovel == 10 && cal.thresholdBits > 0)
        // Another swap of two known calls: the kind of novelty normal work showed ten times.
        let swapped: [UInt32] = [1, 0, 2, 3, 4, 5]
        #expect(p.ngrams[NgramHash.hash(swapped)] == nil)
        let model = d.model(for: p.id)!
        #expect(model.surprise(ofNgram: swapped) <= cal.thresholdBits)
        let quiet = d.apply(.init(timeNanos: t + 1, pid: 300, tid: 300, comm: "loopd",
                                  payload: .novelty(.init(profileSlot: 0, calls: swapped, hash: NgramHash.hash(swapped), newSyscall: false))),
                            process: nil, now: t + 1)
        #expect(quiet.isEmpty)
        #expect(d.sequencesBelowThreshold == 1)
        // A call the loop never makes: beyond the threshold, a finding.
        let ptrace = UInt32(SyscallTable.number("ptrace")!)
        let alien: [UInt32] = [1, 2, 3, 4, 5, ptrace]
        let loud = d.apply(.init(timeNanos: t + 2, pid: 300, tid: 300, comm: "loopd",
                                 payload: .novelty(.init(profileSlot: 0, calls: alien, hash: NgramHash.hash(alien), newSyscall: true))),
                           process: nil, now: t + 2)
        let seq = try! #require(loud.first { $0.kind == .newSequence })
        #expect(seq.sequence?.aboveThreshold == true)
        #expect(d.sequencesBelowThreshold == 1)
    }

    @Test func aFalseAlarmRateOfZeroReportsEveryNewSequence() {
        let p = Self.loopProfile()
        var policy = Policy.standard
        policy.sequenceFalseAlarmRate = 0
        let d = Detector(profiles: [p], policy: policy)
        let t = DetectSupport.at(100)
        _ = d.apply(DetectSupport.exec(300, ppid: 1, "/usr/sbin/loopd", at: t), process: nil, now: t)
        let swapped: [UInt32] = [1, 0, 2, 3, 4, 5]
        let out = d.apply(.init(timeNanos: t + 1, pid: 300, tid: 300, comm: "loopd",
                                payload: .novelty(.init(profileSlot: 0, calls: swapped, hash: NgramHash.hash(swapped), newSyscall: false))),
                          process: nil, now: t + 1)
        #expect(out.map(\.kind) == [.newSequence])
        #expect(d.sequencesBelowThreshold == 0)
        // A reload that sets a rate recalibrates and gates from the next event.
        d.policy.sequenceFalseAlarmRate = SequenceCalibration.standardRate
        let again: [UInt32] = [0, 2, 1, 3, 4, 5]
        let quiet = d.apply(.init(timeNanos: t + 2, pid: 300, tid: 300, comm: "loopd",
                                  payload: .novelty(.init(profileSlot: 0, calls: again, hash: NgramHash.hash(again), newSyscall: false))),
                            process: nil, now: t + 2)
        #expect(quiet.isEmpty && d.sequencesBelowThreshold == 1)
    }

    @Test func thePolicyNamesTheFalseAlarmRate() throws {
        let p = try Policy.load(yaml: "sequence:\n  false-alarm-rate: 0.0001\n", file: "p.yaml")
        #expect(p.sequenceFalseAlarmRate == 0.0001)
        #expect(throws: YAMLFileError.self) { try Policy.load(yaml: "sequence:\n  false-alarm-rate: 2\n", file: "p.yaml") }
        do {
            _ = try Policy.load(yaml: "sequence:\n  false-alarm-rate: often\n", file: "p.yaml")
        } catch {
            #expect("\(error)".contains("sequence.false-alarm-rate") && "\(error)".contains("p.yaml"))
        }
    }
}

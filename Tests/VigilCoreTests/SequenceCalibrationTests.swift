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
        let out = d.apply(DetectSupport.novelty(200, ["openat", "read", "mmap", "ptrace", "close", "openat"], at: t + 1), process: nil, now: t + 1)
        let seq = try! #require(out.first { $0.kind == .newSequence })
        let e = try! #require(seq.sequence)
        let cal = d.calibration(for: profile.id)!
        #expect(e.thresholdBits == cal.thresholdBits && e.targetRate == SequenceCalibration.standardRate)
        #expect(e.surpriseBits > 0 && e.aboveThreshold == (e.surpriseBits > e.thresholdBits))
        #expect(e.expectedNovelRate == cal.expectedNovelRate)
        #expect(seq.scoring.contains("threshold"))
        #expect(seq.expected.contains { $0.hasPrefix("new sequences on held-out normal work:") })
        #expect(out.first { $0.kind != .newSequence }?.sequence == nil)
    }
}

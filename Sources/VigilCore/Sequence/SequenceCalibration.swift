import Foundation

/// A profile's calibrated sequence threshold, from its learned data alone.
///
/// **Held-out folds of one.** The learning window's n-grams are held out one occurrence at a
/// time (leave-one-out, the finest fold): an occurrence of an n-gram seen `c > 1` times stays
/// known without itself, so it would raise nothing; an n-gram seen once would have been
/// *new* had the window missed it, and its held-out surprise is the cost the model learned
/// from every other occurrence charges it (``SequenceModel/surprise(ofNgram:)`` with this
/// occurrence's counts removed from each order and context). So, per call of normal work:
///
/// - the expected rate of new sequences is `N1 / N` (`N1` n-grams seen once, `N` n-gram
///   occurrences: the Good–Turing estimate of unseen mass, which is what leave-one-out gives);
/// - the threshold `T` at a target false-alarm rate `a` per call (per n-gram window) is the
///   `(m+1)`-th highest held-out surprise, `m = floor(a N)`: a new sequence costing more than
///   `T` bits is rarer, on held-out normal work, than `a`. With `m >= N1` every held-out
///   surprise is allowed and `T` is 0. With `a N < 1` (a window shorter than `1/a` calls) the
///   data cannot resolve `a`: `T` is the highest held-out surprise and the stated rate is the
///   bound `(k + 1) / (N + 1)`, `k` the held-out surprises above `T`.
///
/// Costs only what the profile holds (its n-grams and counts, as the kernel counted them).
public struct SequenceCalibration: Sendable, Hashable {
    /// The target false-alarm rate per call (n-gram window) the threshold was set for.
    public var targetRate: Double
    /// Surprise (bits) above which a new sequence is beyond held-out normal work at ``targetRate``.
    public var thresholdBits: Double
    /// Expected new sequences per call on normal work (`N1 / N`).
    public var expectedNovelRate: Double
    /// Expected new sequences per call costing more than ``thresholdBits``: `(k + 1) / (N + 1)`,
    /// an upper estimate that never claims 0 from finite data.
    public var expectedRateAboveThreshold: Double
    /// `N`: n-gram occurrences learned.
    public var calls: Int
    /// `N1`: n-grams seen exactly once (the held-out new ones).
    public var heldOutNovel: Int

    /// Whether the learned data can resolve ``targetRate`` (at least `1 / targetRate` calls):
    /// only then does the threshold say what normal work exceeds at that rate. A shorter
    /// window's threshold is merely the highest held-out surprise, which would gate an
    /// attack's calls as readily as normal ones, so the detector does not gate on it.
    public var resolvesTarget: Bool { targetRate > 0 && targetRate * Double(calls) >= 1 }

    /// The default target: one sequence finding per 10^6 n-gram windows of normal work.
    public static let standardRate = 1e-6

    public init(ngrams: some Sequence<NgramItem>, parameters: SequenceModel.Parameters = .standard,
                targetRate: Double = standardRate) {
        precondition(targetRate >= 0 && targetRate <= 1)
        let n = parameters.ngramLength
        let items = ngrams.filter { $0.calls.count == n }
        var counts: [UInt64: UInt64] = [:]
        var contexts: [UInt64: (total: UInt64, distinct: UInt64)] = [:]
        var total: UInt64 = 0
        var keysOf: [[UInt64]] = []
        var contextsOf: [[UInt64]] = []
        var itemCounts: [UInt64] = []
        for item in items {
            let c = max(item.seen.count, 1)
            total &+= c
            let k = SequenceModel.suffixKeys(item.calls)
            keysOf.append(k.grams); contextsOf.append(k.contexts); itemCounts.append(c)
            for order in 1...n { counts[k.grams[order], default: 0] &+= c }
        }
        // Context statistics over distinct n-grams of every order (as CostTable derives them).
        var seenKey: Set<UInt64> = []
        for (i, _) in items.enumerated() {
            for order in 1...n where seenKey.insert(keysOf[i][order]).inserted {
                let ctx = contextsOf[i][order]
                contexts[ctx, default: (0, 0)].total &+= counts[keysOf[i][order]]!
                contexts[ctx, default: (0, 0)].distinct &+= 1
            }
        }
        let empty = contexts[CostTable.emptyContext] ?? (0, 0)
        var surprises: [Double] = []
        for i in items.indices where itemCounts[i] == 1 {
            var bits = 0.0
            var found = false
            for order in stride(from: n, through: 1, by: -1) {
                let c = counts[keysOf[i][order]]! - 1
                let s = contexts[contextsOf[i][order]]!
                let t = s.total - 1, d = s.distinct - (c == 0 ? 1 : 0)
                if c > 0 { bits += -log2(Double(c) / Double(t + d)); found = true; break }
                if t > 0 { bits += -log2(Double(d) / Double(t + d)) }  // a context never followed otherwise costs nothing to leave
            }
            if !found {
                let t = empty.total - 1, d = empty.distinct - 1
                if t > 0 { bits += -log2(Double(max(d, 1)) / Double(t + max(d, 1))) }
                bits += SequenceModel.novelSymbolBits
            }
            surprises.append(bits)
        }
        surprises.sort(by: >)
        let N = Int(clamping: total)
        let m = Int((targetRate * Double(N)).rounded(.down))
        let threshold = m >= surprises.count ? 0 : surprises[m]
        let above = surprises.filter { $0 > threshold }.count
        self.targetRate = targetRate
        thresholdBits = threshold
        expectedNovelRate = N > 0 ? Double(surprises.count) / Double(N) : 1
        expectedRateAboveThreshold = Double(above + 1) / Double(N + 1)
        calls = N
        heldOutNovel = surprises.count
    }

    /// A profile's calibration (see ``init(ngrams:parameters:targetRate:)``).
    public init(profile: Profile, parameters: SequenceModel.Parameters = .standard, targetRate: Double = standardRate) {
        self.init(ngrams: profile.ngrams.values, parameters: parameters, targetRate: targetRate)
    }
}

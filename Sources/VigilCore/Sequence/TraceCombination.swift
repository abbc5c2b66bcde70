import Foundation

/// Which of a trace's views (``TraceFeatures``) the per-trace score combines, and how it
/// scores without calibration.
///
/// Every combination starts the same way (``score(_:calibration:)``): each view's value
/// becomes its calibrated tail probability `p` against the same view over the
/// cross-validated training processes. The ``Combiner`` then joins them: Fisher's method
/// (the sum of the surprises `-ln p`, the default) or the mean rank (`1 - mean p`, each
/// view's evidence bounded, so one extreme view cannot outweigh the others). No weight is
/// fitted; only the *set* of views and the combiner differ, and the shipped one
/// (``standard``) was chosen by leave-one-corpus-out (docs/eval.md), not by its figure on
/// any one corpus.
///
/// Named by its views joined with `+` in ``TraceFeatures/names`` order
/// (`mean_bits+novel_ngrams`), prefixed by `rank:` for the mean rank (`fisher:` may be
/// written for the default), or by a legacy name: `novel_ngrams_and_neighbour` (the previous
/// default) and `novel_then_rare_ngrams` (the two-tier score, no calibration).
public struct TraceCombination: Sendable, Hashable, CustomStringConvertible {
    /// How the views' tail probabilities are joined into one score.
    public enum Combiner: String, Sendable, Hashable, CaseIterable {
        /// Fisher's method: the sum of `-ln p` (half of `-2 Σ ln p`, the same order).
        case fisher
        /// The mean rank: `1 - mean p`.
        case rank
        /// Fisher's sum over tail probabilities against the *nearest* training traces only
        /// (``TraceDetector/localCount`` of them, by the neighbour view's distance): a trace is
        /// judged against the normal traces most like it (a rare program against its own
        /// kind), not against the whole pool (issue 14, third round; docs/eval.md).
        case local
        /// Fisher's sum over the larger of the global and the local tail probability: surprising
        /// only where it is both beyond the pool and beyond its nearest traces.
        case both
        /// ``both`` where the training pool is large enough to have neighbourhoods (at least
        /// ``TraceCombination/sizedMinimumTraces`` traces), ``fisher`` below (issue 14, fifth
        /// round; docs/eval.md).
        case sized
        /// ``both`` where the pool is large enough (as ``sized``) and mixes kinds of trace: the
        /// distances between its training traces are bimodal (``TraceCombination/mixedBimodality``);
        /// ``fisher`` otherwise (issue 14, sixth round; docs/eval.md).
        case mixed

        /// Whether it may need the trace's nearest training traces (``sized`` and ``mixed``
        /// only in a pool of ``TraceCombination/sizedMinimumTraces`` or more: ``judgesLocally(pool:)``).
        public var isLocal: Bool { self != .fisher && self != .rank }

        /// Whether it may judge traces against their nearest training traces in a pool of
        /// `pool` calibrated training traces (``mixed`` also asks whether the pool mixes:
        /// ``TraceDetector/judgesLocally``).
        public func judgesLocally(pool: Int) -> Bool {
            self == .sized || self == .mixed ? pool >= TraceCombination.sizedMinimumTraces : isLocal
        }
    }

    /// Sarle's bimodality coefficient of `values`, `(g² + 1) / κ` (`g` the skewness, `κ` the
    /// kurtosis `m4 / m2²`, moments about the mean; the large-sample form): 1 for two equal
    /// spikes, 5/9 for a uniform distribution, 1/3 for a normal one; above 5/9 for two
    /// separated modes, or for a heavy one-sided tail. nil for fewer than four values or no spread.
    public static func bimodality(_ values: [Double]) -> Double? {
        guard values.count >= 4 else { return nil }
        let n = Double(values.count)
        let mean = values.reduce(0, +) / n
        var m2 = 0.0, m3 = 0.0, m4 = 0.0
        for v in values {
            let d = v - mean, d2 = d * d
            m2 += d2; m3 += d2 * d; m4 += d2 * d2
        }
        m2 /= n; m3 /= n; m4 /= n
        guard m2 > 1e-12 else { return nil }
        let skew = m3 / (m2 * m2.squareRoot()), kurtosis = m4 / (m2 * m2)
        return (skew * skew + 1) / kurtosis
    }

    /// The bimodality coefficient of the distances between a pool's training traces above
    /// which ``Combiner/mixed`` calibrates locally: a uniform distribution's, 5/9 (the usual
    /// cut-off, not tuned here). Above it the distances split into near ones (the same kind
    /// of work) and far ones (another kind), as in a pool that mixes programs. Fixed before
    /// any figure of the round that tested it (docs/eval.md, sixth round).
    public static let mixedBimodality = 5.0 / 9.0

    /// The smallest training pool in which ``Combiner/sized`` calibrates locally: from 50
    /// traces the square-root rule of ``TraceDetector/localCount`` reaches its floor of 8 by
    /// itself; in a smaller pool the floor takes over, and the 8 "nearest" traces are a sixth
    /// of the pool or more (all of it at 8), so local calibration is not local and its tail
    /// probabilities are no finer than 1/9. Fixed from that argument before any figure of
    /// the round that tested it (docs/eval.md, fifth round).
    public static let sizedMinimumTraces = 50

    /// Columns of ``TraceFeatures/values``, ascending, no repeats.
    public let views: [Int]
    /// How the views are joined.
    public let combiner: Combiner
    /// The two-tier score (``TraceDetector/twoTier(_:)``) whatever the calibration.
    public let twoTierOnly: Bool
    /// Without calibration, the two-tier score (any combination with `novel_ngrams`: the
    /// two-tier score refines it) rather than the first view's raw value.
    let twoTierFallback: Bool
    private let legacyName: String?

    private init(views: [Int], combiner: Combiner = .fisher, twoTierOnly: Bool = false, legacyName: String? = nil) {
        self.views = views
        self.combiner = combiner
        self.twoTierOnly = twoTierOnly
        self.twoTierFallback = views.contains(Self.column("novel_ngrams"))
        self.legacyName = legacyName
    }

    /// The column of a feature name (``TraceFeatures/names``); traps on an unknown name
    /// (only for names fixed in code).
    static func column(_ name: String) -> Int { TraceFeatures.names.firstIndex(of: name)! }

    /// The combination of the named views (in any order), nil if a name is unknown or none given.
    public init?(views names: [String], combiner: Combiner = .fisher) {
        var cols: [Int] = []
        for n in names {
            guard let c = TraceFeatures.names.firstIndex(of: n) else { return nil }
            cols.append(c)
        }
        guard !cols.isEmpty else { return nil }
        self.init(views: Array(Set(cols)).sorted(), combiner: combiner)
    }

    /// Parses a name: a legacy name, or views joined with `+`.
    public init?(name: String) {
        switch name {
        case Self.novelNgramsAndNeighbour.name: self = .novelNgramsAndNeighbour
        case Self.twoTier.name: self = .twoTier
        default:
            var rest = Substring(name), combiner = Combiner.fisher
            if let colon = rest.firstIndex(of: ":") {
                guard let c = Combiner(rawValue: String(rest[..<colon])) else { return nil }
                combiner = c
                rest = rest[rest.index(after: colon)...]
            }
            self.init(views: rest.split(separator: "+").map(String.init), combiner: combiner)
        }
    }

    /// The default, chosen by leave-one-corpus-out (docs/eval.md): never-seen n-grams (order),
    /// never-seen syscalls, and the distance to the nearest training bag (mix).
    public static let standard = TraceCombination(views: [column("novel_ngrams"), column("novel_syscalls"), column("neighbour")])

    /// The previous default: never-seen n-grams (order) and the nearest training bag (mix).
    public static let novelNgramsAndNeighbour = TraceCombination(
        views: [column("novel_ngrams"), column("neighbour")], legacyName: "novel_ngrams_and_neighbour")

    /// The score before calibration existed: any novelty above all known behaviour.
    public static let twoTier = TraceCombination(views: [], twoTierOnly: true, legacyName: "novel_then_rare_ngrams")

    /// Its name, as ``init(name:)`` reads it.
    public var name: String {
        if let n = legacyName { return n }
        let v = views.map { TraceFeatures.names[$0] }.joined(separator: "+")
        return combiner == .fisher ? v : "\(combiner.rawValue):\(v)"
    }
    public var description: String { name }

    /// The name of the score without calibration.
    public var fallbackName: String {
        twoTierOnly || twoTierFallback ? Self.twoTier.name : TraceFeatures.names[views[0]]
    }

    /// The score with calibration, from each view's tail probability
    /// `p = (1 + #{normal >= x}) / (1 + n)`:
    /// - ``Combiner/fisher``: the sum over the views of `-ln p`
    ///   (``TraceDetector/surprise(_:normal:)``), plus a tie-breaker `w / (n + 1)` times the sum
    ///   over the views of `x / (x + top)` (0 for `x <= 0`), `top` the view's largest normal
    ///   value and `w` ``TraceDetector/tieBreakWeight``. Each term of the tie-breaker is below 1,
    ///   so the whole is below any step of a surprise (at least `ln((n + 1) / n) > 1 / (n + 1)`)
    ///   for fewer than 1,000 views.
    /// - ``Combiner/rank``: `1 - mean p`, plus the same tie-breaker divided by the number of
    ///   views `k` (below `w / ((n + 1) k)`, under the smallest step of the mean, `1 / ((n + 1) k)`).
    ///
    /// Either way the tie-breaker orders only processes the probabilities tie, such as those
    /// beyond every normal one on every view. The score rises with every view's value and
    /// never falls.
    /// - Parameter calibration: per feature column, the normal values, ascending, all the same length.
    /// - Parameter local: for ``Combiner/local`` and ``Combiner/both``, per feature column the
    ///   values of the nearest training traces (ascending) and how many were asked for (the
    ///   tie-breaker's `n` for ``Combiner/local``); without it they score as ``Combiner/fisher``
    ///   (``Combiner/sized`` and ``Combiner/mixed`` score as ``Combiner/both`` with it).
    public func score(_ f: TraceFeatures, calibration: [[Double]], local: (values: [[Double]], count: Int)? = nil) -> Double {
        if twoTierOnly { return TraceDetector.twoTier(f) }
        let values = f.values
        var s = 0.0, tie = 0.0, n = 0
        for c in views {
            let normal = calibration[c], x = values[c]
            n = normal.count
            switch (combiner, local) {
            case (.rank, _): s += TraceDetector.tailProbability(x, normal: normal)
            case (.local, let l?): s -= log(TraceDetector.tailProbability(x, normal: l.values[c]))
            case (.both, let l?), (.sized, let l?), (.mixed, let l?):
                s -= log(max(TraceDetector.tailProbability(x, normal: normal), TraceDetector.tailProbability(x, normal: l.values[c])))
            case (.fisher, _), (.local, nil), (.both, nil), (.sized, nil), (.mixed, nil): s += TraceDetector.surprise(x, normal: normal)
            }
            if x > 0 { tie += x / (x + max(normal.last ?? 0, 1e-12)) }
        }
        if combiner == .local, let local { n = local.count }
        let tieBreak = TraceDetector.tieBreakWeight / Double(n + 1) * tie
        switch combiner {
        case .fisher, .local, .both, .sized, .mixed: return s + tieBreak
        case .rank:
            let k = Double(views.count)
            return 1 - s / k + tieBreak / k
        }
    }

    /// The score without calibration: the two-tier score for a combination with
    /// `novel_ngrams` (``standard`` among them), else the raw value of its first view
    /// (``TraceFeatures/names`` order).
    public func fallback(_ f: TraceFeatures) -> Double {
        twoTierOnly || twoTierFallback ? TraceDetector.twoTier(f) : f.values[views[0]]
    }
}

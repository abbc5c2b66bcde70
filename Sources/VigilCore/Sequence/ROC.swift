/// Detection-quality figures for anomaly scores, where a higher score means more anomalous
/// and an item is *flagged* when its score is strictly above the threshold.
public enum ROC {
    /// Area under the ROC curve: the chance that a random positive outscores a random
    /// negative, ties counting one half (the Mann–Whitney U statistic over P·N).
    /// nil when either side is empty.
    public static func auc(positives: [Double], negatives: [Double]) -> Double? {
        guard !positives.isEmpty, !negatives.isEmpty else { return nil }
        let sorted = negatives.sorted()
        var wins = 0.0
        for p in positives {
            let below = lowerBound(sorted, p)
            let notAbove = upperBound(sorted, p)
            wins += Double(below) + 0.5 * Double(notAbove - below)
        }
        return wins / (Double(positives.count) * Double(negatives.count))
    }

    /// The lowest threshold that flags at most `floor(rate * N)` of the negatives: the
    /// `(m+1)`-th largest negative score (ties at it are not flagged), or `-infinity`
    /// when every negative may be flagged. nil when there are no negatives.
    public static func threshold(falseAlarmRate rate: Double, negatives: [Double]) -> Double? {
        guard !negatives.isEmpty else { return nil }
        let allowed = Int((rate * Double(negatives.count) + 1e-9).rounded(.down))
        if allowed >= negatives.count { return -.infinity }
        let descending = negatives.sorted(by: >)
        return descending[allowed]
    }

    /// The fraction of `scores` strictly above `threshold`.
    public static func flaggedRate(_ scores: [Double], threshold: Double) -> Double? {
        guard !scores.isEmpty else { return nil }
        return Double(scores.lazy.filter { $0 > threshold }.count) / Double(scores.count)
    }

    /// Detection rate at a false-alarm budget: positives above ``threshold(falseAlarmRate:negatives:)``.
    public static func detectionRate(atFalseAlarmRate rate: Double, positives: [Double], negatives: [Double]) -> Double? {
        guard let t = threshold(falseAlarmRate: rate, negatives: negatives) else { return nil }
        return flaggedRate(positives, threshold: t)
    }

    /// The smallest false-alarm rate at which at least `rate` of the positives are flagged:
    /// with `k = ceil(rate * P)` and `p` the k-th largest positive score, the threshold sits
    /// just below `p`, so every negative scoring `p` or more is a false alarm (ties count
    /// against the detector).
    public static func falseAlarmRate(atDetectionRate rate: Double, positives: [Double], negatives: [Double]) -> Double? {
        guard !positives.isEmpty, !negatives.isEmpty else { return nil }
        let k = max(1, Int((rate * Double(positives.count) - 1e-9).rounded(.up)))
        let p = positives.sorted(by: >)[k - 1]
        return Double(negatives.lazy.filter { $0 >= p }.count) / Double(negatives.count)
    }

    /// The highest AUC any score can reach when every member of a group must get the same
    /// score (the members cannot be told apart), each group given as its counts of negatives
    /// and positives. The best order ranks groups by their share of positives (the
    /// Neyman–Pearson order); within a group, positives and negatives tie. nil when either
    /// side is empty.
    public static func ceiling(groups: [(negatives: Int, positives: Int)]) -> Double? {
        let n = groups.reduce(0) { $0 + $1.negatives }
        let p = groups.reduce(0) { $0 + $1.positives }
        guard n > 0, p > 0 else { return nil }
        // Descending positives / negatives, compared as cross products (no division by zero).
        let order = groups.sorted { $0.positives * $1.negatives > $1.positives * $0.negatives }
        var negativesAbove = 0
        var wins = 0.0
        for g in order {
            wins += Double(g.positives) * (Double(n - negativesAbove - g.negatives) + 0.5 * Double(g.negatives))
            negativesAbove += g.negatives
        }
        return wins / (Double(p) * Double(n))
    }

    private static func lowerBound(_ a: [Double], _ x: Double) -> Int {
        var lo = 0, hi = a.count
        while lo < hi { let mid = (lo + hi) / 2; if a[mid] < x { lo = mid + 1 } else { hi = mid } }
        return lo
    }

    private static func upperBound(_ a: [Double], _ x: Double) -> Int {
        var lo = 0, hi = a.count
        while lo < hi { let mid = (lo + hi) / 2; if a[mid] <= x { lo = mid + 1 } else { hi = mid } }
        return lo
    }
}

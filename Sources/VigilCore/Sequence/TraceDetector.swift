import Foundation

/// The per-trace measurements a ``TraceDetector`` combines, each "higher is more anomalous".
public struct TraceFeatures: Sendable, Hashable, Codable {
    /// The densest anomaly window, bits per call (``TraceScore/score``; also available live).
    public var window: Double
    /// Mean surprise per call, bits (``TraceScore/meanBits``).
    public var meanBits: Double
    /// Fraction of distinct 2..n-grams never seen in training (``TraceScore/novelNgramFraction``).
    public var novelNgrams: Double
    /// Distinct syscall numbers never seen in training.
    public var novelSyscalls: Double
    /// Cosine distance of the trace's 1/2-gram bag to the nearest training trace.
    public var neighbourDistance: Double
    /// Frequency-aware novelty: mean of `1 / (1 + training count)` over the distinct
    /// 2..n-grams (``TraceScore/rareNgramFraction``).
    public var rareNgrams: Double

    public init(window: Double, meanBits: Double, novelNgrams: Double, novelSyscalls: Double,
                neighbourDistance: Double, rareNgrams: Double = 0) {
        self.window = window
        self.meanBits = meanBits
        self.novelNgrams = novelNgrams
        self.novelSyscalls = novelSyscalls
        self.neighbourDistance = neighbourDistance
        self.rareNgrams = rareNgrams
    }

    /// The names used in reports, in ``values`` order.
    public static let names = ["window", "mean_bits", "novel_ngrams", "novel_syscalls", "neighbour", "rare_ngrams"]

    public var values: [Double] { [window, meanBits, novelNgrams, novelSyscalls, neighbourDistance, rareNgrams] }

    /// How many of ``values`` (the first ones) the previous max-of-z-scores combination used.
    static let legacyCount = 5

    enum CodingKeys: String, CodingKey {
        case window, meanBits = "mean_bits", novelNgrams = "novel_ngrams"
        case novelSyscalls = "novel_syscalls", neighbourDistance = "neighbour"
        case rareNgrams = "rare_ngrams"
    }
}

/// Scores whole traces (processes) offline, and measures them several ways.
///
/// Several views, because attacks differ from normal in different ways: a burst of novel
/// calls shows in the densest window; a trace built of individually plausible calls in an
/// unlikely order shows in its mean surprise; an exploit that reuses known n-grams but in an
/// abnormal mix shows only in its bag of calls; a new binary shows in its new n-grams and
/// syscalls. All are reported; the score (``combine(_:)``) is two-tier: the novel n-gram
/// fraction, which measured better on average than every combination of the views tried,
/// and for processes with nothing novel the rarity of their known n-grams (docs/eval.md).
///
/// Calibration on training data: each measurement's spread over *normal* processes is
/// estimated by k-fold cross-validation over the training traces (each train trace measured
/// by a model and index that did not learn it). It gives the z-scores of the previous
/// combination (``maxZScore(_:)``) and the cross-validated negatives when a corpus has no
/// validation set. Nothing is tuned on attack data or per corpus.
public final class TraceDetector {
    /// The sequence model learned from every training trace.
    public let model: SequenceModel
    let index: NeighbourIndex
    /// Per feature, the cross-validated values of the training traces, ascending.
    public let calibration: [[Double]]
    /// The cross-validated features of each training trace, in training order.
    public let calibrationRows: [TraceFeatures]
    /// Per-feature scale of normal variation (see ``maxZScore(_:)``).
    let centre: [Double]
    let spread: [Double]
    private let scanner: SequenceScanner
    private var scratch: [Float] = []

    /// Folds used to calibrate (fewer when there are fewer training traces).
    public static let folds = 5

    /// Whether the nearest-neighbour view (``TraceFeatures/neighbourDistance``) is measured;
    /// when not, it reads 0 and scanning skips the per-call bag counts and the per-trace query.
    public let neighbour: Bool

    /// Learns from `train` (each element one process) and calibrates on it.
    /// - Parameter neighbour: also measure the nearest-neighbour distance (not part of the
    ///   score; it costs about as much as the rest of the scan on small traces).
    public init(train: [[UInt32]], parameters: SequenceModel.Parameters = .standard, neighbour: Bool = true) {
        let full = Self.trainModel(train, parameters)
        model = full
        self.neighbour = neighbour
        index = NeighbourIndex(bags: neighbour ? train.map { Self.bag(of: $0, model: full) } : [])
        scanner = SequenceScanner(model: full, bagOfCalls: neighbour)
        var cal: [[Double]] = Array(repeating: [], count: TraceFeatures.names.count)
        var rows: [(Int, TraceFeatures)] = []
        let k = min(Self.folds, train.count)
        if k >= 2 {
            for fold in 0..<k {
                let rest = train.indices.filter { $0 % k != fold }.map { train[$0] }
                let foldModel = Self.trainModel(rest, parameters)
                let foldScanner = SequenceScanner(model: foldModel, bagOfCalls: neighbour)
                let foldIndex = NeighbourIndex(bags: neighbour ? rest.map { Self.bag(of: $0, model: foldModel) } : [])
                var foldScratch: [Float] = []
                for i in train.indices where i % k == fold {
                    let f = Self.measure(train[i], scanner: foldScanner, index: foldIndex, scratch: &foldScratch).features
                    for (j, v) in f.values.enumerated() { cal[j].append(v) }
                    rows.append((i, f))
                }
            }
        }
        calibration = cal.map { $0.sorted() }
        calibrationRows = rows.sorted { $0.0 < $1.0 }.map(\.1)
        (centre, spread) = Self.scales(calibration)
    }

    static func trainModel(_ traces: [[UInt32]], _ parameters: SequenceModel.Parameters) -> SequenceModel {
        var trainer = SequenceTrainer(parameters: parameters)
        for t in traces { trainer.feed(t); trainer.endTrace() }
        return trainer.model()
    }

    /// The 1/2-gram bag of a trace (the keys do not depend on the model).
    static func bag(of trace: [UInt32], model: SequenceModel) -> [(key: UInt64, count: UInt32)] {
        let s = SequenceScanner(model: model)
        trace.withUnsafeBufferPointer { s.feed($0) }
        _ = s.finish()
        return s.lastBag
    }

    static func measure(_ trace: [UInt32], scanner: SequenceScanner, index: NeighbourIndex, scratch: inout [Float]) -> (score: TraceScore, features: TraceFeatures) {
        trace.withUnsafeBufferPointer { scanner.feed($0) }
        return finishMeasure(scanner: scanner, index: index, scratch: &scratch)
    }

    static func finishMeasure(scanner: SequenceScanner, index: NeighbourIndex, scratch: inout [Float]) -> (score: TraceScore, features: TraceFeatures) {
        let s = scanner.finish()
        let d = scanner.bagOfCalls ? index.distance(scanner.lastBag, scratch: &scratch) : 0
        return (s, TraceFeatures(window: s.score, meanBits: s.meanBits, novelNgrams: s.novelNgramFraction,
                                 novelSyscalls: Double(s.novelSyscalls), neighbourDistance: d,
                                 rareNgrams: s.rareNgramFraction))
    }

    /// Measures one trace file, streaming it.
    public func measure(path: String) throws -> (score: TraceScore, features: TraceFeatures) {
        do {
            try TraceReader.read(path: path) { scanner.feed($0) }
        } catch {
            scanner.reset()
            throw error
        }
        return Self.finishMeasure(scanner: scanner, index: index, scratch: &scratch)
    }

    /// Measures one in-memory trace.
    public func measure(_ trace: [UInt32]) -> (score: TraceScore, features: TraceFeatures) {
        Self.measure(trace, scanner: scanner, index: index, scratch: &scratch)
    }

    static func scales(_ cal: [[Double]]) -> ([Double], [Double]) {
        var centre: [Double] = [], spread: [Double] = []
        for values in cal {
            guard !values.isEmpty else { centre.append(0); spread.append(1); continue }
            let mean = values.reduce(0, +) / Double(values.count)
            let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)
            centre.append(mean)
            spread.append(sqrt(variance))
        }
        return (centre, spread)
    }

    /// The anomaly score of a trace, in two tiers, from training counts only (no calibration,
    /// so it is the same with one training trace as with thousands):
    ///
    /// - A trace with any 2..n-gram never seen in training scores `1 + novelNgrams`
    ///   (above 1): 1 plus the fraction of its distinct 2..n-grams never seen.
    /// - A trace made only of known n-grams scores ``TraceFeatures/rareNgrams`` (at most 1/2):
    ///   the mean of `1 / (1 + training count)` over its distinct 2..n-grams, so known but
    ///   rare behaviour ranks above common behaviour.
    ///
    /// So never-seen behaviour outranks any known behaviour (the same line the kernel's
    /// known-sequence map draws), the order among traces with novelty is exactly the novel
    /// fraction's, and the traces with none, which all tied at 0 before, are ordered by
    /// how rarely normal processes did what they did.
    ///
    /// Why: measured per trace against the novel fraction alone (docs/eval.md), the tie-breaker
    /// gains on sendmail and on six synthetic seeds (three of them generated only after the
    /// choice was made), and cannot lose a pair the novel fraction already ordered. The other
    /// features are still measured and reported (`feature_auc`, `--dump-features`).
    public func combine(_ f: TraceFeatures) -> Double { Self.twoTier(f) }

    /// ``combine(_:)`` as a pure function of the features.
    public static func twoTier(_ f: TraceFeatures) -> Double {
        f.novelNgrams > 0 ? 1 + f.novelNgrams : f.rareNgrams
    }

    /// The previous combination, kept for comparison: the largest of the features' z-scores
    /// against the cross-validated normal values (mean and standard deviation per feature),
    /// so a trace is as anomalous as its most abnormal view. A feature that never varied over
    /// normal traces (no train trace ever had a novel syscall) gets a tiny floor for its
    /// deviation, so any departure from it ranks above every ordinary trace. Without
    /// calibration (fewer than two train traces) it falls back to the window score.
    public func maxZScore(_ f: TraceFeatures) -> Double {
        guard calibration[0].count >= 2 else { return f.window }
        var best = -Double.infinity
        for (j, v) in f.values.prefix(TraceFeatures.legacyCount).enumerated() {
            best = max(best, (v - centre[j]) / max(spread[j], Self.minimumSpread))
        }
        return best
    }

    /// The smallest standard deviation a feature is divided by.
    static let minimumSpread = 1e-6

    /// Bytes the detector's tables hold (model plus neighbour index, when measured).
    public var memoryBytes: Int { model.memoryBytes + index.memoryBytes }
}

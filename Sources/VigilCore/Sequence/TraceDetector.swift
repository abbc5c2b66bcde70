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
    /// Mean surprise per call, bits, under an interpolated Witten-Bell model of the same
    /// counts (``TraceScore/smoothedMeanBits``).
    public var smoothedMean: Double
    /// The neighbour view made fair to length (``WindowedNeighbour``): `-ln` of the
    /// Šidák-corrected tail probability of the trace's worst 100-call window's distance to the
    /// nearest training window.
    public var neighbourWindows: Double

    public init(window: Double, meanBits: Double, novelNgrams: Double, novelSyscalls: Double,
                neighbourDistance: Double, rareNgrams: Double = 0, smoothedMean: Double = 0,
                neighbourWindows: Double = 0) {
        self.window = window
        self.meanBits = meanBits
        self.novelNgrams = novelNgrams
        self.novelSyscalls = novelSyscalls
        self.neighbourDistance = neighbourDistance
        self.rareNgrams = rareNgrams
        self.smoothedMean = smoothedMean
        self.neighbourWindows = neighbourWindows
    }

    /// The names used in reports, in ``values`` order.
    public static let names = ["window", "mean_bits", "novel_ngrams", "novel_syscalls", "neighbour", "rare_ngrams",
                               "smoothed_mean", "neighbour_windows"]

    public var values: [Double] { [window, meanBits, novelNgrams, novelSyscalls, neighbourDistance, rareNgrams, smoothedMean, neighbourWindows] }

    enum CodingKeys: String, CodingKey {
        case window, meanBits = "mean_bits", novelNgrams = "novel_ngrams"
        case novelSyscalls = "novel_syscalls", neighbourDistance = "neighbour"
        case rareNgrams = "rare_ngrams", smoothedMean = "smoothed_mean"
        case neighbourWindows = "neighbour_windows"
    }

    /// Reads features written before `smoothed_mean` or `neighbour_windows` existed as 0 there.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(window: try c.decode(Double.self, forKey: .window), meanBits: try c.decode(Double.self, forKey: .meanBits),
                  novelNgrams: try c.decode(Double.self, forKey: .novelNgrams),
                  novelSyscalls: try c.decode(Double.self, forKey: .novelSyscalls),
                  neighbourDistance: try c.decode(Double.self, forKey: .neighbourDistance),
                  rareNgrams: try c.decode(Double.self, forKey: .rareNgrams),
                  smoothedMean: try c.decodeIfPresent(Double.self, forKey: .smoothedMean) ?? 0,
                  neighbourWindows: try c.decodeIfPresent(Double.self, forKey: .neighbourWindows) ?? 0)
    }
}

/// Scores whole traces (processes) offline, and measures them several ways.
///
/// Several views, because attacks differ from normal in different ways: a burst of novel
/// calls shows in the densest window; a trace built of individually plausible calls in an
/// unlikely order shows in its mean surprise; an exploit that reuses known n-grams but in an
/// abnormal mix shows only in its bag of calls; a new binary shows in its new n-grams and
/// syscalls. All are reported; the score (``combine(_:)``) combines the views of a
/// ``TraceCombination``, each put on the scale of normal variation: by default the novel
/// n-gram fraction (order), the never-seen syscalls, and the distance to the nearest training
/// process (mix), the set chosen by leave-one-corpus-out (docs/eval.md).
///
/// Calibration on training data: each measurement's values over *normal* processes are
/// estimated by k-fold cross-validation over the training traces (each train trace measured
/// by a model and index that did not learn it). They give the score's surprises and the
/// cross-validated negatives when a corpus has no validation set. Nothing is tuned on attack data or per corpus.
public final class TraceDetector {
    /// The model and neighbour index of every training trace.
    private let full: TraceMeasurer
    /// The model and index of each cross-validation fold (all training traces but the
    /// fold's), kept only when asked (``init(train:parameters:keepFolds:)``).
    private let folds: [TraceMeasurer]
    /// The sequence model learned from every training trace.
    public var model: SequenceModel { full.model }
    /// Which views the score combines (``combine(_:)``).
    public let combination: TraceCombination
    /// Per feature, the cross-validated values of the training traces, ascending.
    public let calibration: [[Double]]
    /// The cross-validated features of each training trace, in training order.
    public let calibrationRows: [TraceFeatures]
    /// For ``TraceCombination/Combiner/mixed`` in a large enough pool: the bimodality
    /// coefficient of the distances between its training traces
    /// (``TraceCombination/bimodality(_:)``); nil otherwise.
    public let poolBimodality: Double?

    /// Folds used to calibrate (fewer when there are fewer training traces).
    public static let folds = 5

    /// Learns from `train` (each element one process) and calibrates on it; scores with
    /// `combination`.
    /// - Parameter keepFolds: keep each fold's model, so traces can also be measured the way
    ///   the calibration measured the training traces (``measure(path:fold:also:)``); costs
    ///   about ``folds`` times the memory.
    /// - Parameter keepBags: keep every training trace's bag, so that ``nearestTrainingTraces(toTraining:count:)``
    ///   can answer (always kept when the score judges locally, ``judgesLocally``).
    public init(train: [[UInt32]], parameters: SequenceModel.Parameters = .standard, keepFolds: Bool = false,
                combination: TraceCombination = .standard, keepBags: Bool = false) {
        self.combination = combination
        full = TraceMeasurer(train: train, parameters: parameters, owners: Array(train.indices),
                             keepBags: keepBags || combination.combiner.judgesLocally(pool: train.count))
        var cal: [[Double]] = Array(repeating: [], count: TraceFeatures.names.count)
        var rows: [(Int, TraceFeatures)] = []
        var kept: [TraceMeasurer] = []
        let k = min(Self.folds, train.count)
        if k >= 2 {
            for fold in 0..<k {
                let (rest, heldOut) = Self.split(train, fold: fold, of: k)
                let measurer = TraceMeasurer(train: rest, parameters: parameters,
                                             owners: train.indices.filter { $0 % k != fold })
                for i in heldOut {
                    let f = measurer.measure(train[i]).features
                    for (j, v) in f.values.enumerated() { cal[j].append(v) }
                    rows.append((i, f))
                }
                if keepFolds { kept.append(measurer) }
            }
        }
        folds = kept
        calibration = cal.map { $0.sorted() }
        calibrationRows = rows.sorted { $0.0 < $1.0 }.map(\.1)
        poolBimodality = combination.combiner == .mixed && combination.combiner.judgesLocally(pool: rows.count)
            ? TraceCombination.bimodality(full.index.pairwiseDistances()) : nil
    }

    /// Fold `fold` of `k` over `train`: the traces it learns from, and the indices of those it
    /// holds out (every k-th, starting at `fold`).
    static func split(_ train: [[UInt32]], fold: Int, of k: Int) -> (rest: [[UInt32]], heldOut: [Int]) {
        (train.indices.filter { $0 % k != fold }.map { train[$0] }, Array(stride(from: fold, to: train.count, by: k)))
    }

    static func trainModel(_ traces: [[UInt32]], _ parameters: SequenceModel.Parameters) -> SequenceModel {
        var trainer = SequenceTrainer(parameters: parameters)
        for t in traces { trainer.feed(t); trainer.endTrace() }
        return trainer.model()
    }

    /// Measures one trace file, streaming it; `also` sees the same runs of calls.
    /// - Parameter fold: measure with that fold's model (`0 ..< min(folds, train count)`, kept
    ///   with `keepFolds`), as the calibration measured the training traces of that fold; nil
    ///   for the model of every training trace.
    public func measure(path: String, fold: Int? = nil,
                        also: (UnsafeBufferPointer<UInt32>) -> Void = { _ in }) throws -> (score: TraceScore, features: TraceFeatures) {
        try (fold.map { folds[$0] } ?? full).measure(path: path, also: also)
    }

    /// Measures one in-memory trace.
    public func measure(_ trace: [UInt32]) -> (score: TraceScore, features: TraceFeatures) {
        full.measure(trace)
    }

    /// The anomaly score of a trace under ``combination``: how far outside normal variation
    /// it lies on each of the combination's views, combined as independent evidence.
    ///
    /// Each view's value `x` becomes its surprise against the cross-validated training
    /// processes (``calibration``: each measured by a model that did not learn it), `-ln p` with
    /// `p = (1 + #{normal values >= x}) / (1 + n)`: 0 for a value most normal processes reach,
    /// `ln(n + 1)` beyond every one of them. The score is the sum of the surprises (Fisher's
    /// method, up to a constant), plus a tie-breaker far below the smallest step of any
    /// surprise, so processes beyond every normal one are still ordered by how far
    /// (``TraceCombination/score(_:calibration:)``).
    ///
    /// Without calibration (fewer than two training traces) the score is the combination's
    /// fallback (``TraceCombination/fallback(_:)``).
    ///
    /// - Parameter nearest: when the score judges locally (``judgesLocally``), the
    ///   training traces nearest to the trace, nearest first (``nearestTrainingTraces(count:)``);
    ///   without them it scores against every training trace, as ``TraceCombination/Combiner/fisher``.
    public func combine(_ f: TraceFeatures, nearest: [Int]? = nil) -> Double {
        guard combinesViews else { return combination.fallback(f) }
        guard judgesLocally, let nearest, !nearest.isEmpty else {
            return combination.score(f, calibration: calibration)
        }
        let rows = nearest.prefix(localCount).map { calibrationRows[$0].values }
        var local: [[Double]] = Array(repeating: [], count: TraceFeatures.names.count)
        for c in combination.views { local[c] = rows.map { $0[c] }.sorted() }
        return combination.score(f, calibration: calibration, local: (local, localCount))
    }

    /// The combination's score of the trace the full model measured last (``measure(path:fold:also:)``
    /// with no fold, ``measure(_:)``), its nearest training traces found when the combiner needs them.
    /// - Parameters:
    ///   - fold: the fold whose model measured it (``measure(path:fold:also:)``), nil for the full model.
    ///   - nearest: how many of its nearest training traces to return as well (0: none), found
    ///     in the same search as the ones the score needs.
    public func combineLastMeasured(_ f: TraceFeatures, fold: Int? = nil, nearest wanted: Int = 0) -> (score: Double, nearest: [Int]?) {
        withNearest(wanted) { nearestTrainingTraces(count: $0, fold: fold) } score: { combine(f, nearest: $0) }
    }

    /// The cross-validated score of training trace `i` (``calibrationRows``), its nearest
    /// other training traces found when the combiner needs them; `nearest` as above.
    public func combineTraining(_ i: Int, nearest wanted: Int = 0) -> (score: Double, nearest: [Int]?) {
        withNearest(wanted) { nearestTrainingTraces(toTraining: i, count: $0) } score: { combine(calibrationRows[i], nearest: $0) }
    }

    /// One search for the nearest traces, as many as the score (a local combiner) and the
    /// caller (`wanted`) need, or none.
    private func withNearest(_ wanted: Int, _ find: (Int) -> [Int], score: ([Int]?) -> Double) -> (score: Double, nearest: [Int]?) {
        let count = max(wanted, judgesLocally ? localCount : 0)
        let found = count > 0 ? find(count) : nil
        return (score(found), wanted > 0 ? found.map { Array($0.prefix(wanted)) } : nil)
    }

    /// Whether the score judges traces against their nearest training traces: a local
    /// combiner, ``TraceCombination/Combiner/sized`` only in a large enough pool,
    /// ``TraceCombination/Combiner/mixed`` only in a large enough pool that mixes
    /// (``poolBimodality`` above ``TraceCombination/mixedBimodality``).
    public var judgesLocally: Bool {
        guard combination.combiner.judgesLocally(pool: calibrationRows.count) else { return false }
        return combination.combiner != .mixed || (poolBimodality ?? 0) > TraceCombination.mixedBimodality
    }

    /// How many nearest training traces a local combiner judges against: the square root of
    /// the training traces, at least 8 and at most 64 (never more than there are), fixed
    /// before any figure was computed (docs/eval.md, third round).
    public var localCount: Int {
        let n = calibrationRows.count
        return min(n, max(8, min(64, Int(Double(n).squareRoot().rounded(.up)))))
    }

    /// Whether ``combine(_:)`` has what it needs: normal variation, measured on at least two
    /// cross-validated training traces.
    private var combinesViews: Bool { calibration[0].count >= 2 }

    /// The name of the score ``combine(_:)`` gives (reported as `scoring`): the combination's
    /// name, or its fallback's when there is no calibration.
    public var scoring: String { combinesViews ? combination.name : combination.fallbackName }

    /// How much the raw values weigh in the tie-breaker, per calibration process.
    public static let tieBreakWeight = 1e-3

    /// The previous default, ``TraceCombination/novelNgramsAndNeighbour``, as a pure function
    /// of the features and its two calibration columns (each ascending, the same length).
    public static func fisher(_ f: TraceFeatures, novel: [Double], neighbour: [Double]) -> Double {
        var cal: [[Double]] = Array(repeating: [], count: TraceFeatures.names.count)
        cal[TraceCombination.column("novel_ngrams")] = novel
        cal[TraceCombination.column("neighbour")] = neighbour
        return TraceCombination.novelNgramsAndNeighbour.score(f, calibration: cal)
    }

    /// `-ln p`, `p = (1 + #{normal >= x}) / (1 + normal.count)`; `normal` ascending.
    public static func surprise(_ x: Double, normal: [Double]) -> Double {
        log(Double(1 + normal.count) / Double(1 + atLeast(x, normal)))
    }

    /// The calibrated tail probability `p = (1 + #{normal >= x}) / (1 + normal.count)`:
    /// the share of normal processes reaching `x`, the process itself counted in (never 0);
    /// `normal` ascending.
    public static func tailProbability(_ x: Double, normal: [Double]) -> Double {
        Double(1 + atLeast(x, normal)) / Double(1 + normal.count)
    }

    /// `#{normal >= x}` by binary search; `normal` ascending.
    private static func atLeast(_ x: Double, _ normal: [Double]) -> Int {
        var lo = 0, hi = normal.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if normal[mid] < x { lo = mid + 1 } else { hi = mid }
        }
        return normal.count - lo
    }

    /// The previous score, and the score without calibration, in two tiers:
    ///
    /// - A trace with any 2..n-gram never seen in training scores `1 + novelNgrams`
    ///   (above 1): 1 plus the fraction of its distinct 2..n-grams never seen.
    /// - A trace made only of known n-grams scores ``TraceFeatures/rareNgrams`` (at most 1/2):
    ///   the mean of `1 / (1 + training count)` over its distinct 2..n-grams, so known but
    ///   rare behaviour ranks above common behaviour.
    public static func twoTier(_ f: TraceFeatures) -> Double {
        f.novelNgrams > 0 ? 1 + f.novelNgrams : f.rareNgrams
    }

    /// The training traces (indices in training order) nearest to the trace the detector
    /// measured last, nearest first, by the neighbour view's distance: among all of them
    /// (`fold` nil, the full model), or among those fold `fold`'s model learned from.
    public func nearestTrainingTraces(count: Int, fold: Int? = nil) -> [Int] {
        (fold.map { folds[$0] } ?? full).nearestToLast(count: count)
    }

    /// The training traces nearest to training trace `i`, itself left out (empty unless the
    /// bags are kept: `keepBags`, or a local combiner).
    public func nearestTrainingTraces(toTraining i: Int, count: Int) -> [Int] { full.nearest(toTraining: i, count: count) }

    /// Bytes the detector's tables hold (model plus neighbour index).
    public var memoryBytes: Int { full.memoryBytes }
}

/// A sequence model and neighbour index learned from some training traces, and the scratch
/// state to measure traces against them, one at a time.
final class TraceMeasurer {
    let model: SequenceModel
    let index: NeighbourIndex
    let windowed: WindowedNeighbour
    /// The whole 1/2-gram bag of each training trace, when kept (`keepBags`).
    let trainBags: [[(key: UInt64, count: UInt32)]]
    private let scanner: SequenceScanner
    private let query = NeighbourQuery()
    private let windowQuery: WindowedNeighbourQuery

    /// - Parameter owners: per training trace, the index the nearest-trace queries name it by.
    init(train: [[UInt32]], parameters: SequenceModel.Parameters, owners: [Int], keepBags: Bool = false) {
        let model = TraceDetector.trainModel(train, parameters)
        self.model = model
        let bags = train.map { Self.bags(of: $0, model: model) }
        trainBags = keepBags ? bags.map(\.whole) : []
        index = NeighbourIndex(bags: bags.map(\.whole), owners: owners)
        windowed = WindowedNeighbour(windows: bags.map(\.windows))
        scanner = SequenceScanner(model: model, bagOfCalls: true, smoothedMean: true)
        let windowQuery = WindowedNeighbourQuery(windowed)
        self.windowQuery = windowQuery
        scanner.windowBags = WindowBagCounter(length: WindowedNeighbour.windowLength) { windowQuery.add($0) }
    }

    /// The 1/2-gram bag of a trace, whole and per window (the keys do not depend on the model).
    static func bags(of trace: [UInt32], model: SequenceModel)
        -> (whole: [(key: UInt64, count: UInt32)], windows: [[(key: UInt64, count: UInt32)]]) {
        let s = SequenceScanner(model: model)
        var windows: [[(key: UInt64, count: UInt32)]] = []
        s.windowBags = WindowBagCounter(length: WindowedNeighbour.windowLength) { windows.append($0) }
        trace.withUnsafeBufferPointer { s.feed($0) }
        _ = s.finish()
        return (s.lastBag, windows)
    }

    /// The whole 1/2-gram bag of a trace.
    static func bag(of trace: [UInt32], model: SequenceModel) -> [(key: UInt64, count: UInt32)] {
        bags(of: trace, model: model).whole
    }

    func measure(_ trace: [UInt32]) -> (score: TraceScore, features: TraceFeatures) {
        trace.withUnsafeBufferPointer { scanner.feed($0) }
        return features(of: scanner.finish())
    }

    func measure(path: String, also: (UnsafeBufferPointer<UInt32>) -> Void) throws -> (score: TraceScore, features: TraceFeatures) {
        do {
            return features(of: try Evaluation.score(path: path, with: scanner, also: also))
        } catch {
            _ = windowQuery.take()  // the windows a bad file delivered before its error
            throw error
        }
    }

    /// The features of the trace the scanner just finished (its bag is still there).
    private func features(of s: TraceScore) -> (score: TraceScore, features: TraceFeatures) {
        let d = index.distance(scanner.lastBag, query: query)
        let w = windowQuery.take()
        return (s, TraceFeatures(window: s.score, meanBits: s.meanBits, novelNgrams: s.novelNgramFraction,
                                 novelSyscalls: Double(s.novelSyscalls), neighbourDistance: d,
                                 rareNgrams: s.rareNgramFraction, smoothedMean: s.smoothedMeanBits,
                                 neighbourWindows: w.value))
    }

    /// The training traces nearest to the trace just measured (its bag), nearest first.
    func nearestToLast(count: Int) -> [Int] {
        index.nearestOwners(scanner.lastBag, count: count, scratch: &query.scratch)
    }

    /// The training traces nearest to training trace `i` (its owner index), itself left out;
    /// empty when the bags were not kept.
    func nearest(toTraining i: Int, count: Int) -> [Int] {
        guard trainBags.indices.contains(i) else { return [] }
        return index.nearestOwners(trainBags[i], count: count, excluding: i, scratch: &query.scratch)
    }

    var memoryBytes: Int {
        model.memoryBytes + index.memoryBytes + windowed.memoryBytes + scanner.smoothedMemoryBytes + trainBags.reduce(0) { $0 + 16 * $1.count }
    }
}

import Foundation

/// The figures `vigil eval` reports for one corpus.
///
/// **Per trace** (the headline `auc`, `dr_at_far01`, `dr_at_far05`, `far_at_dr90`): every
/// validation process is a negative and every attack process a positive, each file scored
/// on its own. Attack cases also record processes that behaved normally; per trace they
/// count as misses, which caps these figures on corpora like UNM.
///
/// **Per case** (`auc_case`, `*_case`, `cases_detected`): one positive per attack case,
/// scored as the maximum over its processes, so a case is detected when any of its
/// processes is flagged at the 1%-false-alarm threshold (the UNM corpus's own rule).
public struct EvaluationReport: Sendable, Codable {
    public var corpus: String
    /// The trace detector's score (``TraceDetector/scoring``: the ``TraceCombination``'s name,
    /// or its fallback's without calibration), or `"stide"` (the classic baseline, for comparison).
    public var scoring: String
    public var parameters: SequenceModel.Parameters
    /// Traces used: train processes, validation processes, attack processes and cases.
    public var train: Int
    public var validation: Int
    public var attack: Int
    public var attackCases: Int
    /// Where negatives came from: `validation`, or `cross-validation` over train when the
    /// corpus has no validation directory (each train trace scored by a model that did not
    /// learn it), or `none`.
    public var negatives: String
    public var negativeCount: Int

    /// Per trace (process file): validation traces against attack traces.
    public var auc: Double?
    public var drAtFar01: Double?
    public var drAtFar05: Double?
    public var farAtDr90: Double?
    /// Per attack case (maximum over its processes) against validation traces.
    public var aucCase: Double?
    public var drAtFar01Case: Double?
    public var drAtFar05Case: Double?
    public var farAtDr90Case: Double?
    /// Per-trace AUC of each feature alone (names as in ``TraceFeatures/names``): shows
    /// which view carries the detection; `window` alone is the streaming (live) score.
    public var featureAUC: [String: Double?]
    /// Per-trace AUC within each third of the scored traces by length (calls): a score that
    /// grows with length would rank long normal traces above short attacks, which these
    /// rows show and the headline hides.
    public var aucByLength: [LengthTercile] = []

    /// One third of the scored traces (negatives and positives together) by length.
    public struct LengthTercile: Sendable, Codable {
        /// 1 (shortest) to 3 (longest).
        public var tercile: Int
        /// Lengths in this third, calls (inclusive).
        public var minCalls: Int
        public var maxCalls: Int
        public var negatives: Int
        public var positives: Int
        /// nil when the third lacks negatives or positives.
        public var auc: Double?

        enum CodingKeys: String, CodingKey {
            case tercile, minCalls = "min_calls", maxCalls = "max_calls", negatives, positives, auc
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(tercile, forKey: .tercile)
            try c.encode(minCalls, forKey: .minCalls)
            try c.encode(maxCalls, forKey: .maxCalls)
            try c.encode(negatives, forKey: .negatives)
            try c.encode(positives, forKey: .positives)
            try c.encode(auc, forKey: .auc)
        }
    }
    /// The highest per-trace AUC any score could reach on this corpus, given that it must
    /// score identical traces alike and every copy of a training trace alike (the model
    /// learned them as normal): the Neyman–Pearson order over those groups (``ROC/ceiling(groups:)``).
    /// Attack traces that copy normal ones keep it below 1; normal work recorded inside
    /// attack cases that is not an exact copy is not counted, so the true ceiling can be
    /// lower. nil without a validation directory (negatives are then training traces).
    public var aucCeiling: Double?
    /// Validation and attack traces identical to some training trace (nil without validation).
    public var validationKnown: Int?
    public var attackKnown: Int?
    /// The score above which a trace is flagged at 1% false alarms.
    public var thresholdFar01: Double?
    /// Cases with at least one process above ``thresholdFar01``.
    public var casesDetected: Int
    public var cases: [CaseResult]

    public var trainCalls: Int
    public var scoredCalls: Int
    /// Calls read, parsed and scored per second (validation and attack, one core).
    public var syscallsPerSecond: Double
    /// The same calls per second of the process's CPU time (user and system) over the same
    /// stretches: what one core does when the machine is shared, where wall time also counts
    /// the time other work held the core. Eval is single-threaded, so this is one core.
    public var syscallsPerCPUSecond: Double = 0
    /// Bytes of the scoring tables: the sequence model plus the neighbour index.
    public var modelBytes: Int
    /// The bimodality coefficient of the distances between the training traces, when the
    /// score asks for it (``TraceDetector/poolBimodality``; `mixed:` scorings); else nil.
    public var poolBimodality: Double?

    public struct CaseResult: Sendable, Codable {
        public var name: String
        public var processes: Int
        /// The highest process score of the case.
        public var score: Double
        public var detected: Bool
        public var processesFlagged: Int
    }

    enum CodingKeys: String, CodingKey {
        case corpus, scoring, parameters, train, validation, attack
        case attackCases = "attack_cases"
        case negatives
        case negativeCount = "negative_count"
        case auc
        case drAtFar01 = "dr_at_far01"
        case drAtFar05 = "dr_at_far05"
        case farAtDr90 = "far_at_dr90"
        case aucCase = "auc_case"
        case drAtFar01Case = "dr_at_far01_case"
        case drAtFar05Case = "dr_at_far05_case"
        case farAtDr90Case = "far_at_dr90_case"
        case featureAUC = "feature_auc"
        case aucByLength = "auc_by_length"
        case aucCeiling = "auc_ceiling"
        case validationKnown = "validation_known"
        case attackKnown = "attack_known"
        case thresholdFar01 = "threshold_far01"
        case casesDetected = "cases_detected"
        case cases
        case trainCalls = "train_calls"
        case scoredCalls = "scored_calls"
        case syscallsPerSecond = "syscalls_per_second"
        case syscallsPerCPUSecond = "syscalls_per_cpu_second"
        case modelBytes = "model_bytes"
        case poolBimodality = "pool_bimodality"
    }

    // Optionals are written as JSON null rather than left out, so consumers see every key.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(corpus, forKey: .corpus)
        try c.encode(scoring, forKey: .scoring)
        try c.encode(parameters, forKey: .parameters)
        try c.encode(train, forKey: .train)
        try c.encode(validation, forKey: .validation)
        try c.encode(attack, forKey: .attack)
        try c.encode(attackCases, forKey: .attackCases)
        try c.encode(negatives, forKey: .negatives)
        try c.encode(negativeCount, forKey: .negativeCount)
        try c.encode(auc, forKey: .auc)
        try c.encode(drAtFar01, forKey: .drAtFar01)
        try c.encode(drAtFar05, forKey: .drAtFar05)
        try c.encode(farAtDr90, forKey: .farAtDr90)
        try c.encode(aucCase, forKey: .aucCase)
        try c.encode(drAtFar01Case, forKey: .drAtFar01Case)
        try c.encode(drAtFar05Case, forKey: .drAtFar05Case)
        try c.encode(farAtDr90Case, forKey: .farAtDr90Case)
        try c.encode(featureAUC, forKey: .featureAUC)
        try c.encode(aucByLength, forKey: .aucByLength)
        try c.encode(aucCeiling, forKey: .aucCeiling)
        try c.encode(validationKnown, forKey: .validationKnown)
        try c.encode(attackKnown, forKey: .attackKnown)
        try c.encode(thresholdFar01, forKey: .thresholdFar01)
        try c.encode(casesDetected, forKey: .casesDetected)
        try c.encode(cases, forKey: .cases)
        try c.encode(trainCalls, forKey: .trainCalls)
        try c.encode(scoredCalls, forKey: .scoredCalls)
        try c.encode(syscallsPerSecond, forKey: .syscallsPerSecond)
        try c.encode(syscallsPerCPUSecond, forKey: .syscallsPerCPUSecond)
        try c.encode(modelBytes, forKey: .modelBytes)
        try c.encode(poolBimodality, forKey: .poolBimodality)
    }
}

/// Offline evaluation of the sequence model on a labelled ``Corpus``.
public enum Evaluation {
    /// Trains a model on the train traces of `corpus`, read with the boundaries of its
    /// numbering (``Corpus/parameters(_:)``).
    public static func train(corpus: Corpus, parameters: SequenceModel.Parameters = .standard) throws -> SequenceModel {
        try train(files: corpus.train, parameters: corpus.parameters(parameters))
    }

    /// Trains a model on every trace in `files`.
    public static func train(files: [String], parameters: SequenceModel.Parameters = .standard) throws -> SequenceModel {
        var trainer = SequenceTrainer(parameters: parameters)
        for f in files {
            try TraceReader.read(path: f) { trainer.feed($0) }
            trainer.endTrace()
        }
        return trainer.model()
    }

    /// Scores one trace file from start to end; `also` sees the same runs of calls.
    public static func score(path: String, with scanner: SequenceScanner,
                             also: (UnsafeBufferPointer<UInt32>) -> Void = { _ in }) throws -> TraceScore {
        do {
            try TraceReader.read(path: path) { calls in
                also(calls)
                scanner.feed(calls)
            }
        } catch {
            scanner.reset()
            throw error
        }
        return scanner.finish()
    }

    /// One scored trace, for `--dump-features`: which set it came from (`train` for the
    /// cross-validated calibration, `validation`, `attack`), its case, features and score,
    /// its length in calls and its file.
    public struct ScoredTrace: Sendable, Codable {
        public var set: String
        public var caseName: String?
        public var features: TraceFeatures
        public var score: Double
        public var calls: Int?
        public var path: String?
        /// The training traces nearest to it by the neighbour view (indices in training
        /// order, nearest first; a training trace's leave itself out), for analysis.
        public var neighbours: [Int]?
    }

    /// How many nearest training traces a dumped trace names (``ScoredTrace/neighbours``).
    public static let dumpedNeighbours = 64

    /// Learns from `train`, scores validation and attack traces, and computes the figures.
    /// Without a validation directory, negatives are the train traces' cross-validated
    /// scores (``TraceDetector`` computes them anyway, k = min(5, train count)); with fewer
    /// than two train traces there are none and the rate figures are nil.
    /// - Throws: ``TraceInputError`` for unreadable or malformed traces, or no attack cases.
    /// - Parameters:
    ///   - stide: score with classic STIDE mismatches instead (a baseline to compare with).
    ///   - combination: the views the trace score combines (``TraceCombination``).
    ///   - traces: receives every scored trace (for offline analysis), when given.
    public static func run(corpus: Corpus, parameters: SequenceModel.Parameters = .standard, stide: Bool = false,
                           combination: TraceCombination = .standard,
                           traces: ((ScoredTrace) -> Void)? = nil) throws -> EvaluationReport {
        // A corpus of Linux numbers restarts n-grams at request boundaries, as the kernel does.
        let parameters = corpus.parameters(parameters)
        guard !corpus.train.isEmpty else {
            throw TraceInputError(path: corpus.root + "/train", reason: .missingDirectory("no trace files in it"))
        }
        guard !corpus.attacks.isEmpty else {
            throw TraceInputError(path: corpus.root, reason: .missingDirectory("no attack/ or Attack_Data_Master/ with traces"))
        }
        let trainTraces = try corpus.train.map { try TraceReader.readAll(path: $0) }
        // Without validation/, negatives are training traces, each measured by the model of
        // the other folds (cross-validation); attack traces are then measured the same way,
        // each by one fold's model in turn, so both sides face models that learned as much.
        let crossValidated = corpus.validation == nil && trainTraces.count >= 2
        let k = min(TraceDetector.folds, trainTraces.count)
        // STIDE needs only the model: no calibration, no neighbour index.
        let detector = stide ? nil : TraceDetector(train: trainTraces, parameters: parameters, keepFolds: crossValidated,
                                                       combination: combination, keepBags: traces != nil)
        let model = detector?.model ?? TraceDetector.trainModel(trainTraces, parameters)
        let stideScanner = SequenceScanner(model: model, stide: true, traceFeatures: false)
        let stideFolds = stide && crossValidated ? (0..<k).map { fold in
            SequenceScanner(model: TraceDetector.trainModel(TraceDetector.split(trainTraces, fold: fold, of: k).rest, parameters),
                            stide: true, traceFeatures: false)
        } : []
        // The detector's features of one file, its score (STIDE's window when asked), and
        // whether it is a copy of a training trace; `fold` picks a fold's model.
        let trainDigests = Set(trainTraces.map { TraceDigest($0).value })
        // The nearest training traces of each, for the dump.
        let dumped = traces == nil ? 0 : dumpedNeighbours
        func scoreFile(_ path: String, fold: Int? = nil) throws
            -> (calls: Int, score: Double, features: TraceFeatures, digest: UInt64?, nearest: [Int]?) {
            var digest = TraceDigest()
            let calls: Int, score: Double, features: TraceFeatures
            var nearest: [Int]?
            if let detector {
                let (s, f) = try detector.measure(path: path, fold: fold) { digest.feed($0) }
                (calls, features) = (s.calls, f)
                (score, nearest) = detector.combineLastMeasured(f, fold: fold, nearest: dumped)
            } else {
                let scanner = fold.map { stideFolds[$0] } ?? stideScanner
                let s = try Self.score(path: path, with: scanner) { digest.feed($0) }
                (calls, score) = (s.calls, s.score)
                features = TraceFeatures(window: s.score, meanBits: 0, novelNgrams: 0, novelSyscalls: 0, neighbourDistance: 0)
            }
            let d = digest.value
            return (calls, score, features, trainDigests.contains(d) ? nil : d, nearest)
        }
        // Groups of validation and attack traces no score can tell apart (see aucCeiling):
        // identical traces, and all copies of training traces (key nil) together.
        var groups: [UInt64?: (negatives: Int, positives: Int)] = [:]
        let clock = ContinuousClock()
        var scoredCalls = 0
        var scoringTime = Duration.zero
        var scoringCPU = 0.0

        var negatives: [Double] = []
        var negativeCalls: [Int] = []
        var negativeFeatures: [TraceFeatures] = []
        let source: String
        if let detector {
            for (i, f) in detector.calibrationRows.enumerated() {  // in training order
                guard traces != nil else { break }
                let (score, nearest) = detector.combineTraining(i, nearest: dumped)
                traces?(ScoredTrace(set: "train", caseName: nil, features: f, score: score,
                                    calls: trainTraces[i].count, path: corpus.train[i], neighbours: nearest))
            }
        }
        if let validation = corpus.validation {
            source = "validation"
            let start = clock.now
            let cpuStart = processCPUSeconds()
            for f in validation {
                let s = try scoreFile(f)
                negatives.append(s.score)
                negativeCalls.append(s.calls)
                negativeFeatures.append(s.features)
                groups[s.digest, default: (0, 0)].negatives += 1
                scoredCalls += s.calls
                traces?(ScoredTrace(set: "validation", caseName: nil, features: s.features, score: s.score, calls: s.calls, path: f,
                                    neighbours: s.nearest))
            }
            scoringTime += clock.now - start
            scoringCPU += processCPUSeconds() - cpuStart
        } else if crossValidated, let detector {
            source = "cross-validation (\(k) folds over train; no validation directory)"
            negativeFeatures = detector.calibrationRows
            negatives = negativeFeatures.indices.map { detector.combineTraining($0).score }
            negativeCalls = trainTraces.map(\.count)  // calibrationRows are in training order
        } else if crossValidated {
            // STIDE has no calibration of its own: score folds the classic way.
            source = "cross-validation (\(k) folds over train; no validation directory)"
            for (fold, foldScanner) in stideFolds.enumerated() {
                for i in TraceDetector.split(trainTraces, fold: fold, of: k).heldOut {
                    trainTraces[i].withUnsafeBufferPointer { foldScanner.feed($0) }
                    let s = foldScanner.finish().score
                    negatives.append(s)
                    negativeCalls.append(trainTraces[i].count)
                    negativeFeatures.append(TraceFeatures(window: s, meanBits: 0, novelNgrams: 0, novelSyscalls: 0, neighbourDistance: 0))
                }
            }
        } else {
            source = "none (no validation directory and fewer than two train traces)"
        }

        var processScores: [Double] = []
        var processCalls: [Int] = []
        var processFeatures: [TraceFeatures] = []
        var caseScores: [Double] = []
        var perCase: [[Double]] = []
        let start = clock.now
        let cpuStart = processCPUSeconds()
        for c in corpus.attacks {
            var scores: [Double] = []
            for f in c.files {
                let fold = crossValidated ? processFeatures.count % k : nil
                let s = try scoreFile(f, fold: fold)
                scores.append(s.score)
                processCalls.append(s.calls)
                groups[s.digest, default: (0, 0)].positives += 1
                processFeatures.append(s.features)
                scoredCalls += s.calls
                traces?(ScoredTrace(set: "attack", caseName: c.name, features: s.features, score: s.score, calls: s.calls, path: f,
                                    neighbours: s.nearest))
            }
            processScores += scores
            caseScores.append(scores.max() ?? 0)
            perCase.append(scores)
        }
        scoringTime += clock.now - start
        scoringCPU += processCPUSeconds() - cpuStart

        let t01 = ROC.threshold(falseAlarmRate: 0.01, negatives: negatives)
        var cases: [EvaluationReport.CaseResult] = []
        for (c, scores) in zip(corpus.attacks, perCase) {
            let flagged = t01.map { t in scores.filter { $0 > t }.count } ?? 0
            cases.append(.init(name: c.name, processes: scores.count, score: scores.max() ?? 0,
                               detected: flagged > 0, processesFlagged: flagged))
        }
        var featureAUC: [String: Double?] = [:]
        if !stide {
            for (j, name) in TraceFeatures.names.enumerated() {
                featureAUC[name] = ROC.auc(positives: processFeatures.map { $0.values[j] }, negatives: negativeFeatures.map { $0.values[j] })
            }
        }
        let seconds = Double(scoringTime.components.seconds) + Double(scoringTime.components.attoseconds) * 1e-18
        var report = EvaluationReport(
            corpus: corpus.root, scoring: detector?.scoring ?? "stide", parameters: parameters,
            train: corpus.train.count, validation: corpus.validation?.count ?? 0,
            attack: processScores.count, attackCases: corpus.attacks.count,
            negatives: source, negativeCount: negatives.count,
            auc: ROC.auc(positives: processScores, negatives: negatives),
            drAtFar01: ROC.detectionRate(atFalseAlarmRate: 0.01, positives: processScores, negatives: negatives),
            drAtFar05: ROC.detectionRate(atFalseAlarmRate: 0.05, positives: processScores, negatives: negatives),
            farAtDr90: ROC.falseAlarmRate(atDetectionRate: 0.9, positives: processScores, negatives: negatives),
            aucCase: ROC.auc(positives: caseScores, negatives: negatives),
            drAtFar01Case: ROC.detectionRate(atFalseAlarmRate: 0.01, positives: caseScores, negatives: negatives),
            drAtFar05Case: ROC.detectionRate(atFalseAlarmRate: 0.05, positives: caseScores, negatives: negatives),
            farAtDr90Case: ROC.falseAlarmRate(atDetectionRate: 0.9, positives: caseScores, negatives: negatives),
            featureAUC: featureAUC,
            aucCeiling: corpus.validation == nil ? nil : ROC.ceiling(groups: Array(groups.values)),
            validationKnown: corpus.validation == nil ? nil : groups[nil]?.negatives ?? 0,
            attackKnown: corpus.validation == nil ? nil : groups[nil]?.positives ?? 0,
            thresholdFar01: t01,
            casesDetected: cases.filter(\.detected).count, cases: cases,
            trainCalls: model.trainedCalls, scoredCalls: scoredCalls,
            syscallsPerSecond: seconds > 0 ? Double(scoredCalls) / seconds : 0,
            modelBytes: detector?.memoryBytes ?? model.memoryBytes)
        report.syscallsPerCPUSecond = scoringCPU > 0 ? Double(scoredCalls) / scoringCPU : 0
        report.poolBimodality = detector?.poolBimodality
        report.aucByLength = lengthTerciles(negatives: zip(negatives, negativeCalls).map { ($0, $1) },
                                            positives: zip(processScores, processCalls).map { ($0, $1) })
        return report
    }

    /// The per-trace AUC within each third of all scored traces by length. Cut points are the
    /// lengths at the 1/3 and 2/3 ranks of the pooled traces; a third holds the lengths from
    /// its lower cut (exclusive, for the second and third) to its upper cut (inclusive), so
    /// traces of one length stay together and a third can be empty when lengths tie.
    public static func lengthTerciles(negatives: [(score: Double, calls: Int)], positives: [(score: Double, calls: Int)]) -> [EvaluationReport.LengthTercile] {
        let lengths = (negatives.map(\.calls) + positives.map(\.calls)).sorted()
        guard !lengths.isEmpty else { return [] }
        let cuts = [lengths[(lengths.count - 1) / 3], lengths[(2 * (lengths.count - 1)) / 3]]
        func third(_ calls: Int) -> Int { calls <= cuts[0] ? 0 : calls <= cuts[1] ? 1 : 2 }
        return (0..<3).map { t in
            let neg = negatives.filter { third($0.calls) == t }, pos = positives.filter { third($0.calls) == t }
            let all = (neg + pos).map(\.calls)
            return .init(tercile: t + 1, minCalls: all.min() ?? 0, maxCalls: all.max() ?? 0,
                         negatives: neg.count, positives: pos.count,
                         auc: ROC.auc(positives: pos.map(\.score), negatives: neg.map(\.score)))
        }
    }

    /// CPU time (user and system) this process has used, in seconds (C's `clock()`).
    static func processCPUSeconds() -> Double {
        Double(clock()) / Double(CLOCKS_PER_SEC)
    }
}

extension Evaluation {
    /// The threshold that flags at most `falseAlarmRate` of the `normal` traces (held out
    /// from training), as ``ROC/threshold(falseAlarmRate:negatives:)`` defines it.
    public static func calibrate(_ model: SequenceModel, normal files: [String], falseAlarmRate: Double = 0.01) throws -> Double? {
        let scanner = SequenceScanner(model: model)
        let scores = try files.map { try score(path: $0, with: scanner).score }
        return ROC.threshold(falseAlarmRate: falseAlarmRate, negatives: scores)
    }
}

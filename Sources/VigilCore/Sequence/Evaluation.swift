/// The figures `vigil eval` reports for one corpus.
///
/// Negatives are normal processes (validation traces, each scored on its own). Positives
/// come in two granularities:
/// - **per case** (the headline `auc`, `dr_at_*`, `far_at_dr90`): one positive per attack
///   case, scored as the maximum over its processes. This is the corpus's own detection rule
///   (a case is caught when any of its processes is flagged) and is fair to cases that also
///   recorded processes which behaved normally.
/// - **per process** (`*_process`): every attack process is a positive, including those
///   normal-behaving ones, so it understates detection; it is the granularity most
///   published results use.
public struct EvaluationReport: Sendable, Codable {
    public var corpus: String
    /// `"surprise"` (the model) or `"stide"` (the classic baseline, for comparison).
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

    public var auc: Double?
    public var drAtFar01: Double?
    public var drAtFar05: Double?
    public var farAtDr90: Double?
    public var aucProcess: Double?
    public var drAtFar01Process: Double?
    public var drAtFar05Process: Double?
    public var farAtDr90Process: Double?
    /// The score above which a trace is flagged at 1% false alarms (bits per call).
    public var thresholdFar01: Double?
    /// Cases with at least one process above ``thresholdFar01``.
    public var casesDetected: Int
    public var cases: [CaseResult]

    public var trainCalls: Int
    public var scoredCalls: Int
    /// Calls read, parsed and scored per second (validation and attack, one core).
    public var syscallsPerSecond: Double
    public var modelBytes: Int

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
        case aucProcess = "auc_process"
        case drAtFar01Process = "dr_at_far01_process"
        case drAtFar05Process = "dr_at_far05_process"
        case farAtDr90Process = "far_at_dr90_process"
        case thresholdFar01 = "threshold_far01"
        case casesDetected = "cases_detected"
        case cases
        case trainCalls = "train_calls"
        case scoredCalls = "scored_calls"
        case syscallsPerSecond = "syscalls_per_second"
        case modelBytes = "model_bytes"
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
        try c.encode(aucProcess, forKey: .aucProcess)
        try c.encode(drAtFar01Process, forKey: .drAtFar01Process)
        try c.encode(drAtFar05Process, forKey: .drAtFar05Process)
        try c.encode(farAtDr90Process, forKey: .farAtDr90Process)
        try c.encode(thresholdFar01, forKey: .thresholdFar01)
        try c.encode(casesDetected, forKey: .casesDetected)
        try c.encode(cases, forKey: .cases)
        try c.encode(trainCalls, forKey: .trainCalls)
        try c.encode(scoredCalls, forKey: .scoredCalls)
        try c.encode(syscallsPerSecond, forKey: .syscallsPerSecond)
        try c.encode(modelBytes, forKey: .modelBytes)
    }
}

/// Offline evaluation of the sequence model on a labelled ``Corpus``.
public enum Evaluation {
    /// Trains a model on every trace in `files`.
    public static func train(files: [String], parameters: SequenceModel.Parameters = .standard) throws -> SequenceModel {
        var trainer = SequenceTrainer(parameters: parameters)
        for f in files {
            try TraceReader.read(path: f) { trainer.feed($0) }
            trainer.endTrace()
        }
        return trainer.model()
    }

    /// Scores one trace file from start to end.
    public static func score(path: String, with scanner: SequenceScanner) throws -> TraceScore {
        do {
            try TraceReader.read(path: path) { scanner.feed($0) }
        } catch {
            scanner.reset()
            throw error
        }
        return scanner.finish()
    }

    /// Learns from `train`, scores validation and attack traces, and computes the figures.
    /// Without a validation directory, negatives come from `k`-fold cross-validation over
    /// the train traces (k = min(5, train count)); with fewer than two train traces there
    /// are none and the rate figures are nil.
    /// - Throws: ``TraceInputError`` for unreadable or malformed traces, or no attack cases.
    /// - Parameter stide: score with classic STIDE mismatches instead (a baseline to compare with).
    public static func run(corpus: Corpus, parameters: SequenceModel.Parameters = .standard, stide: Bool = false) throws -> EvaluationReport {
        guard !corpus.train.isEmpty else {
            throw TraceInputError(path: corpus.root + "/train", reason: .missingDirectory("no trace files in it"))
        }
        guard !corpus.attacks.isEmpty else {
            throw TraceInputError(path: corpus.root, reason: .missingDirectory("no attack/ or Attack_Data_Master/ with traces"))
        }
        let model = try train(files: corpus.train, parameters: parameters)
        let scanner = SequenceScanner(model: model, stide: stide)
        let clock = ContinuousClock()
        var scoredCalls = 0
        var scoringTime = Duration.zero

        var negatives: [Double] = []
        let source: String
        if let validation = corpus.validation {
            source = "validation"
            let start = clock.now
            for f in validation {
                let s = try score(path: f, with: scanner)
                negatives.append(s.score)
                scoredCalls += s.calls
            }
            scoringTime += clock.now - start
        } else if corpus.train.count >= 2 {
            let k = min(5, corpus.train.count)
            source = "cross-validation (\(k) folds over train; no validation directory)"
            for fold in 0..<k {
                let held = corpus.train.indices.filter { $0 % k == fold }.map { corpus.train[$0] }
                let rest = corpus.train.indices.filter { $0 % k != fold }.map { corpus.train[$0] }
                let foldScanner = SequenceScanner(model: try train(files: rest, parameters: parameters), stide: stide)
                for f in held { negatives.append(try score(path: f, with: foldScanner).score) }
            }
        } else {
            source = "none (no validation directory and fewer than two train traces)"
        }

        var processScores: [Double] = []
        var caseScores: [Double] = []
        var perCase: [[Double]] = []
        let start = clock.now
        for c in corpus.attacks {
            var scores: [Double] = []
            for f in c.files {
                let s = try score(path: f, with: scanner)
                scores.append(s.score)
                scoredCalls += s.calls
            }
            processScores += scores
            caseScores.append(scores.max() ?? 0)
            perCase.append(scores)
        }
        scoringTime += clock.now - start

        let t01 = ROC.threshold(falseAlarmRate: 0.01, negatives: negatives)
        var cases: [EvaluationReport.CaseResult] = []
        for (c, scores) in zip(corpus.attacks, perCase) {
            let flagged = t01.map { t in scores.filter { $0 > t }.count } ?? 0
            cases.append(.init(name: c.name, processes: scores.count, score: scores.max() ?? 0,
                               detected: flagged > 0, processesFlagged: flagged))
        }
        let seconds = Double(scoringTime.components.seconds) + Double(scoringTime.components.attoseconds) * 1e-18
        return EvaluationReport(
            corpus: corpus.root, scoring: stide ? "stide" : "surprise", parameters: parameters,
            train: corpus.train.count, validation: corpus.validation?.count ?? 0,
            attack: processScores.count, attackCases: corpus.attacks.count,
            negatives: source, negativeCount: negatives.count,
            auc: ROC.auc(positives: caseScores, negatives: negatives),
            drAtFar01: ROC.detectionRate(atFalseAlarmRate: 0.01, positives: caseScores, negatives: negatives),
            drAtFar05: ROC.detectionRate(atFalseAlarmRate: 0.05, positives: caseScores, negatives: negatives),
            farAtDr90: ROC.falseAlarmRate(atDetectionRate: 0.9, positives: caseScores, negatives: negatives),
            aucProcess: ROC.auc(positives: processScores, negatives: negatives),
            drAtFar01Process: ROC.detectionRate(atFalseAlarmRate: 0.01, positives: processScores, negatives: negatives),
            drAtFar05Process: ROC.detectionRate(atFalseAlarmRate: 0.05, positives: processScores, negatives: negatives),
            farAtDr90Process: ROC.falseAlarmRate(atDetectionRate: 0.9, positives: processScores, negatives: negatives),
            thresholdFar01: t01,
            casesDetected: cases.filter(\.detected).count, cases: cases,
            trainCalls: model.trainedCalls, scoredCalls: scoredCalls,
            syscallsPerSecond: seconds > 0 ? Double(scoredCalls) / seconds : 0,
            modelBytes: model.memoryBytes)
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

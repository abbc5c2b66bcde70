import Foundation

/// A corpus scored with the context live Vigil has and a bare trace lacks: which program
/// made each trace (`vigil eval --context`, on a corpus `vigil record` wrote).
///
/// **Without context** one model learns every training trace and scores every other trace,
/// as public corpora force (``Evaluation``). **With context** each program's traces are
/// scored by a model of that program's training traces only, as the live agent judges a
/// process against its own profile, and a trace of a program no training trace ran is
/// flagged outright (live: an unknown executable, or a new program its parent never ran).
/// Both are computed here on the same traces with the same views (``TraceCombination``), so
/// the figures differ only by the context. The combined score is a sum of `-ln p` against
/// each model's own normal traces, so scores of different programs' models compare.
public struct ContextEvaluation: Sendable, Codable {
    public struct Figures: Sendable, Codable {
        public var auc: Double?
        public var drAtFar01: Double?
        public var farAtDr90: Double?
        public var casesDetected: Int
    }

    /// Programs with training traces.
    public var programs: Int
    public var negatives: Int
    public var positives: Int
    public var cases: Int
    /// Validation and attack traces of programs no training trace ran (flagged outright with context).
    public var unknownProgramNegatives: Int
    public var unknownProgramPositives: Int
    /// Traces the context file does not describe (scored as one unnamed program).
    public var traceWithoutContext: Int
    public var withContext: Figures
    public var withoutContext: Figures

    /// Reads `context.jsonl` (``CorpusRecorder/contextFile``) under `root`: each trace's
    /// path (absolute) and executable.
    /// - Throws: ``TraceInputError`` naming the file and line when it is missing or malformed.
    public static func loadContext(root: String) throws -> [String: String] {
        let path = root + "/" + CorpusRecorder.contextFile
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TraceInputError(path: path, reason: .unreadable("no context file: record the corpus with `vigil record`"))
        }
        var out: [String: String] = [:]
        for (i, line) in data.split(separator: UInt8(ascii: "\n")).enumerated() where !line.isEmpty {
            guard let o = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any],
                  let trace = o["trace"] as? String, let exe = o["executable"] as? String else {
                throw TraceInputError(path: path, reason: .badManifest("line \(i + 1): expected a JSON object with \"trace\" and \"executable\""))
            }
            out[root + "/" + trace] = exe
        }
        return out
    }

    public static func run(corpus: Corpus, context: [String: String], parameters: SequenceModel.Parameters = .standard,
                           combination: TraceCombination = .standard) throws -> ContextEvaluation {
        let parameters = corpus.parameters(parameters)
        guard let validation = corpus.validation, !validation.isEmpty else {
            throw TraceInputError(path: corpus.root + "/validation", reason: .missingDirectory("--context needs validation traces"))
        }
        guard !corpus.attacks.isEmpty else {
            throw TraceInputError(path: corpus.root, reason: .missingDirectory("no attack/ with traces"))
        }
        var unnamed = 0
        func program(_ path: String) -> String {
            if let p = context[path] { return p }
            unnamed += 1
            return "?"
        }
        let train = try corpus.train.map { (program($0), try TraceReader.readAll(path: $0)) }
        let all = TraceDetector(train: train.map(\.1), parameters: parameters, combination: combination)
        var byProgram: [String: TraceDetector] = [:]
        for (p, traces) in Dictionary(grouping: train, by: \.0) {
            byProgram[p] = TraceDetector(train: traces.map(\.1), parameters: parameters, combination: combination)
        }
        let flagged = Double.greatestFiniteMagnitude
        var unknownNegatives = 0, unknownPositives = 0
        func scores(_ path: String, positive: Bool) throws -> (with: Double, without: Double) {
            let trace = try TraceReader.readAll(path: path)
            let without = all.combineLastMeasured(all.measure(trace).features).score
            guard let d = byProgram[program(path)] else {
                if positive { unknownPositives += 1 } else { unknownNegatives += 1 }
                return (flagged, without)
            }
            return (d.combineLastMeasured(d.measure(trace).features).score, without)
        }
        var negWith: [Double] = [], negWithout: [Double] = []
        for v in validation {
            let s = try scores(v, positive: false)
            negWith.append(s.with); negWithout.append(s.without)
        }
        var posWith: [Double] = [], posWithout: [Double] = []
        var caseWith: [Double] = [], caseWithout: [Double] = []
        for c in corpus.attacks {
            var w = -Double.infinity, wo = -Double.infinity
            for f in c.files {
                let s = try scores(f, positive: true)
                posWith.append(s.with); posWithout.append(s.without)
                w = max(w, s.with); wo = max(wo, s.without)
            }
            caseWith.append(w); caseWithout.append(wo)
        }
        func figures(_ pos: [Double], _ neg: [Double], _ cases: [Double]) -> Figures {
            let t = ROC.threshold(falseAlarmRate: 0.01, negatives: neg)
            return Figures(auc: ROC.auc(positives: pos, negatives: neg),
                           drAtFar01: ROC.detectionRate(atFalseAlarmRate: 0.01, positives: pos, negatives: neg),
                           farAtDr90: ROC.falseAlarmRate(atDetectionRate: 0.9, positives: pos, negatives: neg),
                           casesDetected: t.map { t in cases.filter { $0 > t }.count } ?? 0)
        }
        return ContextEvaluation(programs: byProgram.count, negatives: negWith.count, positives: posWith.count, cases: caseWith.count,
                                 unknownProgramNegatives: unknownNegatives, unknownProgramPositives: unknownPositives,
                                 traceWithoutContext: unnamed,
                                 withContext: figures(posWith, negWith, caseWith), withoutContext: figures(posWithout, negWithout, caseWithout))
    }
}

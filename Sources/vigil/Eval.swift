import ArgumentParser
import Foundation
import VigilCore

/// Options that fix the sequence model before training; shared by eval and replay.
struct ModelOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Longest n-gram the model keeps (also the kernel map's n-gram length).", visibility: .hidden))
    var ngram: Int = SequenceModel.Parameters.standard.ngramLength

    @Option(help: ArgumentHelp("Calls per scoring window (locality frame).", visibility: .hidden))
    var window: Int = SequenceModel.Parameters.standard.windowLength

    @Option(name: .customLong("common-bits"), help: ArgumentHelp("Calls costing at most this many bits are ordinary.", visibility: .hidden))
    var commonBits: Double = SequenceModel.Parameters.standard.commonBits

    var parameters: SequenceModel.Parameters {
        .init(ngramLength: ngram, windowLength: window, commonBits: commonBits)
    }

    func validate() throws {
        guard (1...SequenceModel.Parameters.maxNgramLength).contains(ngram) else {
            throw ValidationError("--ngram must be between 1 and \(SequenceModel.Parameters.maxNgramLength)")
        }
        guard (1...SequenceModel.Parameters.maxWindowLength).contains(window) else {
            throw ValidationError("--window must be between 1 and \(SequenceModel.Parameters.maxWindowLength)")
        }
        guard commonBits >= 0, commonBits.isFinite else { throw ValidationError("--common-bits must be a finite number >= 0") }
    }
}

/// Turns bad input into exit code 2 with the message on stderr; anything else is a runtime failure.
func exitForInput(_ error: any Error) -> any Error {
    if let e = error as? TraceInputError {
        FileHandle.standardError.write(Data("error: \(e)\n".utf8))
        return ExitCode(2)
    }
    return error
}

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Learn from a corpus's normal traces and measure how well attacks stand out.",
        discussion: """
        CORPUS holds train/, validation/ and attack/<case>/ (or Training_Data_Master, \
        Validation_Data_Master, Attack_Data_Master), any depth below; each file is one \
        process: its syscall numbers in order, separated by white space.

        Score: each process (file) is measured against what the normal processes of \
        train/ taught on three views. Order: the fraction of its distinct 2..6-grams of \
        calls never seen in training. New calls: the number of distinct syscall numbers \
        never seen in training. Mix: the cosine distance of its bag of 1- and 2-grams \
        (sublinear tf x idf) to the nearest training process. Each value is turned into a \
        surprise, -ln p, where p is the share of normal processes (train/, cross-validated \
        in 5 folds so that none is judged by a model that learned it) reaching at least \
        that value, the process itself counted in; the score is the sum of the surprises \
        (Fisher's method), so a process is as anomalous as the evidence of the views \
        together. The views were chosen by leave-one-corpus-out (docs/eval.md); --scoring \
        picks another set. With fewer than two train processes there is no normal \
        variation to measure, and the score falls back to two tiers: 1 plus the novel \
        fraction when anything is novel, else the mean of 1 / (1 + training count) over \
        its distinct 2..6-grams. Also measured and reported alone (feature_auc): the \
        densest 20-call window of surprising calls (the score the live detector streams), \
        the mean surprise per call, the same under an interpolated Witten-Bell model \
        (smoothed_mean), the novel fraction, the rarity of known n-grams, \
        never-seen syscalls, the neighbour distance, and the same per 100-call window \
        (neighbour_windows: the worst window against training windows, corrected for the \
        number of windows, so a long normal process is not far merely for its length). \
        A process is flagged when its \
        score is strictly above the threshold. Negatives are validation processes; without \
        validation/ they are the cross-validated train processes (said in the output), \
        and each attack process is then scored by one fold's model in turn, so both sides \
        face models that learned as much.

        Headline figures are per trace: every validation process is a negative, every \
        attack process a positive (attack cases also record processes that behaved \
        normally; they count as misses). Per case (auc_case, dr_at_far01_case, ...): one \
        positive per case scored as the maximum over its processes; cases_detected counts \
        cases with any process flagged at the 1% threshold. feature_auc gives each measure \
        alone.

        auc: ROC area, ties counted one half. dr_at_far01/05: fraction of attack traces \
        flagged at the threshold that flags at most 1%/5% of negatives. far_at_dr90: fraction \
        of negatives scoring at least as high as the attack trace that reaches 90% detection. \
        auc_ceiling: the highest per-trace auc any score could reach here, given that \
        identical traces must score alike and every copy of a training trace alike \
        (attack_known and validation_known count those copies); the gap between auc and \
        auc_ceiling is what a better model could still win on this corpus. \
        pool_bimodality (with a 'mixed:' scoring): the bimodality coefficient of the \
        distances between training traces, above 5/9 when the pool mixes kinds of work.
        """
    )

    @Argument(help: "The corpus directory.")
    var corpus: String

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    @Flag(help: "Also score each trace by a model of its own program's training traces (the program from the corpus's context.jsonl, as `vigil record` writes it), and print both.")
    var context = false

    @OptionGroup var model: ModelOptions

    @Flag(help: ArgumentHelp("Score with classic STIDE (unseen n-gram count in the worst window) for comparison.", visibility: .hidden))
    var stide = false

    @Option(help: ArgumentHelp("The views the trace score combines: names from feature_auc joined with '+' (mean_bits+rare_ngrams), prefixed by 'rank:' to join them by mean rank instead of Fisher's method, 'local:' to judge each trace against its nearest training traces only (by the neighbour view), 'both:' to count only what is surprising against both, 'sized:' for 'both:' in a pool of 50 training traces or more and Fisher's method below, 'mixed:' for 'both:' only in such a pool whose traces' distances are bimodal (pool_bimodality above 5/9); or novel_ngrams_and_neighbour, novel_then_rare_ngrams.", valueName: "name"))
    var scoring: String = TraceCombination.standard.name

    @Option(name: .customLong("dump-features"), help: ArgumentHelp("Write every scored trace's features as JSON lines to this file (for analysis).", visibility: .hidden))
    var dumpFeatures: String?

    @Option(help: ArgumentHelp("Also draw the per-trace ROC curve, with the chance line and the operating points of the figures above, to FILE: an SVG picture (FILE.svg) or its points as CSV (FILE.csv).", valueName: "file"))
    var roc: String?

    private var combination: TraceCombination { TraceCombination(name: scoring)! }

    func validate() throws {
        if let roc {
            guard roc.hasSuffix(".svg") || roc.hasSuffix(".csv") else {
                throw ValidationError("--roc: '\(roc)' must end in .svg (a picture) or .csv (the curve's points)")
            }
            if context { throw ValidationError("--roc draws one score's curve; it does not combine with --context") }
        }
        guard TraceCombination(name: scoring) != nil else {
            throw ValidationError("--scoring: unknown '\(scoring)'; use feature names (\(TraceFeatures.names.joined(separator: ", "))) joined with '+', optionally after 'fisher:', 'rank:', 'local:', 'both:', 'sized:' or 'mixed:', or novel_ngrams_and_neighbour, novel_then_rare_ngrams")
        }
    }

    func run() throws {
        if context { return try runWithContext() }
        let report: EvaluationReport
        var lines: [String] = []
        var scored: [(set: String, score: Double)] = []
        let hasValidation: Bool
        do {
            let c = try Corpus.load(at: corpus)
            if c.validation == nil && !json {
                FileHandle.standardError.write(Data("note: \(corpus) has no validation directory; negatives come from cross-validation over train\n".utf8))
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            hasValidation = c.validation != nil
            let sink: ((Evaluation.ScoredTrace) -> Void)? = dumpFeatures == nil && roc == nil ? nil : { t in
                if roc != nil { scored.append((t.set, t.score)) }
                if dumpFeatures != nil, let d = try? encoder.encode(t) { lines.append(String(decoding: d, as: UTF8.self)) }
            }
            report = try Evaluation.run(corpus: c, parameters: model.parameters, stide: stide, combination: combination, traces: sink)
        } catch {
            throw exitForInput(error)
        }
        if let path = dumpFeatures {
            try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: path))
        }
        if let roc { try writeROC(roc, report: report, scored: scored, negativeSet: hasValidation ? "validation" : "train") }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            printText(report)
        }
    }

    /// `--roc`: the curve of the traces the figures were computed on (negatives: validation,
    /// or the cross-validated train traces without it).
    private func writeROC(_ path: String, report: EvaluationReport, scored: [(set: String, score: Double)], negativeSet: String) throws {
        let negatives = scored.filter { $0.set == negativeSet }.map(\.score)
        let positives = scored.filter { $0.set == "attack" }.map(\.score)
        guard negatives.count == report.negativeCount, let curve = ROCCurve(positives: positives, negatives: negatives) else {
            FileHandle.standardError.write(Data("error: --roc: no curve for \(corpus): \(positives.count) attack traces, \(report.negativeCount) negatives from \(report.negatives)\n".utf8))
            throw ExitCode(1)
        }
        let auc = report.auc.map { String(format: "%.3f", $0) } ?? "n/a"
        let title = "\(URL(fileURLWithPath: corpus).lastPathComponent): \(report.scoring), per-trace AUC \(auc) (\(positives.count) attack, \(negatives.count) normal traces)"
        let text = path.hasSuffix(".svg") ? curve.svg(title: title) : curve.csv()
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        } catch {
            FileHandle.standardError.write(Data("error: --roc: cannot write \(path): \(error.localizedDescription)\n".utf8))
            throw ExitCode(2)
        }
    }

    /// `--context`: the same traces scored with and without knowing each trace's program.
    private func runWithContext() throws {
        let r: ContextEvaluation
        do {
            let c = try Corpus.load(at: corpus)
            r = try ContextEvaluation.run(corpus: c, context: try ContextEvaluation.loadContext(root: c.root),
                                          parameters: model.parameters, combination: combination)
        } catch {
            throw exitForInput(error)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(r), as: UTF8.self))
            return
        }
        func f(_ x: Double?) -> String { x.map { String(format: "%.3f", $0) } ?? "n/a" }
        print("corpus        \(corpus)")
        print("traces        validation \(r.negatives), attack \(r.positives) in \(r.cases) cases; \(r.programs) programs with training traces")
        print("unknown       \(r.unknownProgramNegatives) validation and \(r.unknownProgramPositives) attack traces of programs no training trace ran (flagged with context)")
        if r.traceWithoutContext > 0 { print("no context    \(r.traceWithoutContext) traces (scored as one unnamed program)") }
        print("")
        print("                   auc    dr_at_far01  far_at_dr90  cases at 1%")
        func pad(_ s: String, _ n: Int) -> String { s.padding(toLength: n, withPad: " ", startingAt: 0) }
        for (name, x) in [("one model", r.withoutContext), ("per program", r.withContext)] {
            let cells: [String] = [pad(name, 16), pad(f(x.auc), 9), pad(f(x.drAtFar01), 13), pad(f(x.farAtDr90), 13)]
            print(cells.joined() + "\(x.casesDetected) of \(r.cases)")
        }
    }

    private func printText(_ r: EvaluationReport) {
        func f(_ x: Double?) -> String { x.map { String(format: "%.3f", $0) } ?? "n/a" }
        print("corpus        \(r.corpus)")
        print("traces        train \(r.train), validation \(r.validation), attack \(r.attack) processes in \(r.attackCases) cases")
        print("negatives     \(r.negativeCount) from \(r.negatives)")
        print("scoring       \(r.scoring)")
        print("model         \(r.parameters.ngramLength)-grams, window \(r.parameters.windowLength), common <= \(r.parameters.commonBits) bits; \(r.modelBytes) bytes")
        print("")
        func row(_ name: String, _ trace: Double?, _ perCase: Double?) {
            print(name.padding(toLength: 15, withPad: " ", startingAt: 0) + f(trace).padding(toLength: 11, withPad: " ", startingAt: 0) + f(perCase))
        }
        print("               per trace  per case")
        row("auc", r.auc, r.aucCase)
        row("dr_at_far01", r.drAtFar01, r.drAtFar01Case)
        row("dr_at_far05", r.drAtFar05, r.drAtFar05Case)
        row("far_at_dr90", r.farAtDr90, r.farAtDr90Case)
        if let ceiling = r.aucCeiling {
            print("auc ceiling    \(f(ceiling))      (the best any score can reach here: identical traces score alike; \(r.attackKnown ?? 0) attack and \(r.validationKnown ?? 0) validation traces copy a training trace)")
        }
        if let b = r.poolBimodality {
            print("pool bimodality \(f(b))     (the training traces' distances; above \(f(TraceCombination.mixedBimodality)) the pool mixes kinds of work and 'mixed:' judges each trace against its nearest training traces too)")
        }
        if !r.featureAUC.isEmpty {
            let parts = TraceFeatures.names.map { "\($0) \(f(r.featureAUC[$0] ?? nil))" }
            print("auc per feature alone: " + parts.joined(separator: ", "))
        }
        print("")
        print("cases detected at the 1% threshold (score \(f(r.thresholdFar01))): \(r.casesDetected) of \(r.attackCases)")
        for c in r.cases {
            print("  \(c.detected ? "detected" : "missed  ")  \(c.name)  score \(f(c.score))  \(c.processesFlagged)/\(c.processes) processes flagged")
        }
        print("")
        print("speed         \(r.scoredCalls) calls scored, \(Int(r.syscallsPerSecond)) syscalls/s of wall time, \(Int(r.syscallsPerCPUSecond)) per CPU second (read, parse and score, one core)")
    }
}

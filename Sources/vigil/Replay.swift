import ArgumentParser
import Foundation
import VigilCore
#if canImport(Glibc)
import Glibc
#endif

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score recorded syscall traces against a sequence model and print the findings.",
        discussion: """
        TRACES are files or directories (searched at any depth) of syscall traces: one \
        process per file, its syscall numbers separated by white space.

        The model comes from --model (a file written by --save-model) or is trained from \
        --train: a corpus directory with train/ (and validation/, used to set the threshold \
        at 1% false alarms), or a directory of normal traces.

        For each trace: its score (the largest anomaly mass in any window of consecutive \
        calls, bits per call), whether it is flagged (score above the threshold), the \
        stretches of calls whose window score exceeded the threshold, and the first \
        anomalous calls with the n-gram that ended at each.
        """
    )

    @Argument(help: "Trace files or directories to score.")
    var traces: [String]

    @Option(help: "Train the model from this corpus or directory of normal traces.")
    var train: String?

    @Option(help: "Load the model from this file.")
    var model: String?

    @Option(help: "Flag traces scoring above this (bits per call). Default: the model's calibrated threshold.")
    var threshold: Double?

    @Option(name: .customLong("save-model"), help: "Write the trained model (with its threshold) to this file.")
    var saveModel: String?

    @Option(name: .customLong("max-anomalies"), help: "Anomalous calls to list per trace.")
    var maxAnomalies = 10

    @Flag(help: "Print one JSON object per trace (JSON lines).")
    var json = false

    @OptionGroup var modelOptions: ModelOptions

    func validate() throws {
        guard (train == nil) != (model == nil) else {
            throw ValidationError("give exactly one of --train DIR or --model FILE")
        }
        guard !traces.isEmpty else { throw ValidationError("give at least one trace file or directory") }
        guard maxAnomalies >= 0 else { throw ValidationError("--max-anomalies must be >= 0") }
        if let t = threshold, !(t.isFinite && t >= 0) { throw ValidationError("--threshold must be a finite number >= 0") }
    }

    func run() throws {
        var m: SequenceModel
        var files: [String] = []
        do {
            m = try loadModel()
            for t in traces { files += try Corpus.traceFiles(under: t) }
        } catch {
            throw exitForInput(error)
        }
        let limit = threshold ?? m.alertThreshold
        m.alertThreshold = limit
        if let saveModel { try writeAtomically(m, to: saveModel) }
        if limit == nil && !json {
            FileHandle.standardError.write(Data("note: no threshold (no validation traces to calibrate on); pass --threshold to flag traces\n".utf8))
        }
        let scanner = SequenceScanner(model: m, maxReported: maxAnomalies, threshold: limit, traceFeatures: false)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        var flaggedCount = 0
        for f in files {
            let s: TraceScore
            do { s = try Evaluation.score(path: f, with: scanner) } catch { throw exitForInput(error) }
            let flagged = limit.map { s.score > $0 } ?? false
            if flagged { flaggedCount += 1 }
            if json {
                let finding = Finding(trace: f, flagged: flagged, threshold: limit, result: s)
                print(String(decoding: try encoder.encode(finding), as: UTF8.self))
            } else {
                printText(f, s, flagged: flagged, hasThreshold: limit != nil)
            }
        }
        if !json {
            print("\(files.count) traces, \(flaggedCount) flagged" + (limit.map { String(format: " (threshold %.3f bits/call)", $0) } ?? ""))
        }
    }

    private func loadModel() throws -> SequenceModel {
        if let model {
            guard let data = FileManager.default.contents(atPath: model) else {
                throw TraceInputError(path: model, reason: .unreadable("no such file or not readable"))
            }
            do { return try JSONDecoder().decode(SequenceModel.self, from: data) } catch {
                FileHandle.standardError.write(Data("error: \(model): not a sequence model file: \(error)\n".utf8))
                throw ExitCode(2)
            }
        }
        let dir = train!
        if let corpus = try? Corpus.load(at: dir) {
            var m = try Evaluation.train(files: corpus.train, parameters: modelOptions.parameters)
            if let validation = corpus.validation, !validation.isEmpty {
                m.alertThreshold = try Evaluation.calibrate(m, normal: validation)
            }
            return m
        }
        return try Evaluation.train(files: try Corpus.traceFiles(under: dir), parameters: modelOptions.parameters)
    }

    private func printText(_ path: String, _ s: TraceScore, flagged: Bool, hasThreshold: Bool) {
        print("\(flagged ? "FLAGGED" : "ok     ") \(path)  score \(String(format: "%.3f", s.score)) bits/call  \(s.calls) calls, \(s.anomalousCalls) anomalous, peak window ends at call \(s.peakWindowEnd)")
        // Details for flagged traces, or for every trace when there is no threshold.
        guard flagged || !hasThreshold else { return }
        for w in s.flaggedWindows.prefix(10) {
            print("    window calls \(w.start)-\(w.end)  peak \(String(format: "%.3f", w.peak)) bits/call")
        }
        if s.flaggedWindows.count > 10 { print("    ... \(s.flaggedWindows.count - 10) more windows") }
        for a in s.anomalies {
            print("    call \(a.position)  \(String(format: "%.1f", a.bits)) bits  n-gram \(a.ngram.map(String.init).joined(separator: " "))")
        }
    }

    /// Temp file, fsync, rename: a crash leaves the old file or the new one, never a torn one.
    private func writeAtomically(_ m: SequenceModel, to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        let data = try encoder.encode(m)
        let temp = path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: temp, contents: nil),
              let handle = FileHandle(forWritingAtPath: temp) else {
            FileHandle.standardError.write(Data("error: \(path): cannot create \(temp)\n".utf8))
            throw ExitCode(1)
        }
        do {
            try handle.write(contentsOf: data)
            try handle.synchronize()
            try handle.close()
        } catch {
            try? FileManager.default.removeItem(atPath: temp)
            FileHandle.standardError.write(Data("error: \(path): \(error)\n".utf8))
            throw ExitCode(1)
        }
        guard rename(temp, path) == 0 else {
            try? FileManager.default.removeItem(atPath: temp)
            FileHandle.standardError.write(Data("error: \(path): rename failed (errno \(errno))\n".utf8))
            throw ExitCode(1)
        }
    }
}

/// One line of `vigil replay --json`.
struct Finding: Encodable {
    var trace: String
    var flagged: Bool
    var threshold: Double?
    var result: TraceScore
}

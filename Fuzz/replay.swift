// Fuzz target: what `vigil replay` reads that it did not write: a saved sequence model
// (--model FILE, JSON) and the trace it scores. Input: the model's bytes, optionally
// followed by a NUL byte and the trace's text (a fixed trace otherwise). A model that
// loads must score the trace without trapping, and the score must encode as JSON
// (what `replay --json` prints).
import Foundation
import VigilCore

let path = "/dev/shm/vigil-fuzz-replay-\(getpid())"
let fixedTrace = Data("5 3 5 3 90 91 4 5 6 1 2 3 3 3 3 5 4 11 12 13 1 1 1 1 2\n".utf8)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let split = bytes.firstIndex(of: 0)
    let modelBytes = Data(bytes[..<(split ?? bytes.count)])
    let trace = split.map { Data(bytes[($0 + 1)...]) } ?? fixedTrace
    guard let model = try? JSONDecoder().decode(SequenceModel.self, from: modelBytes) else { return 0 }
    guard FileManager.default.createFile(atPath: path, contents: trace) else { fatalError("cannot write \(path)") }
    let scanner = SequenceScanner(model: model, maxReported: 10, threshold: model.alertThreshold, traceFeatures: false)
    guard let score = try? Evaluation.score(path: path, with: scanner) else { return 0 }
    let encoder = JSONEncoder()
    encoder.keyEncodingStrategy = .convertToSnakeCase
    do { _ = try encoder.encode(score) } catch {
        fatalError("the score of a loaded model does not encode as JSON: \(error) (score \(score.score))")
    }
    return 0
}

import Foundation
import Testing
@testable import VigilCore

private func fixture(_ name: String) throws -> String {
    let url = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
    return url.appendingPathComponent(name).path
}

@Test func tinyCorpusEvaluation() throws {
    let corpus = try Corpus.load(at: try fixture("corpus-tiny"))
    #expect(corpus.train.count == 8)
    #expect(corpus.validation?.count == 5)
    #expect(corpus.attacks.map(\.name) == ["overflow", "reorder"])
    #expect(corpus.attacks[1].files.count == 1) // found at depth below the case directory

    let r = try Evaluation.run(corpus: corpus)
    #expect(r.train == 8 && r.validation == 5 && r.attack == 3 && r.attackCases == 2)
    #expect(r.negatives == "validation")
    #expect(r.auc == 1)
    #expect(r.drAtFar01 == 1 && r.drAtFar05 == 1 && r.farAtDr90 == 0)
    #expect(r.casesDetected == 2)
    // The overflow case recorded one process that behaved normally: per process it is a miss.
    let overflow = try #require(r.cases.first { $0.name == "overflow" })
    #expect(overflow.processes == 2 && overflow.processesFlagged == 1)
    #expect(r.drAtFar01Process == 2.0 / 3.0)
    #expect(r.scoredCalls > 0 && r.trainCalls > 0)

    let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(r)) as? [String: Any]
    for key in ["auc", "far_at_dr90", "dr_at_far01", "dr_at_far05", "train", "validation", "attack", "auc_process"] {
        #expect(json?[key] != nil, "missing \(key)")
    }
}

@Test func corpusWithoutValidationFallsBackToCrossValidation() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-cv-\(UUID())").path
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let src = try fixture("corpus-tiny")
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: src + "/train", toPath: dir + "/Training_Data_Master")
    try FileManager.default.copyItem(atPath: src + "/attack", toPath: dir + "/Attack_Data_Master")
    let corpus = try Corpus.load(at: dir)
    #expect(corpus.validation == nil)
    let r = try Evaluation.run(corpus: corpus)
    #expect(r.negatives.hasPrefix("cross-validation"))
    #expect(r.negativeCount == 8)
    #expect(r.auc != nil)
}

@Test func nonNumericTokenNamesFileLineAndToken() throws {
    let path = try temp("1 2 3\n4 5 6\n7 8x 9\n")
    let error = #expect(throws: TraceInputError.self) { try TraceReader.readAll(path: path) }
    #expect(error?.line == 3)
    #expect(error?.reason == .notANumber(token: "8x"))
    #expect(error?.description.contains(path) == true)
    #expect(error?.description.contains("'8x'") == true)
}

@Test func emptyFileIsAnError() throws {
    let path = try temp(" \n\n")
    let error = #expect(throws: TraceInputError.self) { try TraceReader.readAll(path: path) }
    #expect(error?.reason == .empty)
    #expect(error?.description.contains(path) == true)
}

@Test func missingDirectoriesAreErrors() throws {
    let error = #expect(throws: TraceInputError.self) { try Corpus.load(at: "/nonexistent/vigil-corpus") }
    #expect(error?.description.contains("/nonexistent/vigil-corpus") == true)
    let noTrain = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-empty-\(UUID())").path
    try FileManager.default.createDirectory(atPath: noTrain, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: noTrain) }
    let e2 = #expect(throws: TraceInputError.self) { try Corpus.load(at: noTrain) }
    #expect(e2?.description.contains("train") == true)
}

@Test func outOfRangeNumberIsAnError() throws {
    let path = try temp("1 4294967295\n")
    let error = #expect(throws: TraceInputError.self) { try TraceReader.readAll(path: path) }
    #expect(error?.line == 1)
}

@Test func largeFileIsStreamedAcrossChunkBoundaries() throws {
    // Numbers of varying width so some straddle the 64 KiB chunk edges; no trailing newline.
    let numbers = (0..<60_000).map { UInt32(($0 * 7919) % 100_003) }
    let path = try temp(numbers.map(String.init).joined(separator: " "))
    var chunks = 0
    var read: [UInt32] = []
    let count = try TraceReader.read(path: path) { chunks += 1; read.append(contentsOf: $0) }
    #expect(count == numbers.count)
    #expect(read == numbers)
    #expect(chunks > 3)
}

private func temp(_ text: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-\(UUID()).trace").path
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    return path
}

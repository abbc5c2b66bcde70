import Foundation
import Testing
import VigilTestSupport
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
    #expect(r.scoring == "novel_ngrams+novel_syscalls+neighbour")
    // Per case both intrusions stand out.
    #expect(r.aucCase == 1)
    #expect(r.drAtFar01Case == 1 && r.drAtFar05Case == 1 && r.farAtDr90Case == 0)
    #expect(r.casesDetected == 2)
    // The overflow case recorded one process that behaved normally: per trace (the
    // headline) it is a miss, so two of three attack traces are flagged.
    let overflow = try #require(r.cases.first { $0.name == "overflow" })
    #expect(overflow.processes == 2 && overflow.processesFlagged == 1)
    #expect(r.drAtFar01 == 2.0 / 3.0)
    #expect(try #require(r.auc) < 1)
    #expect(r.scoredCalls > 0 && r.trainCalls > 0)

    let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(r)) as? [String: Any]
    for key in ["auc", "far_at_dr90", "dr_at_far01", "dr_at_far05", "train", "validation", "attack", "auc_case", "cases_detected", "feature_auc", "auc_ceiling"] {
        #expect(json?[key] != nil, "missing \(key)")
    }
    #expect(json?["syscalls_per_cpu_second"] is Double)
    #expect(r.syscallsPerCPUSecond >= 0)
    let features = json?["feature_auc"] as? [String: Any]
    #expect(features?["rare_ngrams"] != nil)
}

/// Writes a corpus of in-memory traces to a temporary directory.
private func writeCorpus(train: [[UInt32]], validation: [[UInt32]]?, attacks: [String: [[UInt32]]]) throws -> String {
    let dir = try makeTempDirectory("vigil-corpus")
    func put(_ sub: String, _ traces: [[UInt32]]) throws {
        try FileManager.default.createDirectory(atPath: dir + "/" + sub, withIntermediateDirectories: true)
        for (i, t) in traces.enumerated() {
            try Data(t.map(String.init).joined(separator: " ").utf8).write(to: URL(fileURLWithPath: "\(dir)/\(sub)/\(i).trace"))
        }
    }
    try put("train", train)
    if let validation { try put("validation", validation) }
    for (name, traces) in attacks { try put("attack/" + name, traces) }
    return dir
}

private func requestTrace(_ seed: UInt64) -> [UInt32] {
    let shapes: [[UInt32]] = [[3, 3, 4, 6], [5, 3, 4, 6], [5, 197, 3, 3, 6, 4], [54, 3, 4]]
    var state = seed
    var t: [UInt32] = [59, 5, 90, 3, 6, 5, 3, 6]
    for _ in 0..<30 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        t += shapes[Int(state >> 33) % shapes.count]
    }
    return t + [6, 1]
}

@Test func digestFindsIdenticalTracesHoweverTheyAreRead() {
    let t: [UInt32] = [59, 3, 3, 4, 6, 0, 0, 1]
    var streamed = TraceDigest()
    t.withUnsafeBufferPointer { all in
        streamed.feed(UnsafeBufferPointer(rebasing: all[0..<3]))
        streamed.feed(UnsafeBufferPointer(rebasing: all[3...]))
    }
    #expect(streamed.value == TraceDigest(t).value)
    #expect(TraceDigest(t).value != TraceDigest(Array(t.reversed())).value)
    #expect(TraceDigest([0]).value != TraceDigest([0, 0]).value)
    #expect(TraceDigest([0]).value != TraceDigest([]).value)
}

@Test func perTraceAUCCountsEveryProcessAndTies() throws {
    let train = (0..<10).map { requestTrace(UInt64($0)) }
    // Validation holds two copies of a train trace; one attack process is a third copy
    // (identical file, identical score), the other a reversal of known calls.
    let reversed = Array(train[0].reversed())
    let dir = try writeCorpus(train: train, validation: [train[0], train[0]],
                              attacks: ["a": [train[0], reversed]])
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let r = try Evaluation.run(corpus: try Corpus.load(at: dir))
    // Pairs (positive, negative): the copy ties both negatives (2 × 1/2), the reversal beats
    // both (2 × 1): AUC = 3/4. Per case, the case scores as its reversal: 1.
    #expect(r.attack == 2 && r.negativeCount == 2)
    #expect(r.auc == 0.75)
    #expect(r.aucCase == 1)
    // Half the attack traces flagged at 1% false alarms, but the case is detected.
    #expect(r.drAtFar01 == 0.5)
    #expect(r.casesDetected == 1)
    // 90% detection needs the copy too, which ties every negative: all are false alarms.
    #expect(r.farAtDr90 == 1)
    // No score does better: the copy of a training trace cannot be told from the two
    // validation copies.
    #expect(r.attackKnown == 1 && r.validationKnown == 2)
    #expect(r.aucCeiling == 0.75)
}

@Test func anAbnormalMixOfKnownCallsOutranksNormalProcesses() throws {
    // Normal processes mix two request shapes; every attack process uses only known n-grams
    // (no view of order sees anything), but one shape looped two hundred times: a brute-force
    // session, a scan. The mix view sees it, and the score ranks it above every normal one.
    let a: [UInt32] = [3, 3, 4, 6], b: [UInt32] = [5, 197, 4, 6]
    func trace(_ shapes: [[UInt32]]) -> [UInt32] { [59] + shapes.joined() + [1] }
    func mixed(_ i: Int) -> [UInt32] { trace((0..<(6 + i % 5)).map { $0 % 2 == 0 ? a : ($0 % 3 == 0 ? b : a) } + [b, a]) }
    let train = (0..<20).map(mixed)
    let validation = (20..<30).map(mixed)
    let loops = (0..<3).map { i in trace([a, a, a, b] + Array(repeating: b, count: 200 + i) + [a]) }
    let dir = try writeCorpus(train: train, validation: validation, attacks: ["loop": loops])
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let r = try Evaluation.run(corpus: try Corpus.load(at: dir))
    #expect(r.scoring == "novel_ngrams+novel_syscalls+neighbour")
    #expect(r.featureAUC["novel_ngrams"]! == 0.5)  // nothing novel anywhere: every process ties
    #expect(r.featureAUC["neighbour"]! == 1)
    #expect(r.auc == 1)
    #expect(r.casesDetected == 1)
    // Both views and their tables are measured (the neighbour index is part of the model).
    #expect(r.featureAUC.keys.sorted() == TraceFeatures.names.sorted())
}

@Test func corpusWithoutValidationFallsBackToCrossValidation() throws {
    let dir = try makeTempDirectory("vigil-cv")
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
    #expect(r.aucCeiling == nil)  // negatives are training traces: no ceiling to state
}

@Test func withoutValidationAttacksFaceTheFoldModelsTheNegativesFaced() throws {
    // Four distinct training processes, four folds; the attack case replays each of them.
    // Attack process j is scored by fold j's model, the one that scored train trace j, so
    // each copy scores exactly as its negative: the two sides are the same, AUC 1/2. (Scored
    // by the model of all train traces instead, every copy would look perfectly known and
    // rank below every cross-validated negative.)
    let train = (0..<4).map { requestTrace(UInt64($0) &* 7919) }
    for stide in [false, true] {
        let dir = try writeCorpus(train: train, validation: nil, attacks: ["replay": train])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try Evaluation.run(corpus: try Corpus.load(at: dir), stide: stide)
        #expect(r.negatives.hasPrefix("cross-validation (4 folds"))
        #expect(r.negativeCount == 4 && r.attack == 4)
        #expect(r.auc == 0.5, "stide: \(stide)")
    }
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
    let noTrain = try makeTempDirectory("vigil-empty")
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

private func temp(_ text: String) throws -> String { try makeTempFile(text, extension: "trace") }

@Test func aucByLengthTercileJudgesTracesAgainstTracesOfTheirOwnLength() throws {
    // A score that only grows with length: perfect overall when attacks are long, but
    // within each third by length it is judged against traces of similar length.
    let neg = [(1.0, 10), (2.0, 20), (3.0, 30), (10.0, 100), (20.0, 200), (30.0, 300)]
    let pos = [(1.5, 15), (25.0, 250), (29.0, 290)]
    let rows = Evaluation.lengthTerciles(negatives: neg.map { ($0.0, $0.1) }, positives: pos.map { ($0.0, $0.1) })
    #expect(rows.map(\.tercile) == [1, 2, 3])
    #expect(rows.map(\.negatives).reduce(0, +) == 6 && rows.map(\.positives).reduce(0, +) == 3)
    #expect(rows[0].minCalls == 10 && rows[0].maxCalls == 20)   // cut at rank 8/3 -> the 3rd length (20)
    #expect(rows[0].auc == 0.5)                                  // 15 sits between 10 and 20
    #expect(rows[2].maxCalls == 300)
    #expect(Evaluation.lengthTerciles(negatives: [], positives: []).isEmpty)
    let onlyNeg = Evaluation.lengthTerciles(negatives: [(1, 5), (2, 6), (3, 7)], positives: [])
    #expect(onlyNeg.allSatisfy { $0.auc == nil })
    // eval reports it in --json.
    let data = try JSONEncoder().encode(rows[0])
    let obj = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    #expect(Set(obj.keys) == ["tercile", "min_calls", "max_calls", "negatives", "positives", "auc"])
}

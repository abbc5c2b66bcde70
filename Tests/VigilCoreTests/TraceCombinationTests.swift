import Foundation
import Testing
import VigilTestSupport
@testable import VigilCore

/// A toy service: after a fixed start, requests of a few known shapes in random order; `requests`
/// sets its length.
private func service(_ seed: Int, requests: Int) -> [UInt32] {
    let shapes: [[UInt32]] = [[3, 3, 4, 6], [5, 3, 4, 6], [5, 197, 3, 3, 6, 4], [54, 3, 4]]
    var rng = SplitMix(seed: UInt64(seed) &+ 1000)
    var t: [UInt32] = [59, 5, 90, 3, 6, 5, 3, 6]
    for _ in 0..<requests { t += shapes[Int(rng.next() % UInt64(shapes.count))] }
    return t + [6, 1]
}

@Test func theDefaultIsTheLeaveOneCorpusOutChoiceAndNamesParse() {
    #expect(TraceCombination.standard.name == "novel_ngrams+novel_syscalls+neighbour")
    // Any order, repeats folded; the name is in TraceFeatures.names order.
    #expect(TraceCombination(name: "neighbour+novel_ngrams+novel_syscalls+neighbour") == .standard)
    #expect(TraceCombination(name: "mean_bits+rare_ngrams")?.name == "mean_bits+rare_ngrams")
    #expect(TraceCombination(name: "novel_ngrams_and_neighbour") == .novelNgramsAndNeighbour)
    #expect(TraceCombination(name: "novel_then_rare_ngrams") == .twoTier)
    #expect(TraceCombination(name: "mean_bits+bogus") == nil)
    #expect(TraceCombination(name: "") == nil)
    // Without calibration, combinations with novel n-grams fall back to the two-tier score.
    #expect(TraceCombination.standard.fallbackName == "novel_then_rare_ngrams")
    #expect(TraceCombination(name: "mean_bits+neighbour")?.fallbackName == "mean_bits")
}

@Test func everyCombinationRisesWithEachViewAndNeverFalls() {
    // Random calibrations and features: raising one view's value never lowers any
    // combination's score, and past every normal value it still raises it (the tie-breaker).
    var rng = SplitMix(seed: 42)
    func u() -> Double { Double(rng.next() % 1_000_000) / 1_000_000 }
    let names = TraceFeatures.names
    let n = 25
    let calibration = names.indices.map { _ in (0..<n).map { _ in u() < 0.3 ? 0 : u() }.sorted() }
    let combos = (1..<(1 << names.count)).map { mask in
        TraceCombination(views: names.indices.filter { mask & (1 << $0) != 0 }.map { names[$0] })!
    }
    func features(_ v: [Double]) -> TraceFeatures {
        TraceFeatures(window: v[0], meanBits: v[1], novelNgrams: v[2], novelSyscalls: v[3], neighbourDistance: v[4], rareNgrams: v[5])
    }
    for _ in 0..<200 {
        var base = names.indices.map { _ in u() }
        let view = Int(rng.next() % UInt64(names.count))
        let beyond = rng.next() % 2 == 0  // past every normal value (all below 1)
        if beyond { base[view] += 1 }
        var up = base
        up[view] += u() + 1e-3
        for c in combos {
            let a = c.score(features(base), calibration: calibration), b = c.score(features(up), calibration: calibration)
            #expect(b >= a, "\(c) fell when \(names[view]) rose")
            if c.views.contains(view) && beyond { #expect(b > a, "\(c) ignored \(names[view]) past every normal value") }
        }
    }
    // A view outside the combination does not move it.
    let s = TraceCombination.standard
    #expect(s.score(features([9, 9, 0, 0, 0, 9]), calibration: calibration) == 0)
}

@Test func aLongNormalTraceDoesNotOutscoreAShortAnomalousOne() throws {
    // Normal processes of ordinary lengths (20 to 80 requests), one of 2,000 requests (about
    // 9,000 calls: longer than every training trace), and short anomalous ones: a normal start
    // then a never-seen call, or the known calls in a new order.
    let train = (0..<30).map { service($0, requests: 20 + 2 * $0) }
    let detector = TraceDetector(train: train)
    #expect(detector.scoring == "novel_ngrams+novel_syscalls+neighbour")
    func score(_ t: [UInt32]) -> Double { detector.combine(detector.measure(t).features) }
    let long = service(500, requests: 2000)
    let normals = (100..<120).map { score(service($0, requests: 20 + $0 % 60)) }
    let shortNovelCall = Array(service(600, requests: 3).dropLast(2)) + [999, 3, 4, 6, 1]
    let shortReordered: [UInt32] = [59, 5, 90, 3, 6, 5, 3, 6, 4, 3, 197, 5, 6, 54, 6, 1]
    #expect(score(long) < score(shortNovelCall))
    #expect(score(long) < score(shortReordered))
    // Not yet true: a normal trace far longer than any training one scores above every normal
    // one of ordinary length (2.34 against at most 1.64 here), though below the short
    // anomalous ones. Which view grows with length is not yet measured (docs/eval.md, open).
    withKnownIssue("a much longer normal trace outscores ordinary-length normal ones") {
        #expect(score(long) <= normals.max()!)
        let growing = [50, 500, 5000].map { score(service(700, requests: $0)) }
        #expect(growing.allSatisfy { $0 <= normals.max()! })
    }
}

@Test func evalScoresWithTheNamedCombination() throws {
    // The same corpus under the default and under --scoring's choice: the report says which.
    let dir = try makeTempDirectory("vigil-combo")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    func put(_ sub: String, _ traces: [[UInt32]]) throws {
        try FileManager.default.createDirectory(atPath: dir + "/" + sub, withIntermediateDirectories: true)
        for (i, t) in traces.enumerated() {
            try Data(t.map(String.init).joined(separator: " ").utf8).write(to: URL(fileURLWithPath: "\(dir)/\(sub)/\(i).trace"))
        }
    }
    try put("train", (0..<20).map { service($0, requests: 30) })
    try put("validation", (20..<30).map { service($0, requests: 30) })
    try put("attack/a", [Array(service(40, requests: 5).dropLast(2)) + [999, 998, 1]])
    let corpus = try Corpus.load(at: dir)
    let standard = try Evaluation.run(corpus: corpus)
    #expect(standard.scoring == "novel_ngrams+novel_syscalls+neighbour" && standard.auc == 1)
    let mean = try Evaluation.run(corpus: corpus, combination: TraceCombination(name: "mean_bits")!)
    #expect(mean.scoring == "mean_bits")
    #expect(mean.auc == standard.featureAUC["mean_bits"]!)
}

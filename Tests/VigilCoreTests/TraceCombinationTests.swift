import Foundation
import Testing
import VigilTestSupport
@testable import VigilCore

/// A toy service: after a fixed start, requests of a few known shapes in random order; `requests`
/// sets its length.
private func service(_ seed: Int, requests: Int) -> [UInt32] {
    let shapes: [[UInt32]] = [[3, 3, 4, 6], [5, 3, 4, 6], [5, 197, 3, 3, 6, 4], [54, 3, 4]]
    var rng = SplitMix64(seed: UInt64(seed) &+ 1000)
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

@Test func theRankCombinerParsesAndScoresAsHandWorked() throws {
    #expect(TraceCombination(name: "rank:neighbour+novel_ngrams")?.name == "rank:novel_ngrams+neighbour")
    #expect(TraceCombination(name: "fisher:novel_ngrams+novel_syscalls+neighbour") == .standard)
    #expect(TraceCombination(name: "bogus:novel_ngrams") == nil)
    #expect(TraceCombination(name: "rank:") == nil)
    // Four normal values per view; a process at 0.25 on novel_ngrams (one normal value at or
    // above it: p = 2/5) and 0.5 on neighbour (none: p = 1/5).
    var cal: [[Double]] = Array(repeating: [0, 0, 0, 0], count: TraceFeatures.names.count)
    cal[2] = [0, 0.1, 0.2, 0.3]
    cal[4] = [0, 0.1, 0.2, 0.3]
    let f = TraceFeatures(window: 0, meanBits: 0, novelNgrams: 0.25, novelSyscalls: 0, neighbourDistance: 0.5)
    let tie = 1e-3 / 5 * (0.25 / 0.55 + 0.5 / 0.8)
    let rank = try #require(TraceCombination(name: "rank:novel_ngrams+neighbour"))
    let fisher = try #require(TraceCombination(name: "novel_ngrams+neighbour"))
    #expect(abs(rank.score(f, calibration: cal) - (1 - (0.4 + 0.2) / 2 + tie / 2)) < 1e-12)
    #expect(abs(fisher.score(f, calibration: cal) - (log(2.5) + log(5) + tie)) < 1e-12)
    // The mean rank bounds each view. Nine normal values 0, 0.1, ..., 0.8 per view: one view
    // beyond all (p = 1/10) with the other ordinary (0.05: p = 9/10) against both at 0.55
    // (p = 4/10 each). Mean rank: 0.5 below 0.6; Fisher: ln 10 + ln(10/9) = 2.41 above
    // 2 ln 2.5 = 1.83.
    var cal9 = cal
    cal9[2] = (0..<9).map { Double($0) / 10 }
    cal9[4] = cal9[2]
    let oneExtreme = TraceFeatures(window: 0, meanBits: 0, novelNgrams: 9, novelSyscalls: 0, neighbourDistance: 0.05)
    let bothModerate = TraceFeatures(window: 0, meanBits: 0, novelNgrams: 0.55, novelSyscalls: 0, neighbourDistance: 0.55)
    #expect(rank.score(oneExtreme, calibration: cal9) < rank.score(bothModerate, calibration: cal9))
    #expect(fisher.score(oneExtreme, calibration: cal9) > fisher.score(bothModerate, calibration: cal9))
    #expect(TraceDetector.tailProbability(0.25, normal: cal[2]) == 0.4)
}

@Test func everyCombinationRisesWithEachViewAndNeverFalls() {
    // Random calibrations and features: raising one view's value never lowers any
    // combination's score, and past every normal value it still raises it (the tie-breaker).
    var rng = SplitMix64(seed: 42)
    func u() -> Double { Double(rng.next() % 1_000_000) / 1_000_000 }
    let names = TraceFeatures.names
    let n = 25
    let calibration = names.indices.map { _ in (0..<n).map { _ in u() < 0.3 ? 0 : u() }.sorted() }
    let combos = (1..<(1 << names.count)).flatMap { mask in
        TraceCombination.Combiner.allCases.map { c in
            TraceCombination(views: names.indices.filter { mask & (1 << $0) != 0 }.map { names[$0] }, combiner: c)!
        }
    }
    func features(_ v: [Double]) -> TraceFeatures {
        TraceFeatures(window: v[0], meanBits: v[1], novelNgrams: v[2], novelSyscalls: v[3], neighbourDistance: v[4], rareNgrams: v[5],
                      smoothedMean: v[6], neighbourWindows: v[7])
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
    #expect(s.score(features([9, 9, 0, 0, 0, 9, 9, 9]), calibration: calibration) == 0)
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
    // anomalous ones. The view that grows is `neighbour` (0.0022 at 50 requests, 0.0025 at
    // 500, 0.0063 at 5,000; novel n-grams and syscalls stay 0): the calls a process makes once
    // (its start and exit) weigh less and less in a longer bag, and `1 + ln tf` flattens it.
    // Square-root weights still grow (0.0018, 0.0028, 0.0047); plain counts pass this test but
    // cost sendmail, ps and the Linux corpus (docs/eval.md, "Length"), so neither is adopted.
    // The length-fair window view, `neighbour_windows`, makes these hold when it replaces
    // `neighbour` (WindowedNeighbourTests, the same assertions), but the committed selection rule did not pick it
    // and it lowers sendmail and ps (docs/eval.md, "The neighbour view per window"), so the
    // default, and this known issue, stay.
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

@Test func theLocalCombinersParseAndScoreAsHandWorked() throws {
    #expect(TraceCombination(name: "local:neighbour+novel_ngrams")?.name == "local:novel_ngrams+neighbour")
    #expect(TraceCombination(name: "both:novel_ngrams")?.combiner == .both)
    #expect(TraceCombination.Combiner.local.isLocal && TraceCombination.Combiner.both.isLocal && !TraceCombination.Combiner.rank.isLocal)
    // Globally four normal values per view; the trace's three nearest training traces hold
    // 0.2, 0.3, 0.4 on novel_ngrams and 0, 0.1, 0.6 on neighbour. The trace: 0.25 and 0.5.
    var cal: [[Double]] = Array(repeating: [0, 0, 0, 0], count: TraceFeatures.names.count)
    cal[2] = [0, 0.1, 0.2, 0.3]
    cal[4] = [0, 0.1, 0.2, 0.3]
    var near: [[Double]] = Array(repeating: [], count: TraceFeatures.names.count)
    near[2] = [0.2, 0.3, 0.4]
    near[4] = [0, 0.1, 0.6]
    let f = TraceFeatures(window: 0, meanBits: 0, novelNgrams: 0.25, novelSyscalls: 0, neighbourDistance: 0.5)
    let raw = 0.25 / 0.55 + 0.5 / 0.8
    // local: p = 3/4 (two of three at or above 0.25) and 2/4; tie-breaker over k = 3.
    let local = try #require(TraceCombination(name: "local:novel_ngrams+neighbour"))
    #expect(abs(local.score(f, calibration: cal, local: (near, 3)) - (log(4.0 / 3) + log(2) + 1e-3 / 4 * raw)) < 1e-12)
    // both: the larger of the global (2/5, 1/5) and the local tail probability.
    let both = try #require(TraceCombination(name: "both:novel_ngrams+neighbour"))
    #expect(abs(both.score(f, calibration: cal, local: (near, 3)) - (log(4.0 / 3) + log(2) + 1e-3 / 5 * raw)) < 1e-12)
    // Without the nearest traces both score as Fisher's method over the pool.
    let fisher = try #require(TraceCombination(name: "novel_ngrams+neighbour"))
    #expect(local.score(f, calibration: cal) == fisher.score(f, calibration: cal))
}

/// A pool of two programs, as the judged corpora are: a busy service with many training
/// traces, and a rare program with a few, each of which does some things the others do not.
@Test func aRareProgramsNormalTraceIsJudgedAgainstItsOwnKind() throws {
    let common = (0..<40).map { service($0, requests: 20 + $0 % 30) }
    // The rare program: its own calls (100...), each run a different selection of steps.
    func rare(_ seed: Int) -> [UInt32] {
        var rng = SplitMix64(seed: UInt64(seed) &+ 77)
        var t: [UInt32] = [59, 100, 101, 102]
        for _ in 0..<30 { t += [103 + UInt32(rng.next() % 12), 104 + UInt32(rng.next() % 12), 3] }
        return t + [1]
    }
    let train = common + (0..<5).map { rare($0) }
    let rareNormal = rare(900)
    // An attack on the busy service: its start, then a known call in an order it never had.
    let attack = Array(service(901, requests: 10).dropLast(2)) + [4, 197, 54, 5, 6, 1]
    func scores(_ name: String) throws -> (rareNormal: Double, attack: Double) {
        let d = TraceDetector(train: train, combination: try #require(TraceCombination(name: name)))
        #expect(d.localCount == 8, "ceil(sqrt(45)) is 7, at least 8")
        let r = d.combineLastMeasured(d.measure(rareNormal).features).score
        let a = d.combineLastMeasured(d.measure(attack).features).score
        return (r, a)
    }
    let global = try scores("novel_ngrams+neighbour")
    #expect(global.rareNormal > global.attack, "against the whole pool the rare program's normal run looks worse than the attack")
    let local = try scores("local:novel_ngrams+neighbour")
    #expect(local.rareNormal < local.attack, "against its nearest traces it does not")
}

/// `sized:` is `both:` in a pool of at least 50 training traces and Fisher's method over the
/// pool below, and either way never scores a trace above Fisher's method.
@Test func theSizedCombinerJudgesLocallyOnlyInALargeEnoughPool() throws {
    #expect(TraceCombination(name: "sized:novel_ngrams+neighbour")?.name == "sized:novel_ngrams+neighbour")
    #expect(TraceCombination.Combiner.sized.judgesLocally(pool: 50) && !TraceCombination.Combiner.sized.judgesLocally(pool: 49))
    #expect(TraceCombination.Combiner.both.judgesLocally(pool: 3) && !TraceCombination.Combiner.fisher.judgesLocally(pool: 500))
    let probes = [service(900, requests: 12), Array(service(901, requests: 10).dropLast(2)) + [4, 197, 54, 5, 6, 1],
                  service(902, requests: 40) + [59, 100, 101]]
    func scores(_ name: String, pool: Int) throws -> (scores: [Double], local: Bool) {
        let d = TraceDetector(train: (0..<pool).map { service($0, requests: 20 + $0 % 30) },
                              combination: try #require(TraceCombination(name: name)))
        return (probes.map { d.combineLastMeasured(d.measure($0).features).score }, d.judgesLocally)
    }
    for (pool, like) in [(49, "novel_ngrams+neighbour"), (50, "both:novel_ngrams+neighbour")] {
        let sized = try scores("sized:novel_ngrams+neighbour", pool: pool), same = try scores(like, pool: pool)
        #expect(sized.scores == same.scores, "a pool of \(pool) scores as \(like)")
        #expect(sized.local == (pool >= 50))
        let fisher = try scores("novel_ngrams+neighbour", pool: pool).scores
        #expect(zip(sized.scores, fisher).allSatisfy { $0 <= $1 }, "never above Fisher's method: \(sized.scores) \(fisher)")
    }
}

/// Sarle's coefficient on distributions whose value is known: two equal spikes 1, a uniform
/// distribution 5/9, a normal one 1/3; nil without spread.
@Test func theBimodalityCoefficientHasItsKnownValues() throws {
    let spikes = try #require(TraceCombination.bimodality((0..<1000).map { $0 % 2 == 0 ? 0.1 : 0.9 }))
    #expect(abs(spikes - 1) < 1e-9)
    let uniform = try #require(TraceCombination.bimodality((0..<10_000).map { Double($0) / 10_000 }))
    #expect(abs(uniform - 5.0 / 9.0) < 1e-3)
    // A sum of twelve uniforms is close to normal.
    var rng = SplitMix64(seed: 7)
    let normal = try #require(TraceCombination.bimodality((0..<20_000).map { _ in
        (0..<12).reduce(0.0) { s, _ in s + Double(rng.next() % 1_000_000) / 1_000_000 }
    }))
    #expect(abs(normal - 1.0 / 3.0) < 0.02, "\(normal)")
    #expect(TraceCombination.bimodality([0.4, 0.4, 0.4, 0.4, 0.4]) == nil)
    #expect(TraceCombination.bimodality([0.1, 0.9, 0.5]) == nil)
}

/// `mixed:` is `both:` only in a pool of at least 50 training traces whose distances are
/// bimodal (two programs), Fisher's method in a pool of one program or a small one.
@Test func theMixedCombinerJudgesLocallyOnlyInAPoolThatMixesPrograms() throws {
    #expect(TraceCombination(name: "mixed:novel_ngrams+neighbour")?.name == "mixed:novel_ngrams+neighbour")
    // Another program: the same kind of loop over calls the service never makes.
    // Requests drawn at random from one mix, as many each run: distances of one kind only.
    func other(_ seed: Int) -> [UInt32] { service(seed, requests: 40).map { $0 + 300 } }
    let oneProgram = (0..<60).map { service($0, requests: 40) }
    let twoPrograms = (0..<60).map { $0 % 3 == 0 ? other($0) : service($0, requests: 40) }
    let probes = [service(900, requests: 12), other(901), Array(service(902, requests: 10).dropLast(2)) + [4, 197, 54, 5, 6, 1]]
    func scores(_ name: String, _ train: [[UInt32]]) throws -> (scores: [Double], detector: TraceDetector) {
        let d = TraceDetector(train: train, combination: try #require(TraceCombination(name: name)))
        return (probes.map { d.combineLastMeasured(d.measure($0).features).score }, d)
    }
    for (train, mixes) in [(oneProgram, false), (twoPrograms, true), (Array(twoPrograms.prefix(49)), false)] {
        let mixed = try scores("mixed:novel_ngrams+neighbour", train)
        let like = try scores(mixes ? "both:novel_ngrams+neighbour" : "novel_ngrams+neighbour", train)
        #expect(mixed.detector.judgesLocally == mixes, "pool of \(train.count), bimodality \(String(describing: mixed.detector.poolBimodality))")
        #expect(mixed.scores == like.scores)
        if train.count >= 50 {
            let b = try #require(mixed.detector.poolBimodality)
            #expect((b > TraceCombination.mixedBimodality) == mixes, "bimodality \(b)")
        } else {
            #expect(mixed.detector.poolBimodality == nil, "not measured in a pool too small to calibrate locally")
        }
    }
}

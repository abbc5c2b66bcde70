import Foundation
import Testing
@testable import VigilCore

/// A toy profile: the same few request shapes in varying order.
private func normalTrace(_ seed: Int, requests: Int = 30) -> [UInt32] {
    let shapes: [[UInt32]] = [[3, 3, 4, 6], [5, 3, 4, 6], [5, 197, 3, 3, 6, 4], [54, 3, 4]]
    var rng = SplitMix64(seed: UInt64(seed))
    var t: [UInt32] = [59, 5, 90, 3, 6, 5, 3, 6]
    for _ in 0..<requests { t += shapes[Int(rng.next() % UInt64(shapes.count))] }
    return t + [6, 1]
}

private func trainModel(_ traces: [[UInt32]], _ p: SequenceModel.Parameters = .standard) -> SequenceModel {
    var trainer = SequenceTrainer(parameters: p)
    for t in traces { trainer.feed(t); trainer.endTrace() }
    return trainer.model()
}

private func score(_ model: SequenceModel, _ trace: [UInt32]) -> TraceScore {
    let scanner = SequenceScanner(model: model, maxReported: 100)
    trace.withUnsafeBufferPointer { scanner.feed($0) }
    return scanner.finish()
}

@Test func traceFromTrainingScoresZeroAndItsShuffleScoresHigh() {
    let train = (0..<10).map { normalTrace($0) }
    let model = trainModel(train)
    // Low, though not always zero: a request shape that was rare in training still costs
    // its rarity (that is the point of frequency weighting).
    let seen = score(model, train[3])
    #expect(seen.score < 0.5)

    var rng = SplitMix64(seed: 99)
    let shuffled = train[3].shuffled(using: &rng)
    let s = score(model, shuffled)
    #expect(s.score > 2, "a shuffle of known calls should cost bits per call, got \(s.score)")
    #expect(s.score > 5 * seen.score)
    #expect(s.anomalousCalls > 10)
}

@Test func unseenNormalTraceScoresBelowInjectedPayload() {
    let model = trainModel((0..<10).map { normalTrace($0) })
    let normal = score(model, normalTrace(1234))
    var attacked = normalTrace(1234)
    attacked.insert(contentsOf: [11, 63, 63, 2, 11, 37], at: 50)
    let bad = score(model, attacked)
    #expect(bad.score > normal.score + 1)
    // The findings point at the payload.
    #expect(bad.anomalies.contains { (50...56).contains($0.position) })
}

@Test func neverSeenSyscallCostsMoreThanAnyKnownOne() {
    let model = trainModel((0..<5).map { normalTrace($0) })
    let scanner = SequenceScanner(model: model)
    for c in normalTrace(0).prefix(20) { scanner.feed(c) }
    let novel = scanner.feed(4242)
    #expect(novel >= SequenceModel.novelSymbolBits)
}

@Test func chunkedAndSingleCallFeedingAgree() {
    let model = trainModel((0..<5).map { normalTrace($0) })
    var rng = SplitMix64(seed: 5)
    let trace = normalTrace(77).shuffled(using: &rng)
    let whole = score(model, trace)
    let scanner = SequenceScanner(model: model, maxReported: 100)
    for c in trace { scanner.feed(c) }
    #expect(scanner.finish() == whole)
}

@Test func shortTraceWindowIsDividedByTheFullWindow() {
    // One novel call in a 3-call trace counts as its bits over the 20-call window,
    // not over 3 calls, so short traces are not inflated.
    let model = trainModel([[1, 2, 3, 1, 2, 3]])
    let s = score(model, [1, 2, 9])
    #expect(s.anomalousCalls >= 1)
    let total = s.anomalies.reduce(0) { $0 + $1.bits }
    #expect(abs(s.score - total / Double(model.windowLength)) < 1e-9)
}

@Test func knownNgramsAreExactlyTheNeverAnomalousOnes() {
    let train = (0..<10).map { normalTrace($0) }
    let model = trainModel(train)
    let known = Set(model.knownNgramHashes())
    #expect(!known.isEmpty)
    // Replaying anything: a call whose full n-gram is in the kernel's set is never anomalous.
    var rng = SplitMix64(seed: 3)
    let probe = normalTrace(555) + normalTrace(556).shuffled(using: &rng)
    let scanner = SequenceScanner(model: model)
    var window = [UInt32](repeating: NgramHash.startSymbol, count: model.ngramLength)
    var checked = 0
    for c in probe {
        window.removeFirst(); window.append(c)
        let anomaly = scanner.feed(c)
        if known.contains(NgramHash.hash(window)) { #expect(anomaly == 0); checked += 1 }
        #expect(model.isKnown(ngramHash: NgramHash.hash(window)) == known.contains(NgramHash.hash(window)))
    }
    #expect(checked > 100)
    #expect(model.knownSyscalls == [1, 3, 4, 5, 6, 54, 59, 90, 197])
}

@Test func hashIsStableAndIncludesLength() {
    // Golden value, computed by an independent Python transcription of NgramHash's
    // documented definition: the kernel side must produce the same keys.
    #expect(NgramHash.hash([UInt32]([1, 2, 3])) == 0x5EB8_11A6_DD51_8EA9)
    #expect(NgramHash.hash([UInt32]([3])) != NgramHash.hash([UInt32]([NgramHash.startSymbol, 3])))
    #expect(NgramHash.hash([UInt32]([1, 2])) != NgramHash.hash([UInt32]([2, 1])))
    // Folding newest first: extending the suffix by one older call is one step.
    var state = NgramHash.seed
    state = NgramHash.step(state, 3)
    state = NgramHash.step(state, 2)
    state = NgramHash.step(state, 1)
    #expect(NgramHash.finalize(state, length: 3) == NgramHash.hash([UInt32]([1, 2, 3])))
}

@Test func savedModelScoresTheSameAfterLoading() throws {
    var model = trainModel((0..<6).map { normalTrace($0) })
    model.alertThreshold = 1.5
    let data = try JSONEncoder().encode(model)
    let loaded = try JSONDecoder().decode(SequenceModel.self, from: data)
    #expect(loaded.grams == model.grams)
    #expect(loaded.alertThreshold == 1.5)
    #expect(loaded.knownNgramHashes() == model.knownNgramHashes())
    var rng = SplitMix64(seed: 8)
    let probe = normalTrace(9).shuffled(using: &rng)
    #expect(score(loaded, probe) == score(model, probe))
}

@Test func corruptSavedModelIsRejected() throws {
    let model = trainModel([normalTrace(1)])
    var json = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(model)) as? [String: Any])
    json["grams"] = ["1 zz 00 3"]
    let bad = try JSONSerialization.data(withJSONObject: json)
    #expect(throws: DecodingError.self) { try JSONDecoder().decode(SequenceModel.self, from: bad) }
}

@Test func detectorScoresTrainingTracesLowAndShufflesHigh() {
    let train = (0..<20).map { normalTrace($0) }
    let detector = TraceDetector(train: train)
    #expect(detector.calibrationRows.count == 20)
    // A trace the detector learned: nothing novel, and its bag is in the index.
    let (_, seen) = detector.measure(train[3])
    #expect(seen.novelNgrams == 0)
    #expect(seen.novelSyscalls == 0)
    #expect(seen.neighbourDistance < 1e-6)
    var rng = SplitMix64(seed: 7)
    let (_, shuffled) = detector.measure(train[3].shuffled(using: &rng))
    #expect(shuffled.novelNgrams > 0.3)
    #expect(shuffled.meanBits > seen.meanBits + 1)
    // The score sums each view's surprise against the cross-validated training traces: a
    // learned trace is as ordinary as the most ordinary of them, a shuffle lies beyond all
    // of them on novelty.
    #expect(detector.combine(seen) == 0)
    #expect(TraceDetector.surprise(shuffled.novelNgrams, normal: detector.calibration[2]) == log(21))
    #expect(detector.combine(shuffled) >= log(21))
    #expect(detector.scoring == "novel_ngrams+novel_syscalls+neighbour")
    // Every unseen normal trace scores below every shuffle of one.
    let normals = (100..<110).map { detector.combine(detector.measure(normalTrace($0)).features) }
    let shuffles = (100..<110).map { detector.combine(detector.measure(normalTrace($0).shuffled(using: &rng)).features) }
    #expect(normals.max()! < shuffles.min()!)
    // A novel syscall in an otherwise normal trace: that view alone makes it stand out.
    var withNovel = normalTrace(200)
    withNovel.insert(999, at: 40)
    let novel = detector.measure(withNovel).features
    #expect(novel.novelSyscalls == 1)
    #expect(detector.combine(novel) > normals.max()!)
}

@Test func neighbourDistanceIsZeroForAKnownMixAndGrowsWithAChangedOne() {
    let train = (0..<10).map { normalTrace($0) }
    let detector = TraceDetector(train: train)
    // Same calls, same order, but one request shape looped: a changed mix, no new n-gram.
    var looped = Array(normalTrace(1).prefix(8))
    for _ in 0..<100 { looped += [54, 3, 4] }
    let f = detector.measure(looped).features
    #expect(detector.measure(train[5]).features.neighbourDistance < 1e-6)
    #expect(f.neighbourDistance > 0.1)
}

@Test func repeatedBagsAreAnsweredFromMemoryWithTheSameDistance() {
    let train = (0..<10).map { normalTrace($0) }
    let index = NeighbourIndex(bags: train.map { TraceMeasurer.bag(of: $0, model: trainModel(train)) })
    let query = NeighbourQuery()
    var scratch: [Float] = []
    let bag = TraceMeasurer.bag(of: normalTrace(50), model: trainModel(train))
    let walked = index.distance(bag, scratch: &scratch)
    #expect(index.distance(bag, query: query) == walked)
    #expect(index.distance(bag.reversed(), query: query) == walked)  // order of the bag does not matter
    #expect(query.memo.count == 1)
    let other = TraceMeasurer.bag(of: normalTrace(51), model: trainModel(train))
    #expect(index.distance(other, query: query) == index.distance(other, scratch: &scratch))
    #expect(query.memo.count == 2)
}

@Test func aBagsDigestIgnoresOrderButNotWhichCountGoesWithWhichKey() {
    let bag: [(key: UInt64, count: UInt32)] = [(1, 2), (3, 4), (5, 6)]
    #expect(BagDigest(bag) == BagDigest(bag.reversed()))
    #expect(BagDigest(bag) == BagDigest([bag[1], bag[2], bag[0]]))
    #expect(BagDigest(bag) != BagDigest([(1, 4), (3, 2), (5, 6)]), "counts swapped between keys")
    #expect(BagDigest(bag) != BagDigest([(1, 2), (3, 4)]), "an entry fewer")
    #expect(BagDigest(bag) != BagDigest([(1, 2), (3, 4), (5, 7)]), "one count more")
    #expect(BagDigest(bag) != BagDigest([(1, 2), (3, 4), (6, 6)]), "another key")
    // Distinct bags of one corpus's kind keep distinct digests: every one-entry change of a
    // 200-entry bag.
    let big: [(key: UInt64, count: UInt32)] = (0..<200).map { (UInt64($0) &* 0x1_0000_0001, UInt32(1 + $0 % 7)) }
    var seen: Set<BagDigest> = [BagDigest(big)]
    for i in big.indices {
        var more = big, other = big
        more[i].count += 1
        other[i].key &+= 1
        seen.insert(BagDigest(more))
        seen.insert(BagDigest(other))
    }
    #expect(seen.count == 1 + 2 * big.count)
}

@Test func streamingScoreStaysAvailableWithoutTraceFeatures() {
    let model = trainModel((0..<10).map { normalTrace($0) })
    var attacked = normalTrace(1234)
    attacked.insert(contentsOf: [11, 63, 63, 2, 11, 37], at: 50)
    let live = SequenceScanner(model: model, traceFeatures: false)
    let offline = SequenceScanner(model: model)
    var liveAnomaly = 0.0
    for c in attacked { liveAnomaly += live.feed(c) }
    attacked.withUnsafeBufferPointer { offline.feed($0) }
    let a = live.finish(), b = offline.finish()
    #expect(a.score == b.score && a.score > 0)
    #expect(liveAnomaly > 0)
    #expect(a.novelNgramFraction == 0 && b.novelNgramFraction > 0)
    #expect(live.lastBag.isEmpty && !offline.lastBag.isEmpty)
    // Trace features without the bag of calls: the same features, no bag.
    let noBag = SequenceScanner(model: model, bagOfCalls: false)
    attacked.withUnsafeBufferPointer { noBag.feed($0) }
    let c = noBag.finish()
    #expect(c == b)
    #expect(noBag.lastBag.isEmpty)
}

@Test func rareNgramFractionWeighsEachDistinctNgramByItsTrainingCount() {
    // Training: "1 2 3" ten times (each 2-gram and the 3-gram seen 10 times), "1 2 4" once.
    let model = trainModel(Array(repeating: [1, 2, 3], count: 10) + [[1, 2, 4]])
    #expect(model.trainingCount(ofNgram: NgramHash.hash([1, 2])) == 11)
    #expect(model.trainingCount(ofNgram: NgramHash.hash([2, 4])) == 1)
    #expect(model.trainingCount(ofNgram: NgramHash.hash([9, 9])) == 0)
    // Distinct 2..n-grams of "1 2 3": {1 2, 2 3, 1 2 3}, counts 11, 10, 10.
    let common = score(model, [1, 2, 3])
    #expect(common.novelNgramFraction == 0)
    #expect(abs(common.rareNgramFraction - (1.0 / 12 + 1.0 / 11 + 1.0 / 11) / 3) < 1e-12)
    // "1 2 4": {1 2, 2 4, 1 2 4}, counts 11, 1, 1: known, but rare.
    let rare = score(model, [1, 2, 4])
    #expect(rare.novelNgramFraction == 0)
    #expect(abs(rare.rareNgramFraction - (1.0 / 12 + 0.5 + 0.5) / 3) < 1e-12)
    #expect(rare.rareNgramFraction > common.rareNgramFraction)
    // "1 2 5": {1 2, 2 5, 1 2 5}; two never seen count 1 each.
    let novel = score(model, [1, 2, 5])
    #expect(abs(novel.novelNgramFraction - 2.0 / 3) < 1e-12)
    #expect(abs(novel.rareNgramFraction - (1.0 / 12 + 2) / 3) < 1e-12)
    // The live scanner does not gather it.
    let live = SequenceScanner(model: model, traceFeatures: false)
    [1, 2, 4].withUnsafeBufferPointer { live.feed($0) }
    #expect(live.finish().rareNgramFraction == 0)
}

@Test func twoTierScorePutsAnyNoveltyAboveAllKnownBehaviourAndOrdersTheRest() {
    func f(novel: Double, rare: Double) -> TraceFeatures {
        TraceFeatures(window: 0, meanBits: 0, novelNgrams: novel, novelSyscalls: 0, neighbourDistance: 0, rareNgrams: rare)
    }
    // No novelty: ordered by rarity (the tie at 0 of the novel fraction alone is broken).
    #expect(TraceDetector.twoTier(f(novel: 0, rare: 0.4)) > TraceDetector.twoTier(f(novel: 0, rare: 0.1)))
    // The least novelty outranks the rarest known behaviour.
    #expect(TraceDetector.twoTier(f(novel: 0.001, rare: 0.01)) > TraceDetector.twoTier(f(novel: 0, rare: 0.5)))
    // Among novel traces, the novel fraction alone decides.
    #expect(TraceDetector.twoTier(f(novel: 0.3, rare: 0.31)) > TraceDetector.twoTier(f(novel: 0.2, rare: 0.9)))
    #expect(TraceDetector.twoTier(f(novel: 0.25, rare: 0.3)) == 1.25)

    // On traces: a known trace made of rarely seen request shapes scores above one of common
    // shapes, and both below a trace with one never-seen n-gram.
    let shapes: [[UInt32]] = [[3, 3, 4, 6], [5, 3, 4, 6]]
    var train: [[UInt32]] = (0..<30).map { i in [59] + Array(repeating: shapes[0], count: 5).joined() + [1] }
    train.append([59] + shapes[1] + [1])  // the rare shape, once
    let detector = TraceDetector(train: train)
    let common = detector.measure([59] + Array(repeating: shapes[0], count: 3).joined() + [1]).features
    let rare = detector.measure([59] + shapes[1] + [1]).features
    let novel = detector.measure([59] + shapes[0] + [6, 6] + [1]).features
    #expect(common.novelNgrams == 0 && rare.novelNgrams == 0 && novel.novelNgrams > 0)
    #expect(TraceDetector.twoTier(rare) > TraceDetector.twoTier(common))
    #expect(TraceDetector.twoTier(novel) > 1 && TraceDetector.twoTier(novel) > TraceDetector.twoTier(rare))
    // It is the score when there is no normal variation to measure (one training trace).
    let single = TraceDetector(train: [train[0]])
    #expect(single.scoring == "novel_then_rare_ngrams")
    let f = single.measure([59] + shapes[0] + [6, 6] + [1]).features
    #expect(single.combine(f) == TraceDetector.twoTier(f))
}

@Test func surpriseCountsNormalValuesAtOrAboveAndTiesCountAgainst() {
    let normal = [0, 0, 0.1, 0.2]  // n = 4: p = (1 + #{normal >= x}) / 5
    #expect(TraceDetector.surprise(0, normal: normal) == 0)                    // every one reaches 0
    #expect(abs(TraceDetector.surprise(0.1, normal: normal) - log(5.0 / 3)) < 1e-12)  // 0.1 and 0.2
    #expect(abs(TraceDetector.surprise(0.15, normal: normal) - log(5.0 / 2)) < 1e-12)
    #expect(abs(TraceDetector.surprise(0.2, normal: normal) - log(5.0 / 2)) < 1e-12)  // a tie counts
    #expect(TraceDetector.surprise(0.9, normal: normal) == log(5.0))          // beyond all: the floor
    #expect(TraceDetector.surprise(0.5, normal: []) == 0)
    func f(_ novel: Double, _ distance: Double) -> TraceFeatures {
        TraceFeatures(window: 0, meanBits: 0, novelNgrams: novel, novelSyscalls: 0, neighbourDistance: distance)
    }
    // The score adds the two surprises; past every normal value on both views, the raw values
    // (each as x / (x + the largest normal value)) still order processes, by less than any
    // step of a surprise.
    let nb = [0, 0.05, 0.05, 0.3]
    let expected = log(5.0 / 2) + log(5.0 / 4) + TraceDetector.tieBreakWeight / 5 * (0.15 / 0.35 + 0.05 / 0.35)
    #expect(abs(TraceDetector.fisher(f(0.15, 0.05), novel: normal, neighbour: nb) - expected) < 1e-12)
    let far = TraceDetector.fisher(f(0.9, 0.9), novel: normal, neighbour: nb)
    let farther = TraceDetector.fisher(f(1, 0.95), novel: normal, neighbour: nb)
    #expect(farther > far && far > 2 * log(5.0) && farther - far < log(5.0 / 4))
}

/// A model file's threshold is input: one too large for a window's integer cost used to trap
/// (the replay fuzz target found it); it now flags nothing, and one at zero flags every window.
@Test func anOutOfRangeThresholdNeverTrapsAndFlagsAccordingly() {
    let model = trainModel((0..<6).map { normalTrace($0) })
    var rng = SplitMix64(seed: 8)
    let probe = normalTrace(9).shuffled(using: &rng)
    func flagged(_ threshold: Double) -> Int {
        let scanner = SequenceScanner(model: model, maxReported: 100, threshold: threshold)
        probe.withUnsafeBufferPointer { scanner.feed($0) }
        return scanner.finish().flaggedWindows.count
    }
    #expect(flagged(1.6e300) == 0)
    #expect(flagged(.infinity) == 0)
    #expect(flagged(0) > 0, "a shuffle costs more than nothing in some window")
}

import Foundation
import Testing
import VigilTestSupport
@testable import VigilCore

/// The toy service of TraceCombinationTests: after a fixed start, requests of a few known
/// shapes in random order, then an exit.
private func service(_ seed: Int, requests: Int) -> [UInt32] {
    let shapes: [[UInt32]] = [[3, 3, 4, 6], [5, 3, 4, 6], [5, 197, 3, 3, 6, 4], [54, 3, 4]]
    var rng = SplitMix64(seed: UInt64(seed) &+ 1000)
    var t: [UInt32] = [59, 5, 90, 3, 6, 5, 3, 6]
    for _ in 0..<requests { t += shapes[Int(rng.next() % UInt64(shapes.count))] }
    return t + [6, 1]
}

private func counts(_ bag: [(key: UInt64, count: UInt32)]) -> [UInt64: UInt32] {
    Dictionary(bag.map { ($0.key, $0.count) }, uniquingKeysWith: +)
}

@Test func windowsAreFixedSizeWithTheRemainderJoiningTheLastOne() {
    // Windows of 3 calls, one key per call. 8 calls a a b | c a c | c b: the remainder (2
    // calls) joins the second window, which is delivered only at the end of the trace.
    var got: [[UInt64: UInt32]] = []
    let counter = WindowBagCounter(length: 3) { got.append(counts($0)) }
    func feed(_ keys: [UInt64]) { for k in keys { counter.count(k); counter.endCall() } }
    feed([1, 1, 2, 3, 1, 3])
    #expect(got == [[1: 2, 2: 1]])  // the second full window is held back
    feed([3, 2])
    counter.finishTrace()
    #expect(got == [[1: 2, 2: 1], [3: 3, 1: 1, 2: 1]])
    // Exactly two windows' worth: both delivered, nothing merged.
    got = []
    feed([1, 2, 3, 4, 5, 6])
    counter.finishTrace()
    #expect(got == [[1: 1, 2: 1, 3: 1], [4: 1, 5: 1, 6: 1]])
    // Shorter than a window: one window of its own length; nothing at all: no window.
    got = []
    feed([7, 7])
    counter.finishTrace()
    counter.finishTrace()
    #expect(got == [[7: 2]])
    // A discarded trace delivers nothing and leaves no count behind.
    got = []
    feed([1, 1, 1, 1, 2])
    counter.discard()
    feed([9])
    counter.finishTrace()
    #expect(got == [[9: 1]])
}

@Test func theWindowsOfATraceSplitItsWholeBag() {
    // 250 calls: windows of 100 and 150 calls; every call's 1- and 2-gram land in exactly
    // one window, so the windows add up to the whole bag.
    let train = (0..<5).map { service($0, requests: 30) }
    let model = TraceDetector.trainModel(train, .standard)
    let trace = Array(service(77, requests: 80).prefix(250))
    let (whole, windows) = TraceMeasurer.bags(of: trace, model: model)
    #expect(windows.count == 2)
    var sum: [UInt64: UInt32] = [:]
    for w in windows { for f in w { sum[f.key, default: 0] += f.count } }
    #expect(sum == counts(whole))
    #expect(windows.map { w in w.reduce(0) { $0 + Int($1.count) } } == [100 + 99, 150 + 150])  // 1-grams + 2-grams
    #expect(TraceMeasurer.bags(of: Array(trace.prefix(99)), model: model).windows.count == 1)
    #expect(TraceMeasurer.bags(of: [], model: model).windows.isEmpty)
}

@Test func leaveOneOwnerOutSkipsOnlyBagsThatOwnerAloneHad() {
    // Bags A = {1}, A again from another owner, B = {2}, C = {1, 2}. Unique: A, B, C (t = 3);
    // keys 1 and 2 each in two of them, so C's weights are equal: cos(C, A) = 1/sqrt 2.
    let a: [(key: UInt64, count: UInt32)] = [(1, 1)], b: [(key: UInt64, count: UInt32)] = [(2, 1)]
    let c: [(key: UInt64, count: UInt32)] = [(1, 1), (2, 1)]
    let index = NeighbourIndex(bags: [a, a, b, c], owners: [0, 1, 2, 3])
    var scratch: [Float] = []
    #expect(index.distance(a, excluding: 0, scratch: &scratch) == 0)  // owner 1 also had A
    #expect(abs(index.distance(c, excluding: 3, scratch: &scratch) - 0.29289322) < 1e-6)
    #expect(abs(index.distance(b, excluding: 2, scratch: &scratch) - 0.29289322) < 1e-6)  // nearest: C
    #expect(index.distance(c, scratch: &scratch) < 1e-6)  // not excluded: C itself
    let alone = NeighbourIndex(bags: [b], owners: [5])
    #expect(alone.distance(b, excluding: 5, scratch: &scratch) == 1)  // nothing left
}

@Test func theNearestOwnersComeNearestFirstEveryOwnerOfABagNamed() {
    // The same bags as above, A from owners 0 and 1: from C, A and B are equally near (A
    // first, given first), C itself nearest; from A, its own bag, then C, then B (nothing shared).
    let a: [(key: UInt64, count: UInt32)] = [(1, 1)], b: [(key: UInt64, count: UInt32)] = [(2, 1)]
    let c: [(key: UInt64, count: UInt32)] = [(1, 1), (2, 1)]
    let index = NeighbourIndex(bags: [a, a, b, c], owners: [0, 1, 2, 3])
    var scratch: [Float] = []
    #expect(index.nearestOwners(c, count: 4, scratch: &scratch) == [3, 0, 1, 2])
    #expect(index.nearestOwners(c, count: 4, excluding: 3, scratch: &scratch) == [0, 1, 2])
    #expect(index.nearestOwners(a, count: 2, excluding: 0, scratch: &scratch) == [1, 3])
    #expect(index.nearestOwners(a, count: 9, scratch: &scratch) == [0, 1, 3, 2], "as many as there are")
    #expect(NeighbourIndex(bags: [a, b]).nearestOwners(a, count: 2, scratch: &scratch).isEmpty, "no owners, none named")
}

@Test func theWorstWindowIsCorrectedForTheNumberOfWindows() {
    // Four normal window distances 0, 0.1, 0.2, 0.3. Worst window 0.25: p = 2/5; one window
    // -ln 0.4 = 0.9163; three windows: 1 - 0.6^3 = 0.784, -ln 0.784 = 0.2433. Worst 0.5:
    // p = 1/5, one window ln 5 = 1.6094; ten windows: 1 - 0.8^10 = 0.8926, -ln = 0.1136.
    // Each plus 1e-7 times the distance.
    let normal = [0, 0.1, 0.2, 0.3]
    func v(_ d: Double, _ m: Int) -> Double { WindowedNeighbour.value(worst: d, windows: m, normal: normal) }
    #expect(abs(v(0.25, 1) - 0.916290756874155) < 1e-12)
    #expect(abs(v(0.25, 3) - 0.24334628363172917) < 1e-12)
    #expect(abs(v(0.5, 1) - 1.6094379624341004) < 1e-12)
    #expect(abs(v(0.5, 10) - 0.11358785316313551) < 1e-12)
    #expect(v(0, 4) == 0)  // every normal window reaches 0: P = 1
    #expect(v(0.9, 0) == 0)  // no window
    // Beyond every normal window, farther still ranks higher.
    #expect(v(0.7, 1) > v(0.5, 1))
}

@Test func theWindowedNeighbourViewDoesNotGrowWithLength() {
    // The known issue of aLongNormalTraceDoesNotOutscoreAShortAnomalousOne, on this view alone:
    // the same normal service at 50, 500 and 5,000 requests (about 240 to 22,500 calls; the
    // training traces have 100 to 370) is no more anomalous than ordinary-length normal
    // traces, while short anomalous traces are.
    let train = (0..<30).map { service($0, requests: 20 + 2 * $0) }
    let detector = TraceDetector(train: train)
    func view(_ t: [UInt32]) -> Double { detector.measure(t).features.neighbourWindows }
    let normals = (100..<120).map { view(service($0, requests: 20 + $0 % 60)) }
    let growing = [50, 500, 5000].map { view(service(700, requests: $0)) }
    #expect(growing.allSatisfy { $0 <= normals.max()! }, "\(growing) against normal at most \(normals.max()!)")
    let shortNovelCall = Array(service(600, requests: 3).dropLast(2)) + [999, 3, 4, 6, 1]
    let shortReordered: [UInt32] = [59, 5, 90, 3, 6, 5, 3, 6, 4, 3, 197, 5, 6, 54, 6, 1]
    #expect(view(shortNovelCall) > normals.max()!)
    #expect(view(shortReordered) > normals.max()!)
    // The whole-trace view grows on the same traces (the known issue).
    let whole = [50, 5000].map { detector.measure(service(700, requests: $0)).features.neighbourDistance }
    #expect(whole[1] > whole[0])
}

@Test func skippingWindowsThatCannotBeTheWorstChangesNothing() {
    // The measurer skips the full search for a window whose distance to the previous
    // window's nearest training window is already below the worst so far. Its value must be
    // the one every window measured in full gives: on a long normal trace, and on one with an
    // odd stretch in the middle (so the worst window is neither the first nor the last).
    let train = (0..<30).map { service($0, requests: 20 + 2 * $0) }
    let measurer = TraceMeasurer(train: train, parameters: .standard, owners: Array(train.indices))
    let long = service(800, requests: 400)
    var odd = service(801, requests: 200)
    odd.insert(contentsOf: Array(repeating: [54, 54, 197], count: 30).flatMap { $0 }, at: 500)
    for t in [long, odd] {
        let windows = TraceMeasurer.bags(of: t, model: measurer.model).windows
        var scratch: [Float] = []
        let worst = windows.map { measurer.windowed.index.distance($0, scratch: &scratch) }.max()!
        #expect(windows.count == t.count / WindowedNeighbour.windowLength)
        #expect(measurer.measure(t).features.neighbourWindows == measurer.windowed.value(worst: worst, windows: windows.count))
    }
    // The odd stretch is the worst window, well above the long normal trace's.
    #expect(measurer.measure(odd).features.neighbourWindows > measurer.measure(long).features.neighbourWindows)
}

@Test func withTheWindowViewInPlaceOfNeighbourALongNormalTraceScoresAsANormalOne() throws {
    // The assertions of aLongNormalTraceDoesNotOutscoreAShortAnomalousOne (known issue under
    // the default), under the default's views with `neighbour` replaced by `neighbour_windows`.
    let train = (0..<30).map { service($0, requests: 20 + 2 * $0) }
    let combination = try #require(TraceCombination(name: "novel_ngrams+novel_syscalls+neighbour_windows"))
    let detector = TraceDetector(train: train, combination: combination)
    func score(_ t: [UInt32]) -> Double { detector.combine(detector.measure(t).features) }
    let normals = (100..<120).map { score(service($0, requests: 20 + $0 % 60)) }
    let long = service(500, requests: 2000)
    let shortNovelCall = Array(service(600, requests: 3).dropLast(2)) + [999, 3, 4, 6, 1]
    let shortReordered: [UInt32] = [59, 5, 90, 3, 6, 5, 3, 6, 4, 3, 197, 5, 6, 54, 6, 1]
    #expect(score(long) < score(shortNovelCall))
    #expect(score(long) < score(shortReordered))
    #expect(score(long) <= normals.max()!)
    let growing = [50, 500, 5000].map { score(service(700, requests: $0)) }
    #expect(growing.allSatisfy { $0 <= normals.max()! })
}

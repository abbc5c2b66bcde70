import Foundation
import Testing
@testable import VigilCore

private func smoothedMean(train: [[UInt32]], ngramLength: Int, _ traces: [[UInt32]]) -> [Double] {
    var trainer = SequenceTrainer(parameters: .init(ngramLength: ngramLength, windowLength: 20, commonBits: 4))
    for t in train { trainer.feed(t); trainer.endTrace() }
    // One scanner for every trace: the remembered costs of one trace must not leak into the next.
    let scanner = SequenceScanner(model: trainer.model(), smoothedMean: true)
    return traces.map { t in
        t.withUnsafeBufferPointer { scanner.feed($0) }
        return scanner.finish().smoothedMeanBits
    }
}

@Test func smoothedMeanMatchesAHandWorkedBigramModel() {
    // Train on 1 2 1 2 with bigrams (context of one call, start symbol S before the first).
    // Empty context: 4 calls, 2 distinct followers (1: 2, 2: 2). Context S: 1 call, 1 type
    // (1). Context 1: 2 calls, 1 type (2: 2). Context 2: 1 call, 1 type (1). Base 1/3
    // (alphabet {1, 2} plus the unknown symbol).
    //   "1 2": P(1 | S) = (1 + (2 + 2/3) / 6) / 2 = 13/18; P(2 | 1) = (2 + 4/9) / 3 = 22/27.
    //   "3":   P(3 | S) = (0 + (0 + 2/3) / 6) / 2 = 1/18.
    //   "2 2": P(2 | S) = (0 + 4/9) / 2 = 2/9; P(2 | 2) = (0 + 4/9) / 2 = 2/9.
    let m = smoothedMean(train: [[1, 2, 1, 2]], ngramLength: 2, [[1, 2], [3], [2, 2], [1, 2, 1, 2], []])
    #expect(abs(m[0] - (log2(18.0 / 13) + log2(27.0 / 22)) / 2) < 1e-12)
    #expect(abs(m[0] - 0.382_470_583_413_695_7) < 1e-12)
    #expect(abs(m[1] - 4.169_925_001_442_312) < 1e-12)  // log2 18
    #expect(abs(m[2] - 2.169_925_001_442_312_6) < 1e-12)  // log2 4.5
    // The training trace itself: its second half repeats the first's contexts and followers.
    #expect(abs(m[3] - 0.382_470_583_413_695_7) < 1e-12)
    #expect(m[4] == 0)
}

@Test func smoothedMeanMatchesTheScriptOnAFixture() {
    // scripts/smoothed_mean_view.py's WB(train, 6).mean_bits(t) on the same traces (printed by
    // `python3 -c 'import smoothed_mean_view as m; print(m.WB(train, 6).mean_bits(t))'` in scripts/).
    let train: [[UInt32]] = [
        [1, 1, 5, 5, 5, 1, 4, 1, 4, 5, 2, 2, 3, 5, 5, 1, 2, 3, 1, 5, 1, 2, 5, 4, 5, 1, 1, 3, 4, 5],
        [1, 2, 3, 4, 5, 2, 3, 3, 4, 5, 1, 2, 4, 3, 4, 1, 2, 5, 4, 5, 1, 2, 3, 4, 5, 1, 2, 3, 4, 3, 1, 2, 3, 4, 5],
        [1, 4, 3, 4, 5, 1, 2, 3, 4, 5, 1, 4, 3, 4, 5, 1, 2, 3, 4, 5, 1, 2, 2, 5, 3, 4, 2, 3, 4, 5, 1, 2, 3, 4, 5,
         1, 2, 3, 4, 5],
        [1, 2, 2, 4, 5, 1, 2, 3, 4, 5, 2, 2, 3, 4, 5, 1, 4, 3, 4, 5, 1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 1, 2, 3, 4, 3,
         1, 2, 3, 4, 5, 1, 2, 3, 4, 5],
        [2, 2, 3, 4, 5, 1, 1, 3, 4, 5, 1, 2, 3, 4, 5, 1, 2, 3, 2, 5, 1, 2, 3, 4, 1, 1, 2, 3, 4, 3, 4, 2, 3, 2, 2,
         5, 2, 3, 5, 5, 1, 2, 3, 1, 5, 1, 2, 3, 4, 5],
        [1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 1, 2, 3, 4, 2, 1, 4, 3, 4, 5, 2, 2, 3, 4, 5, 1, 2, 3, 5, 2, 1, 2, 3, 4, 5,
         1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 1, 2, 1, 4, 5],
    ]
    let traces: [[UInt32]] = [[1, 2, 3, 4, 5, 1, 2, 3], [5, 4, 3, 2, 1], [1, 2, 9, 3, 4, 5], [2, 2, 2, 2, 2, 2, 2, 2, 2]]
    let expected = [0.295_170_813_045_867_2, 6.390_757_941_094_345, 3.829_745_882_060_345, 4.214_815_406_530_723]
    // Twice through the same scanner: the second pass answers from remembered costs.
    let m = smoothedMean(train: train, ngramLength: 6, traces + traces)
    for (i, e) in (expected + expected).enumerated() {
        #expect(abs(m[i] - e) < 1e-9, "trace \(i % 4): \(m[i]) against the script's \(e)")
    }
}

@Test func smoothedMeanIsAFeatureOfEveryMeasuredTraceAndDecodesWhenAbsent() throws {
    let train: [[UInt32]] = (0..<6).map { j in (0..<(20 + j)).map { UInt32($0 % 5 + 1) } }
    let detector = TraceDetector(train: train)
    let f = detector.measure([1, 2, 3, 9, 9, 9]).features
    #expect(f.smoothedMean > 0)
    #expect(f.values[TraceFeatures.names.firstIndex(of: "smoothed_mean")!] == f.smoothedMean)
    // Every training trace's cross-validated value is in the calibration.
    #expect(detector.calibration[TraceFeatures.names.firstIndex(of: "smoothed_mean")!].count == 6)
    // A dump written before the view existed still reads, as 0.
    let old = #"{"window":1,"mean_bits":2,"novel_ngrams":0.5,"novel_syscalls":1,"neighbour":0.25,"rare_ngrams":0.5}"#
    let decoded = try JSONDecoder().decode(TraceFeatures.self, from: Data(old.utf8))
    #expect(decoded.smoothedMean == 0 && decoded.neighbourDistance == 0.25)
}

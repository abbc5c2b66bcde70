import Testing
@testable import VigilCore

@Test func aucCountsTiesAsOneHalf() {
    // 0.9 and 0.8 beat all four negatives; 0.5 beats 0.3 and 0.1 and ties the two 0.5s.
    let auc = ROC.auc(positives: [0.9, 0.8, 0.5], negatives: [0.5, 0.3, 0.1, 0.5])
    #expect(auc == 11.0 / 12.0)
    #expect(ROC.auc(positives: [1, 1], negatives: [1]) == 0.5)
    #expect(ROC.auc(positives: [0], negatives: [1, 2]) == 0)
    #expect(ROC.auc(positives: [], negatives: [1]) == nil)
}

@Test func thresholdFlagsAtMostTheAllowedNegatives() {
    let negatives = [0.5, 0.3, 0.1, 0.5]
    // 1% of 4 allows none: the threshold is the top negative, and ties with it are not flagged.
    #expect(ROC.threshold(falseAlarmRate: 0.01, negatives: negatives) == 0.5)
    // 25% allows one, but both 0.5s tie, so still 0.5.
    #expect(ROC.threshold(falseAlarmRate: 0.25, negatives: negatives) == 0.5)
    #expect(ROC.threshold(falseAlarmRate: 0.5, negatives: negatives) == 0.3)
    #expect(ROC.threshold(falseAlarmRate: 1, negatives: negatives) == -.infinity)
    let positives = [0.9, 0.8, 0.5]
    #expect(ROC.detectionRate(atFalseAlarmRate: 0.01, positives: positives, negatives: negatives) == 2.0 / 3.0)
    #expect(ROC.detectionRate(atFalseAlarmRate: 0.5, positives: positives, negatives: negatives) == 1)
}

@Test func falseAlarmRateAtDetectionCountsTiesAgainstTheDetector() {
    let negatives = [0.5, 0.3, 0.1, 0.5]
    // 90% of 3 positives needs all 3, down to 0.5: both negatives at 0.5 are false alarms.
    #expect(ROC.falseAlarmRate(atDetectionRate: 0.9, positives: [0.9, 0.8, 0.5], negatives: negatives) == 0.5)
    // 90% of 10 needs 9; the 9th highest is 0.6, above every negative.
    let ten = [1.0, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.0]
    #expect(ROC.falseAlarmRate(atDetectionRate: 0.9, positives: ten, negatives: negatives) == 0)
    #expect(ROC.falseAlarmRate(atDetectionRate: 0.9, positives: [], negatives: negatives) == nil)
}

@Test func ceilingRanksGroupsByTheirShareOfPositives() {
    // Groups of indistinguishable traces: (negatives, positives).
    let groups: [(negatives: Int, positives: Int)] = [(3, 0), (1, 2), (0, 1), (2, 2)]
    // Best order (0,1), (1,2), (2,2), (3,0): wins 1·6 + 2·(5 + 1/2) + 2·(3 + 2/2) = 25 of 5·6.
    #expect(ROC.ceiling(groups: groups) == 25.0 / 30.0)
    #expect(ROC.ceiling(groups: groups.reversed()) == 25.0 / 30.0)
    // The scores that rank the groups that way reach it ...
    let scoreOf = [1.0, 3.0, 4.0, 2.0]
    var positives: [Double] = [], negatives: [Double] = []
    for (g, s) in zip(groups, scoreOf) {
        negatives += Array(repeating: s, count: g.negatives)
        positives += Array(repeating: s, count: g.positives)
    }
    #expect(ROC.auc(positives: positives, negatives: negatives) == 25.0 / 30.0)
    // ... and no other order of the groups does better.
    func permutations(_ a: [Int]) -> [[Int]] {
        a.count <= 1 ? [a] : a.indices.flatMap { i in
            permutations(Array(a[..<i] + a[(i + 1)...])).map { [a[i]] + $0 }
        }
    }
    var best = 0.0
    for order in permutations([0, 1, 2, 3]) {
        var pos: [Double] = [], neg: [Double] = []
        for (rank, g) in order.enumerated() {
            neg += Array(repeating: Double(rank), count: groups[g].negatives)
            pos += Array(repeating: Double(rank), count: groups[g].positives)
        }
        best = max(best, ROC.auc(positives: pos, negatives: neg)!)
    }
    #expect(best == 25.0 / 30.0)
    #expect(ROC.ceiling(groups: [(2, 0)]) == nil)
    #expect(ROC.ceiling(groups: [(1, 1)]) == 0.5)
}

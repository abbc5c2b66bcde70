import Testing
import VigilCore

private typealias S = DetectSupport

@Suite struct RiskTrackerTests {
    private func deviation(_ pid: Int32, _ score: Double) -> Deviation {
        Deviation(kind: .newExec, pid: pid, profile: "p", observed: "x", expected: [], score: score, scoring: "", timeNanos: 0)
    }

    @Test func decaysByTheHalfLifeExactly() {
        var r = RiskTracker(policy: .standard)   // half-life 300 s
        #expect(r.add(deviation(1, 80), now: S.t0) == 80)
        #expect(r.score(1, now: S.t0) == 80)
        #expect(abs(r.score(1, now: S.at(300)) - 40) < 1e-9)
        #expect(abs(r.score(1, now: S.at(600)) - 20) < 1e-9)
        #expect(abs(r.score(1, now: S.at(150)) - 80 / 2.0.squareRoot()) < 1e-9)
        // A deviation adds to the decayed value.
        #expect(abs(r.add(deviation(1, 25), now: S.at(300)) - 65) < 1e-9)
        #expect(abs(r.score(1, now: S.at(600)) - 32.5) < 1e-9)
    }

    @Test func halfLifeComesFromPolicy() throws {
        var r = RiskTracker(policy: try Policy.load(yaml: "half-life-seconds: 10", file: "p"))
        r.add(points: 64, pid: 1, now: S.t0)
        #expect(abs(r.score(1, now: S.at(30)) - 8) < 1e-9)
    }

    @Test func scoreIsCappedAt100() {
        var r = RiskTracker()
        r.add(deviation(1, 70), now: S.t0)
        #expect(r.add(deviation(1, 70), now: S.t0) == 100)
    }

    @Test func forkedChildInheritsItsParentsCurrentRisk() {
        var r = RiskTracker()
        r.add(deviation(10, 60), now: S.t0)
        #expect(abs(r.fork(parent: 10, child: 11, now: S.at(300)) - 30) < 1e-9)
        // The exec the child then does adds its own deviation on top.
        #expect(abs(r.add(deviation(11, 25), now: S.at(300)) - 55) < 1e-9)
        #expect(abs(r.score(11, now: S.at(600)) - 27.5) < 1e-9)
        #expect(abs(r.score(10, now: S.at(600)) - 15) < 1e-9)
        // A clean parent passes nothing on.
        #expect(r.fork(parent: 99, child: 12, now: S.t0) == 0)
        r.remove(11)
        #expect(r.score(11, now: S.at(600)) == 0)
    }
}

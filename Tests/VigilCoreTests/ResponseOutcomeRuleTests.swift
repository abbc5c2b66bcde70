import Testing
import VigilCore

/// Issue 17 item 4: the outcome a step is decided with comes from one rule,
/// `ResponseOutcome.decided(effects:mode:)`, and the planner reads it for every rung.
@Suite struct ResponseOutcomeRuleTests {
    @Test func theRuleItself() {
        for mode in [ResponseMode.monitor, .enforce] {
            #expect(ResponseOutcome.decided(effects: [], mode: mode) == .notNeeded, "\(mode)")
        }
        #expect(ResponseOutcome.decided(effects: [.denyNetwork], mode: .monitor) == .wouldHaveActed)
        #expect(ResponseOutcome.decided(effects: [.denyNetwork, .stop], mode: .enforce) == .pending)
        #expect(ResponseOutcome.decided(effects: [.kill], mode: .monitor) == .wouldHaveActed)
    }

    /// Every rung the planner climbs to, in both modes, carries the rule's outcome for the
    /// step's own effects: an alert reads the same in monitor and enforce mode.
    @Test func everyPlannedStepFollowsTheRule() {
        let scores: [Double] = [30, 55, 75, 95]
        for mode in [ResponseMode.monitor, .enforce] {
            let p = ResponsePlanner(policy: .standard, mode: mode)
            var rungs: Set<ResponseRung> = []
            for (i, score) in scores.enumerated() {
                for step in p.update(pid: Int32(100 + i), profile: "x", score: score, now: 1) {
                    rungs.insert(step.to)
                    #expect(step.outcome == .decided(effects: step.effects, mode: mode), "\(mode) \(step.from)->\(step.to): \(step.outcome)")
                    if step.to == .alert { #expect(step.outcome == .notNeeded, "\(mode): an alert has nothing to carry out") }
                }
            }
            #expect(rungs.isSuperset(of: [.alert, .denyNetwork, .kill]), "\(mode): the scores reach alert, deny network and kill: \(rungs)")
        }
    }
}

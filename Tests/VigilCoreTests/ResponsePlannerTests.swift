import Testing
import VigilCore

private typealias S = DetectSupport

@Suite struct ResponsePlannerTests {
    private func steps(_ s: [ResponseStep]) -> [String] { s.map { "\($0.from)->\($0.to)" } }

    @Test func climbsThroughEveryRungAndKillIsFinal() {
        let p = ResponsePlanner(policy: .standard, mode: .monitor)
        #expect(steps(p.update(pid: 1, profile: "a", score: 15, now: S.t0)) == [])
        #expect(steps(p.update(pid: 1, profile: "a", score: 25, now: S.at(1))) == ["none->alert"])
        #expect(steps(p.update(pid: 1, profile: "a", score: 55, now: S.at(2))) == ["alert->deny-network"])
        #expect(steps(p.update(pid: 1, profile: "a", score: 80, now: S.at(3))) == ["deny-network->suspend"])
        let kill = p.update(pid: 1, profile: "a", score: 95, now: S.at(4))
        #expect(steps(kill) == ["suspend->kill"])
        #expect(kill[0].reason == "risk 95 reached the kill threshold 90")
        #expect(p.tick(now: S.at(100_000)).isEmpty)
        #expect(p.rung(of: 1) == .kill)
    }

    @Test func stepsBackDownWithHysteresisAndAutoRelease() {
        let p = ResponsePlanner(policy: .standard, mode: .monitor)
        #expect(steps(p.update(pid: 2, profile: "a", score: 80, now: S.t0)) == ["none->suspend"])
        #expect(p.tick(now: S.at(30)).isEmpty)                      // held while suspended
        let release = p.tick(now: S.at(60))                          // 80 * 2^(-0.2) = 69.6
        #expect(steps(release) == ["suspend->deny-network"])
        #expect(release[0].reason.hasPrefix("auto-release"))
        #expect(release[0].effects == [.resume])
        #expect(p.tick(now: S.at(290)).isEmpty)                      // 40.9: within the hysteresis of 50
        let down = p.tick(now: S.at(310))                            // 39.1
        #expect(steps(down) == ["deny-network->alert"])
        #expect(down[0].effects == [.allowNetwork])
        #expect(p.tick(now: S.at(890)).isEmpty)                      // 10.2
        #expect(steps(p.tick(now: S.at(910))) == ["alert->none"])    // 9.8
    }

    @Test func doesNotFlapAroundAThreshold() {
        let p = ResponsePlanner(policy: .standard, mode: .monitor)
        var all: [ResponseStep] = []
        for (i, s) in [52.0, 48, 51, 45, 49.5, 41].enumerated() {
            all += p.update(pid: 3, profile: "a", score: s, now: S.at(Double(i)))
        }
        #expect(steps(all) == ["none->deny-network"])
        #expect(steps(p.update(pid: 3, profile: "a", score: 39, now: S.at(10))) == ["deny-network->alert"])
    }

    @Test func suspendHoldRestartsWhenRiskClimbs() {
        let p = ResponsePlanner(policy: .standard, mode: .monitor)
        _ = p.update(pid: 4, profile: "a", score: 80, now: S.t0)
        #expect(p.update(pid: 4, profile: "a", score: 85, now: S.at(30)).isEmpty)
        #expect(p.tick(now: S.at(60)).isEmpty)
        #expect(p.tick(now: S.at(89)).isEmpty)
        #expect(steps(p.tick(now: S.at(90))) == ["suspend->deny-network"])
    }

    @Test func capsAndExemptionsHoldTheLadder() throws {
        let policy = try Policy.load(yaml: "caps: { usr-sbin-postgres: suspend }\nexempt: { profiles: [usr-sbin-sshd] }\n", file: "p")
        let p = ResponsePlanner(policy: policy, mode: .enforce)
        let db = p.update(pid: 5, profile: "usr-sbin-postgres", score: 100, now: S.t0)
        #expect(steps(db) == ["none->suspend"])
        #expect(db[0].cappedFrom == .kill)
        #expect(db[0].reason.contains("kill called for, capped at suspend by policy"))
        #expect(steps(p.update(pid: 6, profile: "usr-sbin-sshd", score: 100, now: S.t0)) == ["none->alert"])
        // No profile: at most alert by default.
        #expect(steps(p.update(pid: 7, profile: nil, executable: "/tmp/x", score: 100, now: S.t0)) == ["none->alert"])
        // Tamper goes straight to the top.
        let t = p.update(pid: 8, profile: "usr-bin-app", score: 100, now: S.t0)
        #expect(steps(t) == ["none->kill"])
        #expect(t[0].effects == [.kill])
    }

    @Test func monitorModeNeverMarksAnActionTaken() {
        let p = ResponsePlanner(policy: .standard, mode: .monitor)
        var all: [ResponseStep] = []
        for (i, s) in [25.0, 55, 80].enumerated() { all += p.update(pid: 9, profile: "a", score: s, now: S.at(Double(i))) }
        all += p.tick(now: S.at(3600))
        all += p.update(pid: 9, profile: "a", score: 100, now: S.at(3601))
        #expect(steps(all) == ["none->alert", "alert->deny-network", "deny-network->suspend", "suspend->none", "none->kill"])
        #expect(all.allSatisfy { !$0.outcome.acted })
        #expect(all.filter { !$0.effects.isEmpty }.allSatisfy { $0.outcome == .wouldHaveActed })
        #expect(all[0].outcome == .notNeeded)   // none -> alert changes nothing on the host
        #expect(p.pending.isEmpty)
        #expect(p.record(outcome: .succeeded, for: all[1].id) == nil)
    }

    @Test func enforceModeWaitsForTheCallersOutcome() {
        let p = ResponsePlanner(policy: .standard, mode: .enforce)
        let s = p.update(pid: 10, profile: "a", score: 60, now: S.t0)
        #expect(s[0].outcome == .pending && s[0].effects == [.denyNetwork])
        #expect(p.pending.keys.sorted() == [s[0].id])
        let done = p.record(outcome: .succeeded, for: s[0].id)
        #expect(done?.outcome == .succeeded && done?.outcome.acted == true)
        #expect(p.pending.isEmpty)
    }
}

@Suite struct ResponsePlannerRuleTests {
    private func steps(_ s: [ResponseStep]) -> [String] { s.map { "\($0.from)->\($0.to)" } }

    @Test func aRulesVerdictReplacesTheBandUpAndDownWhileTheScoreHolds() {
        let p = ResponsePlanner(policy: .standard, mode: .monitor)
        // 55 is deny-network by the bands; the rule says suspend.
        let up = p.update(pid: 1, profile: "a", score: 55, now: S.t0, target: .init(.suspend, rule: "r", floor: 40))
        #expect(steps(up) == ["none->suspend"])
        #expect(up[0].rule == "rule: r")
        // Another process, at 80 (suspend by the bands); its rule says deny-network.
        let down = p.update(pid: 2, profile: "a", score: 80, now: S.t0, target: .init(.denyNetwork, rule: "d", floor: 40))
        #expect(steps(down) == ["none->deny-network"])
        #expect(down[0].rule == "rule: d")
        // Later updates without a match keep the rule's verdict while the score stays above the floor.
        #expect(steps(p.update(pid: 2, profile: "a", score: 85, now: S.at(1))) == [])
        #expect(p.rung(of: 2) == .denyNetwork)
        // Once the score falls below the floor the bands decide again.
        #expect(steps(p.update(pid: 2, profile: "a", score: 30, now: S.at(2))) == ["deny-network->alert"])
    }

    @Test func capsStillHoldAboveARule() {
        let p = ResponsePlanner(policy: .standard, mode: .monitor)
        let s = p.update(pid: 1, profile: "a", score: 95, now: S.t0, limit: .init(.alert, rule: "cap: profile still learning"),
                         target: .init(.kill, rule: "r", floor: 0))
        #expect(steps(s) == ["none->alert"])
        #expect(s[0].rule == "cap: profile still learning")
    }
}

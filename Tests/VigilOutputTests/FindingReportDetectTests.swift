import Foundation
import Testing
import VigilTestSupport
import VigilCore
@testable import VigilOutput

@Suite struct FindingReportDetectTests {
    @Test func monitorStepKeepsTheCoresOutcomeWithReasons() {
        let d = Deviation(kind: .newExec, pid: 7, profile: "usr-sbin-nginx", observed: "/usr/bin/curl",
                          expected: ["/usr/bin/logger"], score: 25, scoring: "weight 25", timeNanos: 5)
        let p = ResponsePlanner(policy: .standard, mode: .monitor)
        let step = p.update(pid: 7, profile: "usr-sbin-nginx", score: 55, now: 5)[0]
        let r = FindingReport(deviations: [d], riskScore: 55.4, step: step,
                              process: ProcessRecord(pid: 7, ppid: 1, path: "/usr/bin/curl"), ancestry: [], timeNanos: 5)
        #expect(r.types == ["new-exec"])
        #expect(r.riskScore == 55)
        #expect(r.reasons == [.init(kind: "new-exec", observed: "/usr/bin/curl", expected: ["/usr/bin/logger"], scoreDelta: 25)])
        #expect(r.action.step == .denyNetwork && r.action.outcome == .wouldHaveActed)
        #expect(r.action.detail?.hasPrefix("monitor mode, would have acted") == true)
        #expect(r.profile == "usr-sbin-nginx")
    }

    /// Issue 17 item 4: in monitor mode an alert and a higher rung used to read `succeeded`
    /// and `skipped`. Now each carries the core's outcome, and OCSF says the same thing
    /// about both: observed, an alert raised, nothing done to the process.
    @Test func monitorAlertsAndHigherRungsMapConsistently() {
        let p = ResponsePlanner(policy: .standard, mode: .monitor)
        let alert = p.update(pid: 7, profile: "x", score: 30, now: 1)
        let higher = p.update(pid: 8, profile: "x", score: 95, now: 1)
        let proc = ProcessRecord(pid: 7, ppid: 1, path: "/bin/x")
        let a = FindingReport(deviations: [], riskScore: 30, step: alert.first, process: proc, ancestry: [], timeNanos: 1).action
        let h = FindingReport(deviations: [], riskScore: 95, step: higher.first, process: proc, ancestry: [], timeNanos: 1).action
        #expect(a.step == .alert && a.outcome == .notNeeded)
        #expect(h.step != .alert && h.step != .none && h.outcome == .wouldHaveActed, "\(h)")
        #expect(OCSFEncoder.response(a) == (3, "Observed", 19, "Alert"))
        #expect(OCSFEncoder.response(h) == (3, "Observed", 19, "Alert"))
        // Metric labels: the same raw values, as the agent counts them.
        #expect(AgentMetrics.ActionKey(a) == AgentMetrics.ActionKey(action: "alert", outcome: "not-needed"))
        #expect(AgentMetrics.ActionKey(higher.first!) == AgentMetrics.ActionKey(h))
    }

    /// A finding without a step on a process an earlier step took to kill (e.g. the shell's
    /// second deviation) names that rung in `status_detail`, not only in the message: a
    /// reader of `status_detail` alone used to take it for an alert.
    @Test func aFindingWithoutAStepNamesTheRungItIsHeldAt() throws {
        let proc = ProcessRecord(pid: 7, ppid: 1, path: "/usr/bin/dash")
        let d = Deviation(kind: .newExec, pid: 7, profile: "x", observed: "/usr/bin/dash", expected: [], score: 40,
                          scoring: "weight 40", timeNanos: 5)
        let held = FindingReport(deviations: [d], riskScore: 95, step: nil, rung: .kill, process: proc, ancestry: [], timeNanos: 5)
        #expect(held.action.step == .kill && held.action.outcome == .notNeeded)
        let line = String(decoding: OCSFEncoder(hostname: "h", productVersion: "1").encode(held).bytes, as: UTF8.self)
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let detail = try #require(obj["status_detail"] as? String)
        #expect(detail.hasPrefix("kill: ") && detail.contains("earlier step"), "\(detail)")
        // At alert there is nothing more to say than the rung itself: no detail, as before.
        let alert = FindingReport(deviations: [d], riskScore: 30, step: nil, rung: .alert, process: proc, ancestry: [], timeNanos: 5)
        #expect(alert.action.detail == nil)
    }

    /// Every step and outcome has its OCSF ids in the one table; enforce outcomes differ.
    @Test func theOCSFTableCoversEveryStepAndOutcome() {
        for step in FindingReport.Action.Step.allCases {
            for outcome in FindingReport.Action.Outcome.allCases {
                let (actionID, _, dispositionID, _) = OCSFEncoder.response(.init(step: step, outcome: outcome))
                #expect([0, 2, 3].contains(actionID))
                #expect([0, 2, 16, 19, 27, 99].contains(dispositionID))
            }
        }
        #expect(OCSFEncoder.response(.init(step: .kill, outcome: .succeeded)) == (2, "Denied", 99, "Process Killed"))
        #expect(OCSFEncoder.response(.init(step: .kill, outcome: .failed)).2 == 27)
        #expect(OCSFEncoder.response(.init(step: .none, outcome: .notNeeded)) == (3, "Observed", 16, "No Action"))
    }

    /// The score is clamped to 0...100 in one place, the report, whoever sets it; the OCSF
    /// line and the risk level read it as it is.
    @Test func riskIsClampedOnceByTheReport() throws {
        let proc = ProcessRecord(pid: 7, ppid: 1, path: "/bin/x")
        for (given, expected) in [(140.0, 100), (-3.0, 0), (Double.infinity, 100), (Double.nan, 0), (42.4, 42)] {
            let r = FindingReport(deviations: [], riskScore: given, step: nil, process: proc, ancestry: [], timeNanos: 1)
            #expect(r.riskScore == expected, "\(given)")
        }
        var r = FindingReport(deviations: [], riskScore: 10, step: nil, process: proc, ancestry: [], timeNanos: 1)
        r.riskScore = 250
        #expect(r.riskScore == 100 && r.riskLevel.id == 4)
        let line = String(decoding: OCSFEncoder(hostname: "h", productVersion: "1").encode(r).bytes, as: UTF8.self)
        #expect(line.contains("\"risk_score\":100,"), "\(line)")
    }
}

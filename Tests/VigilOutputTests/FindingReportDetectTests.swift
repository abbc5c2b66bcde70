import Testing
import VigilTestSupport
import VigilCore
import VigilOutput

@Suite struct FindingReportDetectTests {
    @Test func monitorStepBecomesASkippedActionWithReasons() {
        let d = Deviation(kind: .newExec, pid: 7, profile: "usr-sbin-nginx", observed: "/usr/bin/curl",
                          expected: ["/usr/bin/logger"], score: 25, scoring: "weight 25", timeNanos: 5)
        let p = ResponsePlanner(policy: .standard, mode: .monitor)
        let step = p.update(pid: 7, profile: "usr-sbin-nginx", score: 55, now: 5)[0]
        let r = FindingReport(deviations: [d], riskScore: 55.4, step: step,
                              process: ProcessRecord(pid: 7, ppid: 1, path: "/usr/bin/curl"), ancestry: [], timeNanos: 5)
        #expect(r.types == ["new-exec"])
        #expect(r.riskScore == 55)
        #expect(r.reasons == [.init(kind: "new-exec", observed: "/usr/bin/curl", expected: ["/usr/bin/logger"], scoreDelta: 25)])
        #expect(r.action.step == .denyNetwork && r.action.outcome == .skipped)
        #expect(r.action.detail?.hasPrefix("monitor mode, would have acted") == true)
        #expect(r.profile == "usr-sbin-nginx")
    }
}

import Foundation
import Testing
import VigilTestSupport

/// Issue 19's sink outages, the short version of `scripts/outage_campaign.py`: while
/// `vigil trace` delivers to a real rsyslog, a real HTTPS collector and a real nats-server,
/// each is stopped, slowed, refused TLS or black-holed and restarted; a fourth output with a
/// tiny spool overflows. Then every sink's receipts are counted against what the agent
/// accepted (its file output).
@Suite(.serialized, .enabled(if: BPFTestGate.shouldRun), .timeLimit(.minutes(4)))
struct SinkOutageTests {
    @Test func everyAcceptedEventArrivesOrIsReportedLostThroughOutages() throws {
        try BPFTestGate.check()
        for tool in ["rsyslogd", "nats-server", "openssl", "python3"] where Tools.which(tool) == nil {
            Issue.record("\(tool) is needed (scripts/setup.sh --tests installs it)")
            return
        }
        let dir = try makeTempDirectory("vigil-outage-test")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let report = dir + "/report.json"
        let r = try Tools.run(Tools.which("python3")!, [Tools.packageRoot.appendingPathComponent("scripts/outage_campaign.py").path,
                                                       "--vigil", try vigilExecutable().path, "--seconds", "24", "--rate", "25", "--json", report])
        #expect(r.status == 0, "the campaign failed: \(r.output.suffix(3000))")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: report))) as? [String: Any])
        let sinks = try #require(json["sinks"] as? [[String: Any]])
        #expect(sinks.count == 4)
        for s in sinks {
            let name = s["sink"] as? String ?? "?"
            #expect((s["accepted"] as? Int ?? 0) > 100, "\(name): events flowed")
            #expect(s["missing"] as? Int == s["reported_lost"] as? Int, "\(name): nothing missing that was not reported lost: \(s)")
        }
        let nats = try #require(sinks.first { ($0["sink"] as? String)?.hasPrefix("nats") == true })
        #expect(nats["duplicates"] as? Int == 0 && nats["missing"] as? Int == 0, "JetStream: every event exactly once: \(nats)")
        let overflow = try #require(sinks.first { ($0["sink"] as? String)?.contains("overflow") == true })
        #expect((overflow["reported_lost"] as? Int ?? 0) > 0, "the 64 KiB spool overflowed, and the loss was reported: \(overflow)")
    }
}

import Foundation
import Testing
import VigilTestSupport

/// The short version of `scripts/crash_torture.py`: `vigil learn` and `vigil run` killed with
/// SIGKILL at random moments while they save every second on a busy host. No profile file
/// is ever torn, none saved before is lost, learning continues, and `run`'s spool (a syslog
/// output nobody receives during the kills) delivers everything it had synced once a
/// receiver is up.
@Suite(.serialized, .enabled(if: BPFTestGate.shouldRun), .timeLimit(.minutes(6)))
struct CrashConsistencyTests {
    @Test func sigkillDuringSavesNeverTearsOrLosesAProfileOrASpooledEvent() throws {
        try BPFTestGate.check()
        for tool in ["rsyslogd", "python3"] where Tools.which(tool) == nil {
            Issue.record("\(tool) is needed (scripts/setup.sh --tests installs it)")
            return
        }
        let dir = try makeTempDirectory("vigil-crash-test")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let report = dir + "/report.json"
        let r = try Tools.run(Tools.which("python3")!, [Tools.packageRoot.appendingPathComponent("scripts/crash_torture.py").path,
                                                       "--vigil", try vigilExecutable().path, "--kills", "8", "--json", report])
        #expect(r.status == 0, "the torture found problems: \(r.output.suffix(3000))")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: report))) as? [String: Any])
        #expect((json["problems"] as? [String])?.isEmpty == true, "\(json["problems"] ?? "")")
        let learn = try #require(json["learn"] as? [String: Any]), run = try #require(json["run"] as? [String: Any])
        #expect(learn["killed_mid_work"] as? Int == 8 && run["killed_mid_work"] as? Int == 8, "every agent died by SIGKILL, mid-work")
        #expect((learn["profiles"] as? Int ?? 0) > 0 && (run["profiles"] as? Int ?? 0) > 0, "something was learned and saved between the kills")
        #expect((run["delivered_after_restart"] as? Int ?? 0) > 100, "the spool held the events across the kills: \(run)")
        #expect(run["lost_otherwise"] as? Int == 0)
    }
}

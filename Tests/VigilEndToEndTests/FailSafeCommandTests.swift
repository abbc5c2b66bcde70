import Foundation
import Testing
import VigilTestSupport
import VigilCore

/// Fail-safe models from the command line (issue 19 item 5): a baseline that cannot be used
/// stops `monitor`, `enforce` and `run` with exit 2 naming the file and why, or, with
/// `--on-bad-baseline monitor`, the agent runs and reports it.
@Suite(.serialized) struct FailSafeCommandTests {
    /// A models directory holding one baseline of an unknown format version.
    static func damagedModels() throws -> (dir: String, file: String) {
        let dir = try makeTempDirectory("vigil-failsafe")
        try FileManager.default.createDirectory(atPath: dir + "/models", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let file = dir + "/models/opt-vigilnone-svc.json"
        #expect(FileManager.default.createFile(atPath: file, contents: Data("{\"format_version\": 9, \"id\": \"opt-vigilnone-svc\"}\n".utf8),
                                               attributes: [.posixPermissions: 0o600]))
        return (dir, file)
    }

    @Test func everyJudgingCommandRefusesABadBaselineWithExitCode2() throws {
        let (dir, file) = try Self.damagedModels()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for command in ["monitor", "enforce"] {
            let r = try runVigil([command, "--models", dir + "/models", "--workload", "exe:/opt/vigilnone/svc", "--duration", "1"])
            #expect(r.status == 2, "\(command): \(r.err)")
            #expect(r.err.contains(file) && r.err.contains("format version 9"), "\(command) names the file and the reason: \(r.err)")
            #expect(r.err.contains("--on-bad-baseline monitor"), "\(r.err)")
        }
        try "models: \(dir)/models\nstate: \(dir)/state\nmetrics: {listen: null}\ncontrol-socket: null\nduration: 1\n"
            .write(toFile: dir + "/vigil.yaml", atomically: false, encoding: .utf8)
        let r = try runVigil(["run", "--config", dir + "/vigil.yaml"])
        #expect(r.status == 2, "\(r.err)")
        #expect(r.err.contains(file) && r.err.contains("on-bad-baseline: monitor"), "\(r.err)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/state/modes.json"), "nothing ran")
    }

    @Test func onBadBaselineMonitorRunsAndReportsIt() throws {
        try BPFTestGate.check()
        let (dir, file) = try Self.damagedModels()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let findings = dir + "/findings.jsonl"
        let r = try runVigil(["enforce", "--models", dir + "/models", "--workload", "exe:/opt/vigilnone/svc", "--on-bad-baseline", "monitor",
                              "--control-socket", "none", "--duration", "2", "--output", "file:" + findings])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.err.contains("judged in monitor mode"), "\(r.err)")
        let text = (try? String(contentsOfFile: findings, encoding: .utf8)) ?? ""
        let health = text.split(separator: "\n").filter { $0.contains("\"class_uid\":6008") && $0.contains("cannot be used") }
        #expect(health.count == 1, "one agent health finding: \(text)")
        #expect(health.first?.contains(file) == true)
        #expect(text.contains("workload exe:/opt/vigilnone/svc: now monitor"), "the workload naming the bad baseline's program is held at monitor: \(text)")
        let bad = try runVigil(["enforce", "--models", dir + "/models", "--workload", "exe:/opt/vigilnone/svc", "--on-bad-baseline", "maybe"])
        #expect(bad.status == 2 && bad.err.contains("expected refuse or monitor"), "\(bad.err)")
    }
}

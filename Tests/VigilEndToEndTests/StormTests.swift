import Foundation
import Testing
import VigilTestSupport

/// Event storms on the real kernel (issue 19 item 4), the short CI version of
/// `scripts/storm.sh`: fork/exec, connect and syscall storms at once, a ring buffer of
/// 64 KiB so that it overflows, `vigil enforce` on the script's own test service.
@Suite(.serialized, .enabled(if: BPFTestGate.shouldRun), .timeLimit(.minutes(3)))
struct StormTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func theAgentSurvivesAStormCountsEveryDropAndTheExecGuardHolds() throws {
        try BPFTestGate.check()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [Self.repo.appendingPathComponent("scripts/storm.sh").path, "10", "64"]
        var env = ProcessInfo.processInfo.environment
        env["VIGIL"] = try vigilExecutable().path
        env["STORM_LOOPS"] = "3"
        p.environment = env
        // A file, not a pipe: the storm's background jobs must not hold the test's read end.
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-storm-\(UUID().uuidString).log").path
        #expect(FileManager.default.createFile(atPath: log, contents: nil))
        defer { try? FileManager.default.removeItem(atPath: log) }
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(p.terminationStatus == 0, "\(text)")
        let line = try #require(text.split(separator: "\n").last { $0.hasPrefix("STORM ") }, "\(text)")
        var f: [String: String] = [:]
        for pair in line.split(separator: " ").dropFirst() {
            let kv = pair.split(separator: "=", maxSplits: 1)
            if kv.count == 2 { f[String(kv[0])] = String(kv[1]) }
        }
        func n(_ k: String) -> Int { Int(f[k] ?? "") ?? -1 }
        #expect(n("alive") == 1 && n("exit") == 0, "the agent kept running and stopped cleanly: \(text)")
        #expect(n("dropped") > 0, "the storm overflowed the ring buffer: \(text)")
        #expect(f["losses"]?.contains("kernel-ringbuf:exec=") == true && f["losses"]?.contains("kernel-ringbuf:connect=") == true,
                "drops are reported per kind: \(text)")
        #expect(n("attacks") >= 1 && n("reached") == 0, "the kernel stopped every attack during the storm: \(text)")
        #expect(n("svc_alive") == 1, "each attack was on the live service (the exec guard kills the shell, not it): \(text)")
        #expect(n("rss_max_kib") > 0 && n("rss_max_kib") - n("rss_first_kib") < 64 * 1024, "memory stays bounded: \(text)")
    }
}

import Foundation
import Testing
import VigilTestSupport
import VigilCore
import VigilOutput

/// A supervised restart brings enforcement back (issue 19 item 6): `vigil run` with
/// `bpf-pin:` under scripts/supervise.py, our stand-in for systemd's `Type=notify`,
/// `Restart=on-failure` and `WatchdogSec=`. SIGKILLed, the agent is gone while the pinned
/// exec guard still stops the test service's phone-home shell; the supervisor restarts it,
/// READY=1 comes again and the new agent stops (and reports) the next attack; a reload is
/// RELOADING=1 then READY=1. SIGSTOPped,
/// the agent stops pinging the watchdog and the supervisor kills and restarts it.
@Suite(.serialized, .enabled(if: BPFTestGate.shouldRun), .timeLimit(.minutes(3)))
struct SupervisedRestartTests {
    /// The supervisor's JSON lines so far.
    static func transitions(_ log: String) -> [[String: Any]] {
        jsonLines((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
    }

    /// Waits for the `n`th `ready` line and returns it.
    static func waitForReady(_ n: Int, log: String, seconds: Double = 30) throws -> [String: Any] {
        var lines: [[String: Any]] = []
        _ = waitFor(seconds) {
            lines = transitions(log).filter { $0["event"] as? String == "ready" }
            return lines.count >= n
        }
        return try #require(lines.count >= n ? lines[n - 1] : nil, "ready #\(n) never came: \(transitions(log))")
    }

    /// Detection findings that name the service's pid, written at or after `since` (epoch s).
    static func findings(_ file: String, service: Int32, since: Double) -> [[String: Any]] {
        jsonLines((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").filter { e in
            e["class_uid"] as? Int == 2004 && Double(e["time"] as? Int ?? 0) / 1000 >= since
                && ((dig(e, "evidences") as? [[String: Any]])?.contains { dig($0, "process.pid") as? Int == Int(service) } ?? false)
        }
    }

    @Test func aSupervisedRestartBringsEnforcementBackAndTheWatchdogCatchesAStoppedAgent() throws {
        try BPFTestGate.check()
        let svc = try LearnedService.start()
        let dir = (svc.models as NSString).deletingLastPathComponent
        let pin = "/sys/fs/bpf/vigil-test-" + UUID().uuidString.prefix(8).lowercased()
        let supervisor = Process()
        defer {
            if supervisor.isRunning { kill(supervisor.processIdentifier, SIGKILL); supervisor.waitUntilExit() }
            for t in Self.transitions(dir + "/supervise.jsonl") where t["event"] as? String == "started" {
                if let pid = t["pid"] as? Int { kill(Int32(pid), SIGKILL) }  // our own agents only; gone already normally
            }
            try? FileManager.default.removeItem(atPath: pin)
            svc.stop()
        }
        let config = dir + "/vigil.yaml"
        let metricsPort = try freeLoopbackPort()
        try writeFile("""
            models: \(svc.models)
            state: \(dir)/state
            policy: \(try svc.enforceLearningPolicy())
            outputs: [file:\(dir)/events.jsonl]
            modes: { \(svc.id): enforce }
            workloads: { svc: [exe:\(svc.binary)] }
            bpf-pin: \(pin)
            control-socket: \(dir)/control.sock
            metrics: { listen: 127.0.0.1:\(metricsPort) }
            learn: { only: [\(svc.binary)] }
            """, to: config)
        let log = dir + "/supervise.jsonl"
        supervisor.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        // RestartSec 5 s: long enough that the attack below (well under a second, at most its
        // own 5 s timeout) runs with no agent at all; checked below by the timestamps.
        supervisor.arguments = ["python3", RunCommandTests.repo.appendingPathComponent("scripts/supervise.py").path,
                                "--watchdog-sec", "2", "--restart-sec", "5", "--max-restarts", "3", "--stop-timeout", "15", "--log", log,
                                "--", try vigilExecutable().path, "run", "--config", config]
        _ = FileManager.default.createFile(atPath: dir + "/agent.err", contents: nil)
        supervisor.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/agent.err"))
        supervisor.standardOutput = FileHandle.nullDevice
        try supervisor.run()
        func agentLog() -> String { (try? String(contentsOfFile: dir + "/agent.err", encoding: .utf8)) ?? "" }

        let first = try Self.waitForReady(1, log: log)
        let firstPid = try #require(first["pid"] as? Int)
        let status = first["status"] as? String ?? ""
        #expect(status.hasPrefix("run: profiles ") && status.contains(" enforce"), "STATUS with READY=1: \(first)")

        // SIGKILL: no word from the agent; the kernel side stays pinned and enforcing.
        let killedAt = Date().timeIntervalSince1970
        kill(Int32(firstPid), SIGKILL)
        let down = try LoopbackListener()
        let attackStart = Date().timeIntervalSince1970
        try attack(svc.port, home: down.port)
        let attackedAt = Date().timeIntervalSince1970
        #expect(down.accepted == 0, "the pinned exec guard stops the shell while no agent runs")
        #expect(svc.process.isRunning)

        // The supervisor restarts it (Restart=on-failure); READY=1 again from a new pid.
        let second = try Self.waitForReady(2, log: log)
        let secondPid = try #require(second["pid"] as? Int)
        #expect(secondPid != firstPid)
        let t = Self.transitions(log)
        let exited = try #require(t.first { $0["event"] as? String == "exited" && $0["pid"] as? Int == firstPid })
        #expect(exited["signal"] as? String == "SIGKILL")
        let restartedAt = try #require(t.first { $0["event"] as? String == "started" && $0["pid"] as? Int == secondPid }?["time"] as? Double)
        #expect(attackedAt < restartedAt, "the attack ran before the new agent was started")
        #expect(agentLog().contains("links an earlier agent left attached"), "the restart re-adopts the pins: \(agentLog())")

        // Enforcement is back: stopped, and this time the agent reports it.
        let readyAt = try #require(second["time"] as? Double)
        let back = try LoopbackListener()
        try attack(svc.port, home: back.port)
        #expect(back.accepted == 0, "the restarted agent enforces")
        let health = try MetricsClient.fetch("127.0.0.1:\(metricsPort)", path: "/healthz")
        #expect(health.hasPrefix("{\"status\":\"ok\","), "/healthz of the restarted agent: \(health)")
        let scraped = try PrometheusText.parse(MetricsClient.fetch("127.0.0.1:\(metricsPort)"))
        let startTime = try #require(scraped.first { $0.name == "process_start_time_seconds" }?.value)
        #expect(abs(startTime - restartedAt) < 2, "process_start_time_seconds is the new agent's: \(startTime) vs \(restartedAt)")
        #expect((scraped.first { $0.name == "process_open_fds" }?.value ?? 0) > 10, "the agent's own descriptors (maps, links, sockets)")

        // `systemctl reload`: SIGHUP passed to the agent, RELOADING=1 (with the time), READY=1.
        kill(supervisor.processIdentifier, SIGHUP)
        #expect(waitFor(10) { Self.transitions(log).contains { $0["event"] as? String == "reloaded" && $0["pid"] as? Int == secondPid } },
                "\(Self.transitions(log))")
        let reloading = try #require(Self.transitions(log).first { $0["event"] as? String == "reloading" && $0["pid"] as? Int == secondPid })
        #expect(UInt64(reloading["monotonic_usec"] as? String ?? "") ?? 0 > 0, "MONOTONIC_USEC with RELOADING=1: \(reloading)")
        #expect(waitFor(10) { !Self.findings(dir + "/events.jsonl", service: svc.process.processIdentifier, since: readyAt).isEmpty },
                "a finding from the new agent names the service")

        // A wedged agent (SIGSTOP): no WATCHDOG=1 within WatchdogSec; killed and restarted.
        let stoppedAt = Date().timeIntervalSince1970
        kill(Int32(secondPid), SIGSTOP)
        let third = try Self.waitForReady(3, log: log)
        let t3 = Self.transitions(log)
        let timeout = try #require(t3.first { $0["event"] as? String == "watchdog-timeout" && $0["pid"] as? Int == secondPid }, "\(t3)")
        #expect((timeout["seconds_since_ping"] as? Double ?? 0) >= 2)
        #expect(t3.contains { $0["event"] as? String == "exited" && $0["pid"] as? Int == secondPid && $0["because"] as? String == "watchdog" })
        #expect(third["pid"] as? Int != secondPid)
        let timedOutAt = timeout["time"] as? Double ?? 0, thirdReadyAt = third["time"] as? Double ?? 0
        print(String(format: "supervised restart: the attack while down took %.2f s; SIGKILL -> READY=1 again in %.1f s (RestartSec 5 s); SIGSTOP -> watchdog timeout in %.1f s (WatchdogSec 2 s) -> READY=1 again in %.1f s",
                     attackedAt - attackStart, readyAt - killedAt, timedOutAt - stoppedAt, thirdReadyAt - stoppedAt))
        let again = try LoopbackListener()
        try attack(svc.port, home: again.port)
        #expect(again.accepted == 0, "enforcing after the watchdog restart")

        // The service manager's stop: SIGTERM, a clean exit, the pins removed.
        kill(supervisor.processIdentifier, SIGTERM)
        supervisor.waitUntilExit()
        #expect(supervisor.terminationStatus == 0, "\(Self.transitions(log)); agent: \(agentLog())")
        let last = Self.transitions(log)
        #expect(last.contains { $0["event"] as? String == "stopping" && $0["by"] as? String == "service" }, "STOPPING=1 at shutdown")
        #expect(!last.contains { $0["event"] as? String == "ignored" }, "only the main process notified")
        #expect(!FileManager.default.fileExists(atPath: pin), "a clean stop removes the pins")
    }
}

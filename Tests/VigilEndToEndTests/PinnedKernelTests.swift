import Foundation
import Testing
import VigilTestSupport
import VigilCore

/// The kernel side keeps enforcing while the agent is down (issue 19 item 6): with
/// `--bpf-pin`, the links stay pinned in bpffs when the agent is SIGKILLed, the exec guard
/// still stops the test service's phone-home shell, and the next start (what systemd's
/// Restart= does) replaces the old links, none attached twice, and enforces again.
@Suite(.serialized, .enabled(if: BPFTestGate.shouldRun), .timeLimit(.minutes(3)))
struct PinnedKernelTests {
    /// An agent enforcing on the test's own service only, started as systemd would (no wait).
    static func startAgent(_ svc: LearnedService, policy: String, pin: String, log: String) throws -> Process {
        let p = Process()
        p.executableURL = try vigilExecutable()
        p.arguments = ["enforce", "--models", svc.models, "--workload", "exe:" + svc.binary, "--policy", policy, "--bpf-pin", pin,
                       "--control-socket", "none", "--output", "file:" + log + ".jsonl"]
        #expect(FileManager.default.createFile(atPath: log, contents: nil))
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let end = Date().addingTimeInterval(20)
        while Date() < end, !((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("baselines loaded") {
            Thread.sleep(forTimeInterval: 0.1)
        }
        Thread.sleep(forTimeInterval: 0.5)
        return p
    }

    /// The id of the link pinned at `path` (bpftool), nil when there is none.
    static func linkID(pinned path: String) throws -> Int? {
        let out = try runCapturing("/usr/sbin/bpftool", ["-j", "link", "show", "pinned", path])
        guard out.status == 0, let obj = try? JSONSerialization.jsonObject(with: Data(out.text.utf8)) as? [String: Any] else { return nil }
        return obj["id"] as? Int
    }

    static func linkExists(id: Int) throws -> Bool {
        try runCapturing("/usr/sbin/bpftool", ["-j", "link", "show", "id", String(id)]).status == 0
    }

    static func runCapturing(_ path: String, _ args: [String]) throws -> (status: Int32, text: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func theExecGuardOutlivesASIGKILLedAgentAndARestartReadoptsIt() throws {
        try BPFTestGate.check()
        let svc = try LearnedService.start()
        let pin = "/sys/fs/bpf/vigil-test-" + UUID().uuidString.prefix(8).lowercased()
        var agents: [Process] = []
        defer {
            for a in agents where a.isRunning { kill(a.processIdentifier, SIGKILL); a.waitUntilExit() }
            try? FileManager.default.removeItem(atPath: pin)   // unpinning detaches whatever is left
            svc.stop()
        }
        let policy = try svc.enforceLearningPolicy()
        let dir = (svc.models as NSString).deletingLastPathComponent

        // Without Vigil the attack works: the shell's connection arrives.
        let control = try LoopbackListener()
        try attack(svc.port, home: control.port)
        #expect(control.accepted >= 1, "the attack phones home when nothing guards the service")

        // An agent pins its links, then dies without a word.
        let first = try Self.startAgent(svc, policy: policy, pin: pin, log: dir + "/agent1.err")
        agents.append(first)
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        let pinned = (try? FileManager.default.contentsOfDirectory(atPath: pin))?.sorted() ?? []
        #expect(pinned.contains("vg_exec") && pinned.count >= 10, "the links stay pinned: \(pinned); agent: \((try? String(contentsOfFile: dir + "/agent1.err", encoding: .utf8)) ?? "")")
        let oldExec = try #require(try Self.linkID(pinned: pin + "/vg_exec"))

        // With no agent running, the kernel alone stops the phone-home shell at exec.
        let whileDown = try LoopbackListener()
        try attack(svc.port, home: whileDown.port)
        #expect(whileDown.accepted == 0, "the exec guard kept working while the agent was down")
        #expect(svc.process.isRunning)

        // The supervisor's restart: the same pin directory; the old links are replaced.
        let second = try Self.startAgent(svc, policy: policy, pin: pin, log: dir + "/agent2.err")
        agents.append(second)
        let err2 = (try? String(contentsOfFile: dir + "/agent2.err", encoding: .utf8)) ?? ""
        #expect(err2.contains("replaced \(pinned.count) links an earlier agent left attached"), "\(err2)")
        let newExec = try #require(try Self.linkID(pinned: pin + "/vg_exec"))
        #expect(newExec != oldExec)
        #expect(try !Self.linkExists(id: oldExec), "the old exec link is detached: no program attached twice")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: pin)) ?? []).sorted() == pinned, "one pin per program")
        let restarted = try LoopbackListener()
        try attack(svc.port, home: restarted.port)
        #expect(restarted.accepted == 0, "the restarted agent enforces")

        // A clean stop takes the kernel side down: nothing stays pinned.
        kill(second.processIdentifier, SIGTERM)
        second.waitUntilExit()
        #expect(second.terminationStatus == 0)
        #expect(!FileManager.default.fileExists(atPath: pin), "a clean stop removes the pins")
        #expect(try !Self.linkExists(id: newExec))
        // And then nothing stops the attack again: it was the pinned kernel side that did.
        #expect(svc.process.isRunning, "the exec guard kills the shell, not the service")
        let after = try LoopbackListener()
        try attack(svc.port, home: after.port)
        #expect(after.accepted >= 1, "with the pins gone the attack works again")
    }
}

import Foundation
import Testing
import VigilTestSupport
import VigilCore

/// Self-protection on the real kernel (issue 19 item 6): each way of reaching for the agent
/// is a finding; stopping it the legitimate way is not.
@Suite(.serialized) struct SelfProtectionCommandTests {
    /// Runs `script` with python3 (ctypes: raw ptrace and bpf calls).
    static func python(_ script: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = ["-c", script]
        try p.run()
        p.waitUntilExit()
    }

    @Test func everyTamperPathIsAFindingAndAStopFromTheParentIsNot() throws {
        try BPFTestGate.check()
        let dir = try makeTempDirectory("vigil-selfprot")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/models", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let findings = dir + "/findings.jsonl"
        var signaller: Int32 = 0, tracer: Int32 = 0, detacher: Int32 = 0
        // Scoped to a workload nothing runs: tamper is reported whoever does it, never acted on here.
        let r = try runVigil(["monitor", "--models", dir + "/models", "--workload", "exe:/opt/vigilnone/svc", "--control-socket", "none",
                              "--duration", "30", "--output", "file:" + findings]) {
            let agent = try #require(EnforceCommandTests.pid(ofCommandContaining: dir + "/models"))
            // A signal from a process that is not the agent's parent or session leader's child... a sibling: SIGURG stops nothing.
            let bash = Process()
            bash.executableURL = URL(fileURLWithPath: "/bin/bash")
            bash.arguments = ["-c", "kill -URG \(agent)"]
            try bash.run()
            signaller = bash.processIdentifier
            bash.waitUntilExit()
            // ptrace attach (PTRACE_SEIZE = 0x4206), released when the tracer exits.
            let t = Process()
            t.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            t.arguments = ["-c", "import ctypes; ctypes.CDLL(None, use_errno=True).ptrace(0x4206, \(agent), 0, 0)"]
            try t.run()
            tracer = t.processIdentifier
            t.waitUntilExit()
            // bpf(BPF_LINK_DETACH = 34) from another process (a bad attr: it fails, but it was tried).
            let d = Process()
            d.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            d.arguments = ["-c", "import ctypes; ctypes.CDLL(None, use_errno=True).syscall(321, 34, None, 0)"]
            try d.run()
            detacher = d.processIdentifier
            d.waitUntilExit()
            // An edit of the models directory while it runs.
            #expect(FileManager.default.createFile(atPath: dir + "/models/usr-bin-nc.json", contents: Data("{}".utf8), attributes: [.posixPermissions: 0o600]))
            // The models directory is checked once a second: wait for its report (a fixed
            // 2.5 s missed it once on a loaded machine), then stop.
            _ = waitFor(10) { ((try? String(contentsOfFile: findings, encoding: .utf8)) ?? "").contains("usr-bin-nc.json") }
            // The legitimate stop: SIGTERM from the process that started it.
            kill(agent, SIGTERM)
        }
        #expect(r.status == 0, "\(r.err)")
        let events = jsonLines((try? String(contentsOfFile: findings, encoding: .utf8)) ?? "")
        let tamper = events.filter { ((dig($0, "finding_info.types") as? [String]) ?? []).contains("tamper") }
        func actor(_ e: [String: Any]) -> Int32? { (dig(e, "actor.process.pid") as? Int).map(Int32.init) }
        #expect(tamper.contains { actor($0) == signaller }, "the signal from a sibling: \(tamper)")
        #expect(tamper.contains { actor($0) == tracer }, "the ptrace attach")
        #expect(tamper.contains { actor($0) == detacher }, "the BPF detach")
        #expect(!tamper.contains { actor($0) == getpid() }, "the stop from the agent's parent is not tampering: \(tamper)")
        #expect(events.contains { ($0["message"] as? String ?? "").contains("changed while Vigil runs") && ($0["message"] as? String ?? "").contains("usr-bin-nc.json") },
                "the edit of the models directory")
        let stop = try #require(events.last { dig($0, "activity_name") as? String == "Stop" })
        #expect((stop["message"] as? String ?? "").contains("SIGTERM from pid \(getpid())"), "\(stop)")
    }
}

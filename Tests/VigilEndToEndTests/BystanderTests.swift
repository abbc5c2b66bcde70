import Foundation
import Testing
import VigilTestSupport

/// `vigil enforce` scoped to one service, on a host where other things happen: the
/// attacked service is stopped, and no bystander is harmed.
@Suite(.serialized, .enabled(if: BPFTestGate.shouldRun), .timeLimit(.minutes(3)))
struct BystanderTests {
    func spawn(_ script: String, _ interpreter: String = "/bin/bash") throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: interpreter)
        p.arguments = ["-c", script]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }

    @Test func scopedEnforceStopsTheAttackedServiceAndLeavesEveryBystanderAlone() throws {
        try BPFTestGate.check()
        let svc = try LearnedService.start()
        defer { svc.stop() }
        let home = try LoopbackListener()
        let outbound = try LoopbackListener()
        let dir = svc.models + "/.."
        let findings = dir + "/findings.jsonl"
        // Everything may climb to kill: if a bystander were in scope, it would be harmed.
        try "unknown:\n  cap: kill\nenforce-learning: [\(svc.id)]\n".write(toFile: dir + "/policy.yaml", atomically: false, encoding: .utf8)
        // Bystanders older than the agent: a shell loop that keeps starting programs no
        // baseline knows, a sleep, and a python script that connects out.
        var bystanders = [
            try spawn("while :; do /usr/bin/env true; /usr/bin/date >/dev/null; /usr/bin/id -u >/dev/null; sleep 0.2; done"),
            try spawn("exec sleep 60"),
            try spawn("""
                import socket, time
                while True:
                    s = socket.create_connection(("127.0.0.1", \(outbound.port))); s.close(); time.sleep(0.2)
                """, "/usr/bin/python3"),
        ]
        defer { for p in bystanders where p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() } }
        var connectsWhileEnforced = 0
        let r = try runVigil(["enforce", "--models", svc.models, "--workload", "exe:" + svc.binary, "--policy", dir + "/policy.yaml",
                              "--duration", "9", "--output", "file:" + findings]) {
            // The agent has started (its start event is out) before anything happens.
            _ = waitFor(5) { ((try? String(contentsOfFile: findings, encoding: .utf8)) ?? "").contains("Vigil started") }
            // A bystander started under the agent, which also signals the agent (tamper).
            bystanders.append(try spawn("kill -URG \(try #require(EnforceCommandTests.pid(ofCommandContaining: svc.models))); /usr/bin/env true; exec sleep 60"))
            let before = outbound.accepted
            try attack(svc.port, home: home.port)
            Thread.sleep(forTimeInterval: 3)
            connectsWhileEnforced = outbound.accepted - before
        }
        #expect(r.status == 0, "stderr: \(r.err)")
        for p in bystanders {
            #expect(p.isRunning, "bystander \(p.arguments ?? []) is untouched")
            #expect(processState(p.processIdentifier) != "T", "bystander \(p.arguments ?? []) is not suspended")
        }
        #expect(connectsWhileEnforced > 3, "the python bystander kept connecting out (\(connectsWhileEnforced))")
        let lines = jsonLines((try? String(contentsOfFile: findings, encoding: .utf8)) ?? "").filter { $0["class_uid"] as? Int == 2004 }
        let bystanderPids = Set(bystanders.map { Int($0.processIdentifier) })
        let acted = lines.filter { dig($0, "unmapped.vigil_decision.acts") as? Bool == true }
        // The attack's shell is a program no baseline knows, started by a member the kernel
        // already marked deviating: it dies at exec, before it can connect.
        #expect(home.accepted == 0, "the attack never phoned home")
        #expect(!acted.isEmpty, "the attack was acted on: \(lines.map { dig($0, "unmapped.vigil_decision") ?? "" })")
        #expect(acted.allSatisfy { (dig($0, "unmapped.vigil_decision.workload") as? String) == "exe:" + svc.binary })
        for f in lines where bystanderPids.contains(dig(f, "actor.process.pid") as? Int ?? -1) {
            #expect(dig(f, "unmapped.vigil_decision.acts") as? Bool == false, "a bystander's finding (tamper) is reported, never acted on")
            #expect(dig(f, "unmapped.vigil_decision.scope") as? String == "outside every workload")
        }
    }
}

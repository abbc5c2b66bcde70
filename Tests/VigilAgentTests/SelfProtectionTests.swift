import Foundation
import Testing
@testable import VigilAgent
import VigilCore
import VigilOutput
import VigilSensor
import VigilTestSupport

/// Self-protection (issue 19 item 6): stopping the agent the legitimate way is not
/// tampering; signalling, tracing or detaching it from elsewhere is, and so is reported an
/// edit of its models directory by someone else.
@Suite struct SelfProtectionTests {
    static let svc = "/opt/vigil-test/svc"

    /// The agent's own lineage as the process table would hold it: its parent, then itself.
    static var lineage: [ProcessRecord] {
        [ProcessRecord(pid: getppid(), ppid: 1, path: "/usr/bin/bash"), ProcessRecord(pid: getpid(), ppid: getppid(), path: "/usr/local/bin/vigil")]
    }

    static func signal(_ sig: Int32, from pid: Int32) -> Event {
        Events.ev(pid, .tamper(.init(kind: .signal, detail: UInt32(sig))))
    }

    static func tamperFindings(_ rig: Rig) throws -> [[String: Any]] {
        try rig.findings().filter { (($0["finding_info"] as? [String: Any])?["types"] as? [String] ?? []).contains("tamper") }
    }

    @Test func aStopFromTheParentOrTheServiceManagerIsNotTampering() throws {
        let rig = try Rig(.enforce, workloads: ["exe:" + Self.svc], running: Self.lineage)
        rig.feed([Self.signal(SIGTERM, from: getppid()), Self.signal(SIGINT, from: getppid()), Self.signal(SIGTERM, from: 1),
                  Self.signal(SIGHUP, from: 1)])
        #expect(rig.agent.lastStopSignal?.contains("SIGHUP from pid 1, the service manager") == true, "\(rig.agent.lastStopSignal ?? "nil")")
        rig.agent.stop(reason: "test")
        #expect(try Self.tamperFindings(rig).isEmpty)
        #expect(rig.kernel.signals.isEmpty)
    }

    @Test func aStopFromAProcessStartedFromTheAgentsSessionIsNotTampering() throws {
        // The session leader (a login shell, not the agent's parent) is in the table; a `kill`
        // started from it (no /proc entry left) sends SIGTERM. The session is named, not read
        // from this test's own, which inside a PID namespace can be 0.
        let leader: Int32 = 800_000
        let rig = try Rig(.enforce, workloads: ["exe:" + Self.svc],
                          running: [ProcessRecord(pid: leader, ppid: 1, path: "/usr/bin/bash")] + Self.lineage)
        rig.agent.ownSession = leader
        rig.feed([Events.exec(900_001, ppid: leader, "/usr/bin/kill"), Self.signal(SIGTERM, from: 900_001)])
        #expect(rig.agent.lastStopSignal?.contains("started from the agent's session") == true, "\(rig.agent.lastStopSignal ?? "nil")")
        rig.agent.stop(reason: "test")
        let all = try rig.findings()
        #expect(try Self.tamperFindings(rig).isEmpty, "\(all)")
    }

    @Test func aStopFromAProcessTheAgentsParentStartedIsNotTampering() throws {
        // `vigil run & ... kill %1`: the shell that started the agent runs `kill`; no session needed.
        let rig = try Rig(.enforce, workloads: ["exe:" + Self.svc], running: Self.lineage)
        rig.agent.ownSession = 0
        rig.feed([Events.exec(900_003, ppid: getppid(), "/usr/bin/kill"), Self.signal(SIGTERM, from: 900_003)])
        #expect(rig.agent.lastStopSignal?.contains("started by an ancestor of the agent") == true, "\(rig.agent.lastStopSignal ?? "nil")")
        rig.agent.stop(reason: "test")
        let all = try rig.findings()
        #expect(try Self.tamperFindings(rig).isEmpty, "\(all)")
    }

    @Test func anyOtherSignalOrSenderIsTampering() throws {
        let rig = try Rig(.enforce, workloads: ["exe:" + Self.svc], running: Self.lineage)
        // A stop signal from a process outside the agent's lineage and session, and a signal
        // that stops or reloads nothing even from the parent.
        rig.feed([Events.exec(900_002, ppid: 1, "/opt/vigil-test/intruder"), Self.signal(SIGTERM, from: 900_002),
                  Self.signal(SIGURG, from: getppid())])
        rig.agent.stop(reason: "test")
        let found = try Self.tamperFindings(rig)
        #expect(found.contains { Rig.pid(of: $0) == 900_002 })
        #expect(found.contains { Rig.pid(of: $0) == getppid() })
        #expect(rig.agent.lastStopSignal == nil)
    }

    @Test func aProcessTheTableKnowsIsJudgedByItsRecordNotByAReusedPid() throws {
        // The sender's pid is, on this host right now, a kernel thread's (a kworker): the
        // table holds it as the service's child, so its signal is tampering all the same.
        let kthreads = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap(Int32.init)
            .filter { $0 > 2 && Agent.procSaysKernelThread($0) }
        let reused = try #require(kthreads.first, "this host has kernel threads in /proc")
        let rig = try Rig(.enforce, workloads: ["exe:" + Self.svc], running: Self.lineage)
        rig.feed([Events.exec(900_010, ppid: 1, Self.svc), Events.fork(900_010, reused), Self.signal(SIGUSR1, from: reused)])
        rig.agent.stop(reason: "test")
        #expect(try Self.tamperFindings(rig).contains { Rig.pid(of: $0) == reused })
    }

    @Test(arguments: [Event.Tamper.Kind.ptrace, .bpfDetach])
    func tracingOrDetachingTheAgentIsTampering(kind: Event.Tamper.Kind) throws {
        let rig = try Rig(.monitor, workloads: ["exe:" + Self.svc], running: Self.lineage)
        // Even from the agent's own parent: nobody has a reason to trace or detach it.
        rig.feed([Events.ev(getppid(), .tamper(.init(kind: kind, detail: 16)))])
        rig.agent.stop(reason: "test")
        let f = try #require(try Self.tamperFindings(rig).first)
        #expect(Rig.pid(of: f) == getppid())
    }

    @Test func anEditOfTheModelsDirectoryByAnotherIsReportedOnce() throws {
        let p = AgentCapTests.profile()
        let rig = try Rig(.monitor, workloads: ["exe:" + Self.svc], profiles: [p])
        rig.agent.tick(now: Rig.t0)
        let path = rig.dir + "/models/\(p.id).json"
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data(" ".utf8))
        try handle.close()
        #expect(FileManager.default.createFile(atPath: rig.dir + "/models/usr-bin-nc.json", contents: Data("{}".utf8)))
        rig.agent.tick(now: Rig.t0)
        rig.agent.tick(now: Rig.t0)
        rig.agent.stop(reason: "test")
        let events = try FailSafeBaselineTests.events(rig).filter { ($0["message"] as? String ?? "").contains("changed while Vigil runs") }
        #expect(events.count == 1, "\(events)")
        let u = try #require(events.first?["unmapped"] as? [String: Any])
        #expect(u["changed"] as? [String] == [p.id + ".json"])
        #expect(u["added"] as? [String] == ["usr-bin-nc.json"])
    }

    @Test func theAgentsOwnSavesAreNotReported() throws {
        // `vigil run`, a new program learned and saved by the agent at its save interval.
        let dir = try makeTempDirectory("vigil-selfsave")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var run = RunConfig(models: dir + "/models", state: dir + "/state")
        run.outputs = ["file:" + dir + "/out.jsonl"]
        run.metricsListen = nil
        run.saveIntervalSeconds = 1
        var c = AgentConfiguration(command: .run, run: run, keepsState: true, policy: .standard, policyName: "test", hostID: "test")
        c.protectedExecutables = []
        let baselines = try Agent.loadBaselines(c)
        let stream = try EventStream(outputs: run.outputs, spoolDirectory: nil, encoder: OCSFEncoder(productVersion: "test"))
        let clock = SteppingClock(Rig.t0)
        let agent = Agent(configuration: c, baselines: baselines, kernel: FakeKernel(), stream: stream, clock: clock)
        agent.start(running: [])
        agent.handle(Events.exec(500, ppid: 1, Self.svc))
        agent.handle(Events.novelty(500, ["openat", "read", "close"]))
        for _ in 0..<4 {
            clock.advance(seconds: 1.5)
            agent.afterRead()
        }
        agent.waitForSaves()
        clock.advance(seconds: 1.5)
        agent.afterRead()   // the directory checked again once the writer is done
        #expect(FileManager.default.fileExists(atPath: dir + "/models/" + ProfileIdentity(executable: Self.svc).id + ".json"), "the agent saved")
        agent.stop(reason: "test")
        let text = (try? String(contentsOfFile: dir + "/out.jsonl", encoding: .utf8)) ?? ""
        #expect(!text.contains("changed while Vigil runs"), "\(text)")
    }
}

/// A clock tests move by hand.
final class SteppingClock: AgentClock, @unchecked Sendable {
    private let lock = NSLock()
    private var now: UInt64
    init(_ start: UInt64) { now = start }
    func nowNanos() -> UInt64 { lock.withLock { now } }
    func advance(seconds: Double) { lock.withLock { now += UInt64(seconds * 1e9) } }
}

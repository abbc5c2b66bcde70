import Foundation
import Testing
import VigilAgent
import VigilCore
import VigilOutput
import VigilSensor
import VigilTestSupport

/// What the fake kernel throws for a write to a full map (the real one throws E2BIG).
struct FakeMapFull: Error {}

/// The kernel as the agent sees it, recorded: every call, every signal, every response.
final class FakeKernel: KernelControl {
    var calls: [String] = []
    var signals: [(pid: Int32, signal: Int32)] = []
    var responses: [Int32: Sensor.Responses] = [:]
    var slots: [Int32: UInt32] = [:]
    var membership: [Int32: Sensor.Membership] = [:]
    var known: [UInt32: (syscalls: Set<UInt32>, ngrams: Set<UInt64>)] = [:]
    var detached = false
    var profileSlotLimit: UInt32 = 65536
    var mapCapacities: [String: UInt32] = [:]

    func assignProfile(pid: Int32, slot: UInt32, execSeq: UInt32?) throws { slots[pid] = slot }
    func setMembership(pid: Int32, _ m: Sensor.Membership) throws { membership[pid] = m }
    func releaseProcess(pid: Int32) { slots[pid] = nil; responses[pid] = nil; membership[pid] = nil }
    /// vg_exec_slots as the agent left it, and every write in order.
    var execSlots: [ExecSlotKey: UInt32] = [:]
    var execSlotWrites: [String] = []
    /// Keys beyond this many are refused as a full map would (E2BIG).
    var execSlotCapacity = Int.max
    func publishExecSlot(_ key: ExecSlotKey, slot: UInt32) throws {
        guard execSlots[key] != nil || execSlots.count < execSlotCapacity else { throw FakeMapFull() }
        execSlotWrites.append("publish \(key.inode) \(slot)")
        execSlots[key] = slot
    }
    func unpublishExecSlot(_ key: ExecSlotKey) {
        execSlotWrites.append("unpublish \(key.inode)")
        execSlots[key] = nil
    }
    func setResponses(pid: Int32, _ r: Sensor.Responses) throws {
        calls.append("responses \(pid) \(r.rawValue)")
        responses[pid] = r
    }
    var knownExecutables: Set<String> = []
    func setKnownExecutables(_ paths: some Sequence<String>) throws {
        calls.append("known-executables")
        knownExecutables.formUnion(paths)
    }
    func removeKnownExecutables(_ paths: some Sequence<String>) throws {
        calls.append("forget-executables")
        knownExecutables.subtract(paths)
    }
    var egress: [UInt32: Set<NetworkDestination>] = [:]
    var listens: [UInt32: Set<ListeningSocket>] = [:]
    var children: [UInt32: Set<String>] = [:]
    func setKnownChildren(slot: UInt32, _ paths: some Sequence<String>) throws { children[slot, default: []].formUnion(paths) }
    var ingress: [UInt32: Set<NetworkDestination>] = [:]
    var listenerOwners: [Int32] = []
    /// How often the agent asked for the ingress gate; refused when `ingressGateRefused`.
    var ingressGateAttaches = 0
    var ingressGateRefused = false
    func attachIngressGate() throws {
        ingressGateAttaches += 1
        if ingressGateRefused { throw SensorError("refused", remedy: "none") }
    }
    func ownListeners(pid: Int32) -> Int { listenerOwners.append(pid); return 1 }
    func setIngress(slot: UInt32, _ peers: some Sequence<NetworkDestination>) throws -> Int {
        ingress[slot, default: []].formUnion(peers)
        return ingress[slot]!.count
    }
    func setListens(slot: UInt32, _ sockets: some Sequence<ListeningSocket>) throws { listens[slot, default: []].formUnion(sockets) }
    func setEgress(slot: UInt32, _ destinations: some Sequence<NetworkDestination>) throws -> Int {
        egress[slot, default: []].formUnion(destinations)
        return egress[slot]!.count
    }
    func setSlotMode(_ slot: UInt32, _ mode: ProfileMode) throws { calls.append("slot-mode \(slot) \(mode.rawValue)") }
    func preload(slot: UInt32, syscalls: some Sequence<UInt32>, ngrams: some Sequence<UInt64>) throws {
        known[slot, default: ([], [])].syscalls.formUnion(syscalls)
        known[slot, default: ([], [])].ngrams.formUnion(ngrams)
    }
    func replaceKnown(_ slots: [UInt32: (syscalls: Set<UInt32>, ngrams: Set<UInt64>)]) throws -> Int {
        for (s, k) in slots { known[s] = k }
        calls.append("replace-known \(slots.count)")
        return 0
    }
    /// How often the agent had the exec guard look again at the known executables' files.
    var knownExecutableFileRefreshes = 0
    func refreshKnownExecutableFiles() throws { knownExecutableFileRefreshes += 1 }
    func replaceKnownKeys(_ slots: [UInt32: Sensor.SlotKeys]) throws -> Int {
        for (s, k) in slots {
            egress[s] = Set(k.destinations)
            listens[s] = Set(k.listens)
            ingress[s] = Set(k.peers)
            children[s] = Set(k.children)
        }
        calls.append("replace-known-keys \(slots.keys.sorted())")
        return 0
    }
    func knownCounts() -> [UInt32: KernelCounts] {
        calls.append("known-counts")
        return [:]
    }
    func signal(pid: Int32, _ signal: Int32) -> Int32 {
        signals.append((pid, signal))
        return 0
    }
    var kernelDrops: UInt64 { 0 }
    var statsValue = SensorStats()
    var stats: SensorStats { statsValue }
    var ringBufferFill: (used: Int, size: Int) { (0, 1 << 20) }
    func programStats() -> [ProgramStats] { [] }
    var runTimeStatsEnabled: Bool { false }
    func detach() {
        calls.append("detach")
        detached = true
    }
}

struct ManualAgentClock: AgentClock {
    let now: UInt64
    func nowNanos() -> UInt64 { now }
}

/// One agent on a fake kernel, with its findings written to a file the test reads.
struct Rig {
    let dir: String
    let kernel = FakeKernel()
    let agent: Agent
    static let t0: UInt64 = 1_000_000_000_000

    init(_ command: AgentConfiguration.Command, workloads: [String] = [], allProcesses: Bool = false, policy: String? = nil,
         profiles: [Profile] = [], running: [ProcessRecord] = [], slotLimit: UInt32 = 65536,
         configure: (inout AgentConfiguration) -> Void = { _ in },
         kernelSetup: (FakeKernel) -> Void = { _ in }) throws {
        kernel.profileSlotLimit = slotLimit
        kernelSetup(kernel)
        dir = try makeTempDirectory("vigil-agent")
        let models = dir + "/models"
        try FileManager.default.createDirectory(atPath: models, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let store = ProfileStore(directory: models)
        for var p in profiles { _ = try store.save(&p) }
        var run = RunConfig(models: models, state: dir + "/state")
        run.mode = command == .run ? nil : ProfileMode(rawValue: command == .enforce ? "enforce" : command == .monitor ? "monitor" : "learn")
        run.outputs = ["file:" + dir + "/out.jsonl"]
        run.metricsListen = nil
        let p = try policy.map { try Policy.load(yaml: $0, file: "test-policy.yaml") } ?? .standard
        var c = AgentConfiguration(command: command, run: run, keepsState: command == .run, policy: p, policyName: "test", hostID: "test")
        c.workloads = try workloads.map { Workload(name: $0, selectors: [try WorkloadSelector.parse($0)]) }
        c.allProcesses = allProcesses
        c.protectedExecutables = []
        configure(&c)
        let baselines = try Agent.loadBaselines(c)
        let stream = try EventStream(outputs: run.outputs, spoolDirectory: nil, encoder: OCSFEncoder(productVersion: "test"))
        agent = Agent(configuration: c, baselines: baselines, kernel: kernel, stream: stream, clock: ManualAgentClock(now: Self.t0))
        agent.start(running: running)
    }

    func feed(_ events: [Event]) {
        for e in events { agent.handle(e) }
        agent.afterRead()
    }

    /// The findings written so far (the agent stopped: everything flushed).
    func findings() throws -> [[String: Any]] {
        let text = (try? String(contentsOfFile: dir + "/out.jsonl", encoding: .utf8)) ?? ""
        return try text.split(separator: "\n").compactMap {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }.filter { $0["class_uid"] as? Int == 2004 }
    }

    static func pid(of finding: [String: Any]) -> Int32? {
        ((finding["actor"] as? [String: Any])?["process"] as? [String: Any])?["pid"] as? Int32
            ?? (((finding["actor"] as? [String: Any])?["process"] as? [String: Any])?["pid"] as? Int).map(Int32.init)
    }

    static func decision(of finding: [String: Any]) -> [String: Any]? {
        (finding["unmapped"] as? [String: Any])?["vigil_decision"] as? [String: Any]
    }
}

enum Events {
    static func ev(_ pid: Int32, _ payload: Event.Payload) -> Event {
        Event(timeNanos: Rig.t0, pid: pid, tid: pid, comm: "t", payload: payload)
    }
    static func exec(_ pid: Int32, ppid: Int32, _ path: String, uid: UInt32 = 1000) -> Event {
        ev(pid, .exec(.init(ppid: ppid, uid: uid, euid: uid, gid: 0, path: path, argv: [path])))
    }
    static func fork(_ parent: Int32, _ child: Int32) -> Event { ev(parent, .fork(.init(childPid: child))) }
    static func tamper(_ pid: Int32) -> Event { ev(pid, .tamper(.init(kind: .signal, detail: 10))) }
    static func novelty(_ pid: Int32, _ names: [String]) -> Event {
        let calls = names.map { UInt32(SyscallTable.number($0)!) }
        return ev(pid, .novelty(.init(profileSlot: 0, calls: calls, hash: NgramHash.hash(calls), newSyscall: false)))
    }
}

@Suite struct AgentResponseTests {
    static let killUnknown = "unknown:\n  cap: kill\n"

    @Test func actsOnlyOnMembersOfTheDeclaredWorkloadAndTheirLineage() throws {
        let rig = try Rig(.enforce, workloads: ["exe:/opt/vigil-test/svc"], policy: Self.killUnknown)
        rig.feed([
            Events.exec(500, ppid: 1, "/opt/vigil-test/svc"),
            Events.fork(500, 501),
            Events.exec(501, ppid: 500, "/bin/sh"),       // a member by lineage
            Events.exec(600, ppid: 1, "/opt/vigil-test/other"), // a bystander
        ])
        rig.feed([Events.tamper(501), Events.tamper(600)])
        rig.agent.stop(reason: "test")
        #expect(rig.kernel.signals.contains { $0.pid == 501 && $0.signal == SIGKILL }, "the member that tampered is killed")
        #expect(!rig.kernel.signals.contains { $0.pid == 600 }, "the bystander is never signalled")
        #expect(rig.kernel.responses[600] == nil, "nor given a response in the kernel")
        // The kernel is told who it may act on: the workload's root is guarded (its child
        // inherits that in the kernel at fork), the bystander is not.
        #expect(rig.kernel.membership[500] == .guarded)
        #expect(rig.kernel.membership[600] == nil)
        let findings = try rig.findings()
        let bystander = findings.filter { Rig.pid(of: $0) == 600 }
        #expect(!bystander.isEmpty, "tamper is reported even outside every workload")
        for f in bystander {
            let d = try #require(Rig.decision(of: f))
            #expect(d["acts"] as? Bool == false)
            #expect(d["scope"] as? String == "outside every workload")
        }
        let member = try #require(findings.last { Rig.pid(of: $0) == 501 })
        #expect(Rig.decision(of: member)?["workload"] as? String == "exe:/opt/vigil-test/svc")
        #expect(Rig.decision(of: member)?["acts"] as? Bool == true)
        // The unknown program the bystander ran was not reported: not Vigil's business.
        #expect(!findings.contains { Rig.pid(of: $0) == 600 && (($0["finding_info"] as? [String: Any])?["types"] as? [String] ?? []).contains("unknown-executable") })
    }

    @Test func allProcessesStillNeverTouchesProtectedProcesses() throws {
        let rig = try Rig(.enforce, allProcesses: true, policy: Self.killUnknown)
        rig.feed([Events.exec(700, ppid: 1, "/opt/vigil-test/tool"), Events.tamper(700), Events.tamper(1), Events.tamper(getpid())])
        rig.agent.stop(reason: "test")
        #expect(rig.kernel.signals.contains { $0.pid == 700 && $0.signal == SIGKILL })
        #expect(!rig.kernel.signals.contains { $0.pid == 1 || $0.pid == getpid() }, "PID 1 and Vigil itself are protected")
        let protected = try rig.findings().filter { Rig.pid(of: $0) == 1 }
        #expect(protected.allSatisfy { (Rig.decision(of: $0)?["scope"] as? String ?? "").hasPrefix("protected") })
    }

    @Test func aRunWithoutDeclaredWorkloadsActsOnNothing() throws {
        let rig = try Rig(.run, policy: Self.killUnknown) { $0.run.mode = .enforce }
        rig.feed([Events.exec(800, ppid: 1, "/opt/vigil-test/tool"), Events.tamper(800)])
        rig.agent.stop(reason: "test")
        #expect(rig.kernel.signals.isEmpty)
        let f = try #require(try rig.findings().last { Rig.pid(of: $0) == 800 })
        #expect(Rig.decision(of: f)?["rule"] as? String == "scope: no workload declared")
    }

    @Test func monitorDecidesButNeverActs() throws {
        let rig = try Rig(.monitor, workloads: ["exe:/opt/vigil-test/svc"], policy: Self.killUnknown)
        rig.feed([Events.exec(500, ppid: 1, "/opt/vigil-test/svc"), Events.tamper(500)])
        rig.agent.stop(reason: "test")
        #expect(rig.kernel.signals.isEmpty && rig.kernel.responses.isEmpty)
        let f = try #require(try rig.findings().last { Rig.pid(of: $0) == 500 })
        #expect((f["status_detail"] as? String ?? "").contains("would have acted"))
        #expect(Rig.decision(of: f)?["acts"] as? Bool == true, "the dry run says it would act")
    }

    /// A process monitor mode would have killed lives on: what it does next is reported
    /// (FilesKernelTests' /etc/shadow read came after a would-have-killed module load and
    /// was counted as "a deviation of an already-killed process"). One enforce killed is
    /// quiet after the kill.
    @Test func aWouldHaveKilledProcessIsStillReportedAndAKilledOneIsNot() throws {
        for command in [AgentConfiguration.Command.monitor, .enforce] {
            let rig = try Rig(command, workloads: ["exe:/opt/vigil-test/svc"], policy: Self.killUnknown)
            rig.feed([Events.exec(500, ppid: 1, "/opt/vigil-test/svc"), Events.tamper(500)])
            rig.feed([Events.ev(500, .tamper(.init(kind: .ptrace, detail: 16)))])
            rig.agent.stop(reason: "test")
            let tampers = try rig.findings().filter {
                Rig.pid(of: $0) == 500 && (($0["finding_info"] as? [String: Any])?["types"] as? [String] ?? []).contains("tamper")
            }
            if command == .monitor {
                #expect(rig.kernel.signals.isEmpty)
                #expect(tampers.count == 2, "monitor: both tampers reported, the second after the would-have-acted kill: \(tampers)")
            } else {
                #expect(rig.kernel.signals.contains { $0.pid == 500 && $0.signal == SIGKILL })
                #expect(tampers.count == 1, "enforce: the killed process's last records are counted, not reported: \(tampers)")
            }
        }
    }
}

@Suite struct AgentCapTests {
    /// A profile of /opt/vigil-test/svc learned from a few calls.
    static func profile() -> Profile {
        let learner = Learner(hostID: "t", profiles: [], now: Rig.t0, binaryHash: { _ in nil })
        var table = ProcessTable()
        let events = [Events.exec(50, ppid: 1, "/opt/vigil-test/svc"), Events.novelty(50, ["openat", "read", "close", "openat", "read", "close"])]
        for e in events { learner.apply(e, process: table.apply(e), now: Rig.t0) }
        return learner.profiles.values.first!
    }

    /// Many new sequences: statistically very unusual, nothing concrete.
    static let burst = (0..<60).map { i in Events.novelty(500, ["ptrace", "mprotect", "socket", "dup2", "execve", i % 2 == 0 ? "getpid" : "getuid"]) }

    @Test func aProfileStillLearningIsHeldAtAlert() throws {
        let rig = try Rig(.enforce, workloads: ["exe:/opt/vigil-test/svc"], profiles: [Self.profile()])
        rig.feed([Events.exec(500, ppid: 1, "/opt/vigil-test/svc")] + Self.burst)
        rig.agent.stop(reason: "test")
        #expect(rig.kernel.signals.isEmpty && rig.kernel.responses.values.allSatisfy { !$0.contains(.denyNetwork) })
        let f = try #require(try rig.findings().last { Rig.pid(of: $0) == 500 })
        #expect(Rig.decision(of: f)?["rule"] as? String == "cap: profile still learning", "\(f)")
    }

    /// A profile learned stable under another stability rule (`vigil learn --bucket 15
    /// --min-observed 60`) is stable for an agent running the default rule: the baseline's own
    /// history decides, not the judging agent's rule.
    @Test func aBaselineStableUnderItsOwnRuleIsNotHeldAsLearning() throws {
        let rule = StabilityPolicy(bucketSeconds: 15, windowBuckets: 3, minObservedSeconds: 60, minObservations: 1)
        let learner = Learner(hostID: "t", policy: rule, profiles: [], now: Rig.t0, binaryHash: { _ in nil })
        var table = ProcessTable()
        for e in [Events.exec(50, ppid: 1, "/opt/vigil-test/svc"), Events.novelty(50, ["openat", "read", "close", "openat", "read", "close"])] {
            learner.apply(e, process: table.apply(e), now: Rig.t0)
        }
        for s in 1...12 { learner.tick(Rig.t0 + UInt64(s) * 15_000_000_000) }   // three quiet minutes
        let p = learner.profiles.values.first!
        #expect(p.stability().state == .stable, "\(p.stability().reason)")
        // Statistics opted in to deny the network, so the profile's standing is what decides.
        let rig = try Rig(.enforce, workloads: ["exe:/opt/vigil-test/svc"], policy: "statistical-cap: deny-network\n", profiles: [p])
        rig.feed([Events.exec(500, ppid: 1, "/opt/vigil-test/svc")] + Self.burst)
        rig.agent.stop(reason: "test")
        let findings = try rig.findings().filter { Rig.pid(of: $0) == 500 }
        #expect(!findings.contains { Rig.decision(of: $0)?["rule"] as? String == "cap: profile still learning" },
                "\(findings.map { Rig.decision(of: $0) ?? [:] })")
        #expect(rig.kernel.responses[500]?.contains(.denyNetwork) == true, "statistics alone reach deny-network, no further")
    }

    @Test func statisticalEvidenceAloneNeverSuspendsOrKills() throws {
        let p = Self.profile()
        let rig = try Rig(.enforce, workloads: ["exe:/opt/vigil-test/svc"], profiles: [p]) { $0.policy.enforceLearning = [p.id] }
        rig.feed([Events.exec(500, ppid: 1, "/opt/vigil-test/svc")] + Self.burst)
        rig.agent.stop(reason: "test")
        #expect(!rig.kernel.signals.contains { $0.signal == SIGKILL || $0.signal == SIGSTOP }, "\(rig.kernel.signals)")
        let findings = try rig.findings().filter { Rig.pid(of: $0) == 500 }
        #expect(findings.contains { Rig.decision(of: $0)?["rule"] as? String == "cap: statistical evidence only" },
                "\(findings.map { Rig.decision(of: $0) ?? [:] })")
        #expect(rig.kernel.responses[500].map { !$0.contains(.denyNetwork) } ?? true, "by default not even the network: only an alert")
    }
}

/// The ingress gate runs for every TCP packet any local socket receives: the agent attaches
/// it only for the first process ingress segmentation applies to.
@Suite struct AgentIngressGateTests {
    @Test func theGateIsAttachedOnceForTheFirstIngressSegmentedMemberOnly() throws {
        let p = AgentCapTests.profile()
        let plain = try Rig(.enforce, workloads: ["exe:/opt/vigil-test/svc"], profiles: [p]) {
            $0.segment = true
            $0.policy.enforceLearning = [p.id]
        }
        plain.feed([Events.exec(500, ppid: 1, "/opt/vigil-test/svc")])
        plain.agent.stop(reason: "test")
        #expect(plain.kernel.membership[500]?.contains(.segment) == true)
        #expect(plain.kernel.ingressGateAttaches == 0, "egress segmentation alone leaves the gate off")

        let rig = try Rig(.enforce, workloads: ["exe:/opt/vigil-test/svc"], profiles: [p]) {
            $0.segmentIngress = true
            $0.policy.enforceLearning = [p.id]
        }
        rig.feed([Events.exec(600, ppid: 1, "/opt/vigil-test/other")])
        #expect(rig.kernel.ingressGateAttaches == 0, "a bystander does not bring the gate up")
        rig.feed([Events.exec(500, ppid: 1, "/opt/vigil-test/svc"), Events.exec(501, ppid: 1, "/opt/vigil-test/svc")])
        rig.agent.stop(reason: "test")
        #expect(rig.kernel.ingressGateAttaches == 1)
        #expect(rig.kernel.membership[500]?.contains(.segmentIngress) == true && rig.kernel.membership[501]?.contains(.segmentIngress) == true)
        #expect(rig.kernel.listenerOwners.contains(500))
    }

    @Test func aRefusedGateLeavesTheRestOfTheStanding() throws {
        let p = AgentCapTests.profile()
        let rig = try Rig(.enforce, workloads: ["exe:/opt/vigil-test/svc"], profiles: [p], configure: {
            $0.segmentIngress = true
            $0.policy.enforceLearning = [p.id]
        }, kernelSetup: { $0.ingressGateRefused = true })
        rig.feed([Events.exec(500, ppid: 1, "/opt/vigil-test/svc"), Events.exec(501, ppid: 1, "/opt/vigil-test/svc")])
        rig.agent.stop(reason: "test")
        #expect(rig.kernel.ingressGateAttaches == 1, "asked once, not at every process")
        #expect(rig.kernel.membership[500] == .guarded && rig.kernel.membership[501] == .guarded)
        #expect(rig.kernel.listenerOwners.isEmpty)
    }
}

@Suite struct AgentLifecycleTests {
    @Test func stopDetachesBeforeSavingAndReleasesWhatItSuspended() throws {
        let rig = try Rig(.enforce, workloads: ["exe:/opt/vigil-test/svc"], policy: "unknown:\n  cap: suspend\n")
        rig.feed([Events.exec(500, ppid: 1, "/opt/vigil-test/svc"), Events.tamper(500)])
        #expect(rig.kernel.signals.contains { $0.pid == 500 && $0.signal == SIGSTOP })
        rig.agent.stop(reason: "test")
        #expect(rig.kernel.detached)
        #expect(rig.kernel.signals.last.map { $0.pid == 500 && $0.signal == SIGCONT } == true, "nothing stays stopped")
        let text = try String(contentsOfFile: rig.dir + "/out.jsonl", encoding: .utf8)
        #expect(text.contains("Vigil stopped (test)"))
    }

    @Test func learnSavesWhatItLearnedAfterTheProbesAreOff() throws {
        let rig = try Rig(.learn)
        rig.feed([Events.exec(500, ppid: 1, "/opt/vigil-test/svc"), Events.novelty(500, ["openat", "read", "close", "openat", "read", "close"])])
        #expect(rig.kernel.slots[500] != nil && rig.kernel.slots[500] != 0, "the learned process has its slot in the kernel")
        rig.agent.stop(reason: "test")
        let detach = try #require(rig.kernel.calls.firstIndex(of: "detach"))
        let counts = try #require(rig.kernel.calls.lastIndex(of: "known-counts"))
        #expect(detach < counts, "probes off first, then the kernel's counts folded in and saved")
        let (saved, errors) = ProfileStore(directory: rig.dir + "/models").loadAll()
        #expect(errors.isEmpty)
        #expect(saved.map(\.identity.executable) == ["/opt/vigil-test/svc"])
    }

    /// The kernel's failure counters reach /metrics one per site, zero where none failed.
    @Test func kernelFailuresAreReportedPerSite() throws {
        let rig = try Rig(.monitor)
        rig.kernel.statsValue.failures = [.argvRead: 3, .knownFilesFull: 1]
        let m = rig.agent.metricsSnapshot()
        #expect(m.kernelFailuresBySite["argv-read"] == 3 && m.kernelFailuresBySite["known-files-full"] == 1)
        #expect(m.kernelFailuresBySite["unix-path-read"] == 0)
        #expect(Set(m.kernelFailuresBySite.keys) == Set(KernelFailureSite.allCases.map(\.rawValue)))
    }

    @Test func runInAFixedLearnModeLearnsOnlyWhatLearnOnlyNames() throws {
        let rig = try Rig(.run) {
            $0.run.mode = .learn
            $0.run.only = ["/opt/vigil-test/svc"]
        }
        rig.feed([Events.exec(500, ppid: 1, "/opt/vigil-test/svc"), Events.exec(501, ppid: 1, "/opt/vigil-test/other")])
        rig.agent.stop(reason: "test")
        let (saved, errors) = ProfileStore(directory: rig.dir + "/models").loadAll()
        #expect(errors.isEmpty)
        #expect(saved.map(\.identity.executable) == ["/opt/vigil-test/svc"], "learn.only holds under mode: learn too")
    }

    @Test func aLearnedProfileNamesTheWorkloadItsProcessesRanIn() throws {
        let rig = try Rig(.learn, workloads: ["exe:/opt/vigil-test/svc"])
        rig.feed([Events.exec(500, ppid: 1, "/opt/vigil-test/svc"), Events.exec(501, ppid: 1, "/opt/vigil-test/other")])
        rig.agent.stop(reason: "test")
        let (saved, errors) = ProfileStore(directory: rig.dir + "/models").loadAll()
        #expect(errors.isEmpty)
        #expect(saved.first { $0.identity.executable == "/opt/vigil-test/svc" }?.workloads.keys.sorted() == ["exe:/opt/vigil-test/svc"])
        #expect(saved.first { $0.identity.executable == "/opt/vigil-test/other" }.map { $0.workloads.isEmpty } ?? true,
                "a process outside every workload names none")
    }

    @Test func aReloadTakesTheNewPolicyAndARefusedOneKeepsTheOld() throws {
        let rig = try Rig(.run)
        var next = RunConfig(models: rig.dir + "/models", state: rig.dir + "/state")
        next.outputs = ["file:" + rig.dir + "/out.jsonl"]
        next.metricsListen = nil
        var policy = Policy.standard
        policy.halfLifeSeconds = 42
        rig.agent.reload(to: LoadedConfig(config: next, policy: policy), from: "test.yaml")
        #expect(rig.agent.configuration.policy.halfLifeSeconds == 42)
        #expect(rig.agent.metricsSnapshot().reloads["ok"] == 1)
        rig.agent.reloadRefused("broken")
        #expect(rig.agent.metricsSnapshot().lastReloadSucceeded == false)
        #expect(rig.agent.configuration.policy.halfLifeSeconds == 42, "a refused reload changes nothing")
        rig.agent.stop(reason: "test")
        let text = try String(contentsOfFile: rig.dir + "/out.jsonl", encoding: .utf8)
        #expect(text.contains("reload refused"))
    }
}

/// The context-aware rule shape: "workload web, user www-data, risk at least 50 with a new
/// destination outside 10.0.0.0/8: deny network; the same for root: suspend".
@Suite struct AgentContextRuleTests {
    static let web = "/opt/vigil-test/web"
    static let policy = """
        enforce-learning: [\(profile().id)]
        workloads:
          "exe:\(web)":
            weights: {new-connect: 50}   # a new destination alone reaches 50 in this workload
        rules:
          - name: web-exfiltration
            when: {workload: "exe:\(web)", user: www-data, risk-at-least: 50, new-destination-outside: [10.0.0.0/8]}
            then: deny-network
          - name: web-exfiltration-as-root
            when: {workload: "exe:\(web)", user: "0", risk-at-least: 50, new-destination-outside: [10.0.0.0/8]}
            then: suspend
        """

    static func profile() -> Profile {
        let learner = Learner(hostID: "t", profiles: [], now: Rig.t0, binaryHash: { _ in nil })
        var table = ProcessTable()
        let events = [Events.exec(50, ppid: 1, web), connect(50, "10.1.2.3", 5432)]
        for e in events { learner.apply(e, process: table.apply(e), now: Rig.t0) }
        return learner.profiles.values.first!
    }

    static func connect(_ pid: Int32, _ address: String, _ port: UInt16) -> Event {
        Events.ev(pid, .network(.init(operation: .connect, result: 0, fd: 3, transport: .tcp, local: nil,
                                      remote: .ipv4(IPv4Address(address)!, port: port))))
    }

    /// The rig, the web server running as `uid` connecting to `address`; the steps taken.
    static func run(uid: UInt32, to address: String) throws -> (FakeKernel, [[String: Any]]) {
        let rig = try Rig(.enforce, workloads: ["exe:" + web], policy: policy, profiles: [profile()])
        rig.feed([Events.exec(500, ppid: 1, web, uid: uid), connect(500, address, 443)])
        rig.agent.stop(reason: "test")
        return (rig.kernel, try rig.findings().filter { Rig.pid(of: $0) == 500 })
    }

    @Test func wwwDataConnectingOutsideTheNetworkLosesItsNetwork() throws {
        let wwwData = getpwnam("www-data").map { $0.pointee.pw_uid } ?? 33
        let (kernel, findings) = try Self.run(uid: wwwData, to: "203.0.113.7")
        #expect(kernel.responses[500]?.contains(.denyNetwork) == true)
        #expect(!kernel.signals.contains { $0.signal == SIGSTOP || $0.signal == SIGKILL })
        let decided = try #require(findings.last)
        #expect(Rig.decision(of: decided)?["rule"] as? String == "rule: web-exfiltration", "\(findings.map { Rig.decision(of: $0) ?? [:] })")
    }

    @Test func rootConnectingOutsideTheNetworkIsSuspended() throws {
        let (kernel, findings) = try Self.run(uid: 0, to: "203.0.113.7")
        #expect(kernel.signals.contains { $0.pid == 500 && $0.signal == SIGSTOP }, "the rule raised it above the band (deny-network at 50)")
        #expect(findings.contains { Rig.decision(of: $0)?["rule"] as? String == "rule: web-exfiltration-as-root" })
    }

    @Test func aNewDestinationInsideTheNetworkIsLeftToTheBands() throws {
        let (kernel, findings) = try Self.run(uid: 0, to: "10.9.9.9")
        #expect(!kernel.signals.contains { $0.signal == SIGSTOP }, "no rule matched: the band's deny-network")
        #expect(kernel.responses[500]?.contains(.denyNetwork) == true)
        #expect(findings.allSatisfy { (Rig.decision(of: $0)?["rule"] as? String ?? "") == "bands" })
    }

    @Test func aWorkloadCanTurnTheKernelExecGuardOff() throws {
        let rig = try Rig(.enforce, workloads: ["exe:" + Self.web], policy: "workloads:\n  \"exe:\(Self.web)\":\n    exec-guard: false\n")
        rig.feed([Events.exec(500, ppid: 1, Self.web), Events.exec(600, ppid: 1, "/opt/vigil-test/other")])
        rig.agent.stop(reason: "test")
        #expect(rig.kernel.membership[500] == [.guarded, .noExecGuard])
        #expect(rig.kernel.membership[600] == nil)
    }
}

@Suite struct AgentBrakeTests {
    static let svc = "/opt/vigil-test/svc"

    @Test func theCircuitBreakerDropsAWorkloadToMonitorAndAnOperatorRearmsIt() throws {
        let rig = try Rig(.enforce, workloads: ["exe:" + Self.svc], policy: "circuit-breaker: 2\nunknown:\n  cap: kill\n")
        let w = "exe:" + Self.svc
        rig.feed([Events.exec(500, ppid: 1, Self.svc)] + (501...503).flatMap { [Events.fork(500, $0)] })
        #expect(rig.kernel.membership[500] == .guarded)
        rig.feed((501...503).map { Events.tamper($0) })
        #expect(rig.kernel.signals.filter { $0.signal == SIGKILL }.map(\.pid) == [501, 502, 503], "three acts: the third trips the breaker")
        #expect(rig.agent.mode(ofWorkload: w) == "monitor (circuit breaker)")
        #expect(rig.kernel.membership[500] == [], "the kernel no longer acts on the workload")
        rig.feed([Events.fork(500, 504), Events.tamper(504)])
        #expect(!rig.kernel.signals.contains { $0.pid == 504 }, "tripped: judged, not acted on")
        #expect(rig.agent.metricsSnapshot().workloads.first?.mode == "monitor (circuit breaker)")

        #expect(rig.agent.answer("mode enforce \(w)") == "ok \(w) now enforce")
        #expect(rig.kernel.membership[500] == .guarded, "re-armed: the kernel acts again")
        rig.feed([Events.fork(500, 505), Events.tamper(505)])
        #expect(rig.kernel.signals.contains { $0.pid == 505 && $0.signal == SIGKILL })
        rig.agent.stop(reason: "test")
        let text = try String(contentsOfFile: rig.dir + "/out.jsonl", encoding: .utf8)
        #expect(text.contains("workload \(w): now monitor (circuit breaker: 3 actions within a minute, more than 2)"))
        #expect(text.contains("workload \(w): now enforce (operator: vigil mode enforce)"))
    }

    @Test func controlRequestsAreCheckedAndAnswered() throws {
        let rig = try Rig(.enforce, workloads: ["exe:" + Self.svc], policy: "unknown:\n  cap: suspend\n")
        let w = "exe:" + Self.svc
        rig.feed([Events.exec(500, ppid: 1, Self.svc), Events.tamper(500)])
        #expect(rig.kernel.signals.contains { $0.pid == 500 && $0.signal == SIGSTOP })
        #expect(rig.agent.answer("workloads") == "ok \(w): enforce")
        #expect(rig.agent.answer("mode monitor") == "ok \(w) now monitor")
        #expect(rig.kernel.signals.last.map { $0.pid == 500 && $0.signal == SIGCONT } == true, "monitor resumes what enforce stopped")
        #expect(rig.agent.answer("mode monitor") == "ok no change: \(w) already monitor")
        #expect(rig.agent.answer("mode monitor web").hasPrefix("error no workload 'web' in this agent; it has: \(w)"))
        #expect(rig.agent.answer("mode sideways").hasPrefix("error mode takes monitor or enforce"))
        #expect(rig.agent.answer("reboot").hasPrefix("error unknown request 'reboot'"))
        #expect(rig.agent.answer("resume") == "ok nothing to resume in \(w)")
        rig.agent.stop(reason: "test")
    }

    @Test func monitorCannotBeSwitchedToEnforce() throws {
        let rig = try Rig(.monitor, workloads: ["exe:" + Self.svc])
        #expect(rig.agent.answer("mode enforce").hasPrefix("error this agent runs `vigil monitor`, which never acts"))
        rig.agent.stop(reason: "test")
    }
}

@Suite struct ControlSocketTests {
    @Test func aRequestIsAnsweredOnTheAgentsThreadAndTheSocketIsPrivate() throws {
        let dir = try makeTempDirectory("vigil-control")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/run/control.sock"
        let server = try ControlServer(path: path)
        let mode = try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
        #expect(mode & 0o077 == 0, "only its owner may connect: \(String(mode, radix: 8))")
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var answer = ""
        Thread.detachNewThread {
            answer = (try? ControlClient.ask(path, "workloads")) ?? "failed"
            done.signal()
        }
        var served: [String] = []
        while done.wait(timeout: .now() + 0.02) == .timedOut { server.serve { served.append($0); return "ok seen \($0)" } }
        #expect(served == ["workloads"])
        #expect(answer == "ok seen workloads")
        #expect(throws: ControlError.self, "a second agent on the same socket is refused") { try ControlServer(path: path) }
        server.stop()
        #expect(!FileManager.default.fileExists(atPath: path), "the socket file goes with the agent")
        #expect(throws: ControlError.self) { try ControlClient.ask(path, "workloads") }
    }
}

@Suite struct AgentUpgradeTests {
    /// A program learned with one binary, then replaced by another that a package installed
    /// (the fake dpkg database vouches for it), or by one no package knows.
    func run(vouched: Bool) throws -> (findings: [[String: Any]], out: String) {
        let dir = try makeTempDirectory("vigil-upgrade")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let program = dir + "/svc"
        try FileManager.default.copyItem(atPath: "/usr/bin/true", toPath: program)
        try FileManager.default.createDirectory(atPath: dir + "/dpkg", withIntermediateDirectories: true)
        let digest = MD5.hex(Array(try Data(contentsOf: URL(fileURLWithPath: program))))
        if vouched { try "\(digest)  \(program.dropFirst())\n".write(toFile: dir + "/dpkg/svc-pkg.md5sums", atomically: false, encoding: .utf8) }
        let learner = Learner(hostID: "t", profiles: [], now: Rig.t0, binaryHash: { _ in String(repeating: "ab", count: 32) })
        var table = ProcessTable()
        let e = Events.exec(50, ppid: 1, program)
        learner.apply(e, process: table.apply(e), now: Rig.t0)
        learner.noteBinary(path: program, sha256: String(repeating: "ab", count: 32), now: Rig.t0)
        let profile = learner.profiles.values.first!
        let rig = try Rig(.enforce, workloads: ["exe:" + program], policy: "enforce-learning: [\(profile.id)]\n", profiles: [profile]) {
            $0.packageDatabase = dir + "/dpkg"
        }
        rig.feed([Events.exec(500, ppid: 1, program)])
        // The binary's hash is computed in the background: let the agent pick it up.
        let end = Date().addingTimeInterval(5)
        while Date() < end {
            rig.agent.afterRead()
            if let text = try? String(contentsOfFile: rig.dir + "/out.jsonl", encoding: .utf8),
               text.contains("binary-changed") || text.contains("re-learning") { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        rig.agent.stop(reason: "test")
        return (try rig.findings(), try String(contentsOfFile: rig.dir + "/out.jsonl", encoding: .utf8))
    }

    @Test func aBinaryAPackageInstalledIsAnUpgradeNotAnAttack() throws {
        let (findings, out) = try run(vouched: true)
        #expect(!findings.contains { (($0["finding_info"] as? [String: Any])?["types"] as? [String] ?? []).contains("binary-changed") })
        #expect(out.contains("binary upgraded by package svc-pkg"), "the stream says why: \(out.suffix(600))")
    }

    @Test func aChangedBinaryNoPackageVouchesForKeepsItsWeight() throws {
        let (findings, out) = try run(vouched: false)
        #expect(findings.contains { (($0["finding_info"] as? [String: Any])?["types"] as? [String] ?? []).contains("binary-changed") }, "\(out.suffix(800))")
        #expect(!out.contains("upgraded by package"))
    }
}

@Suite struct AgentReloadKernelTests {
    @Test func aReloadedWorkloadBlockReachesTheKernelForRunningMembers() throws {
        let rig = try Rig(.run, workloads: ["exe:/opt/vigil-test/svc"]) { $0.run.mode = .enforce }
        rig.feed([Events.exec(500, ppid: 1, "/opt/vigil-test/svc"), Events.fork(500, 501)])
        #expect(rig.kernel.membership[500] == .guarded)
        var next = RunConfig(models: rig.dir + "/models", state: rig.dir + "/state")
        next.outputs = ["file:" + rig.dir + "/out.jsonl"]
        next.metricsListen = nil
        next.mode = .enforce
        next.workloads = rig.agent.configuration.workloads
        var policy = Policy.standard
        policy.workloads["exe:/opt/vigil-test/svc"] = WorkloadPolicy(execGuard: false)
        rig.agent.reload(to: LoadedConfig(config: next, policy: policy), from: "test.yaml")
        #expect(rig.kernel.membership[500] == [.guarded, .noExecGuard], "the running member gets the new block's exec guard")
        #expect(rig.kernel.membership[501] == [.guarded, .noExecGuard], "and its child too")
        rig.agent.stop(reason: "test")
    }
}

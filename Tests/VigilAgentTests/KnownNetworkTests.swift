import Foundation
import Testing
import VigilAgent
import VigilCore
import VigilOutput
import VigilSensor

/// What the kernel keeps back as known (BPF/network.bpf.c): a judged profile's learned
/// destinations and listening ports are in its slot's egress and listen keys under `monitor`
/// and `enforce` with no segmentation asked for, and never for a profile that learns.
@Suite struct KnownNetworkTests {
    static let svc = "/opt/vigil-test/netsvc"

    /// A profile of `svc` that connected to 10.0.0.5:5432 and a pool in 10.1.2.0/24:443, and
    /// listened on TCP 8080.
    static func profile() -> Profile {
        var p = KernelCapacityTests.profile(svc)
        p.destinations[NetworkDestination(transport: .tcp, address: "10.0.0.5", port: 5432)] = Sighting(host: "t", at: Rig.t0)
        p.destinations[NetworkDestination(transport: .tcp, address: "10.1.2.0/24", port: 443)] = Sighting(host: "t", at: Rig.t0)
        p.listens[ListeningSocket(transport: .tcp, address: "0.0.0.0", port: 8080)] = Sighting(host: "t", at: Rig.t0)
        p.executes["/usr/bin/pg_dump"] = Sighting(host: "t", at: Rig.t0)
        return p
    }

    @Test(arguments: [AgentConfiguration.Command.monitor, .enforce])
    func aJudgedProfilesDestinationsAndPortsAreKeyedWithoutSegmentation(_ command: AgentConfiguration.Command) throws {
        let rig = try Rig(command, workloads: ["exe:" + Self.svc], profiles: [Self.profile()])
        rig.feed([Events.exec(700, ppid: 1, Self.svc)])
        let slot = try #require(rig.kernel.slots[700])
        #expect(slot != 0 && slot != Sensor.noKernelSlot)
        #expect(rig.kernel.egress[slot] == Set(Self.profile().destinations.keys), "\(rig.kernel.egress)")
        #expect(rig.kernel.listens[slot] == Set(Self.profile().listens.keys))
        #expect(rig.kernel.children[slot] == ["/usr/bin/pg_dump"], "its known children, for the exec flag and count")
        #expect(rig.kernel.egress[0] == nil, "no segment-allow entry: nothing asked for segmentation")
        rig.agent.stop(reason: "test")
    }

    @Test func aLearningProfileIsNeverKeyed() throws {
        let rig = try Rig(.learn, profiles: [Self.profile()]) { $0.run.only = [Self.svc] }
        rig.feed([Events.exec(701, ppid: 1, Self.svc)])
        #expect(rig.kernel.egress.isEmpty && rig.kernel.listens.isEmpty && rig.kernel.children.isEmpty, "learning counts every connect: \(rig.kernel.egress)")
        rig.agent.stop(reason: "test")
    }

    @Test func theKnownCountsAreServedAsMetrics() throws {
        let rig = try Rig(.monitor, profiles: [Self.profile()])
        rig.kernel.statsValue.kernelKnown = [.connect: 41, .listen: 2]
        rig.kernel.statsValue.kernelEmitted = [.connect: 3, .exec: 9]
        let m = rig.agent.metricsSnapshot()
        #expect(m.kernelKnownByKind["connect"] == 41 && m.kernelKnownByKind["listen"] == 2 && m.kernelKnownByKind["bind"] == 0)
        let family = try #require(m.families().first { $0.name == "vigil_kernel_known_total" })
        #expect(family.samples.contains { $0.labels.contains(MetricSample.Label("kind", "connect")) && $0.value == 41 })
        let summary = StatsReport.summary(rig.kernel.statsValue)
        #expect(summary.hasPrefix("stopped: 12 records from the kernel (connect=3, bind=0, listen=0), "), "\(summary)")
        #expect(summary.contains("43 known to their profile and kept in the kernel (connect=41, listen=2)"), "\(summary)")
        rig.kernel.statsValue.kernelDrops = [.exec: 1]
        #expect(StatsReport.summary(rig.kernel.statsValue).contains("1 dropped in the kernel (exec=1), 43 known"), "the drops' detail stays with them")
        rig.agent.stop(reason: "test")
    }
}

extension KnownNetworkTests {
    /// A reload makes the kernel's `segment-allow` entries (slot 0) exactly the new policy's.
    @Test func aReloadReplacesSegmentAllow() throws {
        let resolver = NetworkDestination(transport: .udp, address: "10.0.0.53", port: 53)
        let proxy = NetworkDestination(transport: .tcp, address: "10.0.0.80", port: 3128)
        let rig = try Rig(.run, configure: {
            $0.segment = true
            $0.policy.segmentAllow = [resolver, proxy]
        })
        #expect(rig.kernel.egress[0] == [resolver, proxy])
        var policy = rig.agent.configuration.policy
        policy.segmentAllow = [resolver]
        FailSafeBaselineTests.reload(rig, policy: policy)
        #expect(rig.kernel.egress[0] == [resolver], "the proxy dropped from the list is refused again")
        policy.segmentAllow = []
        FailSafeBaselineTests.reload(rig, policy: policy)
        #expect(rig.kernel.egress[0] == [], "an emptied list leaves nothing")
        rig.agent.stop(reason: "test")
    }

    /// The exec guard's files behind the known executables are looked at again once a
    /// minute (a package upgrade replaces a file), not at every tick.
    @Test func theKnownExecutablesFilesAreLookedAtOnceAMinute() throws {
        let rig = try Rig(.enforce, workloads: ["exe:" + Self.svc], profiles: [Self.profile()])
        let second: UInt64 = 1_000_000_000
        for s in 0..<120 { rig.agent.tick(now: Rig.t0 + UInt64(s) * second) }
        #expect(rig.kernel.knownExecutableFileRefreshes == 2, "at the first tick and 60 s later: \(rig.kernel.knownExecutableFileRefreshes)")
        rig.agent.stop(reason: "test")
    }

    /// A reload makes the kernel's keys exactly the edited baseline's: a destination, a
    /// port and a child it no longer holds are neither let through nor counted as known
    /// (they were only ever added to before); a deleted baseline's are all gone.
    @Test func aReloadRemovesWhatTheBaselineNoLongerHoldsFromTheKernel() throws {
        let rig = try Rig(.enforce, workloads: ["exe:" + Self.svc], profiles: [Self.profile()])
        rig.feed([Events.exec(702, ppid: 1, Self.svc)])
        let slot = try #require(rig.kernel.slots[702])
        #expect(rig.kernel.egress[slot]?.count == 2 && rig.kernel.listens[slot]?.count == 1)

        var edited = Self.profile()
        edited.destinations[NetworkDestination(transport: .tcp, address: "10.1.2.0/24", port: 443)] = nil
        edited.listens = [:]
        edited.executes = [:]
        edited.revision += 1
        let file = rig.dir + "/models/\(edited.id).json"
        try Data(ProfileCodec.encode(edited)).write(to: URL(fileURLWithPath: file))
        FailSafeBaselineTests.reload(rig)
        #expect(rig.kernel.egress[slot] == [NetworkDestination(transport: .tcp, address: "10.0.0.5", port: 5432)], "\(rig.kernel.egress)")
        #expect(rig.kernel.listens[slot] == [], "the port it no longer holds")
        #expect(rig.kernel.children[slot] == [], "nor the child")

        try FileManager.default.removeItem(atPath: file)
        FailSafeBaselineTests.reload(rig)
        #expect(rig.kernel.egress[slot] == [] && rig.kernel.listens[slot] == [] && rig.kernel.children[slot] == [],
                "a deleted baseline leaves nothing of its slot in the kernel")
        rig.agent.stop(reason: "test")
    }

    /// The kernel's keeping back is set when it loads: a reload that turns `events` on says
    /// it takes effect at restart.
    @Test func aReloadThatStreamsEveryEventSaysItNeedsARestart() throws {
        let rig = try Rig(.run)
        var next = RunConfig(models: rig.dir + "/models", state: rig.dir + "/state")
        next.outputs = ["file:" + rig.dir + "/out.jsonl"]
        next.metricsListen = nil
        next.events = true
        rig.agent.reload(to: LoadedConfig(config: next, policy: .standard), from: "test.yaml")
        rig.agent.stop(reason: "test")
        let text = try String(contentsOfFile: rig.dir + "/out.jsonl", encoding: .utf8)
        #expect(text.contains("changes to events (for the kernel's keeping back of known network calls) take effect at restart"), "\(text)")
    }
}

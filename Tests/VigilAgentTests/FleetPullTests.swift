import Foundation
import Testing
import VigilAgent
import VigilCore
import VigilOutput
import VigilTestSupport

/// `fleet:` in the run configuration: `vigil run` pulls the fleet-merged baseline on start
/// and on reload (against a real nats-server).
@Suite(.serialized) struct FleetPullTests {
    static func svc(host: String, syscalls: [UInt32], count: UInt64) -> Profile {
        var p = Profile(identity: ProfileIdentity(executable: "/opt/vigil-test/fleet-svc"))
        for s in syscalls { p.syscalls[s] = Sighting(host: host, at: Rig.t0, count: count) }
        p.learning[host] = LearningHistory(policy: .standard)
        return p
    }

    @Test(.enabled(if: NATSTestServer.binary != nil || Tools.required, "needs nats-server (apt-get install -y nats-server)"))
    func runPullsTheFleetBaselineOnStartAndOnReload() throws {
        #expect(NATSTestServer.binary != nil, "VIGIL_REQUIRE_TOOLS=1 but nats-server is missing")
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try NATSTestServer(directory: dir)
        let url = try FleetURL.parse(server.url + "/fleet")
        let trusted = dir + "/trusted"
        try FileManager.default.createDirectory(atPath: trusted, withIntermediateDirectories: true)
        func key(_ host: String) throws -> Ed25519Key {
            let k = try Ed25519Key.loadOrCreate(privateKeyAt: "\(dir)/\(host)/host.key")
            try FileManager.default.copyItem(atPath: "\(dir)/\(host)/host.key.pub", toPath: "\(trusted)/\(host).pub")
            return k
        }
        let b = Self.svc(host: "b", syscalls: [0, 1], count: 4)
        _ = try FleetBaselines.push([b], host: "b", key: try key("b"), to: url)

        let fleet = RunConfig.FleetConfig(nats: url.text, trustedKeys: trusted)
        let rig = try Rig(.run) { $0.run.fleet = fleet }
        let models = ProfileStore(directory: rig.dir + "/models")
        let atStart = try models.load(file: models.path(for: b.id))
        #expect(atStart.syscalls[1]?.hosts == ["b": 4], "pulled before the baselines were read")

        let c = Self.svc(host: "c", syscalls: [1, 60], count: 2)
        _ = try FleetBaselines.push([c], host: "c", key: try key("c"), to: url)
        var next = rig.agent.configuration.run
        next.fleet = fleet
        rig.agent.reload(to: LoadedConfig(config: next, policy: .standard), from: "test.yaml")
        let afterReload = try models.load(file: models.path(for: b.id))
        #expect(afterReload.syscalls[1]?.hosts == ["b": 4, "c": 2])
        #expect(afterReload.syscalls[60]?.hosts == ["c": 2])
        rig.agent.stop(reason: "test")
        let out = try String(contentsOfFile: rig.dir + "/out.jsonl", encoding: .utf8)
        #expect(out.contains("fleet: 1 profiles from 2 hosts, 1 changed, 0 refused"), "the reload event tells what the pull did")
    }

    @Test func anUnreachableFleetLeavesTheLocalBaselines() throws {
        let port = try freeLoopbackPort()
        let local = Self.svc(host: "test", syscalls: [3], count: 1)
        let rig = try Rig(.run, profiles: [local]) { $0.run.fleet = .init(nats: "nats://127.0.0.1:\(port)", trustedKeys: "/nonexistent") }
        let models = ProfileStore(directory: rig.dir + "/models")
        #expect(try models.load(file: models.path(for: local.id)).syscalls[3]?.hosts == ["test": 1])
        var next = rig.agent.configuration.run
        next.fleet = .init(nats: "nats://127.0.0.1:\(port)", trustedKeys: "/nonexistent")
        rig.agent.reload(to: LoadedConfig(config: next, policy: .standard), from: "test.yaml")
        rig.agent.stop(reason: "test")
        let out = try String(contentsOfFile: rig.dir + "/out.jsonl", encoding: .utf8)
        #expect(out.contains("fleet: pull failed") && out.contains("nats://127.0.0.1:\(port)"), "the reload says the pull failed and where")
        #expect(rig.agent.metricsSnapshot().reloads["ok"] == 1, "the reload itself went through")
    }
}

import Foundation
import Testing
import VigilAgent
import VigilCore
import VigilTestSupport

/// The configurations `learn`, `monitor`, `enforce` and `run` hand the one agent: built in
/// VigilAgent from plain settings, so what each front-end means is tested without root.
@Suite struct CommandConfigurationTests {
    static let web = Workload(name: "exe:/usr/sbin/nginx", selectors: [try! WorkloadSelector.parse("exe:/usr/sbin/nginx")])

    @Test func enforceWithoutAWorkloadIsRefusedUnlessEveryProcessIsAsked() throws {
        let s = WatchSettings(models: "/m")
        #expect(throws: AgentExit.self) { try AgentConfiguration.watching(s, command: .enforce, hostID: "h") }
        var all = s
        all.allProcesses = true
        let c = try AgentConfiguration.watching(all, command: .enforce, hostID: "h")
        #expect(c.command == .enforce && c.run.mode == .enforce && c.allProcesses)
        // Monitor judges without acting: no workload needed.
        #expect(try AgentConfiguration.watching(s, command: .monitor, hostID: "h").command == .monitor)
    }

    @Test func aDryRunIsMonitorWithEnforcesScope() throws {
        var s = WatchSettings(models: "/m")
        s.workloads = [Self.web]
        s.dryRun = true
        s.segment = true
        let c = try AgentConfiguration.watching(s, command: .enforce, hostID: "h")
        #expect(c.command == .monitor && c.run.mode == .monitor)
        #expect(c.workloads.map(\.name) == ["exe:/usr/sbin/nginx"] && c.segment)
    }

    @Test func fixedModeDefaults() throws {
        var s = WatchSettings(models: "/srv/models")
        s.workloads = [Self.web]
        s.controlSocket = nil
        let c = try AgentConfiguration.watching(s, command: .enforce, hostID: "web-01")
        #expect(c.run.outputs == ["stdout"], "no --output: stdout")
        #expect(c.run.models == "/srv/models" && c.run.state == "/srv/models")
        #expect(!c.keepsState && c.configPath == nil && c.run.metricsListen == nil)
        #expect(c.policyName == "built-in" && c.hostID == "web-01" && c.controlSocket == nil)
    }

    @Test func aPolicyThatDoesNotLoadRefusesTheStart() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var s = WatchSettings(models: dir)
        s.policyFile = dir + "/absent.yaml"
        #expect(throws: AgentExit.self) { try AgentConfiguration.watching(s, command: .monitor, hostID: "h") }
        let garbage = dir + "/bad.yaml"
        try "bands: [not a map".write(toFile: garbage, atomically: true, encoding: .utf8)
        chmod(garbage, 0o600)
        s.policyFile = garbage
        #expect(throws: AgentExit.self) { try AgentConfiguration.watching(s, command: .monitor, hostID: "h") }
    }

    @Test func learnJudgesNothingAndKeepsItsStabilitySettings() {
        let stability = StabilityPolicy(bucketSeconds: 7, windowBuckets: 3, minObservedSeconds: 11)
        let c = AgentConfiguration.learning(models: "/m", duration: 5, only: ["/usr/bin/redis-server"], saveIntervalSeconds: 2,
                                            stability: stability, hostID: "h")
        #expect(c.command == .learn && !c.command.judges && c.run.mode == .learn)
        #expect(c.run.only == ["/usr/bin/redis-server"] && c.run.saveIntervalSeconds == 2 && c.run.stability == stability)
        #expect(c.run.duration == 5 && c.policyName == "built-in" && !c.keepsState)
    }

    @Test func runKeepsStateAndReloadsItsFile() {
        var config = RunConfig(models: "/m", state: "/s")
        config.allProcesses = true
        let c = AgentConfiguration.service(LoadedConfig(config: config, policy: .standard), file: "/etc/vigil.yaml", explain: true, hostID: "h")
        #expect(c.command == .run && c.keepsState && c.configPath == "/etc/vigil.yaml" && c.explain && c.allProcesses)
        #expect(c.run.state == "/s")
    }
}

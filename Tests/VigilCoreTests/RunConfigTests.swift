import Foundation
import Testing
import VigilCore

@Suite struct RunConfigTests {
    static let repo = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func theExampleLoadsWithEveryKeyItDocuments() throws {
        let path = Self.repo.appendingPathComponent("examples/vigil.yaml").path
        let c = try RunConfig.load(yaml: String(contentsOfFile: path, encoding: .utf8), file: path)
        #expect(c.models == "/var/tmp/vigil-example/models")
        #expect(c.state == "/var/tmp/vigil-example/state")
        // Relative to the file: examples/../Models/policy.example.yaml.
        #expect(c.policy == Self.repo.appendingPathComponent("examples").path + "/../Models/policy.example.yaml")
        #expect(c.outputs.count == 2)
        #expect(c.promotion.upTo == .enforce)
        #expect(c.promotion.stableSeconds == 20)
        #expect(c.stability.bucketSeconds == 10 && c.stability.windowBuckets == 3 && c.stability.minObservedSeconds == 30)
        #expect(c.metricsListen == "127.0.0.1:9464")
        #expect(c.bpfRunTime)
        #expect(c.spoolDirectory == "/var/tmp/vigil-example/state/spool")
        #expect(c.workloads.map(\.name) == ["example-web", "example-cache"])
        #expect(c.workloads[0].selectors == [WorkloadSelector(kind: .exe, value: "/usr/sbin/nginx"), WorkloadSelector(kind: .unit, value: "nginx")])
        #expect(!c.allProcesses)
        #expect(c.onBadBaseline == .refuse)
        #expect(c.bpfPin == nil, "nothing pinned unless asked")
        #expect(c.logLevel == .info && c.logFormat == .text)
    }

    @Test func bpfPinIsAnAbsolutePathOrNull() throws {
        #expect(try RunConfig.load(yaml: "models: m\nbpf-pin: /sys/fs/bpf/vigil\n", file: "/etc/vigil/v.yaml").bpfPin == "/sys/fs/bpf/vigil")
        #expect(try RunConfig.load(yaml: "models: m\nbpf-pin: null\n", file: "/etc/vigil/v.yaml").bpfPin == nil)
    }

    @Test func onBadBaselineIsRefuseUnlessSetAndOnlyTakesItsTwoValues() throws {
        #expect(try RunConfig.load(yaml: "models: m\n", file: "v.yaml").onBadBaseline == .refuse)
        #expect(try RunConfig.load(yaml: "models: m\non-bad-baseline: monitor\n", file: "v.yaml").onBadBaseline == .monitor)
        #expect {
            _ = try RunConfig.load(yaml: "models: m\non-bad-baseline: ignore\n", file: "v.yaml")
        } throws: { e in
            "\(e)".contains("v.yaml:2:") && "\(e)".contains("expected one of refuse, monitor")
        }
    }

    @Test func aBadWorkloadSelectorIsNamedWithLineAndColumn() {
        #expect {
            _ = try RunConfig.load(yaml: "models: m\nworkloads:\n  web: [exe:/usr/sbin/nginx, pid:12]\n", file: "v.yaml")
        } throws: { e in
            let text = "\(e)"
            return text.contains("v.yaml:3:") && text.contains("unknown workload kind 'pid'")
        }
    }

    @Test func defaultsAreTheProductionOnes() throws {
        let c = try RunConfig.load(yaml: "models: /var/lib/vigil/models\n", file: "/etc/vigil/vigil.yaml")
        #expect(c.state == "/var/lib/vigil/state")
        #expect(c.outputs == ["stdout"])
        #expect(c.policy == nil && c.duration == nil)
        #expect(c.promotion == PromotionPolicy())
        #expect(c.stability == .standard)
        #expect(c.metricsListen == "127.0.0.1:9464")
        #expect(!c.bpfRunTime)
        let off = try RunConfig.load(yaml: "models: m\nmetrics: { listen: null }\n", file: "/etc/vigil/vigil.yaml")
        #expect(off.metricsListen == nil)
        #expect(off.models == "/etc/vigil/m")
    }

    @Test func aFixedModeStopsPromotion() throws {
        let auto = try RunConfig.load(yaml: "models: m\nmode: auto\n", file: "/c.yaml")
        #expect(auto.mode == nil && auto.effectivePromotion == auto.promotion)
        let enforce = try RunConfig.load(yaml: "models: m\nmode: enforce\n", file: "/c.yaml")
        #expect(enforce.mode == .enforce)
        #expect(enforce.effectivePromotion.upTo == .learn)
        #expect(enforce.effectivePromotion.newExecutables == .monitor)
        #expect(enforce.effectivePromotion.loadedProfiles == .enforce)
        let learn = try RunConfig.load(yaml: "models: m\nmode: learn\n", file: "/c.yaml")
        #expect(learn.effectivePromotion.newExecutables == .learn && learn.effectivePromotion.upTo == .learn)
        // Promotion under a fixed mode: nothing moves.
        var modes = ProfileModes(policy: enforce.effectivePromotion)
        modes.register("x", created: true, now: 0)
        #expect(modes.tick(now: 1_000_000_000_000) { _ in .stable }.isEmpty)
    }

    /// Each bad file is refused with the line and column of what is wrong and what was expected.
    @Test(arguments: [
        ("models: m\nmodle: x\n", 2, 1, "unknown key 'modle'"),
        ("state: s\n", 1, 1, "models is required"),
        ("models: m\npromotion:\n  up-to: production\n", 3, 10, "expected one of learn, monitor, enforce"),
        ("models: m\npromotion:\n  new-executables: enforce\n", 3, 20, "expected one of learn, monitor"),
        ("models: m\nlearn:\n  bucket-seconds: -1\n", 3, 19, "whole number from 1"),
        ("models: m\nlearn:\n  only: [nginx]\n", 3, 10, "absolute executable path"),
        ("models: m\nmetrics:\n  listen: localhost\n", 3, 11, "HOST:PORT"),
        ("models: m\nduration: soon\n", 2, 11, "duration"),
        ("models: m\noutputs: []\n", 2, 10, "at least one output"),
        ("models: m\nevents: yes please\n", 2, 9, "true or false"),
        ("models: m\nmode: production\n", 2, 7, "expected one of auto, learn, monitor, enforce"),
        ("models: [m\n", 2, 1, "malformed YAML"),
        ("models: m\nmodels: n\n", 1, 1, "duplicate key"),
        ("models: m\nfleet:\n  nats: http://x:4222\n  trusted-keys: k\n", 3, 9, "fleet.nats: expected nats://"),
        ("models: m\nfleet:\n  nats: nats://x\n", 3, 3, "trusted-keys is required"),
        ("models: m\nfleet:\n  trusted-keys: k\n", 3, 3, "nats is required"),
        ("models: m\nfleet:\n  natz: nats://x\n", 3, 3, "unknown key 'natz' in fleet"),
    ] as [(String, Int, Int, String)])
    func badFilesAreRefusedWithLineAndColumn(yaml: String, line: Int, column: Int, message: String) {
        do {
            _ = try RunConfig.load(yaml: yaml, file: "bad.yaml")
            Issue.record("accepted: \(yaml)")
        } catch {
            #expect(error.line == line && error.column == column, "\(error)")
            #expect(error.message.contains(message), "\(error)")
            #expect(error.description.hasPrefix("bad.yaml:\(error.line):\(error.column): "))
        }
    }

    @Test func fleetNamesTheServerAndTheTrustedKeys() throws {
        let c = try RunConfig.load(yaml: "models: m\nfleet:\n  nats: nats://nats.internal:4222/baselines?creds=/etc/vigil/h.creds\n  trusted-keys: keys\n", file: "/etc/vigil/vigil.yaml")
        #expect(c.fleet == RunConfig.FleetConfig(nats: "nats://nats.internal:4222/baselines?creds=/etc/vigil/h.creds", trustedKeys: "/etc/vigil/keys"))
        #expect(try RunConfig.load(yaml: "models: m\n", file: "v.yaml").fleet == nil)
    }

    @Test func outputsAreCheckedWhereTheyStand() {
        let yaml = "models: m\noutputs:\n  - stdout\n  - syslog+tcp://nohost\n"
        do {
            _ = try RunConfig.load(yaml: yaml, file: "o.yaml") { spec in
                if spec.hasPrefix("syslog") { throw Reason(text: "syslog needs HOST:PORT") }
            }
            Issue.record("a bad output was accepted")
        } catch {
            #expect(error.line == 4 && error.column == 5)
            #expect(error.message == "outputs: syslog needs HOST:PORT")
        }
    }

    struct Reason: Error, CustomStringConvertible { var text: String; var description: String { text } }
}

@Suite struct PromotionTests {
    static let s: UInt64 = 1_000_000_000

    func policy(stable: Double = 60, quiet: Double = 30, upTo: ProfileMode = .enforce) -> PromotionPolicy {
        var p = PromotionPolicy()
        p.stableSeconds = stable
        p.quietSeconds = quiet
        p.upTo = upTo
        return p
    }

    @Test func aProfileStableLongEnoughGoesToMonitorThenQuietToEnforce() {
        var m = ProfileModes(policy: policy())
        let t0: UInt64 = 1_000 * Self.s
        #expect(m.register("svc", created: true, now: t0)?.to == .learn)
        var state: LearningState = .learning
        #expect(m.tick(now: t0 + 10 * Self.s) { _ in state }.isEmpty)
        state = .stable
        #expect(m.tick(now: t0 + 20 * Self.s) { _ in state }.isEmpty) // stable from here
        #expect(m.tick(now: t0 + 79 * Self.s) { _ in state }.isEmpty) // 59 s
        let up = m.tick(now: t0 + 80 * Self.s) { _ in state }
        #expect(up.map(\.to) == [.monitor])
        #expect(up.first?.from == .learn && up.first?.reason.contains("stable for 60 s") == true)
        #expect(m.mode(of: "svc") == .monitor)
        // A deviation in monitor restarts the quiet wait.
        m.noteDeviation("svc", now: t0 + 100 * Self.s)
        #expect(m.tick(now: t0 + 120 * Self.s) { _ in nil }.isEmpty)
        let enforce = m.tick(now: t0 + 130 * Self.s) { _ in nil }
        #expect(enforce.map(\.to) == [.enforce])
        #expect(m.mode(of: "svc") == .enforce)
        #expect(m.tick(now: t0 + 10_000 * Self.s) { _ in nil }.isEmpty)
    }

    @Test func aBreakInStabilityRestartsTheClock() {
        var m = ProfileModes(policy: policy())
        m.register("svc", created: true, now: 0)
        _ = m.tick(now: 10 * Self.s) { _ in .stable }
        _ = m.tick(now: 50 * Self.s) { _ in .learning }
        #expect(m.tick(now: 71 * Self.s) { _ in .stable }.isEmpty)
        #expect(m.tick(now: 130 * Self.s) { _ in .stable }.isEmpty)
        #expect(m.tick(now: 131 * Self.s) { _ in .stable }.map(\.to) == [.monitor])
    }

    @Test func promotionStopsAtUpToAndLoadedProfilesStartWhereConfigured() {
        var p = policy(stable: 0, quiet: 0, upTo: .monitor)
        p.loadedProfiles = .enforce
        var m = ProfileModes(policy: p)
        m.register("new", created: true, now: 0)
        m.register("old", created: false, now: 0)
        #expect(m.mode(of: "old") == .enforce)
        #expect(m.tick(now: Self.s) { _ in .stable }.map(\.to) == [.monitor])
        #expect(m.tick(now: 100 * Self.s) { _ in .stable }.isEmpty)
        #expect(m.mode(of: "new") == .monitor)
        // With quiet 0 and up-to enforce, both steps happen in one tick.
        var all = ProfileModes(policy: policy(stable: 0, quiet: 0))
        all.register("x", created: true, now: 0)
        #expect(all.tick(now: Self.s) { _ in .stable }.map(\.to) == [.monitor, .enforce])
        // Never past learn when promotion is off.
        var off = ProfileModes(policy: policy(stable: 0, quiet: 0, upTo: .learn))
        off.register("x", created: true, now: 0)
        #expect(off.tick(now: 1_000 * Self.s) { _ in .stable }.isEmpty)
    }

    @Test func aPinnedProfileNeverMoves() {
        var m = ProfileModes(policy: policy(stable: 0, quiet: 0))
        m.register("shell", created: true, now: 0)
        m.register("svc", created: true, now: 0)
        m.pinned = ["shell"]
        #expect(m.tick(now: 10 * Self.s) { _ in .stable }.map(\.profile) == ["svc", "svc"])
        #expect(m.mode(of: "shell") == .learn && m.mode(of: "svc") == .enforce)
    }

    @Test func modesSurviveARestart() throws {
        var m = ProfileModes(policy: policy())
        m.register("b \"quoted\"", created: true, now: 5)
        m.set("a", .enforce, reason: "operator", now: 7)
        _ = m.tick(now: 9) { _ in .stable }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("modes-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("modes.json").path
        try m.save(to: file)
        let back = try ProfileModes.decode(Array(try Data(contentsOf: URL(fileURLWithPath: file))), policy: policy())
        #expect(back == m)
        #expect(back.records["b \"quoted\""]?.stableSince == 9)
        let attrs = try FileManager.default.attributesOfItem(atPath: file)
        #expect((attrs[.posixPermissions] as? Int) == 0o600)
        #expect(throws: ModesFileError.self) { try ProfileModes.decode(Array("{\"format\": 2}".utf8), policy: policy()) }
        #expect(throws: ModesFileError.self) { try ProfileModes.decode(Array("{\"format\": 1, \"profiles\": {\"x\": {\"mode\": \"kill\", \"since\": 1}}}".utf8), policy: policy()) }
    }
}

@Suite struct DidYouMeanTests {
    @Test func anUnknownKeyNamesTheNearestOneWhenItIsATypo() {
        #expect {
            _ = try RunConfig.load(yaml: "models: m\nlog-levle: debug\n", file: "v.yaml")
        } throws: { e in
            let text = "\(e)"
            return text.hasPrefix("v.yaml:2:1:") && text.contains("unknown key 'log-levle'") && text.contains("did you mean 'log-level'?")
        }
        // snake_case for a kebab-case key is one spelling away at most.
        #expect {
            _ = try RunConfig.load(yaml: "models: m\nall_processes: true\n", file: "v.yaml")
        } throws: { e in "\(e)".contains("did you mean 'all-processes'?") }
        // Nested mappings too.
        #expect {
            _ = try RunConfig.load(yaml: "models: m\npromotion:\n  stable-secnds: 3\n", file: "v.yaml")
        } throws: { e in "\(e)".hasPrefix("v.yaml:3:") && "\(e)".contains("did you mean 'stable-seconds'?") }
    }

    @Test func thePolicyFileSuggestsToo() {
        #expect {
            _ = try Policy.load(yaml: "sequence:\n  window-secnds: 3\n", file: "p.yaml")
        } throws: { e in "\(e)".hasPrefix("p.yaml:2:") && "\(e)".contains("did you mean 'window-seconds'?") }
    }

    @Test func nothingIsSuggestedForAKeyFarFromEveryOne() {
        #expect {
            _ = try RunConfig.load(yaml: "models: m\nbanana: 1\n", file: "v.yaml")
        } throws: { e in "\(e)".contains("unknown key 'banana'") && !"\(e)".contains("did you mean") }
    }
}

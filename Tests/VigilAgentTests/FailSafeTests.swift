import Foundation
import Testing
@testable import VigilAgent
import VigilCore
import VigilOutput
import VigilSensor
import VigilTestSupport

/// Fail-safe models (issue 19 item 5): a baseline that cannot be used never leaves its
/// programs silently unprotected, at start or at a reload.
@Suite struct FailSafeBaselineTests {
    static let svc = "/opt/vigil-test/svc"
    static let killUnknown = "unknown:\n  cap: kill\n"

    /// The profile of `svc`, encoded, with `edit` applied to its text.
    static func file(_ edit: (String) -> String = { $0 }) -> (id: String, text: String) {
        let p = AgentCapTests.profile()
        return (p.id, edit(String(decoding: ProfileCodec.encode(p), as: UTF8.self)))
    }

    static let corruptions: [(String, @Sendable (String) -> String)] = [
        ("truncated", { String($0.prefix($0.count / 2)) }),
        ("unknown version", { $0.replacingOccurrences(of: "\"format_version\": 2", with: "\"format_version\": 9") }),
    ]

    /// Writes `text` as `<id>.json` in the models directory of configuration `c`.
    static func plant(_ id: String, _ text: String, in c: AgentConfiguration, mode: mode_t = 0o600) {
        let path = c.run.models + "/" + id + ".json"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: Int(mode)]), "writing \(path)")
    }

    /// Every event the rig's agent wrote (findings and the agent's own).
    static func events(_ rig: Rig) throws -> [[String: Any]] {
        let text = (try? String(contentsOfFile: rig.dir + "/out.jsonl", encoding: .utf8)) ?? ""
        return try text.split(separator: "\n").compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    static func unusable(_ events: [[String: Any]]) -> [[String: Any]] {
        events.filter { $0["class_uid"] as? Int == 6008 && ($0["message"] as? String ?? "").contains("cannot be used") }
    }

    @Test(arguments: [AgentConfiguration.Command.monitor, .enforce, .run])
    func aCorruptOrUnknownVersionBaselineRefusesTheStart(command: AgentConfiguration.Command) throws {
        for (what, edit) in Self.corruptions {
            let f = Self.file(edit)
            #expect(throws: AgentExit.self, "\(command) with a \(what) baseline") {
                _ = try Rig(command, workloads: ["exe:" + Self.svc]) { Self.plant(f.id, f.text, in: $0) }
            }
        }
    }

    @Test func anUnreadableBaselineRefusesTheStart() throws {
        // Root reads a mode-000 file anyway; a directory in the file's place cannot be read by anyone.
        #expect(throws: AgentExit.self) {
            _ = try Rig(.enforce, workloads: ["exe:" + Self.svc]) { c in
                try? FileManager.default.createDirectory(atPath: c.run.models + "/usr-bin-x.json", withIntermediateDirectories: false)
            }
        }
    }

    @Test func aBaselineTheSavedModesHoldButIsGoneRefusesTheStart() throws {
        // First run: the profile is loaded and enforced; its mode is saved.
        let p = AgentCapTests.profile()
        let first = try Rig(.run, profiles: [p]) { $0.run.mode = .enforce }
        first.agent.stop(reason: "test")
        #expect(FileManager.default.fileExists(atPath: first.dir + "/state/modes.json"))
        try FileManager.default.removeItem(atPath: first.dir + "/models/\(p.id).json")
        // Second run on the same state: the baseline it enforced is missing.
        let state = first.dir + "/state"
        #expect(throws: AgentExit.self) {
            _ = try Rig(.run) { c in
                c.run.state = state
            }
        }
        // With on-bad-baseline: monitor it starts, holds the profile at monitor (never learned
        // again from nothing) and says so.
        let rig = try Rig(.run) { c in
            c.run.state = state
            c.run.onBadBaseline = .monitor
        }
        #expect(rig.agent.badBaselines[p.id]?.reason.contains("missing") == true)
        rig.feed([Events.exec(500, ppid: 1, Self.svc)])
        rig.agent.stop(reason: "test")
        #expect(rig.agent.modes.mode(of: p.id) == .monitor)
        #expect(rig.agent.learner.profiles[p.id] == nil, "the program is not learned again from nothing")
        let found = Self.unusable(try Self.events(rig))
        #expect(found.count == 1)
        #expect(((found.first?["message"] as? String) ?? "").contains(p.id))
    }

    @Test func onBadBaselineMonitorHoldsTheWorkloadAtMonitorAndSaysSo() throws {
        let f = Self.file(Self.corruptions[1].1)
        let rig = try Rig(.enforce, workloads: ["exe:" + Self.svc, "exe:/opt/vigil-test/other"], policy: Self.killUnknown) { c in
            Self.plant(f.id, f.text, in: c)
            c.run.onBadBaseline = .monitor
        }
        #expect(rig.agent.mode(ofWorkload: "exe:" + Self.svc) == "monitor (bad baseline)")
        #expect(rig.agent.mode(ofWorkload: "exe:/opt/vigil-test/other") == "enforce", "other workloads stay enforced")
        rig.feed([Events.exec(500, ppid: 1, Self.svc), Events.tamper(500),
                  Events.exec(600, ppid: 1, "/opt/vigil-test/other"), Events.tamper(600)])
        #expect(rig.agent.metricsSnapshot().unusableBaselines == 1)
        rig.agent.stop(reason: "test")
        #expect(!rig.kernel.signals.contains { $0.pid == 500 }, "the program of the bad baseline is never acted on")
        #expect(rig.kernel.membership[500] == nil || rig.kernel.membership[500] == [], "nor guarded in the kernel")
        #expect(rig.kernel.signals.contains { $0.pid == 600 && $0.signal == SIGKILL }, "the other workload is still enforced")
        let events = try Self.events(rig)
        let health = try #require(Self.unusable(events).first)
        #expect((health["message"] as? String ?? "").contains("format_version"))
        #expect((health["unmapped"] as? [String: Any])?["file"] as? String == rig.dir + "/models/\(f.id).json")
        #expect(events.contains { ($0["message"] as? String ?? "").contains("workload exe:\(Self.svc): now monitor") })
    }

    @Test func aWorkloadSeenRunningTheBadProgramIsHeldWhenItIsSeen() throws {
        let f = Self.file(Self.corruptions[0].1)
        let rig = try Rig(.enforce, workloads: ["user:4242"], policy: Self.killUnknown) { c in
            Self.plant(f.id, f.text, in: c)
            c.run.onBadBaseline = .monitor
        }
        #expect(rig.agent.mode(ofWorkload: "user:4242") == "enforce", "nothing of the workload runs the bad program yet")
        rig.feed([Events.exec(500, ppid: 1, Self.svc, uid: 4242), Events.tamper(500)])
        rig.agent.stop(reason: "test")
        #expect(rig.agent.mode(ofWorkload: "user:4242") == "monitor (bad baseline)")
        #expect(!rig.kernel.signals.contains { $0.pid == 500 })
    }

    @Test func runWithOnBadBaselineMonitorNeverLearnsTheBadProgramAgain() throws {
        let f = Self.file(Self.corruptions[0].1)
        let rig = try Rig(.run, workloads: ["exe:" + Self.svc]) { c in
            Self.plant(f.id, f.text, in: c)
            c.run.onBadBaseline = .monitor
        }
        rig.feed([Events.exec(500, ppid: 1, Self.svc)])
        rig.agent.stop(reason: "test")
        #expect(rig.agent.modes.mode(of: f.id) == .monitor)
        #expect(rig.agent.learner.profiles[f.id] == nil)
        let text = try String(contentsOfFile: rig.dir + "/models/\(f.id).json", encoding: .utf8)
        #expect(text == f.text, "the damaged file is left for the operator, never overwritten")
    }

    // MARK: Reload

    /// Reloads the rig's own configuration, with `policy` (nil: the one it runs).
    static func reload(_ rig: Rig, policy: Policy? = nil) {
        var next = rig.agent.configuration.run
        next.outputs = ["file:" + rig.dir + "/out.jsonl"]
        rig.agent.reload(to: LoadedConfig(config: next, policy: policy ?? rig.agent.configuration.policy), from: "test.yaml")
    }

    @Test func aReloadRemovesADeletedBaselineFromMemoryAndTheKernel() throws {
        let p = AgentCapTests.profile()
        let rig = try Rig(.enforce, workloads: ["exe:" + Self.svc], policy: Self.killUnknown, profiles: [p])
        rig.feed([Events.exec(500, ppid: 1, Self.svc)])
        let slot = try #require(rig.kernel.slots[500])
        #expect(slot != 0)
        #expect(rig.kernel.known[slot]?.syscalls.isEmpty == false)
        #expect(rig.kernel.knownExecutables.contains(Self.svc))
        try FileManager.default.removeItem(atPath: rig.dir + "/models/\(p.id).json")
        Self.reload(rig)
        #expect(rig.agent.detector.profiles[p.id] == nil, "gone from the detector")
        #expect(rig.agent.learner.profiles[p.id] == nil, "and from the learner")
        #expect(rig.kernel.known[slot].map { $0.syscalls.isEmpty && $0.ngrams.isEmpty } == true, "the kernel's copy is emptied")
        #expect(!rig.kernel.knownExecutables.contains(Self.svc), "the exec guard no longer lets it run")
        #expect(rig.kernel.slots[500] == 0, "its running process has no profile now")
        // A new start of it is an unknown executable now.
        rig.feed([Events.exec(501, ppid: 1, Self.svc)])
        rig.agent.stop(reason: "test")
        let events = try Self.events(rig)
        #expect(events.contains { ($0["message"] as? String ?? "").contains("1 removed (\(p.id))") })
        let unknown = try rig.findings().filter { Rig.pid(of: $0) == 501 }
        #expect(unknown.contains { (($0["finding_info"] as? [String: Any])?["types"] as? [String] ?? []).contains("unknown-executable") },
                "\(unknown)")
    }

    @Test func aReloadKeepsTheLoadedCopyOfABaselineEditedIntoGarbageAndSaysSo() throws {
        let p = AgentCapTests.profile()
        let rig = try Rig(.enforce, workloads: ["exe:" + Self.svc], profiles: [p])
        let before = rig.agent.detector.profiles[p.id]
        #expect(before != nil)
        let path = rig.dir + "/models/\(p.id).json"
        try "{\"format_version\": 2, \"id\": ".write(toFile: path, atomically: false, encoding: .utf8)
        Self.reload(rig)
        #expect(rig.agent.detector.profiles[p.id] == before, "the copy in force stays")
        #expect(rig.kernel.knownExecutables.contains(Self.svc))
        Self.reload(rig)
        rig.agent.stop(reason: "test")
        let found = Self.unusable(try Self.events(rig))
        #expect(found.count == 1, "reported once, not at every reload: \(found)")
        #expect(((found.first?["message"] as? String) ?? "").contains("the copy loaded before stays in force"))
        #expect((found.first?["unmapped"] as? [String: Any])?["file"] as? String == path)
    }
}

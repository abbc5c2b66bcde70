import Foundation
import Testing
@testable import VigilAgent
import VigilCore
import VigilOutput
import VigilSensor
import VigilTestSupport

/// The bookkeeping of vg_exec_slots: a key is published while exactly one profile claims it.
@Suite struct ExecSlotTableTests {
    let a = ExecSlotKey(device: 1, inode: 10, size: 100, comm: Array("svc".utf8))
    let b = ExecSlotKey(device: 1, inode: 11, size: 100, comm: Array("svc".utf8))

    @Test func oneProfileOneKeyIsPublishedAndUnpublishedWithIt() {
        var t = ExecSlotTable()
        #expect(t.claim("p", key: a, slot: 3) == [.publish(a, slot: 3)])
        #expect(t.claim("p", key: a, slot: 3) == [], "the same claim again writes nothing")
        #expect(t.published == 1)
        #expect(t.release("p") == [.unpublish(a)])
        #expect(t.release("p") == [], "released once")
        #expect(t.published == 0)
    }

    @Test func twoProfilesOnOneKeyPublishNeitherUntilOneGoes() {
        var t = ExecSlotTable()
        #expect(t.claim("p", key: a, slot: 3) == [.publish(a, slot: 3)])
        #expect(t.claim("q", key: a, slot: 4) == [.unpublish(a)], "the kernel's answer would be a guess")
        #expect(t.claim("r", key: a, slot: 5) == [])
        #expect(t.published == 0)
        #expect(t.release("q") == [])
        #expect(t.release("p") == [.publish(a, slot: 5)], "the one left is published")
        #expect(t.published == 1)
    }

    @Test func aNewKeyOrSlotMovesTheClaimInOneStep() {
        var t = ExecSlotTable()
        _ = t.claim("p", key: a, slot: 3)
        #expect(t.claim("p", key: a, slot: 6) == [.publish(a, slot: 6)], "rewritten, never absent in between")
        #expect(t.claim("p", key: b, slot: 6) == [.unpublish(a), .publish(b, slot: 6)], "the file was replaced")
        #expect(t.claim("p", key: nil, slot: 6) == [.unpublish(b)], "no key any more")
        #expect(t.published == 0)
    }
}

/// The agent publishes the profiles whose slot the kernel may name at exec, and only those,
/// and takes them out when they go.
@Suite struct AgentExecSlotTests {
    /// A directory of real files (the keys come from stat), resolved.
    static func programs(_ names: [String]) throws -> (dir: String, paths: [String]) {
        let dir = try #require(ExecutablePath.live.realpath(try makeTempDirectory("vigil-exec-slots")))
        let paths = names.map { dir + "/" + $0 }
        for p in paths { try Data("binary \(p)".utf8).write(to: URL(fileURLWithPath: p)) }
        return (dir, paths)
    }

    static func exec(_ pid: Int32, _ path: String, comm: String, kernelSlot: UInt32 = 0, execSeq: UInt32 = 1) -> Event {
        Event(timeNanos: Rig.t0, pid: pid, tid: pid, comm: comm,
              payload: .exec(.init(ppid: 1, uid: 0, euid: 0, gid: 0, path: path, argv: [path], execSeq: execSeq, kernelSlot: kernelSlot)))
    }

    @Test func aNativeProgramsProfileIsPublishedWithTheSlotTheAgentAssigns() throws {
        let (dir, paths) = try Self.programs(["svc"])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let rig = try Rig(.monitor, profiles: [KernelCapacityTests.profile(paths[0])])
        let key = try #require(ExecSlotKey.of(executable: paths[0], comm: "svc"))
        #expect(rig.kernel.execSlots.keys.sorted { $0.inode < $1.inode } == [key], "\(rig.kernel.execSlotWrites)")
        rig.feed([Self.exec(500, paths[0], comm: "svc")])
        #expect(rig.kernel.slots[500] != nil && rig.kernel.execSlots[key] == rig.kernel.slots[500], "the kernel names the slot the agent would")
        #expect(rig.agent.metricsSnapshot().execSlotKeys == 1)
        rig.agent.stop(reason: "test")
    }

    @Test func interpretersNamedLongAndLinkedProgramsAreNeverPublished() throws {
        let (dir, paths) = try Self.programs(["python3", "bash", "node", "program-name-is-16", "alias-target", "linked"])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(link(paths[5], dir + "/linked2") == 0)
        var named = KernelCapacityTests.profile(paths[4])
        named.identity.name = "alias"
        let rig = try Rig(.monitor, profiles: [paths[0], paths[1], paths[2], paths[3], paths[5]].map(KernelCapacityTests.profile) + [named])
        #expect(rig.kernel.execSlots.isEmpty, "\(rig.kernel.execSlotWrites)")
        #expect(rig.kernel.calls.contains { $0.hasPrefix("slot-mode") }, "the profiles did go into the kernel")
        rig.agent.stop(reason: "test")
    }

    @Test func aDeletedBaselineIsTakenOut() throws {
        let (dir, paths) = try Self.programs(["svc", "other"])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let profiles = paths.map(KernelCapacityTests.profile)
        let rig = try Rig(.monitor, profiles: profiles)
        #expect(rig.kernel.execSlots.count == 2)
        try FileManager.default.removeItem(atPath: rig.dir + "/models/" + profiles[0].id + ".json")
        var next = RunConfig(models: rig.dir + "/models", state: rig.dir + "/state")
        next.outputs = ["file:" + rig.dir + "/out.jsonl"]
        next.metricsListen = nil
        next.mode = .monitor
        rig.agent.reload(to: LoadedConfig(config: next, policy: .standard), from: "test.yaml")
        let left = try #require(ExecSlotKey.of(executable: paths[1], comm: "other"))
        #expect(Array(rig.kernel.execSlots.keys) == [left], "\(rig.kernel.execSlotWrites)")
        #expect(rig.kernel.execSlotWrites.filter { $0.hasPrefix("unpublish") }.count == 1)
        rig.agent.stop(reason: "test")
    }

    @Test func theAgentsAnswerIsWrittenAndWhetherTheKernelAgreedIsCounted() throws {
        let (dir, paths) = try Self.programs(["svc"])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let rig = try Rig(.monitor, profiles: [KernelCapacityTests.profile(paths[0])])
        let slot = try #require(rig.kernel.execSlots.values.first)
        rig.feed([Self.exec(500, paths[0], comm: "svc", kernelSlot: slot), Self.exec(501, paths[0], comm: "svc", kernelSlot: slot + 7)])
        #expect(rig.kernel.slots[500] == slot && rig.kernel.slots[501] == slot, "the agent's own answer stays")
        let m = rig.agent.metricsSnapshot()
        #expect(m.execSlotNames["agreed"] == 1 && m.execSlotNames["overridden"] == 1, "\(m.execSlotNames)")
        let family = try #require(m.families().first { $0.name == "vigil_exec_slot_names_total" })
        #expect(family.samples.count == 2)
        rig.agent.stop(reason: "test")
    }

    @Test func aReplacedFileIsPublishedAgainAtItsNextUnnamedExec() throws {
        let (dir, paths) = try Self.programs(["svc"])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let rig = try Rig(.monitor, profiles: [KernelCapacityTests.profile(paths[0])])
        let before = try #require(rig.kernel.execSlots.keys.first)
        // An upgrade: a new file (inode and size) at the same path; the kernel no longer
        // knows it, so its next exec comes unnamed.
        try FileManager.default.removeItem(atPath: paths[0])
        try Data("a longer, newer binary".utf8).write(to: URL(fileURLWithPath: paths[0]))
        rig.feed([Self.exec(500, paths[0], comm: "svc")])
        let after = try #require(ExecSlotKey.of(executable: paths[0], comm: "svc"))
        #expect(after != before)
        #expect(Array(rig.kernel.execSlots.keys) == [after], "\(rig.kernel.execSlotWrites)")
        // Under another name (a symlink's) it is not the kernel's to name: nothing changes.
        let writes = rig.kernel.execSlotWrites.count
        rig.feed([Self.exec(501, paths[0], comm: "svc-link")])
        #expect(rig.kernel.execSlotWrites.count == writes)
        rig.agent.stop(reason: "test")
    }

    @Test func aFullMapIsReportedOnceAndCounted() throws {
        let (dir, paths) = try Self.programs(["svc", "other", "third"])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let rig = try Rig(.monitor, profiles: paths.map(KernelCapacityTests.profile), kernelSetup: { $0.execSlotCapacity = 1 })
        #expect(rig.kernel.execSlots.count == 1)
        var m = rig.agent.metricsSnapshot()
        #expect(m.execSlotPublishFailures == 2 && m.execSlotKeys == 1, "only what the kernel took counts as published")
        // Room again (another agent's entries gone, say): the next unnamed exec of a refused
        // program publishes it.
        rig.kernel.execSlotCapacity = 2
        let refused = try #require(paths.first { p in !rig.kernel.execSlots.keys.contains { $0 == ExecSlotKey.of(executable: p, comm: ProfileIdentity.basename(p)) } })
        rig.feed([Self.exec(500, refused, comm: ProfileIdentity.basename(refused))])
        m = rig.agent.metricsSnapshot()
        #expect(rig.kernel.execSlots.count == 2 && m.execSlotKeys == 2, "\(rig.kernel.execSlotWrites)")
        rig.agent.stop(reason: "test")
        let events = try KernelCapacityTests.capacityEvents(rig)
        #expect(events.count == 1, "\(events)")
        #expect((events.first?["unmapped"] as? [String: Any])?["map"] as? String == "vg_exec_slots")
    }
}

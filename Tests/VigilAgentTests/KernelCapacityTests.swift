import Foundation
import Testing
import VigilAgent
import VigilCore
import VigilOutput
import VigilSensor

/// Nothing Vigil holds is capped in silence: more profiles than kernel slots, or a kernel
/// map found full, is reported (an OCSF Application Error, once) and counted.
@Suite struct KernelCapacityTests {
    /// A profile of `path` learned from a few calls.
    static func profile(_ path: String) -> Profile {
        let learner = Learner(hostID: "t", profiles: [], now: Rig.t0, binaryHash: { _ in nil })
        var table = ProcessTable()
        let events = [Events.exec(50, ppid: 1, path), Events.novelty(50, ["openat", "read", "close", "openat", "read", "close"])]
        for e in events { learner.apply(e, process: table.apply(e), now: Rig.t0) }
        return learner.profiles.values.first!
    }

    /// The agent's own events (Application Error, 6008) that say a kernel map is full.
    static func capacityEvents(_ rig: Rig) throws -> [[String: Any]] {
        let text = (try? String(contentsOfFile: rig.dir + "/out.jsonl", encoding: .utf8)) ?? ""
        return try text.split(separator: "\n").compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["class_uid"] as? Int == 6008 && ($0["unmapped"] as? [String: Any])?["map"] != nil }
    }

    @Test func profilesBeyondTheKernelSlotsArePendingThereAndReported() throws {
        let paths = (1...4).map { "/opt/vigil-test/svc\($0)" }
        // Slots 1 and 2 only: two of the four profiles have none in the kernel.
        let rig = try Rig(.monitor, profiles: paths.map(Self.profile), slotLimit: 3)
        rig.feed(paths.enumerated().map { Events.exec(500 + Int32($0.offset), ppid: 1, $0.element) })
        let slots = (500...503).map { rig.kernel.slots[Int32($0)] }
        #expect(slots.filter { $0 == 1 || $0 == 2 }.count == 2, "\(slots)")
        #expect(slots.filter { $0 == Sensor.noKernelSlot }.count == 2, "the others are pending, so the kernel reports their n-grams: \(slots)")
        #expect(!slots.contains(0), "never slot 0 (not watched): \(slots)")
        #expect(rig.agent.withoutKernelSlot.count == 2)
        let m = rig.agent.metricsSnapshot()
        #expect(m.profilesWithoutKernelSlot == 2 && m.profileSlots == 2)
        #expect(m.families().contains { $0.name == "vigil_profiles_without_kernel_slot" })
        #expect(!rig.kernel.calls.contains { $0.hasPrefix("slot-mode 3") || $0.hasPrefix("slot-mode 4") }, "no mode set for a slot the kernel lacks")
        rig.agent.stop(reason: "test")
        let events = try Self.capacityEvents(rig)
        #expect(events.count == 1, "reported once, not per profile: \(events)")
        let unmapped = events.first?["unmapped"] as? [String: Any]
        #expect(unmapped?["map"] as? String == "vg_slot_modes" && unmapped?["capacity"] as? Int == 2)
        #expect((events.first?["message"] as? String)?.contains("restart the agent") == true)
    }

    @Test func everyProfileWithinTheSlotsHasOneAndNothingIsReported() throws {
        let paths = (1...4).map { "/opt/vigil-test/svc\($0)" }
        let rig = try Rig(.monitor, profiles: paths.map(Self.profile), slotLimit: 5)
        rig.feed(paths.enumerated().map { Events.exec(500 + Int32($0.offset), ppid: 1, $0.element) })
        #expect(Set((500...503).compactMap { rig.kernel.slots[Int32($0)] }) == [1, 2, 3, 4])
        #expect(rig.agent.withoutKernelSlot.isEmpty)
        rig.agent.stop(reason: "test")
        #expect(try Self.capacityEvents(rig).isEmpty)
    }

    @Test func aFullKernelMapIsReportedOnceWithItsSize() throws {
        let rig = try Rig(.monitor)
        rig.kernel.mapCapacities = ["vg_procs": 70_000, "vg_known_ngrams": 300_000]
        rig.agent.tick(now: Rig.t0)
        rig.kernel.statsValue.failures = [.procsFull: 2, .argvRead: 5]
        rig.agent.tick(now: Rig.t0 + 1_000_000_000)
        rig.kernel.statsValue.failures = [.procsFull: 9, .argvRead: 5, .knownNgramsFull: 1]
        rig.agent.tick(now: Rig.t0 + 2_000_000_000)
        rig.agent.tick(now: Rig.t0 + 3_000_000_000)
        rig.agent.stop(reason: "test")
        let maps = try Self.capacityEvents(rig).compactMap { $0["unmapped"] as? [String: Any] }
        #expect(maps.compactMap { $0["map"] as? String } == ["vg_procs", "vg_known_ngrams"], "each full map once; a read failure is no full map: \(maps)")
        #expect(maps.first?["capacity"] as? Int == 70_000)
        #expect(rig.agent.metricsSnapshot().kernelFailuresBySite["procs-full"] == 9, "the count goes on in the metrics")
    }
}

import Foundation
import Testing
import VigilCore
import VigilSensor

/// Issue 16 item 1: a new process's profile slot named in the kernel at exec
/// (vg_exec_slots), so it is judged from its first syscall instead of pending until the
/// agent reads its exec record.
@Suite(.serialized, .enabled(if: BPFTestGate.shouldRun), .timeLimit(.minutes(3)))
struct ExecSlotKernelTests {
    /// A copy of /usr/bin/true under `name` in a fresh directory under `parent` (default the
    /// temporary directory): its own inode, one link.
    static func program(_ name: String, in parent: String = FileManager.default.temporaryDirectory.path) throws -> (dir: String, path: String) {
        let dir = parent + "/vigil-exec-slot-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let resolved = ExecutablePath.live.realpath(dir) ?? dir
        try FileManager.default.copyItem(atPath: "/usr/bin/true", toPath: resolved + "/" + name)
        return (resolved, resolved + "/" + name)
    }

    func drain(_ sensor: Sensor, for seconds: Double) throws -> [Event] {
        var events: [Event] = []
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline { try sensor.poll(timeoutMillis: 20) { events.append($0) } }
        try sensor.drain { events.append($0) }
        return events
    }

    /// The exec record of `pid` and the profile slots its novelty records carried.
    func run(_ path: String, _ sensor: Sensor) throws -> (exec: Event.Exec?, slots: [UInt32]) {
        let (pid, _) = try runProgram(path, [])
        let events = try drain(sensor, for: 0.4).filter { $0.pid == pid }
        let exec = events.compactMap { e -> Event.Exec? in if case .exec(let x) = e.payload { return x } else { return nil } }.last
        let slots = events.compactMap { e -> UInt32? in if case .novelty(let n) = e.payload { return n.profileSlot } else { return nil } }
        return (exec, slots)
    }

    /// The sensor alone, scoped to the program's command name: nothing but the kernel names
    /// the slot (the test never assigns one), so every n-gram reported under it proves the
    /// process was named before its first syscall.
    @Test func aPublishedProgramIsNamedAtExecAndJudgedFromItsFirstSyscall() throws {
        try BPFTestGate.check()
        let (dir, path) = try Self.program("vgxslotk")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var o = SensorOptions()
        o.mode = .detect
        o.comm = "vgxslotk"
        let sensor = try Sensor(options: o)
        try sensor.setSlotMode(21, .monitor)
        let key = try #require(ExecSlotKey.of(executable: path, comm: "vgxslotk"))
        try sensor.publishExecSlot(key, slot: 21)
        #expect(sensor.publishedExecSlot(key) == 21)

        let named = try run(path, sensor)
        #expect(named.exec?.kernelSlot == 21, "the exec record says the kernel named slot 21: \(String(describing: named.exec))")
        #expect(named.slots.count > 10, "a monitor slot that knows nothing reports its n-grams: \(named.slots.count)")
        #expect(named.slots.allSatisfy { $0 == 21 }, "none pending (profile 0), from the first: \(named.slots.prefix(8))")

        // A second link to the file: the kernel cannot tell which path ran, so it names nothing.
        #expect(link(path, dir + "/other-link") == 0)
        let linked = try run(path, sensor)
        #expect(linked.exec?.kernelSlot == 0)
        #expect(!linked.slots.isEmpty && linked.slots.allSatisfy { $0 == 0 }, "pending until user space names it: \(linked.slots.prefix(8))")
        unlink(dir + "/other-link")

        // Taken out: pending again, as before this map existed.
        sensor.unpublishExecSlot(key)
        #expect(sensor.publishedExecSlot(key) == nil)
        let pending = try run(path, sensor)
        #expect(pending.exec?.kernelSlot == 0)
        #expect(!pending.slots.isEmpty && pending.slots.allSatisfy { $0 == 0 })

        // Through an overlay mount (a container image's file system), mounted here for the
        // test: the file the kernel runs is the overlay's inode, on the overlay's anonymous
        // device, and stat(2) of the merged path says the same.
        let layers = dir + "/overlay"
        for d in ["lower", "upper", "work", "merged"] { try FileManager.default.createDirectory(atPath: layers + "/" + d, withIntermediateDirectories: true) }
        try FileManager.default.copyItem(atPath: "/usr/bin/true", toPath: layers + "/lower/vgxslotk")
        if mount("overlay", layers + "/merged", "overlay", 0, "lowerdir=\(layers)/lower,upperdir=\(layers)/upper,workdir=\(layers)/work") == 0 {
            defer { umount2(layers + "/merged", Int32(MNT_DETACH)) }
            let overlayPath = layers + "/merged/vgxslotk"
            let overlayKey = try #require(ExecSlotKey.of(executable: overlayPath, comm: "vgxslotk"))
            try sensor.publishExecSlot(overlayKey, slot: 24)
            let onOverlay = try run(overlayPath, sensor)
            #expect(onOverlay.exec?.kernelSlot == 24, "overlay: \(overlayKey): \(String(describing: onOverlay.exec))")
            #expect(!onOverlay.slots.isEmpty && onOverlay.slots.allSatisfy { $0 == 24 })
            sensor.unpublishExecSlot(overlayKey)
        } else {
            Issue.record("could not mount an overlay to check its key (errno \(errno))")
        }

        // The same on tmpfs (an anonymous device: major 0), where this host has one: the
        // key's device from stat(2) is the kernel's s_dev there too.
        guard access("/dev/shm", W_OK) == 0 else { return }
        let (shmDir, shmPath) = try Self.program("vgxslotk", in: "/dev/shm")
        defer { try? FileManager.default.removeItem(atPath: shmDir) }
        let shmKey = try #require(ExecSlotKey.of(executable: shmPath, comm: "vgxslotk"))
        #expect(shmKey.device >> 20 == 0, "tmpfs: \(shmKey)")
        try sensor.publishExecSlot(shmKey, slot: 22)
        let onTmpfs = try run(shmPath, sensor)
        #expect(onTmpfs.exec?.kernelSlot == 22, "\(String(describing: onTmpfs.exec))")
        #expect(!onTmpfs.slots.isEmpty && onTmpfs.slots.allSatisfy { $0 == 22 })
    }

    /// With its behaviour known, a program named at exec sends nothing across the ring: not
    /// one n-gram of its start (which a pending process reports in full, under profile 0).
    @Test func aNamedProgramWhoseBehaviourIsKnownReportsNothingFromItsFirstSyscall() throws {
        try BPFTestGate.check()
        let (dir, path) = try Self.program("vgxslotq")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var o = SensorOptions()
        o.mode = .detect
        o.comm = "vgxslotq"
        let sensor = try Sensor(options: o)
        // Pending (nothing published): every distinct n-gram comes as profile 0.
        let (pid, _) = try runProgram(path, [])
        let first = try drain(sensor, for: 0.4).filter { $0.pid == pid }.compactMap { e -> Event.Novelty? in
            if case .novelty(let n) = e.payload { return n } else { return nil }
        }
        #expect(first.count > 10 && first.allSatisfy { $0.profileSlot == 0 }, "\(first.count)")
        // Its profile: what it just did, in slot 23 (monitor), published for its file and name.
        try sensor.preload(slot: 23, syscalls: Set(first.map(\.syscall)), ngrams: Set(first.map(\.hash)))
        try sensor.setSlotMode(23, .monitor)
        try sensor.publishExecSlot(try #require(ExecSlotKey.of(executable: path, comm: "vgxslotq")), slot: 23)
        for _ in 0..<3 {
            let named = try run(path, sensor)
            #expect(named.exec?.kernelSlot == 23)
            #expect(named.slots.isEmpty, "known from its first syscall: \(named.slots.count) records (slots \(Set(named.slots)))")
        }
    }

    /// The agent end to end: a profile learned for a small program; under `vigil monitor`
    /// the agent publishes it, and every fresh exec of the program is named by the kernel
    /// with the slot the agent then assigns too (none overridden), and nothing it does is
    /// found new.
    @Test func underMonitorEveryFreshExecOfALearnedProgramIsNamedByTheKernel() throws {
        try BPFTestGate.check()
        let (dir, path) = try Self.program("vgxslotm")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let models = dir + "/models"
        let learn = try runVigil(["learn", "--models", models, "--duration", "6", "--only", path,
                                  "--bucket", "2", "--window", "2", "--min-observed", "4", "--save-interval", "3"]) {
            for _ in 0..<40 { _ = try runProgram(path, []); Thread.sleep(forTimeInterval: 0.05) }
        }
        #expect(learn.status == 0, "stderr: \(learn.err)")

        let out = dir + "/findings.jsonl"
        let runs = 15
        let monitor = try runVigil(["monitor", "--models", models, "--workload", "exe:" + path, "--duration", "5", "--output", "file:" + out]) {
            for _ in 0..<runs { _ = try runProgram(path, []); Thread.sleep(forTimeInterval: 0.05) }
        }
        #expect(monitor.status == 0, "stderr: \(monitor.err)")
        #expect(monitor.err.contains("exec naming: executables published 1; execs named by the kernel \(runs), overridden by the agent 0"),
                "stderr: \(monitor.err)")
        let findings = ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").split(separator: "\n").filter { $0.contains("\"class_uid\":2004") }
        #expect(findings.isEmpty, "a learned program doing what it always does raises nothing: \(findings.prefix(2))")
    }
}

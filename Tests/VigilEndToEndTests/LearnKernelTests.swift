import Foundation
import Testing
import VigilCore
import VigilSensor

/// The kernel half of learning: n-grams are hashed and remembered in BPF maps, and only
/// novelty reaches user space.
@Suite(.serialized, .enabled(if: BPFTestGate.shouldRun), .timeLimit(.minutes(2)))
struct LearnKernelTests {
    func drain(_ sensor: Sensor, for seconds: Double) throws -> [Event] {
        var events: [Event] = []
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline { try sensor.poll(timeoutMillis: 20) { events.append($0) } }
        try sensor.drain { events.append($0) }
        return events
    }

    /// A shell running `script` after a line on its stdin: it is blocked in `read` (so a
    /// slot can be assigned before it does anything) until `go` is called.
    func waitingShell(_ script: String) throws -> (pid: Int32, go: () -> Void) {
        try waiting("/bin/sh", ["-c", "read x; " + script])
    }

    /// `program` with `arguments`, which reads a line from its stdin before its work (it is
    /// blocked in `read` until `go` is called).
    func waiting(_ program: String, _ arguments: [String]) throws -> (pid: Int32, go: () -> Void) {
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: program)
        shell.arguments = arguments
        let input = Pipe()
        shell.standardInput = input
        try shell.run()
        Thread.sleep(forTimeInterval: 0.2)  // blocked in read
        return (shell.processIdentifier, {
            input.fileHandleForWriting.write(Data("\n".utf8))
            shell.waitUntilExit()
        })
    }

    @Test func aPendingProcessReportsItsNgramsWithTheKernelHash() throws {
        try BPFTestGate.check()
        var o = SensorOptions()
        o.mode = .learn
        let sensor = try Sensor(options: o)
        let (pid, _) = try runProgram("/bin/true", [])
        let events = try drain(sensor, for: 0.5)
        let novel = events.filter { $0.pid == pid }.compactMap { e -> Event.Novelty? in
            if case .novelty(let n) = e.payload { return n } else { return nil }
        }
        #expect(novel.count > 10, "every call of a process without a profile yet is reported")
        // 6-grams, and a transparent call's syscall-only record (vigil_transparent.h), if any.
        let transparent = Set(SyscallTransparency.linuxNumbers)
        #expect(novel.allSatisfy { $0.profileSlot == 0 && ($0.calls.count == 6 || ($0.calls.count == 1 && transparent.contains($0.syscall))) })
        // The kernel's hash is the Swift definition, bit for bit.
        #expect(novel.allSatisfy { NgramHash.hash($0.calls) == $0.hash })
        // The first call of the new program follows five start symbols.
        #expect(novel.first?.calls.prefix(5).allSatisfy { $0 == NgramHash.startSymbol } == true)
        // execve's return path is the first syscall seen after exec is not guaranteed; but the
        // process's last call is exit_group (231).
        #expect(novel.last?.syscall == 231)
    }

    @Test func aProfiledProcessRepeatingItselfGoesQuiet() throws {
        try BPFTestGate.check()
        var o = SensorOptions()
        o.mode = .learn
        let sensor = try Sensor(options: o)
        let (service, port) = try startDemoService(try vigilExecutable().path)
        defer { service.terminate(); service.waitUntilExit() }
        try #require(port != 0)
        try sensor.setSlotMode(7, .learn)
        try sensor.assignProfile(pid: service.processIdentifier, slot: 7)
        _ = try drain(sensor, for: 0.2)

        func round() throws -> [Event.Novelty] {
            for _ in 0..<3 {
                try runProgram("/bin/bash", ["-c", "exec 3<>/dev/tcp/127.0.0.1/\(port); echo 'GET hostname' >&3; head -c 100 <&3 >/dev/null"])
            }
            return try drain(sensor, for: 0.3).filter { $0.pid == service.processIdentifier }.compactMap {
                if case .novelty(let n) = $0.payload { return n } else { return nil }
            }
        }
        let first = try round()
        _ = try round()
        _ = try round()
        let later = try round()
        #expect(first.count > 0, "serving requests is new behaviour at first")
        #expect(first.allSatisfy { $0.profileSlot == 7 })
        #expect(later.count < first.count / 4 + 1, "repeated requests are known: \(later.count) new vs \(first.count) at first")
        // Known behaviour is counted in the kernel instead.
        let counts = sensor.knownCounts()[7]
        #expect((counts?.ngrams.count ?? 0) >= Set(first.map(\.hash)).count)
        #expect(counts?.ngrams.contains { $0.count > 1 } == true)
        #expect(counts?.syscalls.contains { $0.nr == 43 || $0.nr == 288 } == true, "accept or accept4 is among the known syscalls")
    }

    /// The novelty record is an n-gram's first occurrence, and user space counts it from the
    /// record; the kernel's entry counts only the occurrences after it. So a sequence that
    /// happened once is a singleton in the profile (the calibration's held-out evidence).
    @Test func aSequenceSeenOnceCountsOnceNotTwice() throws {
        try BPFTestGate.check()
        var o = SensorOptions()
        o.mode = .learn
        let sensor = try Sensor(options: o)
        try sensor.setSlotMode(9, .learn)
        // A shell that waits on its stdin, then exits: its exit happens exactly once.
        let (pid, go) = try waitingShell("exit 0")
        try sensor.assignProfile(pid: pid, slot: 9)
        _ = try drain(sensor, for: 0.1)
        go()
        let novel = try drain(sensor, for: 0.3).filter { $0.pid == pid }.compactMap { e -> Event.Novelty? in
            if case .novelty(let n) = e.payload { return n } else { return nil }
        }
        let exit = try #require(novel.last { $0.syscall == 231 }, "exit_group ended a new sequence")
        #expect(exit.profileSlot == 9)
        let counts = try #require(sensor.knownCounts()[9])
        let entry = try #require(counts.ngrams.first { $0.hash == exit.hash }, "learned in the kernel")
        #expect(entry.count == 0, "the kernel counts occurrences after the reported one: \(entry.count)")
    }

    /// A judged process (its slot in monitor mode) reports a new n-gram once, not at every
    /// occurrence: a loop doing something new is one record, not thousands.
    @Test func aJudgedProcessReportsEachNewSequenceOnce() throws {
        try BPFTestGate.check()
        var o = SensorOptions()
        o.mode = .detect
        let sensor = try Sensor(options: o)
        try sensor.setSlotMode(12, .monitor)
        let (pid, go) = try waitingShell("i=0; while [ $i -lt 500 ]; do echo x; i=$((i+1)); done >/dev/null")
        try sensor.assignProfile(pid: pid, slot: 12)
        _ = try drain(sensor, for: 0.1)
        go()
        let novel = try drain(sensor, for: 0.3).filter { $0.pid == pid }.compactMap { e -> Event.Novelty? in
            if case .novelty(let n) = e.payload { return n } else { return nil }
        }
        let write = UInt32(SyscallTable.number("write")!)
        let writes = novel.filter { $0.calls == Array(repeating: write, count: 6) }
        #expect(writes.count == 1, "500 echoes, one report of six writes in a row: \(writes.count)")
        #expect(Set(novel.map(\.hash)).count == novel.count, "no n-gram reported twice")
        #expect(novel.allSatisfy { $0.profileSlot == 12 })
    }

    /// A judged slot's repeats are answered from the thread's cache of known n-grams,
    /// without a map lookup; their counts still reach the map, exactly once the thread is
    /// gone (batched meanwhile).
    @Test func aJudgedProcessCountsEachKnownRepeatExactly() throws {
        try BPFTestGate.check()
        var o = SensorOptions()
        o.mode = .detect
        let sensor = try Sensor(options: o)
        let write = UInt32(SyscallTable.number("write")!)
        let sixWrites = NgramHash.hash(Array(repeating: write, count: 6))
        try sensor.preload(slot: 13, syscalls: [write], ngrams: [sixWrites])
        try sensor.setSlotMode(13, .monitor)
        // dash: 500 echoes are 500 write calls in a row (strace shows nothing between them).
        let (pid, go) = try waitingShell("i=0; while [ $i -lt 500 ]; do echo x; i=$((i+1)); done >/dev/null")
        try sensor.assignProfile(pid: pid, slot: 13)
        _ = try drain(sensor, for: 0.1)
        go()
        let novel = try drain(sensor, for: 0.3).filter { $0.pid == pid }.compactMap { e -> Event.Novelty? in
            if case .novelty(let n) = e.payload { return n } else { return nil }
        }
        #expect(!novel.contains { $0.hash == sixWrites }, "six writes are known")
        let entry = try #require(sensor.knownCounts()[13]?.ngrams.first { $0.hash == sixWrites })
        #expect(entry.count == 495, "500 writes in a row hold 495 windows of six: counted \(entry.count)")
        #expect(entry.lastSeen > 0)
    }

    /// A transparent call (vigil_transparent.h: futex, sched_yield) enters no n-gram; the
    /// first one a judged process makes that its profile never made is reported once, as a
    /// syscall-only novelty; a known one is not reported; a learning slot learns it in the
    /// kernel. The process is python3 calling `os.sched_yield()` between `getppid` calls.
    @Test(arguments: [ProfileMode.monitor, .learn]) func aTransparentCallFormsNoNgramButIsLearnedAsASyscall(mode: ProfileMode) throws {
        try BPFTestGate.check()
        var o = SensorOptions()
        o.mode = mode == .learn ? .learn : .detect
        let sensor = try Sensor(options: o)
        let yield = UInt32(SyscallTable.number("sched_yield")!)
        let transparent = Set(SyscallTransparency.linuxNumbers)
        func yielding(slot: UInt32) throws -> [Event.Novelty] {
            let (pid, go) = try waiting("/usr/bin/python3", ["-c", """
                import os, sys
                sys.stdin.readline()
                for _ in range(300):
                    os.getppid(); os.sched_yield(); os.getppid(); os.getppid()
                """])
            try sensor.assignProfile(pid: pid, slot: slot)
            _ = try drain(sensor, for: 0.1)
            go()
            return try drain(sensor, for: 0.3).filter { $0.pid == pid }.compactMap { e -> Event.Novelty? in
                if case .novelty(let n) = e.payload { return n } else { return nil }
            }
        }
        try sensor.setSlotMode(16, mode)
        let novel = try yielding(slot: 16)
        let yields = novel.filter { $0.calls == [yield] }
        #expect(novel.count > 10, "python's own work is new to an empty profile")
        if mode == .learn {
            #expect(yields.count >= 1)
            #expect(sensor.knownCounts()[16]?.syscalls.contains { $0.nr == yield } == true, "learned in the kernel")
        } else {
            #expect(yields.count == 1, "one report for the process: \(yields.count)")
        }
        #expect(yields.allSatisfy { $0.newSyscall && $0.profileSlot == 16 })
        #expect(novel.filter { $0.calls.count == 6 }.allSatisfy { $0.calls.allSatisfy { !transparent.contains($0) } },
                "no n-gram holds a transparent call")
        #expect(novel.allSatisfy { $0.calls.count == 6 || ($0.calls.count == 1 && transparent.contains($0.syscall)) })
        guard mode == .monitor else { return }
        // Known to the profile: nothing to report.
        try sensor.preload(slot: 17, syscalls: [yield], ngrams: [])
        try sensor.setSlotMode(17, .monitor)
        #expect(try yielding(slot: 17).filter { $0.calls == [yield] }.isEmpty)
    }

    /// A known n-gram removed from the map is new again at once, also for a thread that
    /// had it in its cache of known n-grams.
    @Test func aRemovedNgramIsNewAgainForAThreadThatCachedIt() throws {
        try BPFTestGate.check()
        var o = SensorOptions()
        o.mode = .detect
        let sensor = try Sensor(options: o)
        let write = UInt32(SyscallTable.number("write")!)
        let sixWrites = NgramHash.hash(Array(repeating: write, count: 6))
        try sensor.preload(slot: 14, syscalls: [write], ngrams: [sixWrites, 99])
        try sensor.setSlotMode(14, .monitor)
        let loop = "i=0; while [ $i -lt 200 ]; do echo x; i=$((i+1)); done >/dev/null"
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/sh")
        shell.arguments = ["-c", "read x; \(loop); read y; \(loop)"]
        let input = Pipe()
        shell.standardInput = input
        try shell.run()
        defer { if shell.isRunning { shell.terminate() } }
        Thread.sleep(forTimeInterval: 0.2)
        try sensor.assignProfile(pid: shell.processIdentifier, slot: 14)
        _ = try drain(sensor, for: 0.1)
        func sixWriteReports() throws -> Int {
            try drain(sensor, for: 0.3).filter { $0.pid == shell.processIdentifier }.filter {
                if case .novelty(let n) = $0.payload { return n.hash == sixWrites } else { return false }
            }.count
        }
        input.fileHandleForWriting.write(Data("\n".utf8))
        #expect(try sixWriteReports() == 0, "known while the map holds it")
        #expect(try sensor.replaceKnown([14: (syscalls: [write], ngrams: [99])]) == 1)
        input.fileHandleForWriting.write(Data("\n".utf8))
        shell.waitUntilExit()
        #expect(try sixWriteReports() == 1, "new again once removed, reported once")
    }

    /// Steady state sends nothing: once a process's repeated work is learned, judging it
    /// puts no record at all on the ring buffer, by the kernel's own counters of records
    /// submitted (the sensor filtered to this one process, so the host's own novelty and
    /// execs do not count). The same whether the thread keeps its history in its vg_threads
    /// slot or, that slot held by another thread, in task storage.
    @Test(arguments: [false, true]) func aLearnedSteadyWorkloadSubmitsNoRecords(slotTaken: Bool) throws {
        try BPFTestGate.check()
        let loop = "i=0; while [ $i -lt 300 ]; do echo x; i=$((i+1)); done >/dev/null"
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/sh")
        // Four rounds, each started by a line on stdin: three learned, the fourth judged.
        shell.arguments = ["-c", (0..<4).map { _ in "read x; \(loop)" }.joined(separator: "; ") + "; read x"]
        let input = Pipe()
        shell.standardInput = input
        try shell.run()
        defer { if shell.isRunning { shell.terminate() } }
        Thread.sleep(forTimeInterval: 0.2)
        var o = SensorOptions()
        o.mode = .detect
        o.pid = shell.processIdentifier
        let sensor = try Sensor(options: o)
        if slotTaken { try sensor.occupyThreadSlot(of: shell.processIdentifier) }
        try sensor.setSlotMode(16, .learn)
        try sensor.assignProfile(pid: shell.processIdentifier, slot: 16)
        func submitted() -> UInt64 { sensor.stats.kernelEmitted.values.reduce(0, +) }
        func round() throws -> UInt64 {
            let before = submitted()
            input.fileHandleForWriting.write(Data("\n".utf8))
            _ = try drain(sensor, for: 0.3)
            return submitted() - before
        }
        let first = try round()
        _ = try round()
        _ = try round()
        try sensor.setSlotMode(16, .monitor)
        let judged = try round()
        let idle = try drain(sensor, for: 0.5).count
        #expect(first > 0, "the first round is new behaviour, reported while learning")
        #expect(judged == 0, "a learned round, judged: \(judged) records submitted")
        #expect(idle == 0)
        let owner = sensor.threadSlotOwner(of: shell.processIdentifier)
        #expect(slotTaken ? owner != UInt32(shell.processIdentifier) && owner != 0 : owner == UInt32(shell.processIdentifier),
                "the history was where this case puts it (slot owner \(String(describing: owner)))")
        #expect(sensor.stats.totalKernelDrops == 0)
    }

    @Test func preloadedNgramsAreNotReported() throws {
        try BPFTestGate.check()
        var o = SensorOptions()
        o.mode = .detect
        let sensor = try Sensor(options: o)
        // Learn what /bin/true does from one run (pending: all reported)...
        var o2 = SensorOptions(); o2.mode = .learn
        let learner = try Sensor(options: o2)
        let (pid, _) = try runProgram("/bin/true", [])
        let learned = try drain(learner, for: 0.4).filter { $0.pid == pid }.compactMap { e -> Event.Novelty? in
            if case .novelty(let n) = e.payload { return n } else { return nil }
        }
        _ = try drain(sensor, for: 0.1)
        #expect(!learned.isEmpty)
        // ...then preload it for a slot in the detecting sensor: a process in that slot that
        // repeats it is silent; one that does something else is not.
        try sensor.preload(slot: 3, syscalls: Set(learned.map(\.syscall)), ngrams: learned.map(\.hash))
        let counts = sensor.knownCounts()[3]
        #expect(counts?.ngrams.count == Set(learned.map(\.hash)).count)
        #expect(counts?.ngrams.allSatisfy { $0.count == 0 } == true)
    }

    @Test func replacingKnownBehaviourForgetsWhatTheBaselineNoLongerHolds() throws {
        try BPFTestGate.check()
        var o = SensorOptions()
        o.mode = .detect
        let sensor = try Sensor(options: o)
        try sensor.preload(slot: 4, syscalls: [0, 1, 2], ngrams: [11, 12, 13, 14])
        try sensor.preload(slot: 5, syscalls: [0, 1], ngrams: [11, 12])
        // A reviewed baseline for slot 4 drops syscall 2 and n-grams 13 and 14, adds 15.
        let removed = try sensor.replaceKnown([4: (syscalls: [0, 1], ngrams: [11, 12, 15])])
        #expect(removed == 3)
        let counts = sensor.knownCounts()
        #expect(Set(counts[4]?.syscalls.map(\.nr) ?? []) == [0, 1])
        #expect(Set(counts[4]?.ngrams.map(\.hash) ?? []) == [11, 12, 15])
        // Other slots are untouched.
        #expect(Set(counts[5]?.syscalls.map(\.nr) ?? []) == [0, 1])
        #expect(Set(counts[5]?.ngrams.map(\.hash) ?? []) == [11, 12])
        #expect(try sensor.replaceKnown([4: (syscalls: [0, 1], ngrams: [11, 12, 15])]) == 0)
        #expect(try sensor.replaceKnown([:]) == 0)
    }

    /// The known maps are sized for what will be preloaded, plus the built-in room to
    /// learn: 1,000 profiles of a real size would not fit the built-in sizes.
    @Test func knownMapsAreSizedForThePreload() throws {
        try BPFTestGate.check()
        let plain = try Sensor(options: SensorOptions())
        let base = plain.knownCapacity
        plain.detach()
        var o = SensorOptions()
        o.mode = .detect
        o.preloadSyscalls = 100_000
        o.preloadNgrams = 426_148
        let sensor = try Sensor(options: o)
        #expect(sensor.knownCapacity.syscalls == base.syscalls + 100_000)
        #expect(sensor.knownCapacity.ngrams == base.ngrams + 426_148)
        // And they hold it: more n-grams than the built-in size fit in one slot.
        let many = (1...UInt64(base.ngrams) + 1000).map { $0 &* 0x9E37_79B9_7F4A_7C15 | 1 }
        try sensor.preload(slot: 1, syscalls: [], ngrams: many)
        #expect(sensor.knownCounts()[1]?.ngrams.count == many.count)
    }

    /// Profile slots and the process maps are sized for the start too: more profiles than
    /// the built-in 65,536 slots each get one the kernel holds, and a slot beyond them is
    /// refused by name rather than written where the kernel never looks.
    @Test func profileSlotsAndProcessMapsAreSizedForTheStart() throws {
        try BPFTestGate.check()
        var o = SensorOptions()
        o.mode = .detect
        o.sizing.preload["vg_slot_modes"] = 100_000
        o.sizing.addProcesses(20_000)
        let sensor = try Sensor(options: o)
        let builtIn = UInt32(65_536)
        #expect(sensor.profileSlotLimit == builtIn + 100_000)
        #expect(sensor.mapCapacities["vg_procs"] == builtIn + 20_000 && sensor.mapCapacities["vg_marks"] == builtIn + 20_000)
        try sensor.setSlotMode(150_000, .enforce)
        #expect(throws: (any Error).self) { try sensor.setSlotMode(sensor.profileSlotLimit, .enforce) }
    }
}

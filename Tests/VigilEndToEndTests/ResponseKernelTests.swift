import Foundation
import Testing
import VigilTestSupport
import VigilCore
import VigilSensor

/// The responses the kernel carries out, one per action, on real processes.
@Suite(.serialized, .enabled(if: BPFTestGate.shouldRun), .timeLimit(.minutes(2)))
struct ResponseKernelTests {
    func detectSensor() throws -> Sensor {
        var o = SensorOptions()
        o.mode = .detect
        o.execGuard = true
        return try Sensor(options: o)
    }

    func events(_ sensor: Sensor, seconds: Double) throws -> [Event] {
        var out: [Event] = []
        let end = Date().addingTimeInterval(seconds)
        while Date() < end { try sensor.poll(timeoutMillis: 20) { out.append($0) } }
        try sensor.drain { out.append($0) }
        return out
    }

    /// The ingress gate (every TCP packet a local socket receives runs it) is loaded and
    /// left off in detect mode until asked for; asked twice, it is attached once.
    @Test func theIngressGateIsAttachedOnlyWhenAskedFor() throws {
        try BPFTestGate.check()
        let sensor = try detectSensor()
        #expect(!sensor.ingressGateAttached)
        #expect(!sensor.attachedHooks.contains("cgroup_skb/ingress"), "\(sensor.attachedHooks)")
        #expect(sensor.attachedHooks.contains("cgroup/connect4"), "the other cgroup hooks are attached at start")
        try sensor.attachIngressGate()
        try sensor.attachIngressGate()
        #expect(sensor.ingressGateAttached)
        #expect(sensor.attachedHooks.filter { $0 == "cgroup_skb/ingress" }.count == 1, "\(sensor.attachedHooks)")
        #expect(sensor.programStats().contains { $0.name == "vg_ingress_gate" }, "its run-time statistics are read with the others'")
    }

    /// A shell that waits for a line on stdin, then runs it: the test sets responses for its
    /// pid before it acts.
    func waitingShell() throws -> (Process, FileHandle) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = ["-c", "read -r line; eval \"$line\""]
        let input = Pipe()
        p.standardInput = input
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return (p, input.fileHandleForWriting)
    }

    /// A ``waitingShell()`` that `sensor` already treats as `membership`, with `responses`
    /// set (none: left as they are), before it reads its line.
    func guardedShell(_ sensor: Sensor, _ membership: Sensor.Membership = .guarded,
                      responses: Sensor.Responses = []) throws -> (Process, FileHandle) {
        let (shell, input) = try waitingShell()
        Thread.sleep(forTimeInterval: 0.1)
        try sensor.setMembership(pid: shell.processIdentifier, membership)
        if !responses.isEmpty { try sensor.setResponses(pid: shell.processIdentifier, responses) }
        return (shell, input)
    }

    @Test func denyNetworkRefusesConnectWithEPERM() throws {
        try BPFTestGate.check()
        let listener = try LoopbackListener()
        let sensor = try detectSensor()
        #expect(sensor.attachedHooks.contains("cgroup/connect4"))
        let (shell, input) = try guardedShell(sensor, responses: .denyNetwork)
        // The connect's outcome, written where the test can read it. A child (a subshell)
        // connects, to show that descendants inherit the denial.
        let result = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-deny-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: result) }
        input.write(Data("( exec 3<>/dev/tcp/127.0.0.1/\(listener.port) && echo connected ) >\(result) 2>&1\n".utf8))
        shell.waitUntilExit()
        let outcome = (try? String(contentsOfFile: result, encoding: .utf8)) ?? ""
        #expect(outcome.contains("Operation not permitted"), "the connect failed with EPERM: \(outcome)")
        #expect(!outcome.contains("connected"))
        let actions = try events(sensor, seconds: 0.3).compactMap { e -> Event.KernelAction? in
            if case .action(let a) = e.payload { return a } else { return nil }
        }
        #expect(actions.contains { $0.kind == .deniedConnect && $0.remote?.port == listener.port })
    }

    @Test func killLandsAtTheNextSyscall() throws {
        try BPFTestGate.check()
        let sensor = try detectSensor()
        let (shell, input) = try guardedShell(sensor, responses: .kill)
        input.write(Data("echo still-alive\n".utf8))
        shell.waitUntilExit()
        #expect(shell.terminationReason == .uncaughtSignal)
        #expect(shell.terminationStatus == SIGKILL)
        let actions = try events(sensor, seconds: 0.3).filter { $0.pid == shell.processIdentifier }.compactMap { e -> Event.KernelAction? in
            if case .action(let a) = e.payload { return a } else { return nil }
        }
        #expect(actions.contains { $0.kind == .killedAtSyscall && $0.result == 0 })
    }

    @Test func anUnknownProgramExecutedByADeviatingProcessNeverRuns() throws {
        try BPFTestGate.check()
        let sensor = try detectSensor()
        try sensor.setKnownExecutables(["/usr/bin/bash", "/bin/bash"])
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-unknown-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // A program no baseline knows: a copy of touch. Had it run a line, the file would exist.
        let program = dir.appendingPathComponent("dropper").path
        try FileManager.default.copyItem(atPath: "/usr/bin/touch", toPath: program)
        let marker = dir.appendingPathComponent("ran").path
        let (shell, input) = try guardedShell(sensor, responses: .killUnknownExecs)
        input.write(Data("\(program) \(marker); /usr/bin/bash -c 'exit 0'\n".utf8))
        shell.waitUntilExit()
        #expect(!FileManager.default.fileExists(atPath: marker), "the unknown program was killed before its first instruction")
        let actions = try events(sensor, seconds: 0.3).compactMap { e -> Event.KernelAction? in
            if case .action(let a) = e.payload { return a } else { return nil }
        }
        #expect(actions.contains { $0.kind == .killedAtExec && $0.path == program })
        #expect(shell.terminationStatus == 0, "a known program (bash) still runs for the same process")
    }

    /// The guard knows a program by its file as well as by its path: a deviating process
    /// that runs a known program by a relative path or through a symlink is not killed (the
    /// agent's own judgement makes such a path absolute and finds it known); a program
    /// forgotten with its baseline is unknown again by every path.
    @Test func aKnownProgramRunByAnotherPathIsStillKnown() throws {
        try BPFTestGate.check()
        let sensor = try detectSensor()
        let dir = try makeTempDirectory("vigil-known-path")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // The known program is a copy of touch: each run that is let through leaves a file.
        let known = dir + "/known"
        try FileManager.default.copyItem(atPath: "/usr/bin/touch", toPath: known)
        try FileManager.default.createSymbolicLink(atPath: dir + "/link", withDestinationPath: known)
        try sensor.setKnownExecutables(["/usr/bin/bash", "/bin/bash", known])

        /// Runs `command MARKER` in the guarded, deviating shell; says whether it ran.
        func ran(_ command: String, _ marker: String) throws -> Bool {
            let (shell, input) = try guardedShell(sensor, responses: .killUnknownExecs)
            input.write(Data("cd \(dir) && \(command) \(marker); /usr/bin/bash -c 'exit 0'\n".utf8))
            shell.waitUntilExit()
            #expect(shell.terminationReason == .exit && shell.terminationStatus == 0, "\(command): bash itself stays known")
            return FileManager.default.fileExists(atPath: dir + "/" + marker)
        }
        #expect(try ran("./known", "relative"), "a known program run by a relative path runs")
        #expect(try ran("./link", "symlink"), "and through a symlink to it")
        #expect(try ran(known, "absolute"))

        // An unknown script is unknown though its interpreter (bash) is known: by its path,
        // relative or not (the file the kernel runs for it is the interpreter's).
        // (It makes its marker itself, with no exec of its own the guard could stop.)
        try "#!/bin/bash\n: > \"$1\"\n".write(toFile: dir + "/dropper.sh", atomically: true, encoding: .utf8)
        chmod(dir + "/dropper.sh", 0o755)
        #expect(try !ran("./dropper.sh", "script-relative"), "an unknown script run by a relative path is killed at exec")
        #expect(try !ran(dir + "/dropper.sh", "script-absolute"))

        // A known script is known by its path, relative too: the kernel makes a relative
        // path absolute from the working directory and spells it plainly, as the agent does
        // ("." and empty components dropped; a path with a ".." component stays unknown).
        // Known by its path with symlinks resolved, as the kernel walks the directory.
        let canonical = URL(fileURLWithPath: dir).resolvingSymlinksInPath().path
        try FileManager.default.createDirectory(atPath: dir + "/sub", withIntermediateDirectories: false)
        let scripts = ["/maker.sh", "/sub/maker.sh", "/v1..2.sh"]
        for script in scripts {
            try "#!/bin/bash\n: > \"$1\"\n".write(toFile: dir + script, atomically: true, encoding: .utf8)
            chmod(dir + script, 0o755)
        }
        try sensor.setKnownExecutables(scripts.map { canonical + $0 })
        #expect(try ran("./maker.sh", "known-script-relative"), "a known script run by a relative path runs")
        #expect(try ran("sub/maker.sh", "known-script-subdirectory"))
        #expect(try ran("././sub/maker.sh", "known-script-dots"))
        #expect(try ran(".//sub//maker.sh", "known-script-slashes"), "empty components are dropped")
        #expect(try ran("sub/./maker.sh", "known-script-inner-dot"), "so are inner '.' components")
        #expect(try ran(canonical + "//sub/./maker.sh", "known-script-absolute-spelled"), "an absolute path is spelled plainly too")
        #expect(try ran("./v1..2.sh", "known-script-dots-in-name"), "'..' inside a name is a name")
        #expect(try !ran("sub/../maker.sh", "known-script-parent"), "a path through .. is not resolved in the kernel")
        #expect(try !ran(".//dropper.sh", "script-slashes"), "an unknown script spelled oddly is still unknown")
        #expect(try ran(canonical + "/maker.sh", "known-script-absolute"))
        try sensor.removeKnownExecutables(scripts.map { canonical + $0 })
        #expect(try !ran("./maker.sh", "forgotten-script-relative"))
        #expect(try !ran("sub//maker.sh", "forgotten-script-slashes"))

        // A second known path to the same file, then forgotten: the first still holds it.
        try sensor.setKnownExecutables([dir + "/link"])
        try sensor.removeKnownExecutables([dir + "/link"])
        #expect(try ran("./known", "still-held"), "the file stays known while a known path names it")

        // Replaced at its path (as a package upgrade does: a new file, a new inode): known by
        // its path at once (a relative one too: the kernel makes it absolute), through a link
        // once the guard has looked again.
        // (mkdir: its marker is a directory; another size, so a reused inode number is
        // another file too.)
        try FileManager.default.removeItem(atPath: known)
        try FileManager.default.copyItem(atPath: "/usr/bin/mkdir", toPath: known)
        #expect(try ran(known, "upgraded-absolute"))
        #expect(try ran("./known", "upgraded-relative"), "the path it names from the working directory is known")
        #expect(try !ran("./link", "upgraded-symlink-before"), "the old file's inode is what the guard knew")
        try sensor.refreshKnownExecutableFiles()
        #expect(try ran("./link", "upgraded-symlink"), "the new file is known once looked at again")

        try sensor.removeKnownExecutables([known])
        #expect(try !ran("./known", "forgotten-relative"), "a forgotten program is killed at exec by every path")
        #expect(try !ran("./link", "forgotten-symlink"))
        #expect(try !ran(known, "forgotten-absolute"))
    }

    /// A reload's replacement of a slot's keys removes from the kernel what the baseline no
    /// longer holds: a segmented process reaches a destination while its slot knows it, and
    /// is refused once the destination is dropped; other slots keep theirs.
    @Test func aDestinationDroppedFromASlotIsRefusedAgain() throws {
        try BPFTestGate.check()
        let sensor = try detectSensor()
        let listener = try LoopbackListener()
        let slot: UInt32 = 11, other: UInt32 = 12
        var keys = Sensor.SlotKeys()
        keys.destinations = [NetworkDestination(transport: .tcp, address: "127.0.0.1", port: listener.port)]
        keys.listens = [ListeningSocket(transport: .tcp, address: "0.0.0.0", port: 8080)]
        #expect(try sensor.replaceKnownKeys([slot: keys, other: keys]) == 0, "nothing to remove from fresh slots")

        /// Whether a segmented shell in `slot` connects to the listener.
        func connects(in slot: UInt32) throws -> Bool {
            let (shell, input) = try guardedShell(sensor, [.guarded, .segment])
            try sensor.assignProfile(pid: shell.processIdentifier, slot: slot)
            input.write(Data("exec 3<>/dev/tcp/127.0.0.1/\(listener.port) && exit 7\n".utf8))
            shell.waitUntilExit()
            return shell.terminationReason == .exit && shell.terminationStatus == 7
        }
        #expect(try connects(in: slot), "a learned destination is let through")
        #expect(try sensor.replaceKnownKeys([slot: Sensor.SlotKeys()]) == 2, "the destination and the port are removed")
        #expect(try !connects(in: slot), "a dropped destination is refused")
        #expect(try connects(in: other), "another slot keeps its own")
        #expect(listener.accepted == 2)
    }

    @Test func responsesForAProcessOutsideEveryWorkloadAreInert() throws {
        try BPFTestGate.check()
        let sensor = try detectSensor()
        let listener = try LoopbackListener()
        for membership: Sensor.Membership in [[], .protected] {
            let (shell, input) = try guardedShell(sensor, membership, responses: [.kill, .denyNetwork, .killUnknownExecs])
            input.write(Data("exec 3<>/dev/tcp/127.0.0.1/\(listener.port) && /usr/bin/true && exit 7\n".utf8))
            shell.waitUntilExit()
            #expect(shell.terminationReason == .exit && shell.terminationStatus == 7,
                    "a process that is no workload's member (\(membership)) is never killed nor denied")
        }
        #expect(listener.accepted == 2)
    }

    @Test func aKernelDeviationMarkSurvivesAUserSpaceRewrite() throws {
        try BPFTestGate.check()
        let sensor = try detectSensor()
        try sensor.setKnownExecutables(["/usr/bin/bash", "/bin/bash"])
        let dir = try makeTempDirectory("vigil-mark")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let program = dir + "/dropper"
        try FileManager.default.copyItem(atPath: "/usr/bin/touch", toPath: program)
        let (shell, input) = try waitingShell()
        Thread.sleep(forTimeInterval: 0.1)
        let pid = shell.processIdentifier
        // A guarded member in a slot that knows nothing, in enforce mode: its next syscall
        // is new, and the kernel marks it deviating on the spot.
        try sensor.setSlotMode(9, .enforce)
        try sensor.setMembership(pid: pid, .guarded)
        try sensor.assignProfile(pid: pid, slot: 9)
        input.write(Data("read -r next; eval \"$next\"\n".utf8)) // a few syscalls, then it waits again
        let end = Date().addingTimeInterval(2)
        while !sensor.kernelMarks(pid: pid).deviating && Date() < end { Thread.sleep(forTimeInterval: 0.02) }
        #expect(sensor.kernelMarks(pid: pid).deviating, "the kernel marked the process")
        // User space rewrites the whole entry it owns (no responses of its own): before the
        // entry was split by writer, this wiped the kernel's mark and the guard missed.
        try sensor.setResponses(pid: pid, [])
        try sensor.assignProfile(pid: pid, slot: 9)
        #expect(sensor.kernelMarks(pid: pid).deviating, "the mark is the kernel's, kept apart")
        input.write(Data("\(program) \(dir)/ran\n".utf8))
        shell.waitUntilExit()
        #expect(!FileManager.default.fileExists(atPath: dir + "/ran"), "the guard still kills the unknown program at exec")
    }

    @Test func aNewProgramIsPendingUntilItsProfileIsNamed() throws {
        try BPFTestGate.check()
        let sensor = try detectSensor()
        let (shell, input) = try waitingShell()
        Thread.sleep(forTimeInterval: 0.1)
        let pid = shell.processIdentifier
        try sensor.setSlotMode(11, .monitor)
        try sensor.assignProfile(pid: pid, slot: 11)
        input.write(Data("exec /bin/sleep 0.3\n".utf8))
        shell.waitUntilExit()
        let events = try events(sensor, seconds: 0.3).filter { $0.pid == pid }
        // The stream holds the shell's own exec (of bash) too: the one that matters is sleep's.
        func isSleep(_ e: Event) -> Bool { if case .exec(let x) = e.payload { x.path.hasSuffix("/sleep") } else { false } }
        let sleep = try #require(events.first(where: isSleep))
        let shellExec = try #require(events.compactMap { e -> Event.Exec? in if case .exec(let x) = e.payload, !isSleep(e) { x } else { nil } }.first)
        if case .exec(let x) = sleep.payload { #expect(x.execSeq == shellExec.execSeq + 1, "the kernel counts each exec of the process") }
        let afterExec = events.drop { !isSleep($0) }
        let novel = afterExec.compactMap { e -> Event.Novelty? in if case .novelty(let n) = e.payload { n } else { nil } }
        #expect(!novel.isEmpty, "sleep's first n-grams are reported")
        #expect(novel.allSatisfy { $0.profileSlot == 0 }, "as pending, never under the shell's slot 11")
    }

    @Test func aSignalToTheAgentIsReportedAsTamper() throws {
        try BPFTestGate.check()
        let sensor = try detectSensor()
        // SIGURG is ignored by default: it cannot hurt the test runner.
        let (pid, _) = try runProgram("/bin/kill", ["-URG", String(getpid())])
        let tampers = try events(sensor, seconds: 0.3).filter { $0.pid == pid }.compactMap { e -> Event.Tamper? in
            if case .tamper(let t) = e.payload { return t } else { return nil }
        }
        #expect(tampers.contains { $0.kind == .signal && $0.detail == UInt32(SIGURG) })
    }
}

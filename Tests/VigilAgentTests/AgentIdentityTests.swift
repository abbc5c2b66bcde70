import Foundation
import Testing
import VigilAgent
import VigilCore
import VigilSensor
import VigilTestSupport

/// Identity rule 2 on the agent: a program started through a symlink gets one profile
/// (the resolved executable, run under the symlink's name) whether it was running before
/// the agent started (found in /proc) or exec'd while it runs (the sensor's exec event),
/// and `--only` takes the symlink's path.
@Suite(.serialized) struct AgentIdentityTests {
    /// A symlink of another name to a real program, with processes run through it.
    final class Linked {
        let dir: String
        let link: String
        let target: String
        private var children: [Process] = []

        init() throws {
            dir = try makeTempDirectory("vigil-identity")
            target = try #require(ExecutablePath.live.realpath("/bin/sleep"))
            link = dir + "/vigil-napper"
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "/bin/sleep")
        }

        /// Starts `sleep 30` by the symlink's path (argv[0] the symlink, as a shell would).
        func start(cwd: String? = nil) throws -> Int32 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: link)
            p.arguments = ["30"]
            if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
            try p.run()
            children.append(p)
            // Wait until the exec is done: /proc/PID/exe is the target, not this test.
            for _ in 0..<200 where ExecutablePath.live.procLink(p.processIdentifier, "exe") != target { usleep(5_000) }
            return p.processIdentifier
        }

        /// The exec event the sensor hands on for `pid` exec'ing `path`: the kernel's path as
        /// execve was given it and comm (the first 15 bytes of its base name), resolved as
        /// `Sensor` does.
        func execEvent(pid: Int32, path: String) -> Event {
            var x = Event.Exec(ppid: getpid(), uid: getuid(), euid: geteuid(), gid: getgid(), path: path, argv: [path, "30"])
            ExecutablePath.live.resolve(&x, pid: pid)
            let comm = String(decoding: ProfileIdentity.basename(path).utf8.prefix(ProfileIdentity.commLength), as: UTF8.self)
            return Event(timeNanos: Rig.t0, pid: pid, tid: pid, comm: comm, payload: .exec(x))
        }

        deinit {
            // SIGKILL: a child may inherit an ignored SIGTERM from a test that installed the stop signals.
            for p in children where p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() }
            try? FileManager.default.removeItem(atPath: dir)
        }
    }

    func savedProfiles(_ rig: Rig) -> [Profile] {
        let (saved, errors) = ProfileStore(directory: rig.dir + "/models").loadAll()
        #expect(errors.isEmpty)
        return saved
    }

    @Test func aProgramStartedThroughASymlinkBeforeAndAfterTheAgentStartsGetsOneProfile() throws {
        let l = try Linked()
        let before = try l.start()
        let running = ProcScanner.snapshot(nowNanos: Rig.t0).filter { $0.pid == before }
        let seeded = try #require(running.first, "the process started before the agent is found in /proc")
        #expect(seeded.path == l.target, "/proc/PID/exe is the resolved file")

        let rig = try Rig(.learn, running: running)
        let after = try l.start()
        let relative = try l.start(cwd: l.dir)
        rig.feed([l.execEvent(pid: after, path: l.link), l.execEvent(pid: relative, path: "./vigil-napper")])
        let slots = [before, after, relative].map { rig.kernel.slots[$0] }
        #expect(slots[0] != nil && slots[0] != 0, "the running process has a learning slot")
        #expect(Set(slots).count == 1, "one profile's slot for all three: \(slots)")
        rig.agent.stop(reason: "test")

        let mine = savedProfiles(rig).filter { $0.identity.executable == l.target }
        #expect(mine.count == 1, "one profile, not one per way of starting it: \(mine.map(\.id))")
        let p = try #require(mine.first)
        let expected = ProfileIdentity(executable: l.target, name: "vigil-napper")
        #expect(p.id == expected.id)
        #expect(p.id == seeded.identity.id)
        #expect(p.identity.name == "vigil-napper", "run under the symlink's name, apart from plain sleep")
        #expect(p.invokedAs[l.link] != nil, "the symlink is recorded as a path it was invoked as")
        #expect(p.knownPaths.contains(l.link) && p.knownPaths.contains(l.target))
        #expect(p.binaries.count == 1, "the binary hashed is the file that runs")
    }

    @Test func onlyTakesTheSymlinkPathAndLeavesThePlainTargetAlone() throws {
        let l = try Linked()
        let before = try l.start()
        let running = ProcScanner.snapshot(nowNanos: Rig.t0).filter { $0.pid == before }
        let rig = try Rig(.learn, running: running) { $0.run.only = [l.link] }
        let after = try l.start()
        // Plain sleep, by the target's own path: another identity, not selected by the symlink.
        let plain = Event(timeNanos: Rig.t0, pid: 4_000_000, tid: 4_000_000, comm: "sleep",
                          payload: .exec(.init(ppid: 1, uid: 0, euid: 0, gid: 0, path: l.target, argv: [l.target, "30"])))
        rig.feed([l.execEvent(pid: after, path: l.link), plain])
        #expect(rig.kernel.slots[before] != nil && rig.kernel.slots[before] != 0)
        #expect(rig.kernel.slots[after] == rig.kernel.slots[before])
        #expect(rig.kernel.slots[4_000_000] == nil, "plain sleep is not learned under --only the symlink")
        rig.agent.stop(reason: "test")
        let ids = savedProfiles(rig).map(\.id)
        #expect(ids == [ProfileIdentity(executable: l.target, name: "vigil-napper").id])
    }

    @Test func theKernelLearnsTheSymlinkAsAKnownExecutable() throws {
        var p = Profile(identity: ProfileIdentity(executable: "/usr/bin/redis-check-rdb", name: "redis-server"))
        p.invokedAs["/usr/bin/redis-server"] = Sighting(firstSeen: 1, lastSeen: 1, hosts: ["test": 1])
        let rig = try Rig(.monitor, profiles: [p])
        #expect(rig.kernel.knownExecutables.isSuperset(of: ["/usr/bin/redis-check-rdb", "/usr/bin/redis-server"]))
        rig.agent.stop(reason: "test")
    }
}

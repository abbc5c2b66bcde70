import Testing
import VigilCore

/// Fake clock and event helpers for the detection tests.
enum DetectSupport {
    static let t0: UInt64 = 1_700_000_040 * 1_000_000_000
    static func at(_ seconds: Double) -> UInt64 { t0 + UInt64(seconds * 1e9) }
    static func ev(_ pid: Int32, _ payload: Event.Payload, at t: UInt64) -> Event {
        Event(timeNanos: t, pid: pid, tid: pid, comm: "c", payload: payload)
    }
    static func nr(_ name: String) -> UInt32 { UInt32(SyscallTable.number(name)!) }
    static func exec(_ pid: Int32, ppid: Int32, _ path: String, uid: UInt32 = 0, at t: UInt64) -> Event {
        ev(pid, .exec(.init(ppid: ppid, uid: uid, euid: uid, gid: 0, path: path, argv: [path])), at: t)
    }
    static func novelty(_ pid: Int32, _ names: [String], newSyscall: Bool = false, at t: UInt64) -> Event {
        let calls = names.map { $0 == "^" ? NgramHash.startSymbol : nr($0) }
        return ev(pid, .novelty(.init(profileSlot: 0, calls: calls, hash: NgramHash.hash(calls), newSyscall: newSyscall)), at: t)
    }
    static func connect(_ pid: Int32, _ a: IPv4Address, _ port: UInt16, at t: UInt64) -> Event {
        ev(pid, .network(.init(operation: .connect, result: 0, fd: 3, transport: .tcp, local: nil, remote: .ipv4(a, port: port))), at: t)
    }
    static func listen(_ pid: Int32, _ port: UInt16, at t: UInt64) -> Event {
        ev(pid, .network(.init(operation: .listen, result: 0, fd: 3, transport: .tcp, local: .ipv4(IPv4Address(0, 0, 0, 0), port: port), remote: nil)), at: t)
    }
    static func hash(_ path: String) -> String { SHA256.hex(of: Array(path.utf8)) }

    /// A small service's life: init starts nginx, which reads, connects to its database,
    /// listens on 80, forks a worker, and the worker runs logger.
    static func serviceEvents() -> [Event] {
        var t = 0.0
        func next() -> UInt64 { t += 0.5; return at(t) }
        var e: [Event] = [
            exec(1, ppid: 0, "/sbin/init", at: next()),
            ev(1, .fork(.init(childPid: 100)), at: next()),
            exec(100, ppid: 1, "/usr/sbin/nginx", at: next()),
        ]
        let trace = ["openat", "read", "mmap", "close", "openat", "read", "close", "socket", "connect", "sendto", "recvfrom", "close"]
        var window = Array(repeating: "^", count: 6)
        for c in trace {
            window.removeFirst(); window.append(c)
            e.append(novelty(100, window, newSyscall: true, at: next()))
        }
        e += [
            connect(100, IPv4Address(10, 0, 0, 5), 5432, at: next()),
            listen(100, 80, at: next()),
            ev(100, .fork(.init(childPid: 101)), at: next()),
            exec(101, ppid: 100, "/usr/bin/logger", at: next()),
            ev(101, .exit(.init(status: 0)), at: next()),
        ]
        return e
    }

    /// Learns the service's profiles with the real learner.
    static func learnedProfiles() -> [Profile] {
        let learner = Learner(hostID: "staging", profiles: [], now: t0, binaryHash: { hash($0) })
        var table = ProcessTable()
        for e in serviceEvents() {
            let r = table.apply(e)
            learner.apply(e, process: r, now: e.timeNanos)
        }
        return Array(learner.profiles.values)
    }

    /// Runs events through a detector with a process table, hashing exec'd binaries as `hash` does.
    static func replay(_ events: [Event], into d: Detector, hash: (String) -> String? = { DetectSupport.hash($0) }) -> [Deviation] {
        var table = ProcessTable()
        var out: [Deviation] = []
        for e in events {
            let r = table.apply(e)
            var h: String?
            if case .exec(let x) = e.payload { h = hash(x.path) }
            out += d.apply(e, process: r, binaryHash: h, now: e.timeNanos)
        }
        return out
    }
}

private typealias S = DetectSupport

@Suite struct DetectorTests {
    @Test func replayingLearnedBehaviourRaisesNothing() {
        let profiles = S.learnedProfiles()
        #expect(profiles.count == 3)
        let d = Detector(profiles: profiles)
        #expect(S.replay(S.serviceEvents(), into: d).isEmpty)
    }

    @Test func newProgramIsExplainedAgainstWhatTheProfileRuns() {
        let d = Detector(profiles: S.learnedProfiles())
        var events = Array(S.serviceEvents().prefix(3))
        events.append(S.ev(100, .fork(.init(childPid: 102)), at: S.at(20)))
        events.append(S.exec(102, ppid: 100, "/usr/bin/curl", at: S.at(21)))
        let devs = S.replay(events, into: d)
        let exec = devs.first { $0.kind == .newExec }
        #expect(exec?.observed == "/usr/bin/curl")
        #expect(exec?.expected == ["/usr/bin/logger"])
        #expect(exec?.profile == "usr-sbin-nginx")
        #expect(exec?.pid == 102)
        #expect(exec?.score == 25)
        // curl has no profile at all.
        let unknown = devs.first { $0.kind == .unknownExecutable }
        #expect(unknown?.observed == "/usr/bin/curl")
        #expect(unknown?.profile == nil)
        #expect(unknown?.score == 20)
    }

    /// `vigil run` learning the new program: the exec still counts against the watched
    /// parent's profile, the new image is neither unknown nor judged afterwards.
    @Test func anExecIntoALearnedProgramJudgesOnlyTheOldImage() {
        let d = Detector(profiles: S.learnedProfiles())
        var events = Array(S.serviceEvents().prefix(3))
        events.append(S.ev(100, .fork(.init(childPid: 102)), at: S.at(20)))
        _ = S.replay(events, into: d)
        let exec = S.exec(102, ppid: 100, "/usr/bin/curl", at: S.at(21))
        let devs = d.apply(exec, process: nil, now: S.at(21), newImageLearned: true)
        #expect(devs.map(\.kind) == [.newExec])
        #expect(devs.first?.profile == "usr-sbin-nginx")
        #expect(d.attribution(of: 102) == nil)
        #expect(d.apply(S.connect(102, IPv4Address(10, 9, 9, 9), 4444, at: S.at(22)), process: nil, now: S.at(22)).isEmpty)
    }

    @Test func newParentUserBinaryListenAndDestination() {
        let d = Detector(profiles: S.learnedProfiles())
        var events = Array(S.serviceEvents().prefix(3))
        // logger started by init instead of nginx, as another user.
        events.append(S.ev(1, .fork(.init(childPid: 200)), at: S.at(20)))
        events.append(S.exec(200, ppid: 1, "/usr/bin/logger", uid: 1000, at: S.at(21)))
        events.append(S.listen(100, 8080, at: S.at(22)))
        events.append(S.connect(100, IPv4Address(203, 0, 113, 7), 4444, at: S.at(23)))
        events.append(S.connect(100, IPv4Address(203, 0, 113, 7), 4444, at: S.at(24)))  // once per process
        let devs = S.replay(events, into: d, hash: { $0 == "/usr/bin/logger" ? String(repeating: "ab", count: 32) : S.hash($0) })
        let kinds = devs.map(\.kind)
        #expect(kinds.filter { $0 == .newDestination }.count == 1)
        // init's profile never ran logger either.
        #expect(Set(kinds) == [.newExec, .newParent, .newUser, .binaryChanged, .newListen, .newDestination])
        #expect(devs.first { $0.kind == .newExec }?.profile == "sbin-init")
        #expect(devs.first { $0.kind == .newParent }?.observed == "/sbin/init")
        #expect(devs.first { $0.kind == .newParent }?.expected == ["/usr/sbin/nginx"])
        #expect(devs.first { $0.kind == .newUser }?.observed == "uid 1000")
        #expect(devs.first { $0.kind == .newListen }?.observed == "tcp 0.0.0.0 port 8080")
        #expect(devs.first { $0.kind == .newListen }?.expected == ["tcp 0.0.0.0 port 80"])
        #expect(devs.first { $0.kind == .newDestination }?.observed == "tcp 203.0.113.7 port 4444")
        #expect(devs.first { $0.kind == .newDestination }?.expected == ["tcp 10.0.0.5 port 5432"])
        #expect(devs.first { $0.kind == .binaryChanged }?.score == 40)
    }

    @Test func cidrDestinationsCoverTheirMembers() {
        var p = Profile(identity: ProfileIdentity(executable: "/usr/bin/app"))
        p.destinations[NetworkDestination(transport: .tcp, address: "10.1.2.0/24", port: 443)] = Sighting(host: "h", at: S.t0)
        p.destinations[NetworkDestination(transport: .tcp, address: "2001:db8:0:1::/64", port: 443)] = Sighting(host: "h", at: S.t0)
        let d = Detector(profiles: [p])
        _ = d.seed([ProcessRecord(pid: 5, ppid: 1, path: "/usr/bin/app", argv: ["/usr/bin/app"])], now: S.t0)
        #expect(d.apply(S.connect(5, IPv4Address(10, 1, 2, 77), 443, at: S.t0), process: nil, now: S.t0).isEmpty)
        let v6 = IPv6Address(bytes: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9])
        let e6 = S.ev(5, .network(.init(operation: .connect, result: 0, fd: 3, transport: .tcp, local: nil, remote: .ipv6(v6, port: 443))), at: S.t0)
        #expect(d.apply(e6, process: nil, now: S.t0).isEmpty)
        #expect(d.apply(S.connect(5, IPv4Address(10, 1, 3, 1), 443, at: S.t0), process: nil, now: S.t0).map(\.kind) == [.newDestination])
        #expect(d.apply(S.connect(5, IPv4Address(10, 1, 2, 1), 8443, at: S.t0), process: nil, now: S.t0).map(\.kind) == [.newDestination])
    }

    @Test func aConnectToTheProcesssOwnSocketIsNoNewDestination() {
        let d = Detector(profiles: [Profile(identity: ProfileIdentity(executable: "/usr/bin/app"))])
        _ = d.seed([ProcessRecord(pid: 5, ppid: 1, path: "/usr/bin/app", argv: ["/usr/bin/app"])], now: S.t0)
        func connect(own: Bool) -> Event {
            S.ev(5, .network(.init(operation: .connect, result: 0, fd: 3, transport: .udp, local: nil,
                                   remote: .ipv4(IPv4Address(127, 0, 0, 1), port: 41_007), ownSocket: own)), at: S.t0)
        }
        #expect(d.apply(connect(own: true), process: nil, now: S.t0).isEmpty, "a self-pipe is not the network")
        #expect(d.apply(connect(own: false), process: nil, now: S.t0).map(\.kind) == [.newDestination], "another process's port is")
    }

    @Test func aListenerOnAPortTheKernelPicksIsKnownOnlyIfOneWasLearned() {
        var p = Profile(identity: ProfileIdentity(executable: "/usr/bin/app"))
        p.listens[ListeningSocket(transport: .tcp, address: "0.0.0.0", port: ListeningSocket.pickedPort)] = Sighting(host: "h", at: S.t0)
        let learned = Detector(profiles: [p])
        let never = Detector(profiles: [Profile(identity: ProfileIdentity(executable: "/usr/bin/app"))])
        for d in [learned, never] { _ = d.seed([ProcessRecord(pid: 5, ppid: 1, path: "/usr/bin/app", argv: ["/usr/bin/app"])], now: S.t0) }
        func listen(_ port: UInt16, picked: Bool) -> Event {
            S.ev(5, .network(.init(operation: .listen, result: 0, fd: 3, transport: .tcp, local: .ipv4(IPv4Address(0, 0, 0, 0), port: port),
                                   remote: nil, pickedPort: picked)), at: S.t0)
        }
        #expect(learned.apply(listen(45_678, picked: true), process: nil, now: S.t0).isEmpty, "another port the kernel picked")
        #expect(learned.apply(listen(45_678, picked: false), process: nil, now: S.t0).map(\.kind) == [.newListen], "the same number asked for is not")
        #expect(never.apply(listen(45_678, picked: true), process: nil, now: S.t0).map(\.kind) == [.newListen], "nor a picked port where none was learned")
    }

    @Test func dangerousNewSyscallsWeighMore() {
        let d = Detector(profiles: S.learnedProfiles())
        _ = S.replay(Array(S.serviceEvents().prefix(3)), into: d)
        let ptrace = d.apply(S.novelty(100, ["read", "mmap", "close", "openat", "read", "ptrace"], newSyscall: true, at: S.at(30)), process: nil, now: S.at(30))
        let getpid = d.apply(S.novelty(100, ["read", "mmap", "close", "openat", "read", "getpid"], newSyscall: true, at: S.at(90)), process: nil, now: S.at(90))
        #expect(ptrace.first { $0.kind == .newSyscall }?.score == 50)
        #expect(ptrace.first { $0.kind == .newSyscall }?.scoring == "weight 10 + danger ptrace 40")
        #expect(getpid.first { $0.kind == .newSyscall }?.score == 10)
        #expect(ptrace.contains { $0.kind == .newSequence })
    }

    @Test func burstOfNovelCallsScoresFarMoreThanTheSameSpreadOut() {
        // Every new sequence counts here (no calibrated threshold): the density rule alone.
        var everySequence = Policy.standard
        everySequence.sequenceFalseAlarmRate = 0
        let d = Detector(profiles: S.learnedProfiles(), policy: everySequence)
        let start = Array(S.serviceEvents().prefix(3)) + [
            S.ev(100, .fork(.init(childPid: 110)), at: S.at(5)), S.ev(100, .fork(.init(childPid: 111)), at: S.at(5)),
        ]
        _ = S.replay(start, into: d)
        // Ten known calls in orders the profile never saw.
        let orders: [[String]] = (0..<10).map { i in
            var w = ["read", "close", "openat", "mmap", "sendto", "recvfrom"]
            w.swapAt(i % 6, (i + 1 + i / 6) % 6)
            return w
        }
        var burst = 0.0, spread = 0.0
        for (i, w) in orders.enumerated() {
            let tb = S.at(10 + Double(i) * 0.001)
            let ts = S.at(10 + Double(i) * 10)
            burst += d.apply(S.novelty(110, w, at: tb), process: nil, now: tb).filter { $0.kind == .newSequence }.map(\.score).reduce(0, +)
            spread += d.apply(S.novelty(111, w, at: ts), process: nil, now: ts).filter { $0.kind == .newSequence }.map(\.score).reduce(0, +)
        }
        #expect(spread > 0)
        #expect(burst >= 5 * spread)   // 1 + 2 + ... + 10 = 55 units against 10
    }

    @Test func surpriseFromProfileMatchesTheScannerOnTheSameTraining() {
        // Train the scanner's model on a trace, and build the profile's 6-grams from the same trace.
        let trace: [UInt32] = [0, 1, 2, 3, 0, 1, 2, 4, 0, 1, 2, 3, 5, 0, 1]
        var trainer = SequenceTrainer()
        trainer.feed(trace)
        let trained = trainer.model()
        var ngrams: [UInt64: NgramItem] = [:]
        var w = Array(repeating: NgramHash.startSymbol, count: 6)
        for c in trace {
            w.removeFirst(); w.append(c)
            let h = NgramHash.hash(w)
            if ngrams[h] == nil { ngrams[h] = NgramItem(calls: w, seen: Sighting(host: "h", at: 0, count: 0)) }
            ngrams[h]!.seen.record(host: "h", at: 0)
        }
        let derived = SequenceModel(ngrams: ngrams.values)
        #expect(Set(derived.knownNgramHashes()) == Set(trained.knownNgramHashes()))
        for probe: [UInt32] in [[1, 2, 3, 0, 1, 4], [2, 3, 0, 1, 2, 9], [0, 1, 2, 3, 5, 1]] {
            #expect(abs(derived.surprise(ofNgram: probe) - trained.surprise(ofNgram: probe)) < 1e-9)
        }
        // And the scanner charges the same for the last call of a trace ending in the probe.
        let scanner = SequenceScanner(model: trained, traceFeatures: false)
        var last = 0.0
        for c in [0, 1, 2, 3, 0, 1, 4] as [UInt32] { last = scanner.feed(c) }
        #expect(abs(last - derived.surprise(ofNgram: [1, 2, 3, 0, 1, 4])) < 1e-9)
    }

    @Test func memfdCreateThenExecIsFileless() {
        let d = Detector(profiles: S.learnedProfiles())
        var events = Array(S.serviceEvents().prefix(3))
        events.append(S.novelty(100, ["read", "mmap", "close", "openat", "read", "memfd_create"], newSyscall: true, at: S.at(20)))
        events.append(S.exec(100, ppid: 1, "/memfd:x (deleted)", at: S.at(21)))
        let devs = S.replay(events, into: d)
        #expect(devs.first { $0.kind == .newSyscall }?.score == 25)
        #expect(devs.first { $0.kind == .memfdExec }?.score == 60)
        #expect(devs.first { $0.kind == .memfdExec }?.profile == "usr-sbin-nginx")
    }

    @Test func childKeepsParentProfileUntilExec() {
        let d = Detector(profiles: S.learnedProfiles())
        _ = S.replay(Array(S.serviceEvents().prefix(3)) + [S.ev(100, .fork(.init(childPid: 150)), at: S.at(9))], into: d)
        #expect(d.profileID(forPid: 150) == "usr-sbin-nginx")
        _ = d.apply(S.exec(150, ppid: 100, "/usr/bin/logger", at: S.at(10)), process: nil, binaryHash: nil, now: S.at(10))
        #expect(d.profileID(forPid: 150) == "usr-bin-logger")
    }

    @Test func policyIgnoresKindsPerProfileAndTamperIsCritical() throws {
        let policy = try Policy.load(yaml: "ignore:\n  usr-sbin-nginx: [new-connect]\n", file: "p.yaml")
        let d = Detector(profiles: S.learnedProfiles(), policy: policy)
        _ = S.replay(Array(S.serviceEvents().prefix(3)), into: d)
        #expect(d.apply(S.connect(100, IPv4Address(203, 0, 113, 7), 4444, at: S.at(20)), process: nil, now: S.at(20)).isEmpty)
        #expect(d.apply(S.listen(100, 9999, at: S.at(20)), process: nil, now: S.at(20)).map(\.kind) == [.newListen])
        let t = d.tamper(pid: 100, what: "sent SIGKILL to the Vigil agent", now: S.at(21))
        #expect(t.kind == .tamper && t.score == 100 && t.profile == "usr-sbin-nginx")
    }
}

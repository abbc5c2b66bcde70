import Testing
import VigilCore

/// Shared helpers for the profile tests: a fake clock in seconds from a fixed epoch.
enum ProfileTestSupport {
    static let t0: UInt64 = 1_700_000_040 * 1_000_000_000   // a multiple of 60 s
    static func at(_ seconds: Double) -> UInt64 { t0 + UInt64(seconds * 1e9) }
    static func ev(_ pid: Int32, _ payload: Event.Payload, at t: UInt64) -> Event {
        Event(timeNanos: t, pid: pid, tid: pid, comm: "c", payload: payload)
    }
    static func hashes(_ path: String) -> String? { SHA256.hex(of: Array(path.utf8)) }
}

@Suite struct LearnerTests {
    typealias S = ProfileTestSupport

    func exec(_ l: Learner, pid: Int32, ppid: Int32, path: String, argv: [String], uid: UInt32 = 1000, at t: UInt64) {
        l.apply(S.ev(pid, .exec(.init(ppid: ppid, uid: uid, euid: uid, gid: uid, path: path, argv: argv)), at: t), process: nil, now: t)
    }

    @Test func execRecordsBinaryHashParentUserAndWhatTheParentExecutes() throws {
        let l = Learner(hostID: "h1", now: S.t0, binaryHash: S.hashes)
        exec(l, pid: 10, ppid: 1, path: "/bin/bash", argv: ["bash"], at: S.at(1))
        l.apply(S.ev(10, .fork(.init(childPid: 11)), at: S.at(2)), process: nil, now: S.at(2))
        exec(l, pid: 11, ppid: 10, path: "/usr/bin/curl", argv: ["curl", "x"], uid: 33, at: S.at(3))
        let curl = try #require(l.profiles["usr-bin-curl"])
        #expect(curl.binaries.keys.sorted() == [S.hashes("/usr/bin/curl")!])
        #expect(curl.currentBinary == S.hashes("/usr/bin/curl"))
        #expect(curl.parents.keys.sorted() == ["/bin/bash"])
        #expect(curl.users.keys.sorted() == [33])
        #expect(curl.users[33]?.firstSeen == S.at(3))
        let bash = try #require(l.profiles["bin-bash"])
        #expect(bash.executes.keys.sorted() == ["/usr/bin/curl"])
        #expect(bash.executes["/usr/bin/curl"]?.count == 1)
        #expect(l.profileID(forPid: 11) == "usr-bin-curl")
    }

    @Test func aNewBinaryHashBecomesCurrentAndOldOnesStay() throws {
        var version = "v1"
        let l = Learner(hostID: "h1", now: S.t0, binaryHash: { _ in SHA256.hex(of: Array(version.utf8)) })
        exec(l, pid: 10, ppid: 1, path: "/usr/sbin/app", argv: ["app"], at: S.at(1))
        version = "v2"
        exec(l, pid: 12, ppid: 1, path: "/usr/sbin/app", argv: ["app"], at: S.at(5))
        let p = try #require(l.profiles["usr-sbin-app"])
        #expect(p.binaries.count == 2)
        #expect(p.currentBinary == SHA256.hex(of: Array("v2".utf8)))
    }

    @Test func interpretersGetDistinctProfiles() {
        let l = Learner(hostID: "h1", now: S.t0, binaryHash: S.hashes)
        exec(l, pid: 10, ppid: 1, path: "/usr/bin/python3.11", argv: ["python3", "/opt/a.py"], at: S.at(1))
        exec(l, pid: 11, ppid: 1, path: "/usr/bin/python3.11", argv: ["python3", "/opt/b.py"], at: S.at(1))
        #expect(l.profileID(forPid: 10) == "usr-bin-python3.11--opt-a.py")
        #expect(l.profileID(forPid: 11) == "usr-bin-python3.11--opt-b.py")
        #expect(l.profiles.count == 2)
    }

    @Test func networkEventsLearnDestinationsListensAndAccepts() throws {
        let l = Learner(hostID: "h1", now: S.t0, binaryHash: S.hashes)
        exec(l, pid: 10, ppid: 1, path: "/usr/sbin/api", argv: ["api"], at: S.at(1))
        func net(_ op: Event.Network.Operation, result: Int64 = 0, local: Endpoint? = nil, remote: Endpoint? = nil) {
            l.apply(S.ev(10, .network(.init(operation: op, result: result, fd: 3, transport: .tcp, local: local, remote: remote)), at: S.at(2)),
                    process: nil, now: S.at(2))
        }
        net(.connect, remote: .ipv4(IPv4Address(10, 0, 0, 5), port: 5432))
        net(.connect, result: -115, remote: .ipv4(IPv4Address(10, 0, 0, 5), port: 5432))
        net(.connect, result: -111, remote: .ipv4(IPv4Address(10, 0, 0, 9), port: 5432))   // refused: not learned
        net(.listen, local: .ipv4(IPv4Address(0, 0, 0, 0), port: 8080))
        net(.accept, result: 7, local: .ipv4(IPv4Address(10, 0, 0, 2), port: 8080), remote: .ipv4(IPv4Address(10, 0, 0, 77), port: 40000))
        net(.accept, result: 8, local: .ipv4(IPv4Address(10, 0, 0, 2), port: 8080), remote: .ipv4(IPv4Address(10, 0, 0, 78), port: 40001))
        let p = try #require(l.profiles["usr-sbin-api"])
        let db = NetworkDestination(transport: .tcp, address: "10.0.0.5", port: 5432)
        #expect(p.destinations.keys.sorted() == [db])
        #expect(p.destinations[db]?.count == 2)
        let sock = ListeningSocket(transport: .tcp, address: "0.0.0.0", port: 8080)
        #expect(p.listens.keys.sorted() == [sock])
        #expect(p.listens[sock]?.count == 3, "one listen plus two accepted connections")
    }

    @Test func aConnectToTheProcesssOwnSocketIsNotADestination() throws {
        let l = Learner(hostID: "h1", now: S.t0, binaryHash: S.hashes)
        exec(l, pid: 10, ppid: 1, path: "/usr/sbin/api", argv: ["api"], at: S.at(1))
        func connect(_ port: UInt16, own: Bool) {
            let n = Event.Network(operation: .connect, result: 0, fd: 3, transport: .udp, local: nil,
                                  remote: .ipv4(IPv4Address(127, 0, 0, 1), port: port), ownSocket: own)
            l.apply(S.ev(10, .network(n), at: S.at(2)), process: nil, now: S.at(2))
        }
        // A self-pipe's two ends, at ports the kernel picked, then a real local backend.
        connect(41_007, own: true)
        connect(52_113, own: true)
        connect(5353, own: false)
        let p = try #require(l.profiles["usr-sbin-api"])
        #expect(p.destinations.keys.sorted() == [NetworkDestination(transport: .udp, address: "127.0.0.1", port: 5353)])
    }

    @Test func listenersOnPortsTheKernelPickedAreOneEntry() throws {
        let l = Learner(hostID: "h1", now: S.t0, binaryHash: S.hashes)
        exec(l, pid: 10, ppid: 1, path: "/usr/sbin/vsftpd", argv: ["vsftpd"], at: S.at(1))
        func listen(_ port: UInt16, picked: Bool) {
            let n = Event.Network(operation: .listen, result: 0, fd: 3, transport: .tcp,
                                  local: .ipv4(IPv4Address(10, 0, 0, 2), port: port), remote: nil, pickedPort: picked)
            l.apply(S.ev(10, .network(n), at: S.at(2)), process: nil, now: S.at(2))
        }
        listen(21, picked: false)
        // Passive-mode data listeners: a new port every time, each one the kernel's pick.
        for port: UInt16 in [40_123, 51_777, 33_002] { listen(port, picked: true) }
        let p = try #require(l.profiles["usr-sbin-vsftpd"])
        let picked = ListeningSocket(transport: .tcp, address: "10.0.0.2", port: ListeningSocket.pickedPort)
        #expect(p.listens.keys.sorted(by: ListeningSocket.byPort) == [picked, ListeningSocket(transport: .tcp, address: "10.0.0.2", port: 21)])
        #expect(p.listens[picked]?.count == 3)
        #expect(picked.description == "tcp 10.0.0.2 port picked by the kernel")
    }

    @Test func noveltyLearnsSyscallsAndNgramsBySlotOrPid() throws {
        let l = Learner(hostID: "h1", now: S.t0, binaryHash: S.hashes)
        exec(l, pid: 10, ppid: 1, path: "/usr/sbin/api", argv: ["api"], at: S.at(1))
        let slot = l.profileSlot(for: "usr-sbin-api")
        #expect(slot == 1)
        #expect(l.profileSlot(for: "usr-sbin-api") == 1)
        #expect(l.profileSlot(for: "other") == 2)
        let calls: [UInt32] = [NgramHash.startSymbol, 0, 1, 2, 3, 257]
        let n = Event.Novelty(profileSlot: slot, calls: calls, hash: NgramHash.hash(calls), newSyscall: true)
        l.apply(S.ev(999, .novelty(n), at: S.at(2)), process: nil, now: S.at(2))
        var byPid = n
        byPid.profileSlot = 0
        byPid.calls = [0, 1, 2, 3, 257, 1]
        byPid.hash = NgramHash.hash(byPid.calls)
        l.apply(S.ev(10, .novelty(byPid), at: S.at(3)), process: nil, now: S.at(3))
        let p = try #require(l.profiles["usr-sbin-api"])
        #expect(p.syscalls.keys.sorted() == [1, 257])
        #expect(p.ngrams.keys.sorted() == [NgramHash.hash(calls), byPid.hash].sorted())
        #expect(p.ngrams[NgramHash.hash(calls)]?.calls == calls)
        #expect(l.knownSyscalls("usr-sbin-api") == [1, 257])
        #expect(l.knownNgramHashes("usr-sbin-api") == p.ngrams.keys.sorted())
    }

    @Test func kernelCountsAreAbsorbedAsDeltas() throws {
        let l = Learner(hostID: "h1", now: S.t0, binaryHash: S.hashes)
        exec(l, pid: 10, ppid: 1, path: "/usr/sbin/api", argv: ["api"], at: S.at(1))
        let slot = l.profileSlot(for: "usr-sbin-api")
        let calls: [UInt32] = [0, 1, 0, 1, 0, 1]
        let h = NgramHash.hash(calls)
        l.apply(S.ev(10, .novelty(.init(profileSlot: slot, calls: calls, hash: h, newSyscall: true)), at: S.at(2)), process: nil, now: S.at(2))
        l.absorbKernelCounts(slot: slot, syscalls: [(nr: 1, count: 100, lastSeen: S.at(4)), (nr: 3, count: 5, lastSeen: S.at(4))],
                             ngrams: [(hash: h, count: 40, lastSeen: S.at(4))], now: S.at(5))
        l.absorbKernelCounts(slot: slot, syscalls: [(nr: 1, count: 100, lastSeen: S.at(4)), (nr: 3, count: 5, lastSeen: S.at(4))],
                             ngrams: [(hash: h, count: 40, lastSeen: S.at(4))], now: S.at(6))
        l.absorbKernelCounts(slot: slot, syscalls: [(nr: 1, count: 130, lastSeen: S.at(7))], ngrams: [], now: S.at(8))
        let p = try #require(l.profiles["usr-sbin-api"])
        #expect(p.syscalls[1]?.count == 1 + 130, "novelty once, then the kernel's total once")
        #expect(p.syscalls[1]?.lastSeen == S.at(7))
        #expect(p.syscalls[3]?.count == 5)
        #expect(p.ngrams[h]?.seen.count == 1 + 40)
    }

    @Test func learningContinuesFromLoadedProfiles() throws {
        let first = Learner(hostID: "h1", now: S.t0, binaryHash: S.hashes)
        exec(first, pid: 10, ppid: 1, path: "/usr/sbin/api", argv: ["api"], at: S.at(1))
        let loaded = Array(first.profiles.values)
        let second = Learner(hostID: "h1", profiles: loaded, now: S.at(3600), binaryHash: S.hashes)
        #expect(second.knownSyscalls("usr-sbin-api") == first.knownSyscalls("usr-sbin-api"))
        exec(second, pid: 20, ppid: 1, path: "/usr/sbin/api", argv: ["api"], at: S.at(3601))
        let p = try #require(second.profiles["usr-sbin-api"])
        #expect(p.users[1000]?.count == 2)
        #expect(p.users[1000]?.firstSeen == S.at(1))
        #expect(p.learning["h1"]?.observedBuckets == 2, "the hour nobody watched is not counted as observed")
    }
}

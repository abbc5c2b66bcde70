import Testing
import VigilCore

/// Peers of a profile's listeners (issue 21 item 3): learned from accepted connections,
/// collapsed until a public port is open to anyone, saved, merged, and judged.
@Suite struct PeerTests {
    typealias S = ProfileTestSupport

    static func accept(_ pid: Int32, from peer: IPv4Address, to port: UInt16, at t: UInt64) -> Event {
        S.ev(pid, .network(.init(operation: .accept, result: 7, fd: 7, transport: .tcp, local: .ipv4(IPv4Address(10, 0, 0, 2), port: port),
                                 remote: .ipv4(peer, port: 40_000))), at: t)
    }

    static func learned(_ peers: [(IPv4Address, UInt16)]) -> Profile {
        let l = Learner(hostID: "h1", now: S.t0, binaryHash: S.hashes)
        l.apply(S.ev(10, .exec(.init(ppid: 1, uid: 0, euid: 0, gid: 0, path: "/usr/sbin/db", argv: ["db"])), at: S.at(1)), process: nil, now: S.at(1))
        l.apply(S.ev(10, .network(.init(operation: .listen, result: 0, fd: 3, transport: .tcp, local: .ipv4(IPv4Address(0, 0, 0, 0), port: 5432), remote: nil)), at: S.at(1)),
                process: nil, now: S.at(1))
        for (i, (a, port)) in peers.enumerated() { l.apply(accept(10, from: a, to: port, at: S.at(2 + Double(i))), process: nil, now: S.at(2 + Double(i))) }
        return l.profiles["usr-sbin-db"]!
    }

    static func peer(_ a: String, _ port: UInt16 = 5432) -> NetworkDestination { NetworkDestination(transport: .tcp, address: a, port: port) }

    @Test func acceptedConnectionsLearnPeersWithTheLocalPort() {
        let p = Self.learned([(IPv4Address(10, 0, 1, 5), 5432), (IPv4Address(10, 0, 1, 5), 5432), (IPv4Address(10, 0, 2, 9), 5432)])
        #expect(Set(p.peers.keys) == [Self.peer("10.0.1.5"), Self.peer("10.0.2.9")])
        #expect(p.peers[Self.peer("10.0.1.5")]?.count == 2)
    }

    @Test func aPortReachedFromManyNetworksIsOpenToAnyone() {
        // Eight /24s: a public port. Seven: still a list.
        let eight = Self.learned((1...8).map { (IPv4Address(198, 51, UInt8($0), 7), 443) })
        #expect(Set(eight.peers.keys) == [Self.peer("0.0.0.0/0", 443)])
        #expect(eight.peers.values.first?.count == 8)
        let seven = Self.learned((1...7).map { (IPv4Address(198, 51, UInt8($0), 7), 443) })
        #expect(seven.peers.count == 7)
        // Four addresses of one /24 collapse to the network first, as destinations do.
        let pool = Self.learned((1...4).map { (IPv4Address(10, 0, 3, UInt8($0)), 5432) })
        #expect(Set(pool.peers.keys) == [Self.peer("10.0.3.0/24")])
    }

    @Test func mergingPeersIsIdempotentAcrossTheOpenCollapse() {
        let a = Self.learned((1...8).map { (IPv4Address(198, 51, UInt8($0), 7), 443) })
        var b = Self.learned([(IPv4Address(198, 51, 1, 7), 443), (IPv4Address(10, 0, 1, 5), 5432)])
        b.learning = [:]
        for k in b.peers.keys { b.peers[k] = Sighting(host: "h2", at: S.at(3)) }
        let once = ProfileMerge.merge([a, b])
        #expect(Set(once.peers.keys) == [Self.peer("0.0.0.0/0", 443), Self.peer("10.0.1.5")])
        #expect(ProfileMerge.merge([once, b]).peers == once.peers, "merging a source again counts nothing twice")
        #expect(ProfileMerge.merge([b, a]).peers == once.peers, "commutative")
    }

    @Test func peersSurviveTheFileAndOlderFilesLoadWithout() throws {
        let p = Self.learned([(IPv4Address(10, 0, 1, 5), 5432)])
        let back = try ProfileCodec.decode(ProfileCodec.encode(p), file: "db.json")
        #expect(back.peers == p.peers)
        var none = p
        none.peers = [:]
        let text = String(decoding: ProfileCodec.encode(none), as: UTF8.self)
        #expect(!text.contains("\"peers\""), "written only when there are some, so older agents read the file")
        #expect(try ProfileCodec.decode(Array(text.utf8), file: "db.json").peers.isEmpty)
    }

    @Test func anUnlearnedPeerIsANewPeerAndALearnedNetworkIsNot() throws {
        let p = Self.learned((1...4).map { (IPv4Address(10, 0, 3, UInt8($0)), 5432) })
        let d = Detector(profiles: [p])
        let exec = S.ev(10, .exec(.init(ppid: 1, uid: 0, euid: 0, gid: 0, path: "/usr/sbin/db", argv: ["db"])), at: S.at(20))
        _ = d.apply(exec, process: nil, now: S.at(20))
        #expect(d.apply(Self.accept(10, from: IPv4Address(10, 0, 3, 200), to: 5432, at: S.at(21)), process: nil, now: S.at(21)).isEmpty,
                "inside the learned /24")
        let devs = d.apply(Self.accept(10, from: IPv4Address(172, 16, 0, 9), to: 5432, at: S.at(22)), process: nil, now: S.at(22))
        let dev = try #require(devs.first)
        #expect(dev.kind == .newPeer)
        #expect(dev.observed == "tcp from 172.16.0.9 to port 5432")
        #expect(dev.expected == ["10.0.3.0/24"])
        #expect(Policy.standard.isStatistical(dev), "a peer's doing alone never stops the service")
    }

    @Test func aDroppedConnectionAttemptIsReportedAsANewPeer() throws {
        let p = Self.learned([(IPv4Address(10, 0, 1, 5), 5432)])
        let d = Detector(profiles: [p])
        _ = d.apply(S.ev(10, .exec(.init(ppid: 1, uid: 0, euid: 0, gid: 0, path: "/usr/sbin/db", argv: ["db"])), at: S.at(20)), process: nil, now: S.at(20))
        let drop = S.ev(10, .action(.init(kind: .ingressDropped, result: 0, remote: .ipv4(IPv4Address(127, 0, 0, 2), port: 5432), path: nil, transport: .tcp)),
                        at: S.at(21))
        let dev = try #require(d.apply(drop, process: nil, now: S.at(21)).first)
        #expect(dev.kind == .newPeer)
        #expect(dev.observed == "tcp from 127.0.0.2 to port 5432 (dropped: segmentation)")
        #expect(dev.expected == ["10.0.1.5"])
    }

    @Test func segmentIngressIsAWorkloadKey() throws {
        let p = try Policy.load(yaml: "workloads:\n  db:\n    segment-ingress: true\n", file: "p.yaml")
        #expect(p.workloads["db"]?.segmentIngress == true)
        #expect(throws: (any Error).self) { try Policy.load(yaml: "workloads:\n  db:\n    segment-ingress: maybe\n", file: "p.yaml") }
    }
}

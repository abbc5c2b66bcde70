import Testing
import VigilCore

@Suite struct ProfileMergeTests {
    typealias S = ProfileTestSupport

    /// A profile as host `host` would learn it from a few events.
    static func learned(host: String, seconds: Double, connects: [(String, UInt16)], syscalls: [UInt32]) -> Profile {
        let l = Learner(hostID: host, now: S.at(seconds), binaryHash: S.hashes)
        let t = S.at(seconds)
        l.apply(S.ev(5, .exec(.init(ppid: 1, uid: 0, euid: 0, gid: 0, path: "/usr/sbin/api", argv: ["api"])), at: t), process: nil, now: t)
        for (a, port) in connects {
            let ep = Endpoint.ipv4(IPv4Address(a)!, port: port)
            l.apply(S.ev(5, .network(.init(operation: .connect, result: 0, fd: 3, transport: .tcp, local: nil, remote: ep)), at: t), process: nil, now: t)
        }
        let slot = l.profileSlot(for: "usr-sbin-api")
        for nr in syscalls {
            let calls = [nr, nr, nr, nr, nr, nr]
            l.apply(S.ev(5, .novelty(.init(profileSlot: slot, calls: calls, hash: NgramHash.hash(calls), newSyscall: true)), at: t), process: nil, now: t)
        }
        return l.profiles["usr-sbin-api"]!
    }

    let a = learned(host: "a", seconds: 10, connects: [("10.0.0.1", 443), ("10.0.0.2", 443), ("10.0.0.1", 443)], syscalls: [0, 1])
    let b = learned(host: "b", seconds: 20, connects: [("10.0.0.3", 443), ("10.0.0.4", 443), ("192.168.1.1", 53)], syscalls: [1, 2])
    let c = learned(host: "c", seconds: 5, connects: [("10.0.0.9", 80)], syscalls: [3])

    func text(_ p: Profile) -> String { String(decoding: ProfileCodec.encode(p), as: UTF8.self) }

    @Test func mergeIsTheUnionWithCountsAddedAcrossHosts() {
        let m = ProfileMerge.merge([a, b])
        #expect(m.syscalls.keys.sorted() == [0, 1, 2])
        #expect(m.syscalls[1]?.count == 2)
        #expect(m.syscalls[1]?.hosts == ["a": 1, "b": 1])
        #expect(m.syscalls[1]?.firstSeen == S.at(10))
        #expect(m.syscalls[1]?.lastSeen == S.at(20))
        // Four addresses of 10.0.0.0/24 on port 443 across the two hosts collapse into one entry.
        let net = NetworkDestination(transport: .tcp, address: "10.0.0.0/24", port: 443)
        #expect(m.destinations[net]?.count == 5)
        #expect(m.destinations[net]?.hosts == ["a": 3, "b": 2])
        #expect(m.destinations.count == 2)
        #expect(Set(m.learning.keys) == ["a", "b"])
    }

    @Test func mergeIsCommutative() {
        #expect(text(ProfileMerge.merge([a, b])) == text(ProfileMerge.merge([b, a])))
        #expect(text(ProfileMerge.merge([a, b, c])) == text(ProfileMerge.merge([c, a, b])))
        #expect(text(ProfileMerge.merge([ProfileMerge.merge([a, b]), c])) == text(ProfileMerge.merge([a, ProfileMerge.merge([b, c])])))
    }

    @Test func mergeIsIdempotent() {
        let ab = ProfileMerge.merge([a, b])
        #expect(text(ProfileMerge.merge([a, a])) == text(a))
        #expect(text(ProfileMerge.merge([ab, b])) == text(ab), "the same host's file merged again counts nothing twice")
        #expect(text(ProfileMerge.merge([ab, ab])) == text(ab))
        #expect(text(ProfileMerge.merge([ProfileMerge.merge([ab, a]), b])) == text(ab))
    }

    @Test func mergeTakesTheNewerCountsOfOneHost() {
        let older = a
        var newer = a
        newer.syscalls[0]!.record(host: "a", at: S.at(99), count: 10)
        let m = ProfileMerge.merge([older, newer])
        #expect(m.syscalls[0]?.count == 11)
        #expect(m.syscalls[0]?.lastSeen == S.at(99))
    }

    @Test func cidrCollapseNeedsFourAddressesOfOneNetworkAndPort() {
        func d(_ a: String, _ port: UInt16 = 443, _ t: Transport = .tcp) -> NetworkDestination { NetworkDestination(transport: t, address: a, port: port) }
        let s = Sighting(host: "h", at: S.t0)
        let three = DestinationGeneralizer.union([[d("10.1.2.1"): s, d("10.1.2.2"): s, d("10.1.2.3"): s, d("10.1.3.4"): s, d("10.1.2.4", 80): s]])
        #expect(three.count == 5, "three in the /24 on 443; the others differ in network or port")
        let four = DestinationGeneralizer.union([[d("10.1.2.1"): s, d("10.1.2.2"): s, d("10.1.2.3"): s, d("10.1.2.200"): s, d("10.1.2.9", 80): s,
                                                  d("10.1.2.9", 443, .udp): s]])
        #expect(Set(four.keys) == [d("10.1.2.0/24"), d("10.1.2.9", 80), d("10.1.2.9", 443, .udp)])
        #expect(four[d("10.1.2.0/24")]?.count == 4)
        let v6 = DestinationGeneralizer.union([[d("2001:db8:0:1::1"): s, d("2001:db8:0:1::2"): s, d("2001:db8:0:1:ffff::3"): s,
                                                d("2001:db8:0:1::4"): s, d("2001:db8:0:2::1"): s]])
        #expect(Set(v6.keys) == [d("2001:db8:0:1::/64"), d("2001:db8:0:2::1")])
    }

    @Test func theLearnerCollapsesAndThenCountsAddressesInTheNetwork() throws {
        let p = Self.learned(host: "a", seconds: 1, connects: [("10.9.9.1", 443), ("10.9.9.2", 443), ("10.9.9.3", 443), ("10.9.9.4", 443), ("10.9.9.77", 443)], syscalls: [])
        #expect(p.destinations.keys.map(\.address) == ["10.9.9.0/24"])
        #expect(p.destinations.values.first?.count == 5)
    }

    @Test func diffAndPrune() {
        let d = ProfileMerge.diff(a, b)
        let sys = d.first { $0.kind == "syscalls" }
        #expect(sys?.added == ["open"])
        #expect(sys?.removed == ["read"])
        var m = ProfileMerge.merge([a, b])
        let removed = ProfileMerge.prune(&m, olderThan: S.at(15))
        #expect(m.syscalls.keys.sorted() == [1, 2], "read was last seen at 10 s")
        #expect(removed.first { $0.kind == "syscalls" }?.removed == ["read"])
        #expect(m.binaries.count == 1, "the current binary is never pruned")
        #expect(ProfileMerge.parseDuration("30d") == 30 * 86_400 * 1_000_000_000)
        #expect(ProfileMerge.parseDuration("12h") == 12 * 3600 * 1_000_000_000)
        #expect(ProfileMerge.parseDuration("12") == nil)
        #expect(ProfileMerge.parseDuration("-3d") == nil)
    }

    @Test func seccompExportAllowsExactlyTheLearnedSyscalls() throws {
        let json = SeccompExport.json(ProfileMerge.merge([a, b]))
        #expect(json == """
        {
          "architectures": ["SCMP_ARCH_X86_64"],
          "defaultAction": "SCMP_ACT_ERRNO",
          "syscalls": [
            {"action": "SCMP_ACT_ALLOW", "names": ["open", "read", "write"]}
          ]
        }

        """)
    }
}

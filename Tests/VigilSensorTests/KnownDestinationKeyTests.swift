import CVigilWire
import Testing
@testable import VigilSensor
import VigilCore

/// One definition of a known destination: the kernel's longest-prefix lookup of a
/// connect's address among a slot's learned keys (`Sensor.prefixKey`) says known exactly
/// when the detector's ``NetworkDestination/covers(_:)`` does, so what the kernel keeps
/// back (BPF/network.bpf.c) is what user space would have found known.
@Suite struct KnownDestinationKeyTests {
    /// The key `vg_dest_key` (BPF/network.bpf.c) builds for a connect to `d`, one address:
    /// all its bits, an IPv4-mapped IPv6 address as the IPv4 one.
    static func lookupKey(slot: UInt32, _ d: NetworkDestination) -> vg_egress_key? {
        guard let host = d.hostPrefix else { return nil }
        var key = vg_egress_key()
        key.prefixlen = UInt32(VG_EGRESS_FIXED_BITS) + UInt32(host.bits)
        key.slot = slot
        key.port = d.port
        key.proto = d.transport == .udp ? UInt8(VG_PROTO_UDP) : UInt8(VG_PROTO_TCP)
        key.family = host.family
        withUnsafeMutableBytes(of: &key.addr) { raw in for (i, b) in host.bytes.enumerated() { raw[i] = b } }
        return key
    }

    /// The trie's answer: some entry whose fixed part matches and whose prefix bits of the
    /// address equal the key's.
    static func trieHolds(_ entries: [vg_egress_key], _ key: vg_egress_key) -> Bool {
        entries.contains { e in
            guard e.slot == key.slot, e.port == key.port, e.proto == key.proto, e.family == key.family else { return false }
            let bits = Int(e.prefixlen) - Int(VG_EGRESS_FIXED_BITS)
            let a = withUnsafeBytes(of: e.addr) { Array($0) }, b = withUnsafeBytes(of: key.addr) { Array($0) }
            for i in 0..<16 where bits > 8 * i {
                let m: UInt8 = bits - 8 * i >= 8 ? 0xff : ~UInt8(0xff >> (bits - 8 * i))
                if a[i] & m != b[i] & m { return false }
            }
            return true
        }
    }

    static let learned: [NetworkDestination] = [
        .init(transport: .tcp, address: "10.0.0.5", port: 5432),
        .init(transport: .tcp, address: "10.1.2.0/24", port: 443),
        .init(transport: .udp, address: "192.0.2.53", port: 53),
        .init(transport: .tcp, address: "2001:db8::7", port: 6379),
        .init(transport: .tcp, address: "2001:db8:0:1::/64", port: 443),
    ]

    static let probes: [NetworkDestination] = [
        .init(transport: .tcp, address: "10.0.0.5", port: 5432),        // learned
        .init(transport: .tcp, address: "10.0.0.5", port: 5433),        // another port
        .init(transport: .udp, address: "10.0.0.5", port: 5432),        // another transport
        .init(transport: .tcp, address: "10.0.0.6", port: 5432),        // another address
        .init(transport: .tcp, address: "10.1.2.77", port: 443),        // inside the pool
        .init(transport: .tcp, address: "10.1.3.1", port: 443),         // outside it
        .init(transport: .udp, address: "192.0.2.53", port: 53),
        .init(transport: .tcp, address: "::ffff:10.0.0.5", port: 5432), // mapped: the IPv4 one
        .init(transport: .tcp, address: "::ffff:10.1.2.9", port: 443),
        .init(transport: .tcp, address: "2001:db8::7", port: 6379),
        .init(transport: .tcp, address: "2001:0db8:0:0::7", port: 6379), // the same address, other text
        .init(transport: .tcp, address: "2001:db8::8", port: 6379),
        .init(transport: .tcp, address: "2001:db8:0:1:abcd::1", port: 443),
        .init(transport: .tcp, address: "2001:db8:0:2::1", port: 443),
    ]

    @Test func theKernelsLookupAndTheDetectorsCoverAgree() throws {
        let slot: UInt32 = 7
        let entries = Self.learned.compactMap { Sensor.prefixKey(slot: slot, $0) }
        #expect(entries.count == Self.learned.count)
        for probe in Self.probes {
            let key = try #require(Self.lookupKey(slot: slot, probe), "\(probe)")
            let kernel = Self.trieHolds(entries, key)
            let detector = Self.learned.contains { $0.covers(probe) }
            #expect(kernel == detector, "\(probe): kernel \(kernel), detector \(detector)")
        }
        #expect(Self.probes.filter { p in Self.learned.contains { $0.covers(p) } }.count == 8, "the probes cover both answers")
    }

    @Test func anotherSlotsKeysAreNotKnown() throws {
        let entries = Self.learned.compactMap { Sensor.prefixKey(slot: 7, $0) }
        let key = try #require(Self.lookupKey(slot: 8, Self.learned[0]))
        #expect(!Self.trieHolds(entries, key))
    }

    /// A destination learned on another transport (a ping or raw socket) is never keyed as
    /// TCP: it would let a TCP connection to the same address and port through segmentation.
    @Test func onlyTCPAndUDPDestinationsAreKeyed() throws {
        let other = NetworkDestination(transport: .other, address: "10.0.0.5", port: 5432)
        #expect(Sensor.prefixKey(slot: 7, other) == nil)
        let key = try #require(Sensor.prefixKey(slot: 7, NetworkDestination(transport: .udp, address: "10.0.0.5", port: 53)))
        #expect(key.proto == UInt8(VG_PROTO_UDP))
        #expect(Sensor.egressKeys(slot: 7, [other]).addresses.isEmpty)
    }

    @Test func aMappedAddressIsLookedUpAsIPv4() throws {
        let d = NetworkDestination(transport: .tcp, address: "::ffff:10.0.0.5", port: 1)
        let host = try #require(d.hostPrefix)
        #expect(host.family == NetworkDestination.familyIPv4 && host.bytes == [10, 0, 0, 5] && host.bits == 32)
        #expect(NetworkDestination(transport: .tcp, address: "10.0.0.0/8", port: 1).hostPrefix == nil, "a network is no one address")
        #expect(NetworkDestination(transport: .unix, address: "/run/x.sock", port: 0).hostPrefix == nil)
    }
}

/// Collapses many addresses of one network into the network, so a profile that talks to
/// a pool of servers learns the pool rather than each member.
///
/// Rule: destinations with the same transport and port whose addresses lie in the same
/// IPv4 /24 (IPv6 /64) become one entry for that network (`10.1.2.0/24`,
/// `2001:db8:0:1::/64`) once at least ``threshold`` (4) distinct addresses of it were seen,
/// or as soon as the set already holds that network entry. The network's sighting adds up
/// those of its addresses. Unix sockets are never generalised.
public enum DestinationGeneralizer {
    public static let threshold = 4

    /// The network a destination address would collapse into, or nil (unix, already a network, not an IP).
    static func network(of address: String) -> String? {
        if address.contains("/") { return nil }
        if let v4 = IPv4Address(address) {
            return "\(IPv4Address(value: v4.value & 0xFFFF_FF00))/24"
        }
        if var b = IPv6Text.parse(address) {
            for i in 8..<16 { b[i] = 0 }
            return "\(IPv6Address(bytes: b))/64"
        }
        return nil
    }

    /// The collapsed union of several *sources* (e.g. hosts' profiles). Items of one source
    /// that fold into one network add up; the same item from different sources merges
    /// (larger count per host), so normalising a set with itself changes nothing.
    public static func union(_ sources: [[NetworkDestination: Sighting]]) -> [NetworkDestination: Sighting] {
        struct Group: Hashable { var transport: Transport; var network: String; var port: UInt16 }
        // Which groups collapse: an existing network entry, or enough distinct addresses.
        var addresses: [Group: Set<String>] = [:]
        var collapsed: Set<Group> = []
        for s in sources {
            for d in s.keys where d.transport != .unix {
                if d.address.contains("/") {
                    collapsed.insert(Group(transport: d.transport, network: d.address, port: d.port))
                } else if let n = network(of: d.address) {
                    addresses[Group(transport: d.transport, network: n, port: d.port), default: []].insert(d.address)
                }
            }
        }
        for (g, a) in addresses where a.count >= threshold { collapsed.insert(g) }

        var out: [NetworkDestination: Sighting] = [:]
        for s in sources {
            // Re-key this source onto the final entries, adding within the source.
            var rekeyed: [NetworkDestination: Sighting] = [:]
            for (d, seen) in s {
                var key = d
                if d.transport != .unix, let n = network(of: d.address),
                   collapsed.contains(Group(transport: d.transport, network: n, port: d.port)) {
                    key = NetworkDestination(transport: d.transport, address: n, port: d.port)
                }
                if rekeyed[key] == nil { rekeyed[key] = seen } else { rekeyed[key]!.add(seen) }
            }
            for (k, seen) in rekeyed {
                if out[k] == nil { out[k] = seen } else { out[k]!.merge(seen) }
            }
        }
        return out
    }

    /// The entry an address is recorded under in `set` right now (its network, when the
    /// set already holds it).
    static func existingKey(for d: NetworkDestination, in set: [NetworkDestination: Sighting]) -> NetworkDestination? {
        if set[d] != nil { return d }
        guard d.transport != .unix, let n = network(of: d.address) else { return nil }
        let k = NetworkDestination(transport: d.transport, address: n, port: d.port)
        return set[k] != nil ? k : nil
    }
}

/// IPv6 text to bytes (RFC 4291 forms, including `::` and a trailing dotted quad).
enum IPv6Text {
    static func parse(_ text: String) -> [UInt8]? {
        guard text.contains(":"), text.count <= 45 else { return nil }
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ s: String) -> [UInt16]? {
            if s.isEmpty { return [] }
            var out: [UInt16] = []
            let parts = s.split(separator: ":", omittingEmptySubsequences: false)
            for (i, p) in parts.enumerated() {
                if i == parts.count - 1, p.contains("."), let v4 = IPv4Address(p) {
                    out += [UInt16(v4.value >> 16), UInt16(v4.value & 0xffff)]
                } else {
                    guard (1...4).contains(p.count), let g = UInt16(p, radix: 16) else { return nil }
                    out.append(g)
                }
            }
            return out
        }
        guard let head = groups(halves[0]) else { return nil }
        var all = head
        if halves.count == 2 {
            guard let tail = groups(halves[1]), head.count + tail.count <= 7 else { return nil }
            all += Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        }
        guard all.count == 8 else { return nil }
        return all.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] }
    }
}

/// Collapses the peers that connected to a profile's listeners. A listening port reached
/// from ``openThreshold`` (8) or more distinct addresses or networks of one family (counted
/// after ``DestinationGeneralizer`` folds addresses into networks) is open to every address
/// of that family: its peers become one entry `0.0.0.0/0` (or `::/0`) for that port. A port
/// the public reaches learns "anyone", so a new client there is not news, while a database
/// that three application servers reach keeps exactly those three.
///
/// Like ``DestinationGeneralizer/union(_:)``: which ports are open is decided over all
/// sources, each source's entries are folded within that source (counts add up), and the
/// sources then merge per host, so a union with itself or with one of its sources changes
/// nothing.
public enum PeerGeneralizer {
    public static let openThreshold = 8

    struct Group: Hashable {
        var transport: Transport
        var port: UInt16
        var family: UInt8
        var anyAddress: String { family == NetworkDestination.familyIPv6 ? "::/0" : "0.0.0.0/0" }
    }

    static func group(_ d: NetworkDestination) -> Group? {
        guard d.transport != .unix, let f = d.addressPrefix?.family else { return nil }
        return Group(transport: d.transport, port: d.port, family: f)
    }

    public static func union(_ sources: [[NetworkDestination: Sighting]]) -> [NetworkDestination: Sighting] {
        var entries: [Group: Int] = [:]
        var open: Set<Group> = []
        for d in DestinationGeneralizer.union(sources).keys {
            guard let g = group(d) else { continue }
            entries[g, default: 0] += 1
            if d.address == g.anyAddress { open.insert(g) }
        }
        for (g, n) in entries where n >= openThreshold { open.insert(g) }
        guard !open.isEmpty else { return DestinationGeneralizer.union(sources) }
        let folded = sources.map { s -> [NetworkDestination: Sighting] in
            var out: [NetworkDestination: Sighting] = [:]
            for (d, seen) in s {
                var key = d
                if let g = group(d), open.contains(g) { key = NetworkDestination(transport: d.transport, address: g.anyAddress, port: d.port) }
                if out[key] == nil { out[key] = seen } else { out[key]!.add(seen) }
            }
            return out
        }
        return DestinationGeneralizer.union(folded)
    }
}

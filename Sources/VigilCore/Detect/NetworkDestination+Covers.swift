extension NetworkDestination {
    /// Whether this learned destination covers `other`: the same transport and port, and
    /// the same address, or (for a CIDR entry such as `10.1.2.0/24` or `2001:db8::/64`) an
    /// address inside the network. IPv4-mapped IPv6 addresses match IPv4 networks.
    public func covers(_ other: NetworkDestination) -> Bool {
        guard transport == other.transport, port == other.port else { return false }
        if address == other.address { return true }
        guard transport != .unix, let slash = address.firstIndex(of: "/"),
              let length = Int(address[address.index(after: slash)...]) else { return false }
        let net = String(address[..<slash])
        if let n4 = IPv4Address(net) {
            guard (0...32).contains(length) else { return false }
            var a4 = IPv4Address(other.address)
            if a4 == nil, let b = IPv6Text.parse(other.address) { a4 = IPv6Address(bytes: b).mappedIPv4 }
            guard let a4 else { return false }
            let mask: UInt32 = length == 0 ? 0 : ~UInt32(0) << (32 - length)
            return n4.value & mask == a4.value & mask
        }
        guard let nb = IPv6Text.parse(net), let ab = IPv6Text.parse(other.address), (0...128).contains(length) else { return false }
        var bits = length
        for i in 0..<16 where bits > 0 {
            let m: UInt8 = bits >= 8 ? 0xff : ~UInt8(0xff >> bits)
            if nb[i] & m != ab[i] & m { return false }
            bits -= 8
        }
        return true
    }
}

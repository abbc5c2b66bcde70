import Glibc

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

extension NetworkDestination {
    /// The address families of ``addressPrefix``: the C library's AF_INET and AF_INET6.
    public static let familyIPv4 = UInt8(AF_INET), familyIPv6 = UInt8(AF_INET6)

    /// The address as a network prefix for the kernel's egress map: the family
    /// (``familyIPv4``, ``familyIPv6``), the address bytes in network order, and how many leading bits matter
    /// (32 or 128 for one address, the length of a CIDR entry). Nil for unix sockets and
    /// text that is no address.
    public var addressPrefix: (family: UInt8, bytes: [UInt8], bits: Int)? {
        guard transport != .unix else { return nil }
        var text = address
        var bits: Int?
        if let slash = address.firstIndex(of: "/") {
            guard let n = Int(address[address.index(after: slash)...]) else { return nil }
            bits = n
            text = String(address[..<slash])
        }
        if let a = IPv4Address(text) {
            let b = bits ?? 32
            guard (0...32).contains(b) else { return nil }
            return (Self.familyIPv4, [a.bytes.0, a.bytes.1, a.bytes.2, a.bytes.3], b)
        }
        if let b6 = IPv6Text.parse(text) {
            let b = bits ?? 128
            guard (0...128).contains(b) else { return nil }
            return (Self.familyIPv6, b6, b)
        }
        return nil
    }
}

extension NetworkDestination {
    /// Parses the form ``description`` prints for TCP and UDP: `tcp 10.0.0.0/8 port 443`.
    public init?(text: String) {
        let parts = text.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 4, parts[2] == "port", let transport = Transport(rawValue: String(parts[0])),
              transport == .tcp || transport == .udp, let port = UInt16(parts[3]) else { return nil }
        self.init(transport: transport, address: String(parts[1]), port: port)
        guard addressPrefix != nil else { return nil }
    }
}

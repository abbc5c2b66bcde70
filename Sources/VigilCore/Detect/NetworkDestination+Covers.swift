import Glibc

extension NetworkDestination {
    /// Whether this learned destination covers `other`: the same transport and port, and
    /// the same address, or (for a CIDR entry such as `10.1.2.0/24` or `2001:db8::/64`) an
    /// address inside the network. IPv4-mapped IPv6 addresses match IPv4 networks.
    ///
    /// Decided on ``addressPrefix`` and ``hostPrefix``, the forms the kernel's egress map is
    /// keyed by (`Sensor.prefixKey` for learned entries, `vg_dest_key` in
    /// BPF/network.bpf.c for a connect's address): what the kernel counts as a known
    /// destination and keeps back is exactly what this calls covered.
    public func covers(_ other: NetworkDestination) -> Bool {
        guard transport == other.transport, port == other.port else { return false }
        if address == other.address { return true }
        guard let net = addressPrefix, let one = other.hostPrefix, net.family == one.family else { return false }
        var bits = net.bits
        for i in 0..<min(net.bytes.count, one.bytes.count) where bits > 0 {
            let m: UInt8 = bits >= 8 ? 0xff : ~UInt8(0xff >> bits)
            if net.bytes[i] & m != one.bytes[i] & m { return false }
            bits -= 8
        }
        return true
    }

    /// One address (not a network) as the kernel looks it up: an IPv4-mapped IPv6 address
    /// as the IPv4 one (``Learner`` names it so too), all its bits significant. Nil for a
    /// network, a unix socket, text that is no address.
    public var hostPrefix: (family: UInt8, bytes: [UInt8], bits: Int)? {
        guard !address.contains("/"), let p = addressPrefix else { return nil }
        if p.family == Self.familyIPv6, let v4 = IPv6Address(bytes: p.bytes).mappedIPv4 {
            return (Self.familyIPv4, [v4.bytes.0, v4.bytes.1, v4.bytes.2, v4.bytes.3], 32)
        }
        return p
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

import Foundation

/// The learned communication graph of a set of baselines: profiles as nodes, the flows they
/// were seen making as edges (`vigil map`).
///
/// A destination that another profile listens on (same transport and port, on a loopback
/// address or one the listener binds, or a wildcard bind) becomes an edge between the two
/// profiles; every other destination is an external node, IPv4 addresses collapsed into
/// their /24 and learned networks kept as they are. So baselines merged from a fleet draw
/// the service graph: a client's destination joins the listener that serves it.
public struct FlowMap: Sendable, Hashable {
    public struct Node: Sendable, Hashable, Comparable {
        public enum Kind: String, Sendable, Hashable { case profile, external }
        public var id: String
        public var kind: Kind
        public var label: String
        /// Listening sockets (profiles only), e.g. `tcp 8080`.
        public var listens: [String]
        public static func < (a: Self, b: Self) -> Bool { (a.kind.rawValue, a.id) < (b.kind.rawValue, b.id) }
    }

    public struct Edge: Sendable, Hashable, Comparable {
        public var from: String
        public var to: String
        public var transport: Transport
        public var port: UInt16
        /// Times seen (summed over hosts and collapsed addresses).
        public var count: UInt64
        public var label: String { "\(transport.rawValue)/\(port)" }
        public static func < (a: Self, b: Self) -> Bool { (a.from, a.to, a.port, a.transport.rawValue) < (b.from, b.to, b.port, b.transport.rawValue) }
    }

    public var nodes: [Node]
    public var edges: [Edge]

    public init(profiles: [Profile]) {
        var nodes: [String: Node] = [:]
        for p in profiles {
            let listens = p.listens.keys.sorted(by: ListeningSocket.byPort).map { $0.transport == .unix ? "unix \($0.address)" : "\($0.transport.rawValue) \($0.port)" }
            nodes[p.id] = Node(id: p.id, kind: .profile, label: Self.label(p.identity), listens: listens)
        }
        var edges: [String: Edge] = [:]
        for p in profiles {
            for (d, seen) in p.destinations where d.transport != .unix {
                let to: String
                if let server = profiles.first(where: { $0.id != p.id && $0.listens.keys.contains { Self.serves($0, d) } }) {
                    to = server.id
                } else {
                    to = "net:" + Self.collapsed(d.address)
                    nodes[to] = Node(id: to, kind: .external, label: Self.collapsed(d.address), listens: [])
                }
                let key = "\(p.id)|\(to)|\(d.transport.rawValue)|\(d.port)"
                edges[key, default: Edge(from: p.id, to: to, transport: d.transport, port: d.port, count: 0)].count += seen.count
            }
        }
        self.nodes = nodes.values.sorted()
        self.edges = edges.values.sorted()
    }

    /// A profile as a reader knows it: the program, and for interpreters what they run.
    static func label(_ i: ProfileIdentity) -> String {
        let exe = (i.executable as NSString).lastPathComponent
        switch i.kind {
        case .binary: return i.executable
        case .script: return "\(exe) \(i.target ?? "")"
        case .module: return "\(exe) -m \(i.target ?? "")"
        case .jar: return "\(exe) -jar \(i.target ?? "")"
        case .javaClass: return "\(exe) \(i.target ?? "")"
        case .command: return "\(exe) -c …"
        }
    }

    /// Whether a listener serves a destination: same transport and port, and an address it
    /// answers on (a wildcard bind answers on every address; loopback reaches loopback).
    static func serves(_ l: ListeningSocket, _ d: NetworkDestination) -> Bool {
        guard l.transport == d.transport, l.port == d.port else { return false }
        if ["0.0.0.0", "::", ""].contains(l.address) || l.address == d.address { return true }
        return isLoopback(l.address) && isLoopback(d.address)
    }

    static func isLoopback(_ a: String) -> Bool { a.hasPrefix("127.") || a == "::1" }

    /// An IPv4 address as its /24; networks and other addresses as they are.
    static func collapsed(_ address: String) -> String {
        guard !address.contains("/"), let a = IPv4Address(address) else { return address }
        return "\(a.bytes.0).\(a.bytes.1).\(a.bytes.2).0/24"
    }

    // MARK: Renderings

    /// Graphviz DOT.
    public func dot() -> String {
        var out = "digraph vigil {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n"
        for n in nodes {
            let label = ([n.label] + n.listens.map { "listens " + $0 }).map(DoubleQuoted.escape).joined(separator: "\\n")
            let shape = n.kind == .profile ? "box, style=rounded" : "ellipse, style=dashed"
            out += "  \"\(DoubleQuoted.escape(n.id))\" [label=\"\(label)\", shape=\(shape)];\n"
        }
        for e in edges { out += "  \"\(DoubleQuoted.escape(e.from))\" -> \"\(DoubleQuoted.escape(e.to))\" [label=\"\(e.label)\"];\n" }
        return out + "}\n"
    }

    /// JSON: `{"nodes": [...], "edges": [...]}` (one line, the profile files' writer).
    public func json() -> String {
        let value = JSONValue.object([
            ("nodes", .array(nodes.map { n in
                .object([("id", .string(n.id)), ("kind", .string(n.kind.rawValue)), ("label", .string(n.label)),
                         ("listens", .array(n.listens.map { .string($0) }))])
            })),
            ("edges", .array(edges.map { e in
                .object([("from", .string(e.from)), ("to", .string(e.to)), ("transport", .string(e.transport.rawValue)),
                         ("port", .uint(UInt64(e.port))), ("count", .uint(e.count))])
            })),
        ])
        var out = ""
        value.write(into: &out, indent: 0, compact: true)
        return out + "\n"
    }

    /// A self-contained SVG: profiles in the left column, external networks in the right,
    /// flows as arrows labelled with transport and port (flows between profiles curve out
    /// to the right of their column).
    public func svg() -> String {
        let profiles = nodes.filter { $0.kind == .profile }, externals = nodes.filter { $0.kind == .external }
        let rowHeight = 56.0, boxWidth = 300.0, boxHeight = 40.0, left = 20.0, right = 560.0, top = 40.0
        var y: [String: Double] = [:], x: [String: Double] = [:]
        for (i, n) in profiles.enumerated() { y[n.id] = top + Double(i) * rowHeight; x[n.id] = left }
        for (i, n) in externals.enumerated() { y[n.id] = top + Double(i) * rowHeight; x[n.id] = right }
        let height = top + Double(max(profiles.count, externals.count, 1)) * rowHeight + 20
        let width = right + boxWidth + 20
        func f(_ v: Double) -> String { String(Int(v.rounded())) }
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(f(width))" height="\(f(height))" viewBox="0 0 \(f(width)) \(f(height))" font-family="Helvetica, Arial, sans-serif" font-size="11">
            <defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>
            <text x="\(f(left))" y="20" font-weight="bold">profiles</text><text x="\(f(right))" y="20" font-weight="bold">external networks</text>

            """
        for e in edges {
            guard let y1 = y[e.from], let y2 = y[e.to], let x2 = x[e.to] else { continue }
            let sx = left + boxWidth, sy = y1 + boxHeight / 2, ty = y2 + boxHeight / 2
            if x2 == left {
                let bend = sx + 60 + abs(ty - sy) / 4
                out += "<path d=\"M \(f(sx)) \(f(sy)) C \(f(bend)) \(f(sy)) \(f(bend)) \(f(ty)) \(f(sx)) \(f(ty))\" fill=\"none\" stroke=\"#555\" marker-end=\"url(#arrow)\"/>\n"
                out += "<text x=\"\(f(bend - 10))\" y=\"\(f((sy + ty) / 2))\">\(Self.xml(e.label))</text>\n"
            } else {
                out += "<line x1=\"\(f(sx))\" y1=\"\(f(sy))\" x2=\"\(f(x2))\" y2=\"\(f(ty))\" stroke=\"#555\" marker-end=\"url(#arrow)\"/>\n"
                out += "<text x=\"\(f((sx + x2) / 2 - 20))\" y=\"\(f((sy + ty) / 2 - 4))\">\(Self.xml(e.label))</text>\n"
            }
        }
        for n in profiles + externals {
            guard let nx = x[n.id], let ny = y[n.id] else { continue }
            let dash = n.kind == .external ? " stroke-dasharray=\"4 3\"" : ""
            out += "<rect x=\"\(f(nx))\" y=\"\(f(ny))\" width=\"\(f(boxWidth))\" height=\"\(f(boxHeight))\" rx=\"6\" fill=\"#f6f8fa\" stroke=\"#333\"\(dash)/>\n"
            out += "<text x=\"\(f(nx + 8))\" y=\"\(f(ny + 16))\">\(Self.xml(n.label))</text>\n"
            if !n.listens.isEmpty {
                out += "<text x=\"\(f(nx + 8))\" y=\"\(f(ny + 32))\" fill=\"#555\">listens \(Self.xml(n.listens.joined(separator: ", ")))</text>\n"
            }
        }
        return out + "</svg>\n"
    }


    static func xml(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }
}

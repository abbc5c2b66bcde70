import Foundation

/// The learned communication graph of a set of baselines: profiles as nodes, the flows they
/// were seen making as edges (`vigil map`).
///
/// A destination that another profile serves becomes an edge between the two profiles:
/// the listener accepted connections on that very address and port (``Profile/servedOn``,
/// so with baselines merged from a fleet a client on one host joins the server on
/// another), or binds that address, or both are on loopback of a host they were both seen
/// on. Every other destination is an external node, IPv4 addresses collapsed into their
/// /24 and learned networks kept as they are. Profiles are grouped by the workload their
/// processes were members of (``Profile/workloads``, the one seen most).
public struct FlowMap: Sendable, Hashable {
    public struct Node: Sendable, Hashable, Comparable {
        public enum Kind: String, Sendable, Hashable { case profile, external }
        public var id: String
        public var kind: Kind
        public var label: String
        /// Listening sockets (profiles only), e.g. `tcp 8080`.
        public var listens: [String]
        /// The workload the profile's processes ran in (profiles only, if any was declared).
        public var workload: String?
        public static func < (a: Self, b: Self) -> Bool {
            (a.kind.rawValue, a.workload ?? "\u{10FFFF}", a.id) < (b.kind.rawValue, b.workload ?? "\u{10FFFF}", b.id)
        }
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
            let listens = p.listens.keys.sorted(by: ListeningSocket.byPort).map {
                $0.transport == .unix ? "unix \($0.address)"
                    : $0.port == ListeningSocket.pickedPort ? "\($0.transport.rawValue) (ports the kernel picks)" : "\($0.transport.rawValue) \($0.port)"
            }
            let workload = p.workloads.max { ($0.value.count, $1.key) < ($1.value.count, $0.key) }?.key
            nodes[p.id] = Node(id: p.id, kind: .profile, label: Self.label(p.identity), listens: listens, workload: workload)
        }
        var edges: [String: Edge] = [:]
        for p in profiles {
            for (d, seen) in p.destinations where d.transport != .unix {
                let to: String
                if let server = profiles.first(where: { $0.id != p.id && Self.serves($0, d, seen: seen) }) {
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

    /// Whether profile `server` serves destination `d` (seen on the hosts of `seen`): it
    /// accepted connections on that address and port, or it binds that very address, or
    /// `d` is loopback and the server listens on loopback or a wildcard of a host where
    /// the destination was seen too (loopback never leaves its host).
    static func serves(_ server: Profile, _ d: NetworkDestination, seen: Sighting) -> Bool {
        if !isLoopback(d.address), server.servedOn.keys.contains(where: { $0.transport == d.transport && $0.port == d.port && $0.address == d.address }) {
            return true
        }
        for (l, ls) in server.listens where l.transport == d.transport && l.port == d.port {
            if l.address == d.address && !isLoopback(d.address) { return true }
            guard isLoopback(d.address), isLoopback(l.address) || isWildcard(l.address) || l.address == d.address else { continue }
            if !Set(ls.hosts.keys).isDisjoint(with: seen.hosts.keys) { return true }
        }
        return false
    }

    static func isWildcard(_ a: String) -> Bool { ["0.0.0.0", "::", ""].contains(a) }

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
        func node(_ n: Node, indent: String) {
            let label = ([n.label] + n.listens.map { "listens " + $0 }).map(DoubleQuoted.escape).joined(separator: "\\n")
            let shape = n.kind == .profile ? "box, style=rounded" : "ellipse, style=dashed"
            out += "\(indent)\"\(DoubleQuoted.escape(n.id))\" [label=\"\(label)\", shape=\(shape)];\n"
        }
        for (i, group) in workloadGroups.enumerated() {
            out += "  subgraph cluster_\(i) {\n    label=\"workload \(DoubleQuoted.escape(group.name))\";\n    style=dashed;\n"
            for n in group.nodes { node(n, indent: "    ") }
            out += "  }\n"
        }
        for n in nodes where n.kind == .external || n.workload == nil { node(n, indent: "  ") }
        for e in edges { out += "  \"\(DoubleQuoted.escape(e.from))\" -> \"\(DoubleQuoted.escape(e.to))\" [label=\"\(e.label)\"];\n" }
        return out + "}\n"
    }

    /// The profiles of each workload, in node order.
    public var workloadGroups: [(name: String, nodes: [Node])] {
        var out: [(name: String, nodes: [Node])] = []
        for n in nodes where n.kind == .profile {
            guard let w = n.workload else { continue }
            if out.last?.name == w { out[out.count - 1].nodes.append(n) } else { out.append((w, [n])) }
        }
        return out
    }

    /// JSON: `{"nodes": [...], "edges": [...]}` (one line, the profile files' writer).
    public func json() -> String {
        let value = JSONValue.object([
            ("nodes", .array(nodes.map { n in
                .object([("id", .string(n.id)), ("kind", .string(n.kind.rawValue)), ("label", .string(n.label)),
                         ("listens", .array(n.listens.map { .string($0) }))] + (n.workload.map { [("workload", .string($0))] } ?? []))
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
        let groupGap = 26.0
        var y: [String: Double] = [:], x: [String: Double] = [:]
        // Profiles top to bottom, a workload's together under its name (a gap opens above
        // each group for the label).
        var cursor = top, previous: String?? = .none, frames: [(name: String, top: Double, bottom: Double)] = []
        for n in profiles {
            if previous == nil || previous! != n.workload {
                if let w = n.workload { cursor += groupGap; frames.append((w, cursor - groupGap + 6, cursor)) }
                else if previous != nil, previous! != nil { cursor += 12 }
            }
            previous = .some(n.workload)
            y[n.id] = cursor; x[n.id] = left
            if n.workload != nil { frames[frames.count - 1].bottom = cursor + boxHeight + 8 }
            cursor += rowHeight
        }
        for (i, n) in externals.enumerated() { y[n.id] = top + Double(i) * rowHeight; x[n.id] = right }
        let height = max(cursor, top + Double(max(externals.count, 1)) * rowHeight) + 20
        let width = right + boxWidth + 20
        func f(_ v: Double) -> String { String(Int(v.rounded())) }
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(f(width))" height="\(f(height))" viewBox="0 0 \(f(width)) \(f(height))" font-family="Helvetica, Arial, sans-serif" font-size="11">
            <defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>
            <text x="\(f(left))" y="20" font-weight="bold">profiles</text><text x="\(f(right))" y="20" font-weight="bold">external networks</text>

            """
        for g in frames {
            out += "<rect x=\"\(f(left - 10))\" y=\"\(f(g.top))\" width=\"\(f(boxWidth + 20))\" height=\"\(f(g.bottom - g.top))\" rx=\"8\" fill=\"none\" stroke=\"#888\" stroke-dasharray=\"6 3\"/>\n"
            out += "<text x=\"\(f(left))\" y=\"\(f(g.top + 15))\" fill=\"#555\">workload \(XMLText.escape(g.name))</text>\n"
        }
        for e in edges {
            guard let y1 = y[e.from], let y2 = y[e.to], let x2 = x[e.to] else { continue }
            let sx = left + boxWidth, sy = y1 + boxHeight / 2, ty = y2 + boxHeight / 2
            if x2 == left {
                let bend = sx + 60 + abs(ty - sy) / 4
                out += "<path d=\"M \(f(sx)) \(f(sy)) C \(f(bend)) \(f(sy)) \(f(bend)) \(f(ty)) \(f(sx)) \(f(ty))\" fill=\"none\" stroke=\"#555\" marker-end=\"url(#arrow)\"/>\n"
                out += "<text x=\"\(f(bend - 10))\" y=\"\(f((sy + ty) / 2))\">\(XMLText.escape(e.label))</text>\n"
            } else {
                out += "<line x1=\"\(f(sx))\" y1=\"\(f(sy))\" x2=\"\(f(x2))\" y2=\"\(f(ty))\" stroke=\"#555\" marker-end=\"url(#arrow)\"/>\n"
                out += "<text x=\"\(f((sx + x2) / 2 - 20))\" y=\"\(f((sy + ty) / 2 - 4))\">\(XMLText.escape(e.label))</text>\n"
            }
        }
        for n in profiles + externals {
            guard let nx = x[n.id], let ny = y[n.id] else { continue }
            let dash = n.kind == .external ? " stroke-dasharray=\"4 3\"" : ""
            out += "<rect x=\"\(f(nx))\" y=\"\(f(ny))\" width=\"\(f(boxWidth))\" height=\"\(f(boxHeight))\" rx=\"6\" fill=\"#f6f8fa\" stroke=\"#333\"\(dash)/>\n"
            out += "<text x=\"\(f(nx + 8))\" y=\"\(f(ny + 16))\">\(XMLText.escape(n.label))</text>\n"
            if !n.listens.isEmpty {
                out += "<text x=\"\(f(nx + 8))\" y=\"\(f(ny + 32))\" fill=\"#555\">listens \(XMLText.escape(n.listens.joined(separator: ", ")))</text>\n"
            }
        }
        return out + "</svg>\n"
    }
}

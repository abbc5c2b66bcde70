internal import Yams

extension Policy {
    /// Reads a policy from YAML text. Keys left out keep their ``standard`` values; `weights`
    /// and `danger` override the standard entries one by one; `bands` too, after which the
    /// thresholds must still rise strictly. `file` names the source in errors.
    ///
    /// - Throws: ``YAMLFileError`` with line and column for malformed YAML, unknown keys, values
    ///   of the wrong type or out of range, and bands out of order.
    public static func load(yaml: String, file: String) throws(YAMLFileError) -> Policy {
        let root = try YAMLNodeReader.compose(yaml, file: file)
        var p = Policy.standard
        guard let root else { return p }
        let r = PolicyReader(file: file)
        try r.read(root, into: &p)
        return p
    }
}

/// Walks the composed YAML tree so every complaint can point at its node.
private struct PolicyReader: YAMLNodeReading {
    let file: String

    static let topKeys = ["half-life-seconds", "hysteresis", "bands", "suspend-release-seconds", "weights", "danger",
                          "sequence", "unknown", "caps", "exempt", "ignore", "statistical-cap", "enforce-learning"]

    func rung(_ node: Node, _ what: String) throws(YAMLFileError) -> ResponseRung {
        guard case .scalar(let s) = node, let r = ResponseRung(name: s.string) else {
            throw fail(node, "\(what): expected one of none, alert, deny-network, suspend, kill, found '\(node.text)'")
        }
        return r
    }

    func kind(_ name: String, _ node: Node, _ what: String) throws(YAMLFileError) -> Deviation.Kind {
        guard let k = Deviation.Kind(rawValue: name) else {
            throw fail(node, "unknown deviation kind '\(name)' in \(what); expected one of: \(Deviation.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return k
    }

    func read(_ root: Node, into p: inout Policy) throws(YAMLFileError) {
        for (key, keyNode, v) in try pairs(root, "the policy", allowed: Self.topKeys) {
            switch key {
            case "half-life-seconds":
                p.halfLifeSeconds = try number(v, key, in: 0...86_400 * 365, positive: true)
            case "hysteresis":
                p.hysteresis = try number(v, key, in: 0...100)
            case "suspend-release-seconds":
                p.suspendReleaseSeconds = try number(v, key, in: 0...86_400, positive: true)
            case "bands":
                let names = ResponseRung.allCases.dropFirst().map(\.name)
                for (b, bNode, bv) in try pairs(v, "bands", allowed: names) {
                    p.bands[ResponseRung(name: b)!] = try number(bv, "bands.\(b)", in: 0...100)
                    _ = bNode
                }
                var previous: (ResponseRung, Double)?
                for r in ResponseRung.allCases.dropFirst() {
                    guard let t = p.bands[r] else { continue }
                    if let (pr, pt) = previous, t <= pt {
                        let at = try pairs(v, "bands", allowed: nil).first { $0.key == r.name }?.value ?? keyNode
                        throw fail(at, "bands out of order: \(r.name) (\(t.clean)) must be above \(pr.name) (\(pt.clean)); expected alert < deny-network < suspend < kill")
                    }
                    previous = (r, t)
                }
            case "weights":
                for (k, kNode, kv) in try pairs(v, "weights", allowed: nil) {
                    p.weights[try kind(k, kNode, "weights")] = try number(kv, "weights.\(k)", in: 0...100)
                }
            case "danger":
                for (name, nNode, nv) in try pairs(v, "danger", allowed: nil) {
                    guard SyscallTable.number(name) != nil else {
                        throw fail(nNode, "unknown syscall '\(name)' in danger; expected an x86_64 syscall name such as ptrace")
                    }
                    p.danger[name] = try number(nv, "danger.\(name)", in: 0...100)
                }
            case "sequence":
                for (k, _, kv) in try pairs(v, "sequence", allowed: ["window-seconds", "frame-calls"]) {
                    if k == "window-seconds" { p.sequenceWindowSeconds = try number(kv, "sequence.window-seconds", in: 0...3600, positive: true) }
                    else { p.sequenceFrameCalls = try integer(kv, "sequence.frame-calls", in: 1...10_000) }
                }
            case "unknown":
                for (k, _, kv) in try pairs(v, "unknown", allowed: ["report", "cap"]) {
                    if k == "report" { p.reportUnknown = try bool(kv, "unknown.report") }
                    else { p.unknownCap = try rung(kv, "unknown.cap") }
                }
            case "statistical-cap": p.statisticalCap = try rung(v, "statistical-cap")
            case "enforce-learning": p.enforceLearning = Set(try strings(v, "enforce-learning").map(\.0))
            case "caps":
                for (id, _, cv) in try pairs(v, "caps", allowed: nil) {
                    p.caps[id] = try rung(cv, "caps.\(id)")
                }
            case "exempt":
                for (k, _, kv) in try pairs(v, "exempt", allowed: ["profiles", "executables"]) {
                    let items = try strings(kv, "exempt.\(k)")
                    if k == "profiles" { p.exemptProfiles.formUnion(items.map(\.0)) }
                    else {
                        for (path, node) in items where !path.hasPrefix("/") {
                            throw fail(node, "exempt.executables: expected an absolute path, found '\(path)'")
                        }
                        p.exemptExecutables.formUnion(items.map(\.0))
                    }
                }
            case "ignore":
                for (id, _, kv) in try pairs(v, "ignore", allowed: nil) {
                    var kinds: Set<Deviation.Kind> = []
                    for (name, node) in try strings(kv, "ignore.\(id)") { kinds.insert(try kind(name, node, "ignore.\(id)")) }
                    p.ignore[id] = kinds
                }
            default:
                break
            }
        }
    }
}

extension Double {
    /// `20` rather than `20.0`.
    var clean: String { self == rounded() && abs(self) < 1e15 ? String(Int(self)) : String(self) }
}

internal import Yams

/// A policy file that cannot be used: where, and what was expected there.
public struct PolicyError: Error, Sendable, Hashable, CustomStringConvertible {
    public var file: String
    /// 1-based line and column (libyaml counts columns in Unicode scalars); 0 when unknown.
    public var line: Int
    public var column: Int
    public var message: String

    public init(file: String, line: Int, column: Int, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String { "\(file):\(line):\(column): \(message)" }
}

extension Policy {
    /// Reads a policy from YAML text. Keys left out keep their ``standard`` values; `weights`
    /// and `danger` override the standard entries one by one; `bands` too, after which the
    /// thresholds must still rise strictly. `file` names the source in errors.
    ///
    /// - Throws: ``PolicyError`` with line and column for malformed YAML, unknown keys, values
    ///   of the wrong type or out of range, and bands out of order.
    public static func load(yaml: String, file: String) throws(PolicyError) -> Policy {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let e as YamlError {
            throw Self.error(e, file: file)
        } catch {
            throw PolicyError(file: file, line: 0, column: 0, message: "\(error)")
        }
        var p = Policy.standard
        guard let root else { return p }
        let r = PolicyReader(file: file)
        try r.read(root, into: &p)
        return p
    }

    private static func error(_ e: YamlError, file: String) -> PolicyError {
        switch e {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return PolicyError(file: file, line: mark.line, column: mark.column, message: "malformed YAML: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return PolicyError(file: file, line: context.mark.line, column: context.mark.column,
                               message: "duplicate key \(duplicates.joined(separator: ", ")); expected each key once")
        default:
            return PolicyError(file: file, line: 0, column: 0, message: "malformed YAML: \(e)")
        }
    }
}

/// Walks the composed YAML tree so every complaint can point at its node.
private struct PolicyReader {
    let file: String

    static let topKeys = ["half-life-seconds", "hysteresis", "bands", "suspend-release-seconds", "weights", "danger",
                          "sequence", "unknown", "caps", "exempt", "ignore"]

    func fail(_ node: Node, _ message: String) -> PolicyError {
        PolicyError(file: file, line: node.mark?.line ?? 0, column: node.mark?.column ?? 0, message: message)
    }

    func isNull(_ node: Node) -> Bool {
        if case .scalar(let s) = node, s.style == .plain { return ["", "~", "null", "Null", "NULL"].contains(s.string) }
        return false
    }

    /// The pairs of a mapping (null counts as empty), each key checked against `allowed` (nil: any).
    func pairs(_ node: Node, _ what: String, allowed: [String]?) throws(PolicyError) -> [(key: String, keyNode: Node, value: Node)] {
        if isNull(node) { return [] }
        guard case .mapping(let m) = node else { throw fail(node, "\(what) must be a mapping") }
        var out: [(String, Node, Node)] = []
        for (k, v) in m {
            guard case .scalar(let ks) = k else { throw fail(k, "keys of \(what) must be plain names") }
            if let allowed, !allowed.contains(ks.string) {
                throw fail(k, "unknown key '\(ks.string)' in \(what); expected one of: \(allowed.joined(separator: ", "))")
            }
            out.append((ks.string, k, v))
        }
        return out
    }

    func number(_ node: Node, _ what: String, in range: ClosedRange<Double>, positive: Bool = false) throws(PolicyError) -> Double {
        let expectation = positive ? "a number greater than 0 and at most \(range.upperBound.clean)"
                                   : "a number from \(range.lowerBound.clean) to \(range.upperBound.clean)"
        guard case .scalar(let s) = node, s.style == .plain, let v = Double(s.string), v.isFinite else {
            throw fail(node, "\(what): expected \(expectation), found '\(node.text)'")
        }
        guard range.contains(v), !positive || v > 0 else { throw fail(node, "\(what): expected \(expectation), found \(s.string)") }
        return v
    }

    func integer(_ node: Node, _ what: String, in range: ClosedRange<Int>) throws(PolicyError) -> Int {
        guard case .scalar(let s) = node, let v = Int(s.string), range.contains(v) else {
            throw fail(node, "\(what): expected a whole number from \(range.lowerBound) to \(range.upperBound), found '\(node.text)'")
        }
        return v
    }

    func bool(_ node: Node, _ what: String) throws(PolicyError) -> Bool {
        guard case .scalar(let s) = node, ["true", "false"].contains(s.string) else {
            throw fail(node, "\(what): expected true or false, found '\(node.text)'")
        }
        return s.string == "true"
    }

    func rung(_ node: Node, _ what: String) throws(PolicyError) -> ResponseRung {
        guard case .scalar(let s) = node, let r = ResponseRung(name: s.string) else {
            throw fail(node, "\(what): expected one of none, alert, deny-network, suspend, kill, found '\(node.text)'")
        }
        return r
    }

    func strings(_ node: Node, _ what: String) throws(PolicyError) -> [(String, Node)] {
        if isNull(node) { return [] }
        guard case .sequence(let seq) = node else { throw fail(node, "\(what): expected a list, e.g. [a, b]") }
        var out: [(String, Node)] = []
        for item in seq {
            guard case .scalar(let s) = item, !s.string.isEmpty else { throw fail(item, "\(what): expected a non-empty name") }
            out.append((s.string, item))
        }
        return out
    }

    func kind(_ name: String, _ node: Node, _ what: String) throws(PolicyError) -> Deviation.Kind {
        guard let k = Deviation.Kind(rawValue: name) else {
            throw fail(node, "unknown deviation kind '\(name)' in \(what); expected one of: \(Deviation.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return k
    }

    func read(_ root: Node, into p: inout Policy) throws(PolicyError) {
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

private extension Node {
    /// The node as it might appear in a message.
    var text: String {
        switch self {
        case .scalar(let s): s.string
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }
}

extension Double {
    /// `20` rather than `20.0`.
    var clean: String { self == rounded() && abs(self) < 1e15 ? String(Int(self)) : String(self) }
}

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
                          "sequence", "unknown", "caps", "exempt", "ignore", "statistical-cap", "enforce-learning", "sensitive-files", "high-risk-files",
                          "workloads", "rules", "circuit-breaker", "segment-allow"]

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
        for (key, _, v) in try pairs(root, "the policy", allowed: Self.topKeys) {
            switch key {
            case "half-life-seconds":
                p.halfLifeSeconds = try number(v, key, in: 0...86_400 * 365, positive: true)
            case "hysteresis":
                p.hysteresis = try number(v, key, in: 0...100)
            case "suspend-release-seconds":
                p.suspendReleaseSeconds = try number(v, key, in: 0...86_400, positive: true)
            case "bands":
                try readBands(v, "bands", into: &p.bands)
            case "weights":
                try readWeights(v, "weights", into: &p.weights)
            case "danger":
                for (name, nNode, nv) in try pairs(v, "danger", allowed: nil) {
                    guard SyscallTable.number(name) != nil else {
                        throw fail(nNode, "unknown syscall '\(name)' in danger; expected an x86_64 syscall name such as ptrace")
                    }
                    p.danger[name] = try number(nv, "danger.\(name)", in: 0...100)
                }
            case "sequence":
                for (k, _, kv) in try pairs(v, "sequence", allowed: ["window-seconds", "frame-calls", "false-alarm-rate"]) {
                    switch k {
                    case "window-seconds": p.sequenceWindowSeconds = try number(kv, "sequence.window-seconds", in: 0...3600, positive: true)
                    case "frame-calls": p.sequenceFrameCalls = try integer(kv, "sequence.frame-calls", in: 1...10_000)
                    default: p.sequenceFalseAlarmRate = try number(kv, "sequence.false-alarm-rate", in: 0...1)
                    }
                }
            case "unknown":
                for (k, _, kv) in try pairs(v, "unknown", allowed: ["report", "cap"]) {
                    if k == "report" { p.reportUnknown = try bool(kv, "unknown.report") }
                    else { p.unknownCap = try rung(kv, "unknown.cap") }
                }
            case "statistical-cap": p.statisticalCap = try rung(v, "statistical-cap")
            case "sensitive-files":
                var list: [String] = []
                for (pattern, node) in try strings(v, "sensitive-files") {
                    if let problem = FileRules.validatePattern(pattern) { throw fail(node, "sensitive-files: \(problem); expected an absolute path such as /etc/shadow, '*' within one component") }
                    list.append(pattern)
                }
                p.sensitiveFiles = list
            case "high-risk-files": p.highRiskFileBonus = try number(v, key, in: 0...100)
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
            case "workloads":
                for (name, _, wv) in try pairs(v, "workloads", allowed: nil) {
                    p.workloads[name] = try workload(wv, "workloads.\(name)")
                }
            case "rules":
                p.rules = try rules(v)
            case "circuit-breaker":
                p.circuitBreakerActsPerMinute = try integer(v, "circuit-breaker", in: 0...100_000)
            case "segment-allow":
                p.segmentAllow = try strings(v, "segment-allow").map { (text, node) throws(YAMLFileError) in
                    guard let d = NetworkDestination(text: text) else {
                        throw fail(node, "segment-allow: expected TRANSPORT ADDRESS port PORT, e.g. udp 127.0.0.53 port 53 or tcp 10.0.0.0/8 port 443, found '\(text)'")
                    }
                    return d
                }
            default:
                break
            }
        }
        // A workload's bands merge over the policy's, whatever the order of the keys.
        if let w = try pairs(root, "the policy", allowed: nil).first(where: { $0.key == "workloads" }) {
            for (name, _, wv) in try pairs(w.value, "workloads", allowed: nil) {
                var merged = p.bands
                merged.merge(p.workloads[name]?.bands ?? [:]) { $1 }
                let bandsNode = try pairs(wv, "workloads.\(name)", allowed: nil).first { $0.key == "bands" }?.value ?? wv
                try checkOrder(merged, at: bandsNode, "workloads.\(name).bands")
            }
        }
    }

    /// Band thresholds, each in 0...100, which must rise strictly once merged into `bands`.
    func readBands(_ v: Node, _ what: String, into bands: inout [ResponseRung: Double]) throws(YAMLFileError) {
        let names = ResponseRung.allCases.dropFirst().map(\.name)
        for (b, _, bv) in try pairs(v, what, allowed: names) {
            bands[ResponseRung(name: b)!] = try number(bv, "\(what).\(b)", in: 0...100)
        }
        try checkOrder(bands, at: v, what)
    }

    func checkOrder(_ bands: [ResponseRung: Double], at v: Node, _ what: String) throws(YAMLFileError) {
        var previous: (ResponseRung, Double)?
        for r in ResponseRung.allCases.dropFirst() {
            guard let t = bands[r] else { continue }
            if let (pr, pt) = previous, t <= pt {
                let at = (try? pairs(v, what, allowed: nil))?.first { $0.key == r.name }?.value ?? v
                throw fail(at, "\(what) out of order: \(r.name) (\(t.clean)) must be above \(pr.name) (\(pt.clean)); expected alert < deny-network < suspend < kill")
            }
            previous = (r, t)
        }
    }

    func readWeights(_ v: Node, _ what: String, into weights: inout [Deviation.Kind: Double]) throws(YAMLFileError) {
        for (k, kNode, kv) in try pairs(v, what, allowed: nil) {
            weights[try kind(k, kNode, what)] = try number(kv, "\(what).\(k)", in: 0...100)
        }
    }

    static let workloadKeys = ["cap", "exec-guard", "bands", "weights", "statistical-cap", "circuit-breaker", "segment", "segment-ingress"]

    func workload(_ v: Node, _ what: String) throws(YAMLFileError) -> WorkloadPolicy {
        var w = WorkloadPolicy()
        for (k, _, kv) in try pairs(v, what, allowed: Self.workloadKeys) {
            switch k {
            case "cap": w.cap = try rung(kv, "\(what).cap")
            case "exec-guard": w.execGuard = try bool(kv, "\(what).exec-guard")
            case "statistical-cap": w.statisticalCap = try rung(kv, "\(what).statistical-cap")
            case "circuit-breaker": w.circuitBreaker = try integer(kv, "\(what).circuit-breaker", in: 0...100_000)
            case "segment": w.segment = try bool(kv, "\(what).segment")
            case "segment-ingress": w.segmentIngress = try bool(kv, "\(what).segment-ingress")
            case "weights": try readWeights(kv, "\(what).weights", into: &w.weights)
            default:
                var only: [ResponseRung: Double] = [:]
                try readBands(kv, "\(what).bands", into: &only)
                w.bands = only
            }
        }
        return w
    }

    static let ruleKeys = ["name", "when", "then"]
    static let whenKeys = ["workload", "user", "executable", "parent", "risk-at-least", "deviation",
                           "new-destination-outside", "new-destination-inside", "stable"]

    /// One text or a list of them.
    func oneOrMore(_ node: Node, _ what: String) throws(YAMLFileError) -> [(String, Node)] {
        if case .sequence = node { return try strings(node, what) }
        return [(try string(node, what), node)]
    }

    func rules(_ v: Node) throws(YAMLFileError) -> [ContextRule] {
        if isNull(v) { return [] }
        guard case .sequence(let items) = v else {
            throw fail(v, "rules: expected a list of rules, each with when: and then:, e.g. - {when: {workload: web, risk-at-least: 50}, then: deny-network}")
        }
        var out: [ContextRule] = []
        for (i, item) in items.enumerated() {
            let what = "rules[\(i)]"
            let fields = try pairs(item, what, allowed: Self.ruleKeys)
            guard let thenNode = fields.first(where: { $0.key == "then" })?.value else {
                throw fail(item, "\(what): missing then: (the rung to take the process to: alert, deny-network, suspend, kill)")
            }
            guard let when = fields.first(where: { $0.key == "when" })?.value else {
                throw fail(item, "\(what): missing when: (the conditions, e.g. {workload: web, risk-at-least: 50})")
            }
            var r = ContextRule(name: what, then: try rung(thenNode, "\(what).then"))
            if let n = fields.first(where: { $0.key == "name" })?.value { r.name = try string(n, "\(what).name") }
            let conditions = try pairs(when, "\(what).when", allowed: Self.whenKeys)
            if conditions.isEmpty { throw fail(when, "\(what).when: name at least one condition; a rule that always matches would replace the bands") }
            for (k, _, cv) in conditions {
                let cw = "\(what).when.\(k)"
                switch k {
                case "workload": r.workload = try string(cv, cw)
                case "user": r.users = try oneOrMore(cv, cw).map(\.0)
                case "executable", "parent":
                    let paths = try oneOrMore(cv, cw)
                    for (path, node) in paths where !path.hasPrefix("/") { throw fail(node, "\(cw): expected an absolute path, found '\(path)'") }
                    if k == "executable" { r.executables = paths.map(\.0) } else { r.parents = paths.map(\.0) }
                case "risk-at-least": r.riskAtLeast = try number(cv, cw, in: 0...100)
                case "deviation":
                    for (name, node) in try oneOrMore(cv, cw) { r.deviations.insert(try kind(name, node, cw)) }
                case "stable": r.stable = try bool(cv, cw)
                default:
                    let nets = try oneOrMore(cv, cw)
                    for (net, node) in nets where !ContextRule.isNetwork(net) {
                        throw fail(node, "\(cw): expected a network such as 10.0.0.0/8 or 2001:db8::/32, found '\(net)'")
                    }
                    if k == "new-destination-outside" { r.newDestinationOutside = nets.map(\.0) } else { r.newDestinationInside = nets.map(\.0) }
                }
            }
            out.append(r)
        }
        return out
    }
}

extension Double {
    /// `20` rather than `20.0`.
    var clean: String { self == rounded() && abs(self) < 1e15 ? String(Int(self)) : String(self) }
}

public import VigilCore
public import VigilOutput

/// A few readable lines per finding, for --explain and the demo.
public enum FindingText {
    public static func line(_ r: FindingReport, climb: [Double] = [], policy: Policy) -> String {
        var s = "vigil: \u{1B}[1mfinding\u{1B}[0m: pid \(r.process.pid) (\(r.process.path.isEmpty ? r.process.comm : r.process.path)) risk \(r.riskScore)/100"
        // Reasons grouped by kind: a burst of novel sequences is one line, not thirty.
        var order: [String] = []
        var byKind: [String: [FindingReport.Reason]] = [:]
        for reason in r.reasons {
            if byKind[reason.kind] == nil { order.append(reason.kind) }
            byKind[reason.kind, default: []].append(reason)
        }
        for kind in order {
            let rs = byKind[kind]!
            let shown = rs.prefix(3).map(\.observed).joined(separator: "; ")
            let expected = rs[0].expected
            s += "\n    \(kind)\(rs.count > 1 ? " ×\(rs.count)" : ""): \(shown)\(rs.count > 3 ? "; ..." : "")"
            if !expected.isEmpty {
                s += "\n        baseline: \(expected.prefix(5).joined(separator: ", "))\(expected.count > 5 ? ", ..." : "")"
            }
        }
        if climb.count > 1 {
            let bands = policy.bands.sorted { $0.value < $1.value }.map { "\($0.key.name) at \(Int($0.value))" }.joined(separator: ", ")
            s += "\n    risk climbed: " + climb.map { String(Int($0.rounded())) }.joined(separator: " -> ") + "   (\(bands))"
        }
        s += "\n    action: \(r.action.step.name), \(r.action.outcome.rawValue)" + (r.action.detail.map { " (\($0))" } ?? "")
        return s
    }
}

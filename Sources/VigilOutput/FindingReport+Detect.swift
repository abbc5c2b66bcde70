public import VigilCore

extension FindingReport {
    /// A finding from the detector's deviations, the process's risk and the response step
    /// taken (or the current rung when no step was taken), so `vigil monitor|enforce` only
    /// wires things.
    ///
    /// - `uid`: profile, pid, step id (or time) — unique per finding.
    /// - action: the rung and the core's outcome as they are (no step: the current rung,
    ///   `not-needed`); a step to ``ResponseRung/none`` says "stepped down to no action",
    ///   monitor and pending steps say so in the detail, and so does a finding without a step
    ///   on a process an earlier step took above alert.
    public init(deviations: [Deviation], riskScore: Double, step: ResponseStep?, rung: ResponseRung = .alert,
                process: ProcessRecord, ancestry: [ProcessRecord], timeNanos: UInt64) {
        let profile = deviations.first?.profile ?? step?.profile ?? ""
        let kinds = deviations.map(\.kind.rawValue)
        var types: [String] = []
        for k in kinds where !types.contains(k) { types.append(k) }
        let target = step?.to ?? rung
        // Rounded to whole points here; kept within 0...100 by the report itself.
        let score = Int(exactly: riskScore.rounded()) ?? (riskScore > 0 ? 100 : 0)
        var title: String
        if let d = deviations.first {
            title = "\(process.path.isEmpty ? process.comm : process.path): \(d.kind.rawValue) \(d.observed)"
            if deviations.count > 1 { title += " and \(deviations.count - 1) more" }
        } else if let step {
            title = "\(process.path.isEmpty ? process.comm : process.path): \(step.from.name) -> \(step.to.name) (\(step.reason))"
        } else {
            title = "" // named with the report's own (clamped) score below
        }
        var detail: String? = step.map { "\($0.from.name) -> \($0.to.name): \($0.reason)" }
        switch step?.outcome {
        case .wouldHaveActed?: detail = "monitor mode, would have acted: " + (detail ?? "")
        case .pending?: detail = "not yet carried out: " + (detail ?? "")
        case .failed(let why)?: detail = (detail ?? "") + "; failed: \(why)"
        case .succeeded?, .notNeeded?: break
        case nil:
            // No new step: the process stays where an earlier step put it. Said in words too,
            // so a reader of `status_detail` alone does not take a held kill for an alert.
            if rung > .alert { detail = "decided by an earlier step of this process; no new step" }
        }
        if target == .none { detail = "stepped down to no action" + (detail.map { ": " + $0 } ?? "") }
        let uidTail = step.map { "step-\($0.id)" } ?? "t\(timeNanos)"
        self.init(uid: "vigil-\(profile.isEmpty ? "unknown" : profile)-\(process.pid)-\(uidTail)", title: title,
                  types: types.isEmpty ? ["response"] : types, profile: profile,
                  riskScore: score,
                  reasons: deviations.map {
                      Reason(kind: $0.kind.rawValue, observed: $0.observed, expected: $0.expected, scoreDelta: Int($0.score.rounded()))
                  },
                  action: Action(step: target, outcome: Action.Outcome(step?.outcome ?? .notNeeded), detail: detail),
                  process: process, ancestry: ancestry, timeNanos: timeNanos)
        if title.isEmpty { self.title = "\(process.path.isEmpty ? process.comm : process.path): risk \(self.riskScore)" }
    }
}

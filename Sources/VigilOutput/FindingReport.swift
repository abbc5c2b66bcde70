public import VigilCore

/// What the detector tells the outputs about one finding: the input of the Detection
/// Finding (2004) mapping.
///
/// It lives here rather than in VigilCore because it is shaped by what a SIEM needs to
/// explain a finding; the detector fills it from its own richer state.
public struct FindingReport: Sendable, Hashable {
    /// Stable identifier of this finding (`finding_info.uid`).
    public var uid: String
    /// One-line human summary (`finding_info.title`).
    public var title: String
    /// Categories of deviation, e.g. `["new-exec", "new-connect"]` (`finding_info.types`).
    public var types: [String]
    /// The learned profile the process was judged against (throttling key, analysis target).
    public var profile: String
    /// Accumulated risk, 0 to 100 (`risk_score`); also sets `risk_level` and `severity`.
    /// Clamped here, once, whoever sets it: the encoder and the metrics read it as it is.
    public var riskScore: Int {
        get { clampedRisk }
        set { clampedRisk = Self.clampRisk(newValue) }
    }
    private var clampedRisk: Int
    private static func clampRisk(_ score: Int) -> Int { min(100, max(0, score)) }
    /// Each deviation that contributed, with what the baseline expected instead.
    public var reasons: [Reason]
    /// What Vigil did about it.
    public var action: Action
    /// The process that deviated.
    public var process: ProcessRecord
    /// Its ancestors, nearest first (as `ProcessTable.ancestry(of:)` returns them).
    public var ancestry: [ProcessRecord]
    /// When the finding was raised, nanoseconds since the epoch.
    public var timeNanos: UInt64
    /// Why Vigil acts or does not: the rule that decided and where the process stands
    /// (`unmapped.vigil_decision`); nil when the producer makes no such decision.
    public var decision: Decision?
    /// Whether the finding holds only statistical evidence (new sequences, new syscalls that
    /// are not dangerous) and takes no step above alert: the throttle summarizes such
    /// findings per profile (``FindingThrottle``).
    public var statisticalOnly = false

    /// The act-or-skip decision behind a finding.
    public struct Decision: Sendable, Hashable {
        /// Whether Vigil acts on the process (enforce mode) or would (monitor mode) at the
        /// finding's rung; false when a cap, the scope or protection holds it at alert.
        public var acts: Bool
        /// The rule that decided, e.g. `bands`, `cap: profile still learning`,
        /// `cap: statistical evidence only`, `policy rule web-root-suspend`.
        public var rule: String
        /// Where the process stands: `workload web`, `outside every workload`, `protected (PID 1)`.
        public var scope: String
        /// The workload the process is a member of, if any.
        public var workload: String?

        public init(acts: Bool, rule: String, scope: String, workload: String? = nil) {
            self.acts = acts
            self.rule = rule
            self.scope = scope
            self.workload = workload
        }
    }

    public init(uid: String, title: String, types: [String], profile: String, riskScore: Int, reasons: [Reason],
                action: Action, process: ProcessRecord, ancestry: [ProcessRecord], timeNanos: UInt64) {
        self.uid = uid
        self.title = title
        self.types = types
        self.profile = profile
        self.clampedRisk = Self.clampRisk(riskScore)
        self.reasons = reasons
        self.action = action
        self.process = process
        self.ancestry = ancestry
        self.timeNanos = timeNanos
    }

    /// One explained deviation.
    public struct Reason: Sendable, Hashable {
        /// What kind of behaviour deviated, e.g. `exec`, `connect`, `syscall-sequence`, `user`.
        public var kind: String
        /// What was observed, e.g. `/usr/bin/curl` or `203.0.113.7:4444`.
        public var observed: String
        /// What the baseline holds for this kind (empty when the baseline has nothing).
        public var expected: [String]
        /// How much this deviation added to the risk score.
        public var scoreDelta: Int

        public init(kind: String, observed: String, expected: [String], scoreDelta: Int = 0) {
            self.kind = kind
            self.observed = observed
            self.expected = expected
            self.scoreDelta = scoreDelta
        }
    }

    /// The response step taken and how it went, in the core's own vocabulary: `step` is a
    /// ``ResponseRung`` and `outcome` a ``ResponseOutcome``, spelt by their policy and metric
    /// names. One table (`OCSFEncoder.response`) maps them to OCSF ids, and metric labels
    /// (`AgentMetrics.ActionKey`) use the same raw values, so a finding reads the same in
    /// the SIEM, in `/metrics` and on the console.
    public struct Action: Sendable, Hashable {
        /// The rung of the response ladder: the core's own ``ResponseRung``, spelled by its `name`.
        public typealias Step = ResponseRung

        /// How carrying out the step went (``ResponseOutcome``).
        public enum Outcome: String, Sendable, Hashable, CaseIterable {
            /// Monitor mode: decided, not carried out (only the finding was raised).
            case wouldHaveActed = "would-have-acted"
            /// Enforce mode: decided, not yet carried out.
            case pending
            /// The action took effect.
            case succeeded
            /// The action was attempted and failed (e.g. the process was already gone).
            case failed
            /// Nothing to carry out: the step only changes what is reported (alert, or
            /// stepping down to no action). Reporting is the whole action.
            case notNeeded = "not-needed"

            public init(_ outcome: ResponseOutcome) {
                self = switch outcome {
                case .wouldHaveActed: .wouldHaveActed
                case .pending: .pending
                case .succeeded: .succeeded
                case .failed: .failed
                case .notNeeded: .notNeeded
                }
            }
        }

        /// The step policy chose.
        public var step: Step
        /// Whether it took effect.
        public var outcome: Outcome
        /// Free text on the outcome, e.g. the errno of a failed kill.
        public var detail: String?

        public init(step: Step, outcome: Outcome, detail: String? = nil) {
            self.step = step
            self.outcome = outcome
            self.detail = detail
        }
    }

    /// OCSF `risk_level_id` for the score: bands of 25.
    public var riskLevel: (id: Int, name: String) {
        switch riskScore {
        case ..<25: (1, "Low")
        case 25..<50: (2, "Medium")
        case 50..<75: (3, "High")
        default: (4, "Critical")
        }
    }
}

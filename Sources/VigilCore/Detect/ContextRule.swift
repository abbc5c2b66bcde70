/// Settings of one workload that differ from the rest of the policy (the policy's
/// `workloads:` block, keyed by workload name). Left out, a setting is the policy's.
public struct WorkloadPolicy: Sendable, Hashable {
    /// The highest rung any process of the workload reaches.
    public var cap: ResponseRung?
    /// Whether the kernel kills, at exec, a program no baseline knows that a deviating
    /// member starts (default: yes).
    public var execGuard: Bool?
    /// Band thresholds that differ (merged over the policy's; they must still rise strictly).
    public var bands: [ResponseRung: Double] = [:]
    /// Deviation weights that differ.
    public var weights: [Deviation.Kind: Double] = [:]
    /// The workload's own ceiling for statistical evidence (``Policy/statisticalCap``):
    /// the only way to let sequence statistics alone suspend or kill, and explicit.
    public var statisticalCap: ResponseRung?
    /// Its own circuit breaker (``Policy/circuitBreakerActsPerMinute``).
    public var circuitBreaker: Int?
    /// Segmentation: its members may connect only to what their profile learned (and the
    /// policy's ``Policy/segmentAllow``), refused in the kernel otherwise.
    public var segment: Bool?
    /// Ingress segmentation: connection attempts to the ports its members bind come only from
    /// the peers their profile learned, dropped in the kernel otherwise (`segment-ingress`).
    public var segmentIngress: Bool?

    public init(cap: ResponseRung? = nil, execGuard: Bool? = nil, bands: [ResponseRung: Double] = [:],
                weights: [Deviation.Kind: Double] = [:], statisticalCap: ResponseRung? = nil, circuitBreaker: Int? = nil) {
        self.circuitBreaker = circuitBreaker
        self.cap = cap
        self.execGuard = execGuard
        self.bands = bands
        self.weights = weights
        self.statisticalCap = statisticalCap
    }
}

/// A decision that takes the context of a process into account: when every condition holds
/// for a judged batch of deviations, the process is taken to ``then`` (up or down) instead of
/// the rung its score's band calls for, and held there while its risk stays at or above
/// ``riskAtLeast``. The first rule that matches decides. Limits still hold above it: a
/// protected or out-of-scope process, a profile still learning, evidence that is only
/// statistical, and every cap.
///
/// ```yaml
/// rules:
///   - name: web-exfiltration
///     when: {workload: web, user: www-data, risk-at-least: 50, new-destination-outside: [10.0.0.0/8]}
///     then: deny-network
/// ```
public struct ContextRule: Sendable, Hashable {
    public var name: String
    /// The workload the process is a member of.
    public var workload: String?
    /// User names or uids (any of them).
    public var users: [String] = []
    /// Executables, absolute paths (any of them).
    public var executables: [String] = []
    /// The parent's executable, absolute paths (any of them).
    public var parents: [String] = []
    /// The process's risk after the batch, at least this.
    public var riskAtLeast: Double?
    /// The batch holds a deviation of one of these kinds.
    public var deviations: Set<Deviation.Kind> = []
    /// The batch holds a new destination outside every one of these networks (CIDR).
    public var newDestinationOutside: [String] = []
    /// The batch holds a new destination inside one of these networks (CIDR).
    public var newDestinationInside: [String] = []
    /// The profile is stable (true) or still learning (false).
    public var stable: Bool?
    /// The rung to take the process to.
    public var then: ResponseRung

    public init(name: String, then: ResponseRung) {
        self.name = name
        self.then = then
    }

    /// What a rule is judged against: one process after one batch of deviations.
    public struct Context: Sendable {
        public var workload: String?
        public var uid: UInt32?
        public var user: String?
        public var executable: String?
        public var parent: String?
        public var risk: Double
        public var deviations: [Deviation]
        public var stable: Bool?

        public init(workload: String?, uid: UInt32?, user: String?, executable: String?, parent: String?, risk: Double,
                    deviations: [Deviation], stable: Bool?) {
            self.workload = workload
            self.uid = uid
            self.user = user
            self.executable = executable
            self.parent = parent
            self.risk = risk
            self.deviations = deviations
            self.stable = stable
        }
    }

    public func matches(_ c: Context) -> Bool {
        if let workload, c.workload != workload { return false }
        if !users.isEmpty, !users.contains(where: { $0 == c.user || (c.uid.map { String($0) } == $0) }) { return false }
        if !executables.isEmpty, !executables.contains(where: { $0 == c.executable }) { return false }
        if !parents.isEmpty, !parents.contains(where: { $0 == c.parent }) { return false }
        if let riskAtLeast, c.risk < riskAtLeast { return false }
        if !deviations.isEmpty, !c.deviations.contains(where: { deviations.contains($0.kind) }) { return false }
        if let stable, c.stable != stable { return false }
        let destinations = c.deviations.compactMap(\.destination)
        if !newDestinationOutside.isEmpty,
           !destinations.contains(where: { d in !newDestinationOutside.contains { Self.network($0, holds: d) } }) { return false }
        if !newDestinationInside.isEmpty,
           !destinations.contains(where: { d in newDestinationInside.contains { Self.network($0, holds: d) } }) { return false }
        return true
    }

    /// Whether the network `cidr` (`10.0.0.0/8`, `2001:db8::/32`, or a single address)
    /// holds the destination's address.
    public static func network(_ cidr: String, holds d: NetworkDestination) -> Bool {
        guard d.transport != .unix else { return false }
        return NetworkDestination(transport: d.transport, address: cidr, port: d.port).covers(d)
    }

    /// Whether `text` is a network a rule can name: an IPv4 or IPv6 address with an
    /// optional prefix length in range.
    public static func isNetwork(_ text: String) -> Bool {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { return false }
        let address = String(parts[0])
        let max: Int
        if IPv4Address(address) != nil { max = 32 } else if IPv6Text.parse(address) != nil { max = 128 } else { return false }
        guard parts.count == 2 else { return true }
        guard let n = Int(parts[1]) else { return false }
        return (0...max).contains(n)
    }
}

extension Policy {
    /// The policy as it applies to a member of `workload`: its block's settings over the
    /// rest (nil or a workload with no block: the policy itself).
    public func applying(workload: String?) -> Policy {
        guard let workload, let w = workloads[workload] else { return self }
        var p = self
        p.bands.merge(w.bands) { $1 }
        p.weights.merge(w.weights) { $1 }
        if let s = w.statisticalCap { p.statisticalCap = s }
        if let cap = w.cap { p.workloadCap = cap }
        if let b = w.circuitBreaker { p.circuitBreakerActsPerMinute = b }
        return p
    }

    /// The first rule that matches, if any.
    public func rule(for c: ContextRule.Context) -> ContextRule? { rules.first { $0.matches(c) } }

    /// `d` re-weighed by this policy when its weights differ from `base`'s (the detector
    /// weighs deviations with the host-wide policy; a workload may weigh a kind otherwise).
    public func reweigh(_ d: Deviation, from base: Policy) -> Deviation {
        let old = base.weight(d.kind), new = weight(d.kind)
        guard old != new else { return d }
        var out = d
        if d.kind == .newSyscall {
            out.score = min(100, max(0, d.score - old + new)) // weight + danger: the weight part changes
        } else if old > 0 {
            out.score = min(100, d.score * new / old)
        } else {
            out.score = min(100, new)
        }
        out.scoring = d.scoring + "; re-weighed \(old.clean) → \(new.clean) for the workload"
        return out
    }
}

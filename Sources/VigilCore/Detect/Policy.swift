/// The rungs of the response ladder, mildest first. The rung is a *state* of a process:
/// at ``denyNetwork`` and above its network is denied, at ``suspend`` and above it is
/// stopped, ``kill`` is final.
public enum ResponseRung: Int, Sendable, Hashable, Comparable, CaseIterable, CustomStringConvertible {
    /// Nothing to do.
    case none = 0
    /// Report a finding; nothing is done to the process.
    case alert
    /// Deny the process new network connections.
    case denyNetwork
    /// Stop the process (SIGSTOP), released automatically after a while unless risk climbed.
    case suspend
    /// Kill the process. Final.
    case kill

    public static func < (l: Self, r: Self) -> Bool { l.rawValue < r.rawValue }

    /// The policy-file spelling (`alert`, `deny-network`, `suspend`, `kill`, `none`).
    public var name: String {
        switch self {
        case .none: "none"
        case .alert: "alert"
        case .denyNetwork: "deny-network"
        case .suspend: "suspend"
        case .kill: "kill"
        }
    }

    public init?(name: String) {
        guard let r = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = r
    }

    public var description: String { name }
}

/// What Vigil does about deviations: weights, decay, score bands, caps and exemptions.
///
/// Load one from YAML with ``load(yaml:file:)``; ``standard`` is the built-in default and
/// equals `Models/policy.example.yaml` (a test checks it). Every number is documented there.
public struct Policy: Sendable, Hashable {
    /// Risk points per deviation kind (``Deviation/Kind/newSequence``: points per unit of
    /// surprise x density, see ``Detector``).
    public var weights: [Deviation.Kind: Double]
    /// Extra points when a *new* syscall is one of these (by name).
    public var danger: [String: Double]
    /// Seconds for a process's risk to halve.
    public var halfLifeSeconds: Double
    /// The score at which each rung starts (`alert`, `denyNetwork`, `suspend`, `kill`),
    /// strictly increasing, each in 0...100.
    public var bands: [ResponseRung: Double]
    /// Points a score must fall *below* a rung's threshold before stepping down from it,
    /// so a score hovering on a threshold does not flap.
    public var hysteresis: Double
    /// Seconds after which a suspended process is resumed unless its risk climbed further.
    public var suspendReleaseSeconds: Double
    /// The highest rung per profile id ("never kill the database, at most suspend").
    public var caps: [String: ResponseRung]
    /// Profiles never acted on (findings still reported: capped at ``ResponseRung/alert``).
    public var exemptProfiles: Set<String>
    /// Executables (absolute paths) never acted on, whatever their profile.
    public var exemptExecutables: Set<String>
    /// Deviation kinds to drop entirely, per profile id.
    public var ignore: [String: Set<Deviation.Kind>]
    /// Whether an executable with no profile raises a finding.
    public var reportUnknown: Bool
    /// The highest rung for a process with no profile.
    public var unknownCap: ResponseRung
    /// The locality frame of novel sequences: novel calls of one process closer together
    /// than this many seconds count as one burst.
    public var sequenceWindowSeconds: Double
    /// The most novel calls one frame counts (the density multiplier's ceiling).
    public var sequenceFrameCalls: Int
    /// The false-alarm rate per call (n-gram window) each profile's sequence threshold is
    /// calibrated for (``SequenceCalibration``): a new sequence no more surprising than
    /// held-out normal work of the profile at this rate is expected noise, counted and not
    /// reported. 0 reports every new sequence.
    public var sequenceFalseAlarmRate: Double = SequenceCalibration.standardRate
    /// The highest rung evidence that is only statistical (new sequences, new syscalls that
    /// are not dangerous) can reach: alert. Anything more needs a concrete deviation as well
    /// (a new program, destination, listening port, user, a changed binary, a dangerous new
    /// syscall, tamper): a service's normal work that learning missed (a save it forks, a
    /// command it was not sent) is statistically new too, and must never cost it its network.
    /// Raise it (deny-network) only on purpose, for a workload whose normal work learning
    /// covered; suspend and kill stay out of its reach unless set explicitly.
    public var statisticalCap: ResponseRung = .alert
    /// Profiles acted on while still learning; every other profile that is not yet stable
    /// is held at alert.
    public var enforceLearning: Set<String> = []
    /// A workload whose members are acted on more often than this in one minute falls back
    /// to monitor (its circuit breaker trips) until an operator re-arms it; 0: never.
    public var circuitBreakerActsPerMinute: Int = 20
    /// Destinations every segmented process may reach (the host's resolver, time server,
    /// metadata service), e.g. `udp 127.0.0.53 port 53`, `tcp 10.0.0.0/8 port 443`.
    public var segmentAllow: [NetworkDestination] = []
    /// Settings per workload name that differ from the rest (``applying(workload:)``).
    public var workloads: [String: WorkloadPolicy] = [:]
    /// Context rules, first match decides (``ContextRule``).
    public var rules: [ContextRule] = []
    /// The highest rung for every process this policy judges: `.kill` unless a workload's
    /// block sets its own cap (``applying(workload:)``).
    public var workloadCap: ResponseRung = .kill

    /// The sensitive set: a read-only open of one of these paths is judged (`sensitive-read`);
    /// `*` matches within one component (``FileRules/defaultSensitive``).
    public var sensitiveFiles: [String] = FileRules.defaultSensitive
    /// Points added to a `new-write-path` into a high-risk directory (`/etc`, a home, `.ssh`,
    /// cron, systemd) or a `new-code-mapping` from a world-writable one (`high-risk-files`).
    public var highRiskFileBonus: Double = 40

    /// Whether a deviation is only statistical evidence (see ``statisticalCap``). A new
    /// write or code mapping is concrete only in a high-risk place (``Deviation/highRisk``);
    /// a sensitive read always is. A new peer is statistical: it is something another host
    /// did to the process, and a scanner must not be able to drive a service it reaches
    /// into being stopped.
    public func isStatistical(_ d: Deviation) -> Bool {
        switch d.kind {
        case .newSequence, .newPeer: true
        case .newSyscall: danger[d.observed] == nil
        case .newWritePath, .newCodeMapping: !d.highRisk
        default: false
        }
    }

    public init(weights: [Deviation.Kind: Double], danger: [String: Double], halfLifeSeconds: Double,
                bands: [ResponseRung: Double], hysteresis: Double, suspendReleaseSeconds: Double,
                caps: [String: ResponseRung] = [:], exemptProfiles: Set<String> = [], exemptExecutables: Set<String> = [],
                ignore: [String: Set<Deviation.Kind>] = [:], reportUnknown: Bool = true, unknownCap: ResponseRung = .alert,
                sequenceWindowSeconds: Double, sequenceFrameCalls: Int) {
        self.weights = weights
        self.danger = danger
        self.halfLifeSeconds = halfLifeSeconds
        self.bands = bands
        self.hysteresis = hysteresis
        self.suspendReleaseSeconds = suspendReleaseSeconds
        self.caps = caps
        self.exemptProfiles = exemptProfiles
        self.exemptExecutables = exemptExecutables
        self.ignore = ignore
        self.reportUnknown = reportUnknown
        self.unknownCap = unknownCap
        self.sequenceWindowSeconds = sequenceWindowSeconds
        self.sequenceFrameCalls = sequenceFrameCalls
    }

    /// The built-in policy, identical to `Models/policy.example.yaml`.
    ///
    /// Thresholds: one unexplained new program (25) or connection (20) is worth a finding
    /// but nothing more; two independent deviations (about 50) deny the network, since
    /// exfiltration and C2 need it and denying it is cheap to undo; three (75) or one
    /// critical one stop the process; only overwhelming evidence (90), a tamper attempt or a
    /// fileless exec plus more, kills.
    public static let standard = Policy(
        weights: [
            .newSyscall: 10, .newSequence: 0.5, .newExec: 25, .newParent: 15, .newDestination: 20,
            .newListen: 25, .newPeer: 20, .newUser: 20, .binaryChanged: 40, .unknownExecutable: 20, .memfdExec: 60, .tamper: 100,
            .newWritePath: 20, .newCodeMapping: 25, .sensitiveRead: 50,
        ],
        danger: [
            "ptrace": 40, "process_vm_writev": 40, "init_module": 50, "finit_module": 50, "bpf": 30, "mount": 30,
            "setuid": 25, "setgid": 25, "setreuid": 25, "setregid": 25, "setresuid": 25, "setresgid": 25,
            "setfsuid": 25, "setfsgid": 25, "memfd_create": 15,
        ],
        halfLifeSeconds: 300,
        bands: [.alert: 20, .denyNetwork: 50, .suspend: 75, .kill: 90],
        hysteresis: 10,
        suspendReleaseSeconds: 60,
        sequenceWindowSeconds: 1,
        sequenceFrameCalls: 20
    )

    /// Points of a deviation kind (0 when the policy gives none).
    public func weight(_ kind: Deviation.Kind) -> Double { weights[kind] ?? 0 }

    /// The highest rung whose threshold `score` reaches.
    public func rung(for score: Double) -> ResponseRung {
        var r = ResponseRung.none
        for rung in ResponseRung.allCases where rung != .none {
            if let t = bands[rung], score >= t { r = rung }
        }
        return r
    }

    /// The threshold of a rung (0 for ``ResponseRung/none``; unreachable for a missing band).
    public func threshold(_ rung: ResponseRung) -> Double {
        rung == .none ? 0 : bands[rung] ?? .infinity
    }

    /// The highest rung a process of `profile` running `executable` may reach.
    public func cap(profile: String?, executable: String?) -> ResponseRung {
        var cap = min(profile.map { caps[$0] ?? .kill } ?? unknownCap, workloadCap)
        if let profile, exemptProfiles.contains(profile) { cap = min(cap, .alert) }
        if let executable, exemptExecutables.contains(executable) { cap = min(cap, .alert) }
        return cap
    }

    /// Whether deviations of `kind` are ignored for `profile`.
    public func ignores(_ kind: Deviation.Kind, profile: String?) -> Bool {
        guard let profile else { return false }
        return ignore[profile]?.contains(kind) ?? false
    }
}

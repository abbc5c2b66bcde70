public import VigilCore

/// Everything one run of the agent takes. `vigil learn`, `monitor`, `enforce` and `run` each
/// build one and hand it to the same ``Agent``: they differ only in the configuration.
public struct AgentConfiguration: Sendable {
    /// Which command runs the agent: its fixed mode (learn, monitor, enforce) or per-profile
    /// modes with promotion (run).
    public enum Command: String, Sendable {
        case learn, monitor, enforce, run

        /// Whether deviations are judged at all (learning judges nothing).
        public var judges: Bool { self != .learn }
    }

    public var command: Command
    /// Models, outputs, spool, learning and promotion settings (a `vigil run` file, or the
    /// flags of the other commands with `mode` fixed).
    public var run: RunConfig
    /// Whether `run.state` holds profile modes (`modes.json`) across restarts (`vigil run`).
    public var keepsState: Bool
    public var policy: Policy
    /// The policy's name in messages: its file, or "built-in".
    public var policyName: String
    /// The configuration file reloaded at SIGHUP (`vigil run`); nil: nothing to reload.
    public var configPath: String?
    /// Print each finding and response step as readable lines on stderr.
    public var explain = false
    /// `--log-level` and `--log-format` as given (they win over the configuration's keys,
    /// at start and at reload); nil: not given.
    public var logLevel: LogLevel?
    public var logFormat: LogFormat?
    /// What may be acted on (empty: nothing is declared; see ``allProcesses``).
    public var workloads: [Workload] = []
    /// Act on every process that is not protected (`--all-processes`).
    public var allProcesses = false
    /// Programs whose lineage is never acted on unless a workload selects it.
    public var protectedExecutables = WorkloadScope.defaultProtectedExecutables
    /// Report deviations of processes outside every workload (at most alert).
    public var reportOutside = false
    /// The host's name in saved profiles.
    public var hostID: String
    /// Where the agent takes `vigil mode` and `vigil resume --workload` requests; nil: nowhere.
    public var controlSocket: String?
    /// Segmentation for every enforced workload (`--segment`): members connect only to what
    /// their profile learned. A workload's policy block can turn it on for itself.
    public var segment = false
    /// Ingress segmentation for every enforced workload (`--segment-ingress`): connection
    /// attempts to the ports members bind come only from the peers their profile learned.
    public var segmentIngress = false
    /// dpkg's database of installed files (`PACKAGE.md5sums`): a changed binary it vouches
    /// for is an upgrade.
    public var packageDatabase = "/var/lib/dpkg/info"

    public init(command: Command, run: RunConfig, keepsState: Bool, policy: Policy, policyName: String, hostID: String) {
        self.command = command
        self.run = run
        self.keepsState = keepsState
        self.policy = policy
        self.policyName = policyName
        self.hostID = hostID
    }
}

/// A request to a running agent that cannot be met, in words for the operator.
public struct AgentRequestError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

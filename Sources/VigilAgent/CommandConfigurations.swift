public import VigilCore
import Foundation

/// What `vigil monitor` and `vigil enforce` take from their flags, as plain values: the CLI
/// parses them, ``AgentConfiguration/watching(_:command:)`` turns them into the one
/// configuration the agent runs.
public struct WatchSettings: Sendable {
    public var models: String
    /// A policy file (nil: the built-in ladder).
    public var policyFile: String?
    public var duration: Double?
    /// Output specs (empty: stdout).
    public var outputs: [String] = []
    public var spool: String?
    public var events = false
    public var explain = false
    public var workloads: [Workload] = []
    public var allProcesses = false
    public var reportOutside = false
    public var onBadBaseline = BadBaselineAction.refuse
    public var bpfPin: String?
    /// The control socket; nil: none.
    public var controlSocket: String?
    /// Where Prometheus metrics are served (HOST:PORT); nil: nowhere.
    public var metricsListen: String?
    /// `enforce --dry-run`: enforce's scope rules, monitor's outcomes.
    public var dryRun = false
    public var segment = false
    public var segmentIngress = false

    public init(models: String) { self.models = models }
}

extension AgentConfiguration {
    /// `vigil monitor` (`command` `.monitor`) or `vigil enforce` (`.enforce`): every profile's
    /// mode fixed. Refused with exit 2, saying why: enforce with no workload named and no
    /// `allProcesses`, and a policy file that does not load.
    public static func watching(_ s: WatchSettings, command requested: Command, hostID: String? = nil) throws(AgentExit) -> AgentConfiguration {
        precondition(requested == .monitor || requested == .enforce, "watching() builds monitor and enforce, not \(requested)")
        if requested == .enforce, s.workloads.isEmpty, !s.allProcesses {
            Diagnostics.error(Self.noWorkloadMessage)
            throw .badInput
        }
        // A dry run is a monitor run with enforce's scope rules: the same decisions, none carried out.
        let command: Command = s.dryRun ? .monitor : requested
        var policy = Policy.standard
        if let file = s.policyFile {
            do { policy = try LoadedConfig.loadPolicy(file) } catch {
                Diagnostics.error(error.description)
                throw .badInput
            }
        }
        var run = RunConfig(models: s.models, state: s.models)
        run.mode = command == .enforce ? .enforce : .monitor
        run.duration = s.duration
        run.outputs = s.outputs.isEmpty ? ["stdout"] : s.outputs
        run.spool = s.spool
        run.events = s.events
        run.metricsListen = s.metricsListen
        run.onBadBaseline = s.onBadBaseline
        run.bpfPin = s.bpfPin
        var c = AgentConfiguration(command: command, run: run, keepsState: false, policy: policy,
                                   policyName: s.policyFile ?? "built-in", hostID: hostID ?? ProcessInfo.processInfo.hostName)
        c.explain = s.explain
        c.workloads = s.workloads
        c.allProcesses = s.allProcesses
        c.reportOutside = s.reportOutside
        c.controlSocket = s.controlSocket
        c.segment = s.segment
        c.segmentIngress = s.segmentIngress
        return c
    }

    /// Why `vigil enforce` with no workload does not start.
    public static let noWorkloadMessage = """
        vigil enforce acts only on the workloads it is told to guard, and none was named. \
        Name one with --workload KIND:VALUE (e.g. --workload exe:/usr/sbin/nginx, --workload unit:redis-server), \
        or pass --all-processes to act on every process that is not protected
        """

    /// `vigil learn`: every profile learning, nothing judged, no outputs.
    public static func learning(models: String, duration: Double?, only: [String], saveIntervalSeconds: Double,
                                stability: StabilityPolicy, hostID: String? = nil) -> AgentConfiguration {
        var run = RunConfig(models: models, state: models)
        run.mode = .learn
        run.duration = duration
        run.only = only
        run.saveIntervalSeconds = saveIntervalSeconds
        run.stability = stability
        run.metricsListen = nil
        return AgentConfiguration(command: .learn, run: run, keepsState: false, policy: .standard, policyName: "built-in", hostID: hostID ?? ProcessInfo.processInfo.hostName)
    }

    /// `vigil run`: the configuration file's settings, per-profile modes kept in its state
    /// directory, reloaded at SIGHUP.
    public static func service(_ loaded: LoadedConfig, file: String, explain: Bool,
                               hostID: String? = nil) -> AgentConfiguration {
        var c = AgentConfiguration(command: .run, run: loaded.config, keepsState: true, policy: loaded.policy,
                                   policyName: loaded.config.policy ?? "built-in", hostID: hostID ?? ProcessInfo.processInfo.hostName)
        c.configPath = file
        c.explain = explain
        c.workloads = loaded.config.workloads
        c.allProcesses = loaded.config.allProcesses
        c.controlSocket = loaded.config.controlSocket
        return c
    }
}

import ArgumentParser
import Foundation
import VigilCore
import VigilOutput
import VigilAgent
import VigilSensor

/// Options `vigil monitor` and `vigil enforce` share.
struct WatchOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The models directory (baselines learned by `vigil learn`).", valueName: "DIR"))
    var models: String

    @Option(help: ArgumentHelp("Response policy (YAML; Models/policy.example.yaml documents every key). Default: the built-in ladder.", valueName: "FILE"))
    var policy: String?

    @Option(help: "Stop after this many seconds (default: until SIGINT or SIGTERM).")
    var duration: Double?

    @Option(parsing: .singleValue, help: ArgumentHelp("Where findings go (repeatable; default stdout): stdout, file:PATH, syslog+tcp://H:P, https://H:P/path, ...", valueName: "SPEC"))
    var output: [String] = []

    @Option(help: ArgumentHelp("Directory where events wait while an output is down or slow.", valueName: "DIR"))
    var spool: String?

    @Flag(help: "Also stream process and network events, not only findings and the agent's health (every connect, bind and listen then crosses from the kernel; without it, those a profile already knows are only counted there).")
    var events = false

    @Flag(help: "Also print each finding and response step as one readable line on stderr, with the rule that decided it.")
    var explain = false

    @Option(parsing: .singleValue, help: ArgumentHelp("""
        What may be acted on (repeatable): unit:NAME (systemd unit), cgroup:/PATH (cgroup v2 prefix), \
        container:ID, exe:/PATH (executable), user:NAME|UID. A process is in the workload if it or an \
        ancestor matched when it started. Others are not judged.
        """, valueName: "KIND:VALUE"))
    var workload: [String] = []

    @Flag(name: .customLong("all-processes"), help: "Act on every process on the host, not only declared workloads (protected processes are still never touched).")
    var allProcesses = false

    @Flag(name: .customLong("report-outside"), help: "Also report (never act on) deviations of processes outside every workload.")
    var reportOutside = false

    @Option(name: .customLong("on-bad-baseline"), help: ArgumentHelp("""
        When a baseline in --models cannot be used (corrupt, of an unknown version, unreadable): refuse \
        to start (exit 2, naming each file and why), or monitor: start, judge its programs and the \
        workloads they run in in monitor mode, and report an agent health finding for each.
        """, valueName: "refuse|monitor"))
    var onBadBaseline = "refuse"

    @Option(name: .customLong("bpf-pin"), help: ArgumentHelp("""
        Pin the kernel side's links in this bpffs directory (e.g. /sys/fs/bpf/vigil): if the agent dies \
        the kernel keeps enforcing, and the next start with the same directory replaces them. A \
        clean stop (SIGINT, SIGTERM, --duration) removes them. Default: nothing pinned.
        """, valueName: "DIR"))
    var bpfPin: String?

    @Option(name: .customLong("control-socket"), help: ArgumentHelp(
        "Where `vigil mode` and `vigil resume --workload` reach this agent (a Unix socket, root only); 'none': nowhere.",
        valueName: "PATH"))
    var controlSocket = ControlServer.defaultPath

    @Option(name: .customLong("metrics"), help: ArgumentHelp("""
        Serve Prometheus metrics at this address (e.g. 127.0.0.1:9464; port 0: a free port, \
        printed at start), for `vigil status --metrics ADDRESS` and scrapers: the kernel's \
        records per second and drops, findings, actions, outputs. Default: none served.
        """, valueName: "host:port"))
    var metrics: String?

    @OptionGroup var logging: LoggingOptions

    var workloads: [Workload] {
        // Each flag is its own workload, named by its selector (validate() refused bad ones).
        workload.compactMap { text in (try? WorkloadSelector.parse(text)).map { Workload(name: text, selectors: [$0]) } }
    }

    /// The flags as the agent's settings (validate() refused bad values).
    var settings: WatchSettings {
        var s = WatchSettings(models: models)
        s.policyFile = policy
        s.duration = duration
        s.outputs = output
        s.spool = spool
        s.events = events
        s.explain = explain
        s.workloads = workloads
        s.allProcesses = allProcesses
        s.reportOutside = reportOutside
        s.onBadBaseline = BadBaselineAction(rawValue: onBadBaseline) ?? .refuse
        s.bpfPin = bpfPin
        s.controlSocket = controlSocket == "none" ? nil : controlSocket
        s.metricsListen = metrics
        return s
    }

    func validate() throws {
        if let p = bpfPin, !p.hasPrefix("/") { throw ValidationError("--bpf-pin must be an absolute path under /sys/fs/bpf, got '\(p)'") }
        if BadBaselineAction(rawValue: onBadBaseline) == nil {
            throw ValidationError("--on-bad-baseline: expected refuse or monitor, got '\(onBadBaseline)'")
        }
        if let m = metrics {
            do { try MetricsServer.validate(m) } catch { throw ValidationError("--metrics '\(m)': \(error.reason)") }
        }
        if let d = duration, !(d > 0) || !d.isFinite { throw ValidationError("--duration must be a positive number of seconds, got \(d)") }
        for w in workload {
            do { _ = try WorkloadSelector.parse(w) } catch { throw ValidationError("--workload \(error)") }
        }
        for spec in output {
            let parsed: OutputSpec
            do { parsed = try OutputSpec.parse(spec) } catch { throw ValidationError("--output \(error)") }
            for w in parsed.warnings { Diagnostics.warning("--output \(parsed): \(w)") }
        }
    }
}

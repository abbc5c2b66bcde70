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

    @Flag(help: "Also stream process and network events, not only findings and the agent's health.")
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

    @OptionGroup var logging: LoggingOptions

    var workloads: [Workload] {
        // Each flag is its own workload, named by its selector (validate() refused bad ones).
        workload.compactMap { text in (try? WorkloadSelector.parse(text)).map { Workload(name: text, selectors: [$0]) } }
    }

    func validate() throws {
        if let p = bpfPin, !p.hasPrefix("/") { throw ValidationError("--bpf-pin must be an absolute path under /sys/fs/bpf, got '\(p)'") }
        if BadBaselineAction(rawValue: onBadBaseline) == nil {
            throw ValidationError("--on-bad-baseline: expected refuse or monitor, got '\(onBadBaseline)'")
        }
        if let d = duration, !(d > 0) || !d.isFinite { throw ValidationError("--duration must be a positive number of seconds, got \(d)") }
        for w in workload {
            do { _ = try WorkloadSelector.parse(w) } catch { throw ValidationError("--workload \(error)") }
        }
        for spec in output {
            do { _ = try OutputSpec.parse(spec) } catch { throw ValidationError("--output \(error)") }
        }
    }
}

struct Monitor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Detect departures from the learned baselines and report what would be done; never act (needs root).",
        discussion: """
        Every departure from a process's baseline is a finding that says what happened and \
        what the baseline holds instead: a new syscall or syscall sequence, a new program \
        executed, a new parent, destination, listening port or user, a changed binary, an \
        executable with no profile. Each adds to the process's risk score (0-100, decaying \
        with the policy's half-life); the policy maps the score to a rung of the ladder \
        alert -> deny network -> suspend -> kill. `monitor` reports the rung it would have \
        taken, with outcome "would-have-acted"; `vigil enforce` takes it. With --workload, only \
        the named workloads are judged; each finding names the rule that decided its rung \
        (unmapped.vigil_decision), so a monitor run is the dry run of an enforce run.

        Findings are OCSF Detection Finding (2004) JSON lines.

        Examples:
          sudo vigil monitor --models /var/lib/vigil/models --output file:/var/log/vigil.jsonl
          sudo vigil monitor --models /var/lib/vigil/models --workload unit:nginx --explain
        """
    )
    @OptionGroup var options: WatchOptions

    func run() throws { try Watcher.run(options, command: .monitor) }
}

struct Enforce: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Detect departures from the learned baselines and answer them on the response ladder (needs root).",
        discussion: """
        As `vigil monitor`, and the actions are really done, each reported with its outcome:
          alert         a finding event
          deny network  cgroup connect4/connect6/sendmsg hooks refuse new connections of the
                        process and its new children (they see EPERM)
          suspend       SIGSTOP; released by `vigil resume PID`, or automatically after the
                        policy's suspend-release-seconds unless the risk climbed further
          kill          SIGKILL from the kernel (bpf_send_signal) at the process's next syscall
        A deviating process's children that exec a program no baseline knows are killed at
        exec, before their first instruction. As risk decays the ladder steps back down;
        every step up or down is an event. Caps and exemptions per profile: see --policy.

        Only the declared workloads are acted on (--workload, repeatable); without one,
        enforce refuses to start unless --all-processes is given. Never acted on, whatever
        the policy: PID 1, kernel threads, Vigil and its ancestors, the session that started
        it (when interactive) and the protected programs (sshd, systemd, apt, dpkg) with their
        children, unless a workload selects them. A profile still learning is held at alert,
        and so is evidence that is only statistical (new syscall sequences, new syscalls that
        are not dangerous): acting needs something concrete.

        Examples:
          sudo vigil enforce --models /var/lib/vigil/models --workload exe:/usr/bin/redis-server
          sudo vigil enforce --models DIR --workload unit:nginx --policy /etc/vigil/policy.yaml
          sudo vigil enforce --models DIR --workload unit:nginx --dry-run --explain   # what it would do, and why
          sudo vigil enforce --models DIR --workload exe:/usr/sbin/nginx --segment    # only its learned flows
          sudo vigil enforce --models DIR --workload unit:postgresql --segment-ingress  # only its learned clients
        """
    )
    @OptionGroup var options: WatchOptions

    @Flag(name: .customLong("dry-run"), help: "Decide everything enforce would, with the same scope, and act on nothing (as `vigil monitor`).")
    var dryRun = false

    @Flag(help: "Segmentation: the workloads' processes may connect only to destinations their profile learned (and the policy's segment-allow) bind only ports it listened on, and connect only to unix sockets it used (Linux 6.7+); anything else is refused in the kernel (EPERM) and reported. Applies to stable profiles (or those enforce-learning names).")
    var segment = false

    @Flag(name: .customLong("segment-ingress"), help: "Ingress segmentation: a TCP connection attempt to a port the workloads' processes bound is dropped in the kernel unless their profile learned that peer on that port (a port reached from 8 or more networks is learned as open to anyone); reported as new-peer. Same conditions as --segment.")
    var segmentIngress = false

    func run() throws { try Watcher.run(options, command: .enforce, dryRun: dryRun, segment: segment, segmentIngress: segmentIngress) }
}

struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Resume processes that `vigil enforce` suspended: one by pid, or every one of a workload.",
        discussion: """
        With a PID, sends it SIGCONT; the enforcing agent sees the process run again and keeps \
        judging it. With --workload, asks the running agent (over its control socket) to \
        resume every process of that workload it stopped; --workload all means every workload.

        Examples:
          sudo vigil resume 4242
          sudo vigil resume --workload exe:/usr/sbin/nginx
        """
    )
    @Argument(help: "The process id.")
    var pid: Int32?

    @Option(help: ArgumentHelp("Resume every process of this workload that the agent stopped ('all': of every workload).", valueName: "NAME"))
    var workload: String?

    @Option(name: .customLong("control-socket"), help: ArgumentHelp("The agent's control socket.", valueName: "PATH"))
    var controlSocket = ControlServer.defaultPath

    func validate() throws {
        switch (pid, workload) {
        case (nil, nil): throw ValidationError("name a PID, or --workload NAME")
        case (.some, .some): throw ValidationError("name a PID or --workload, not both")
        case (let p?, nil) where p <= 0: throw ValidationError("PID must be a positive process id, got \(p)")
        default: break
        }
    }

    func run() throws {
        if let workload {
            try AgentControl.ask(controlSocket, "resume" + (workload == "all" ? "" : " " + workload))
            return
        }
        let pid = pid!
        guard kill(pid, SIGCONT) == 0 else {
            Diagnostics.error("cannot resume pid \(pid): \(String(cString: strerror(errno)))")
            throw ExitCode.failure
        }
        Diagnostics.info("resumed pid \(pid)")
    }
}

struct Mode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Switch a running agent's workloads between enforce and monitor, at once (needs root).",
        discussion: """
        monitor: the agent stops acting on the workload's processes immediately (the kernel \
        too: no exec guard, kill or network denial), resumes those it stopped, and goes on \
        reporting what it would do. enforce: acts again, and re-arms a workload whose circuit \
        breaker tripped. Without --workload, every workload of the agent. The agent reports \
        each change as a Mode Change event in its stream.

        Examples:
          sudo vigil mode monitor                       # the emergency brake
          sudo vigil mode enforce --workload web
        """
    )
    @Argument(help: "monitor or enforce.")
    var mode: String

    @Option(help: ArgumentHelp("The workload to switch (default: every workload of the agent).", valueName: "NAME"))
    var workload: String?

    @Option(name: .customLong("control-socket"), help: ArgumentHelp("The agent's control socket.", valueName: "PATH"))
    var controlSocket = ControlServer.defaultPath

    func validate() throws {
        guard ["monitor", "enforce"].contains(mode) else { throw ValidationError("the mode is monitor or enforce, not '\(mode)'") }
    }

    func run() throws {
        try AgentControl.ask(controlSocket, "mode \(mode)" + (workload.map { " " + $0 } ?? ""))
    }
}

/// One request to a running agent, its answer on stdout (or the error, exit 1).
enum AgentControl {
    static func ask(_ path: String, _ request: String) throws {
        let answer: String
        do { answer = try ControlClient.ask(path, request) } catch {
            Diagnostics.error("\(error)")
            throw ExitCode.failure
        }
        if answer.hasPrefix("ok") {
            Console.line(String(answer.dropFirst(2)).trimmingCharacters(in: .whitespaces))
        } else {
            Diagnostics.error(String(answer.dropFirst(answer.hasPrefix("error") ? 5 : 0)).trimmingCharacters(in: .whitespaces))
            throw ExitCode.failure
        }
    }
}

/// `monitor` and `enforce`: the agent with every profile's mode fixed.
enum Watcher {
    static func run(_ o: WatchOptions, command requested: AgentConfiguration.Command, dryRun: Bool = false, segment: Bool = false,
                    segmentIngress: Bool = false) throws {
        o.logging.apply()
        if requested == .enforce, o.workload.isEmpty, !o.allProcesses {
            Diagnostics.error("""
                vigil enforce acts only on the workloads it is told to guard, and none was named. \
                Name one with --workload KIND:VALUE (e.g. --workload exe:/usr/sbin/nginx, --workload unit:redis-server), \
                or pass --all-processes to act on every process that is not protected
                """)
            throw ExitCode(2)
        }
        // A dry run is a monitor run with enforce's scope rules: the same decisions, none carried out.
        let command: AgentConfiguration.Command = dryRun ? .monitor : requested
        var policy = Policy.standard
        if let file = o.policy {
            do { policy = try LoadedConfig.loadPolicy(file) } catch {
                Diagnostics.error(error.description)
                throw ExitCode(2)
            }
        }
        var run = RunConfig(models: o.models, state: o.models)
        run.mode = command == .enforce ? .enforce : .monitor
        run.duration = o.duration
        run.outputs = o.output.isEmpty ? ["stdout"] : o.output
        run.spool = o.spool
        run.events = o.events
        run.metricsListen = nil
        run.onBadBaseline = BadBaselineAction(rawValue: o.onBadBaseline) ?? .refuse
        run.bpfPin = o.bpfPin
        var c = AgentConfiguration(command: command, run: run, keepsState: false, policy: policy,
                                   policyName: o.policy ?? "built-in", hostID: ProcessInfo.processInfo.hostName)
        c.explain = o.explain
        c.workloads = o.workloads
        c.allProcesses = o.allProcesses
        c.reportOutside = o.reportOutside
        c.controlSocket = o.controlSocket == "none" ? nil : o.controlSocket
        c.segment = segment
        c.segmentIngress = segmentIngress
        try AgentRunner.run(c)
    }
}

import ArgumentParser
import Foundation
import VigilCore
import VigilOutput
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

    @Flag(help: "Also print each finding and response step as one readable line on stderr.")
    var explain = false

    func validate() throws {
        if let d = duration, !(d > 0) || !d.isFinite { throw ValidationError("--duration must be a positive number of seconds, got \(d)") }
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
        taken, with outcome "skipped"; `vigil enforce` takes it.

        Findings are OCSF Detection Finding (2004) JSON lines.

        Example:
          sudo vigil monitor --models /var/lib/vigil/models --output file:/var/log/vigil.jsonl
        """
    )
    @OptionGroup var options: WatchOptions

    func run() throws { try Watcher(options: options, mode: .monitor).run() }
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

        Example:
          sudo vigil enforce --models /var/lib/vigil/models --policy /etc/vigil/policy.yaml
        """
    )
    @OptionGroup var options: WatchOptions

    func run() throws { try Watcher(options: options, mode: .enforce).run() }
}

struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Resume a process that `vigil enforce` suspended.",
        discussion: "Sends SIGCONT. The enforcing agent sees the process run again and keeps judging it."
    )
    @Argument(help: "The process id.")
    var pid: Int32

    func validate() throws {
        if pid <= 0 { throw ValidationError("PID must be a positive process id, got \(pid)") }
    }

    func run() throws {
        guard kill(pid, SIGCONT) == 0 else {
            Diagnostics.error("cannot resume pid \(pid): \(String(cString: strerror(errno)))")
            throw ExitCode.failure
        }
        Diagnostics.info("resumed pid \(pid)")
    }
}

/// The monitor/enforce loop: kernel events -> detector -> risk -> response ladder ->
/// actions and findings.
final class Watcher {
    let options: WatchOptions
    let mode: ResponseMode

    init(options: WatchOptions, mode: ResponseMode) {
        self.options = options
        self.mode = mode
    }

    func run() throws {
        // Baselines and policy first: bad input is refused before anything is loaded.
        try ModelsDirectory.requireSafe(options.models)
        let (profiles, errors) = ProfileStore(directory: options.models).loadAll()
        for e in errors { Diagnostics.warning("refused \(e)") }
        var policy = Policy.standard
        if let file = options.policy {
            do { policy = try LoadedConfig.loadPolicy(file) } catch {
                Diagnostics.error(error.description)
                throw ExitCode(2)
            }
        }
        if profiles.isEmpty {
            Diagnostics.warning("no baselines in \(options.models): every program will be an unknown executable (run `vigil learn` first)")
        }

        let encoder = OCSFEncoder(productVersion: VigilVersion.string)
        let stream: EventStream
        do {
            stream = try EventStream(outputs: options.output.isEmpty ? ["stdout"] : options.output, spoolDirectory: options.spool, encoder: encoder)
        } catch {
            Diagnostics.error("cannot open the outputs: \(error)")
            throw ExitCode(2)
        }
        let stop = StopSignal.install()
        var sensorOptions = SensorOptions()
        sensorOptions.mode = .detect
        sensorOptions.execGuard = mode == .enforce
        sensorOptions.sizeKnownMaps(for: profiles)
        let sensor = try Sensor.start(sensorOptions) { stream.close() }

        // The kernel's copy of the baselines: known syscalls and n-grams per profile slot,
        // and every executable some baseline knows.
        var slots: [String: UInt32] = [:]
        for (i, p) in profiles.sorted(by: { $0.id < $1.id }).enumerated() {
            let slot = UInt32(i + 1)
            slots[p.id] = slot
            do {
                try sensor.preload(slot: slot, syscalls: p.syscalls.keys, ngrams: p.ngrams.keys)
                try sensor.setSlotMode(slot, mode == .enforce ? .enforce : .monitor)
            } catch {
                Diagnostics.warning("could not load profile \(p.id) into the kernel: \(error)")
            }
        }
        var known = Set(profiles.map(\.identity.executable))
        for p in profiles { known.formUnion(p.executes.keys) }
        do { try sensor.setKnownExecutables(known) } catch { Diagnostics.warning("could not load known executables: \(error)") }

        let detector = Detector(profiles: profiles, policy: policy)
        let hasher = BackgroundHasher()
        let now0 = Clock.nowNanos()
        var table = ProcessTable(seed: ProcScanner.snapshot(nowNanos: now0))
        let responder = Responder(detector: detector, policy: policy, defaultMode: mode, sensor: sensor, stream: stream,
                                  explain: options.explain, process: { table[$0] }, ancestry: { table.ancestry(of: $0) })
        let seeded = table.records.filter { $0.pid != getpid() }
        _ = detector.seed(seeded, now: now0) // already running: attributed, not judged
        for r in seeded {
            if case .profile(let id)? = detector.attribution(of: r.pid), let slot = slots[id] {
                try? sensor.assignProfile(pid: r.pid, slot: slot)
            }
        }
        let modeName = mode == .enforce ? "enforce" : "monitor"
        stream.publish(AgentEvent(.started(mode: modeName), timeNanos: now0))
        Diagnostics.info("\(modeName): \(profiles.count) baselines loaded, \(seeded.count) processes running, policy \(options.policy ?? "built-in")")

        var pendingHashes: [String: [Int32]] = [:]
        let explain = options.explain
        let handle: (Event) -> Void = { event in
            let now = Clock.nowNanos()
            let record = table.apply(event)
            if self.options.events { stream.publish(event, process: record, ancestry: table.ancestry(of: event.pid)) }
            var hash: String?
            switch event.payload {
            case .exec(let x):
                hash = hasher.cachedOrSchedule(path: x.path)
                if hash == nil { pendingHashes[x.path, default: []].append(event.pid) }
            case .action(let a):
                if explain { Diagnostics.raw(EventFormatter.kernelAction(a, pid: event.pid)) }
            default:
                break
            }
            responder.add(detector.apply(event, process: record, binaryHash: hash, now: now), pid: event.pid, seen: event.timeNanos)
            switch event.payload {
            case .exec:
                // Name the new program's profile in the kernel (or none: watched for responses only).
                var slot: UInt32 = 0
                if case .profile(let id)? = detector.attribution(of: event.pid) { slot = slots[id] ?? 0 }
                try? sensor.assignProfile(pid: event.pid, slot: slot)
                responder.chapter(now: now, exec: event.pid)
            case .tamper: responder.chapter(now: now)
            case .fork(let f): responder.fork(parent: event.pid, child: f.childPid, now: now)
            case .exit: responder.exit(event.pid, now: now)
            default: break
            }
        }

        let loop = SensorLoop(sensor: sensor, stop: stop, duration: options.duration)
        var failure: (any Error)?
        do {
            try loop.run(handle, afterRead: {
                let now = Clock.nowNanos()
                responder.flush(now: now)
                for (path, sha) in hasher.completed() {
                    for pid in pendingHashes.removeValue(forKey: path) ?? [] {
                        responder.judge(detector.noteBinary(pid: pid, sha256: sha, now: now), pid: pid, now: now)
                    }
                }
                responder.tick(now: now)
            }, dropped: { dropped in
                stream.publish(AgentEvent(.loss(source: "kernel-ringbuf", count: Int(dropped)), timeNanos: Clock.nowNanos()))
                Diagnostics.warning("the kernel dropped \(dropped) events (ring buffer full)")
            })
        } catch {
            failure = error
        }
        sensor.detach()
        responder.finish()
        stream.publish(AgentEvent(.stopped(reason: loop.stopReason), timeNanos: Clock.nowNanos()))
        stream.close()
        Diagnostics.info(StatsReport.summary(sensor.stats))
        if let failure {
            Diagnostics.error("reading events failed: \(failure)")
            throw ExitCode.failure
        }
    }
}

/// Carries out response effects on processes (enforce mode only).
final class ActionExecutor {
    let sensor: Sensor
    let enforcing: Bool
    private var responses: [Int32: Sensor.Responses] = [:]
    private var stopped: Set<Int32> = []

    init(sensor: Sensor, enforcing: Bool) {
        self.sensor = sensor
        self.enforcing = enforcing
    }

    /// Marks `pid` as deviating: its children that exec a program no baseline knows are
    /// killed before they run.
    func markDeviating(_ pid: Int32) {
        guard enforcing, !(responses[pid]?.contains(.killUnknownExecs) ?? false) else { return }
        set(pid, responses[pid, default: []].union(.killUnknownExecs))
    }

    func apply(_ step: ResponseStep, cap: ResponseRung) -> ResponseOutcome {
        var failures: [String] = []
        for effect in step.effects {
            switch effect {
            case .denyNetwork:
                if !set(step.pid, responses[step.pid, default: []].union(.denyNetwork)) { failures.append("deny network") }
            case .allowNetwork:
                if !set(step.pid, responses[step.pid, default: []].subtracting(.denyNetwork)) { failures.append("allow network") }
            case .stop:
                if kill(step.pid, SIGSTOP) == 0 { stopped.insert(step.pid) } else { failures.append("SIGSTOP: \(String(cString: strerror(errno)))") }
            case .resume:
                if kill(step.pid, SIGCONT) == 0 { stopped.remove(step.pid) } else { failures.append("SIGCONT: \(String(cString: strerror(errno)))") }
            case .kill:
                // In the kernel at its next syscall; a process blocked in a syscall, or
                // stopped, is also sent SIGKILL now so that it cannot linger.
                _ = set(step.pid, responses[step.pid, default: []].union(.kill))
                if kill(step.pid, SIGKILL) != 0 && errno != ESRCH { failures.append("SIGKILL: \(String(cString: strerror(errno)))") }
            }
        }
        return failures.isEmpty ? .succeeded : .failed(failures.joined(separator: "; "))
    }

    @discardableResult
    private func set(_ pid: Int32, _ r: Sensor.Responses) -> Bool {
        responses[pid] = r
        do { try sensor.setResponses(pid: pid, r); return true } catch { return false }
    }

    func forget(_ pid: Int32) {
        responses[pid] = nil
        stopped.remove(pid)
    }

    /// On the way out: nothing stays stopped because the agent that would release it is gone.
    func releaseAll() {
        for pid in stopped { kill(pid, SIGCONT) }
        stopped.removeAll()
    }
}

/// A few readable lines per finding, for --explain and the demo.
enum FindingText {
    static func line(_ r: FindingReport, climb: [Double] = [], policy: Policy) -> String {
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

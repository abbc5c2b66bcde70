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
            try ModelsDirectory.requireSafeFile(file)
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                Diagnostics.error("cannot read the policy \(file)")
                throw ExitCode(2)
            }
            do { policy = try Policy.load(yaml: text, file: file) } catch {
                Diagnostics.error("invalid policy: \(error)")
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
        let sensor: Sensor
        do { sensor = try Sensor(options: sensorOptions) } catch {
            Diagnostics.error(error.description)
            stream.close()
            throw ExitCode.failure
        }
        for note in sensor.notices { Diagnostics.warning(note) }

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
        var risk = RiskTracker(policy: policy)
        let planner = ResponsePlanner(policy: policy, mode: mode)
        let hasher = BackgroundHasher()
        let actions = ActionExecutor(sensor: sensor, enforcing: mode == .enforce)

        let now0 = Clock.nowNanos()
        var table = ProcessTable(seed: ProcScanner.snapshot(nowNanos: now0))
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

        var belowAlert = 0
        var latencies: [UInt64] = []
        func publish(_ deviations: [Deviation], step: ResponseStep?, pid: Int32, score: Double, now: UInt64, climb: [Double] = []) {
            let process = table[pid] ?? ProcessRecord(pid: pid, ppid: 0)
            let report = FindingReport(deviations: deviations, riskScore: score, step: step, rung: planner.rung(of: pid),
                                       process: process, ancestry: table.ancestry(of: pid), timeNanos: now)
            stream.publish(report)
            if explain { Diagnostics.raw(FindingText.line(report, climb: climb, policy: policy)) }
        }

        /// Carries out a step the planner decided (enforce mode) and records its outcome;
        /// in monitor mode the step is returned as decided ("would have acted").
        func execute(_ step: ResponseStep, seen: UInt64? = nil) -> ResponseStep {
            guard mode == .enforce, case .pending = step.outcome else { return step }
            let outcome = actions.apply(step, cap: policy.cap(profile: step.profile, executable: table[step.pid]?.path))
            if case .succeeded = outcome, let seen, step.to > .alert {
                let done = Clock.nowNanos()
                if done > seen { latencies.append(done - seen) }
            }
            return planner.record(outcome: outcome, for: step.id) ?? step
        }

        // Deviations are gathered per process over one read of the ring buffer and judged
        // together: one finding per process per batch, not one per novel syscall.
        var batch: [Int32: [Deviation]] = [:]
        var batchOrder: [Int32] = []
        // When the kernel saw the first deviating event of each batch: the start of the
        // deviation-to-action latency, which the closing line reports.
        var batchSeen: [Int32: UInt64] = [:]
        var quietAfterKill: [Int32: Int] = [:]
        var exited: Set<Int32> = []

        func judge(_ deviations: [Deviation], pid: Int32, now: UInt64, seen: UInt64? = nil) {
            guard !deviations.isEmpty else { return }
            if planner.rung(of: pid) == .kill || exited.contains(pid) {
                // Killed already: what it did on the way out is counted, not re-reported.
                quietAfterKill[pid, default: 0] += deviations.count
                return
            }
            var score = risk.score(pid, now: now)
            var climb = [score]
            for d in deviations {
                score = risk.add(d, now: now)
                if score != climb.last { climb.append(score) }
            }
            let profile = deviations.first?.profile
            let steps = planner.update(pid: pid, profile: profile, executable: table[pid]?.path, score: score, now: now)
            if steps.isEmpty {
                // Below the alert band, deviations only add to the risk score: no finding.
                if planner.rung(of: pid) >= .alert {
                    publish(deviations, step: nil, pid: pid, score: score, now: now, climb: climb)
                } else {
                    belowAlert += deviations.count
                }
            } else {
                // The deviations travel with the first step they caused.
                var first = true
                for step in steps {
                    publish(first ? deviations : [], step: execute(step, seen: seen), pid: pid, score: score, now: now, climb: first ? climb : [])
                    first = false
                }
            }
            if mode == .enforce, planner.rung(of: pid) >= .alert,
               policy.cap(profile: profile, executable: table[pid]?.path) > .alert {
                actions.markDeviating(pid)
            }
        }

        let handle: (Event) -> Void = { event in
            let now = Clock.nowNanos()
            let record = table.apply(event)
            if self.options.events { stream.publish(event, process: record, ancestry: table.ancestry(of: event.pid)) }
            var hash: String?
            switch event.payload {
            case .exec(let x):
                exited.remove(event.pid)
                hash = hasher.cachedOrSchedule(path: x.path)
                if hash == nil { pendingHashes[x.path, default: []].append(event.pid) }
            case .action(let a):
                if explain { Diagnostics.raw("vigil: kernel: \(a.kind.rawValue) pid \(event.pid)\(a.path.map { " " + $0 } ?? "")\(a.remote.map { " to " + EventFormatter.endpoint($0) } ?? "")") }
            default:
                break
            }
            let deviations = detector.apply(event, process: record, binaryHash: hash, now: now)
            if !deviations.isEmpty {
                if batch[event.pid] == nil {
                    batchOrder.append(event.pid)
                    batchSeen[event.pid] = event.timeNanos
                }
                batch[event.pid, default: []] += deviations
            }
            if case .exec = event.payload {
                // Name the new program's profile in the kernel (or none: watched for responses only).
                var slot: UInt32 = 0
                if case .profile(let id)? = detector.attribution(of: event.pid) { slot = slots[id] ?? 0 }
                try? sensor.assignProfile(pid: event.pid, slot: slot)
            }
            // An exec or a fork starts a new chapter: judge what came before it now, so a
            // child inherits its parent's risk as it stands.
            switch event.payload {
            case .exec, .tamper: flush(now)
            case .fork(let f):
                flush(now)
                _ = risk.fork(parent: event.pid, child: f.childPid, now: now)
            case .exit:
                flush(now)
                risk.remove(event.pid)
                planner.remove(event.pid)
                actions.forget(event.pid)
                // Late records of a process that has gone are counted, not reported.
                exited.insert(event.pid)
            default: break
            }
        }

        func flush(_ now: UInt64) {
            for pid in batchOrder {
                if let ds = batch[pid] { judge(ds, pid: pid, now: now, seen: batchSeen[pid]) }
            }
            batch.removeAll(keepingCapacity: true)
            batchSeen.removeAll(keepingCapacity: true)
            batchOrder.removeAll(keepingCapacity: true)
        }

        let loop = SensorLoop(sensor: sensor, stop: stop, duration: options.duration)
        var failure: (any Error)?
        do {
            try loop.run(handle, afterRead: {
                let now = Clock.nowNanos()
                flush(now)
                for (path, sha) in hasher.completed() {
                    for pid in pendingHashes.removeValue(forKey: path) ?? [] {
                        judge(detector.noteBinary(pid: pid, sha256: sha, now: now), pid: pid, now: now)
                    }
                }
                for step in planner.tick(now: now) {
                    publish([], step: execute(step), pid: step.pid, score: step.score, now: now)
                }
            }, dropped: { dropped in
                stream.publish(AgentEvent(.loss(source: "kernel-ringbuf", count: Int(dropped)), timeNanos: Clock.nowNanos()))
                Diagnostics.warning("the kernel dropped \(dropped) events (ring buffer full)")
            })
        } catch {
            failure = error
        }
        sensor.detach()
        actions.releaseAll()
        if !latencies.isEmpty {
            let sorted = latencies.sorted()
            let ms = { (ns: UInt64) in String(format: "%.1f ms", Double(ns) / 1e6) }
            Diagnostics.info("\(sorted.count) actions taken in user space; from the kernel seeing the deviation to the action: median \(ms(sorted[sorted.count / 2])), max \(ms(sorted.last!))")
        }
        if belowAlert > 0 { Diagnostics.info("\(belowAlert) deviations stayed below the alert band (they raised risk scores; no finding)") }
        let quiet = quietAfterKill.values.reduce(0, +)
        if quiet > 0 { Diagnostics.info("\(quiet) deviations of already-killed processes were counted, not reported") }
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
        s += "\n    action: \(r.action.step.rawValue), \(r.action.outcome.rawValue)" + (r.action.detail.map { " (\($0))" } ?? "")
        return s
    }
}

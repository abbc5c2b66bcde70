import Foundation
import VigilCore
import VigilOutput
import VigilSensor

/// Deviations -> risk -> the response ladder -> actions and findings: what `monitor`,
/// `enforce` and `run` share.
///
/// Deviations are gathered per process over one read of the ring buffer and judged
/// together at ``flush(now:)``: one finding per process per batch, not one per novel call.
/// An exec, a fork, an exit or a tamper attempt judges what came before it first, so a
/// child inherits its parent's risk as it stands.
///
/// Whether a step is carried out depends on where the process stands (``WorkloadScope``):
/// only members of a declared workload are acted on; a protected process never is; a
/// process outside every workload is not reported unless asked (tamper always is). On top
/// of the policy's caps, a profile still learning is held at alert and evidence that is
/// only statistical at the policy's ``Policy/statisticalCap``. Every finding names the
/// rule that decided.
final class Responder {
    let detector: Detector
    private(set) var policy: Policy
    private var risk: RiskTracker
    let planner: ResponsePlanner
    let actions: ActionExecutor
    /// Where findings go (replaceable: a reload may change the outputs).
    var stream: EventStream
    let explain: Bool
    /// The response mode of a process of a profile (nil: a process with no profile).
    var modeOf: (Int32, String?) -> ResponseMode
    /// Whether a profile is still learning (not yet stable): held at alert unless the
    /// policy lets it be enforced (``Policy/enforceLearning``).
    var isLearning: (String) -> Bool = { _ in false }
    /// Which processes may be acted on.
    let scope: WorkloadScope
    /// Report deviations of processes outside every workload (at most alert).
    var reportOutside = false
    /// Enforce mode may act: false while no workload is declared (a `vigil run` without
    /// `workloads:`), so nothing is acted on host-wide by accident.
    var mayAct = true
    private let clock: any AgentClock
    /// Called with the profile of every judged deviation (promotion waits for quiet).
    var onDeviation: (Deviation) -> Void = { _ in }
    private let process: (Int32) -> ProcessRecord?
    private let ancestry: (Int32) -> [ProcessRecord]

    private var batch: [Int32: [Deviation]] = [:]
    private var batchOrder: [Int32] = []
    /// When the kernel saw the first deviating event of each batch: the start of the
    /// deviation-to-action latency, which the closing line reports.
    private var batchSeen: [Int32: UInt64] = [:]
    /// Deviations of already-killed (or exited) processes: counted, not reported.
    private var quietAfterKill = 0
    /// Processes a kill was carried out on (not a monitor-mode "would have acted": such a
    /// process lives on, and what it does next is reported).
    private var killed: Set<Int32> = []
    /// Processes with concrete (not only statistical) evidence since they started.
    private var concrete: Set<Int32> = []
    /// Deviations of processes outside every workload that were not reported.
    private(set) var outOfScope = 0
    /// The same, by executable (the closing line names the most frequent).
    private var outOfScopeBy: [String: Int] = [:]
    /// Processes that exited recently (late records of theirs are counted, not reported),
    /// in two generations: bounded by ``RecentSet/capacity`` per generation however many
    /// processes come and go.
    private var exited = RecentSet<Int32>()
    /// How many exited pids are remembered now (tests, memory figures).
    var exitedCount: Int { exited.count }
    private var belowAlert = 0
    /// Deviation-to-action latencies: a count, the maximum and the last samples (bounded).
    private(set) var latencies = LatencyStats()
    /// Programs named in `outOfScopeBy` at most; the rest count under one key.
    static let outOfScopeProgramsMax = 1024
    /// Findings by deviation kind, and actions by step and outcome, for the metrics.
    private(set) var findingsByKind: [String: UInt64] = [:]
    private(set) var actionCounts: [AgentMetrics.ActionKey: UInt64] = [:]
    /// Why a workload is judged in monitor mode whatever the command.
    enum Hold: Sendable, Hashable {
        /// Its circuit breaker tripped (the text says how).
        case breaker(String)
        /// An operator switched it (`vigil mode monitor`).
        case byOperator
        /// One of its programs has a baseline that cannot be used (`on-bad-baseline:
        /// monitor`); the text says which and why.
        case badBaseline(String)

        var description: String {
            switch self {
            case .breaker(let why): why
            case .byOperator: "operator: vigil mode monitor"
            case .badBaseline(let why): why
            }
        }
    }

    /// Workloads judged in monitor mode whatever the command, and why.
    private(set) var heldAtMonitor: [String: Hold] = [:]
    /// Steps carried out on members, by workload.
    private(set) var actsByWorkload: [String: UInt64] = [:]
    private var recentActs: [String: [UInt64]] = [:]
    /// Called when a workload falls back to monitor on its own (the breaker tripped).
    var onBreakerTrip: (String, String) -> Void = { _, _ in }
    /// The package that installed a file as it is now (dpkg's digests), nil: none.
    var packageOf: (String) -> String? = { _ in nil }
    /// Called when a profile's binary changed through a package upgrade (profile, package,
    /// the new SHA-256): the caller opens its re-learn window.
    var onUpgrade: (String, String, String) -> Void = { _, _, _ in }
    /// Profiles re-learning after a package upgrade: held at alert until the time given.
    private(set) var upgrades: [String: (package: String, until: UInt64)] = [:]
    /// How long a profile is held at alert after its binary was upgraded.
    var upgradeWindowNanos: UInt64 = 600_000_000_000

    init(detector: Detector, policy: Policy, defaultMode: ResponseMode, kernel: any KernelControl, stream: EventStream,
         scope: WorkloadScope, clock: any AgentClock, explain: Bool,
         process: @escaping (Int32) -> ProcessRecord?, ancestry: @escaping (Int32) -> [ProcessRecord]) {
        self.detector = detector
        self.policy = policy
        risk = RiskTracker(policy: policy)
        planner = ResponsePlanner(policy: policy, mode: defaultMode)
        actions = ActionExecutor(kernel: kernel)
        self.stream = stream
        self.scope = scope
        self.clock = clock
        self.explain = explain
        modeOf = { _, _ in defaultMode }
        self.process = process
        self.ancestry = ancestry
    }

    /// A new policy (a reload): scores and rungs held carry over and are judged by it from now on.
    func setPolicy(_ p: Policy) {
        policy = p
        detector.policy = p
        risk.policy = p
        planner.policy = p
    }

    // MARK: Events

    /// Deviations of `pid` seen in the current read; `seen` is when the kernel saw the event.
    func add(_ deviations: [Deviation], pid: Int32, seen: UInt64) {
        guard !deviations.isEmpty else { return }
        if batch[pid] == nil {
            batchOrder.append(pid)
            batchSeen[pid] = seen
        }
        batch[pid, default: []] += deviations
    }

    /// An exec or a tamper attempt: judge what came before it.
    func chapter(now: UInt64, exec pid: Int32? = nil) {
        flush(now: now)
        if let pid { exited.remove(pid) }
    }

    func fork(parent: Int32, child: Int32, now: UInt64) {
        flush(now: now)
        _ = risk.fork(parent: parent, child: child, now: now)
        if concrete.contains(parent) { concrete.insert(child) }
    }

    func exit(_ pid: Int32, now: UInt64) {
        flush(now: now)
        risk.remove(pid)
        planner.remove(pid)
        actions.forget(pid)
        concrete.remove(pid)
        killed.remove(pid)
        // Late records of a process that has gone are counted, not reported.
        exited.insert(pid, now: now)
    }

    func flush(now: UInt64) {
        for pid in batchOrder {
            if let ds = batch[pid] { judge(ds, pid: pid, now: now, seen: batchSeen[pid]) }
        }
        batch.removeAll(keepingCapacity: true)
        batchSeen.removeAll(keepingCapacity: true)
        batchOrder.removeAll(keepingCapacity: true)
    }

    /// Advances time: decay, steps down, automatic release.
    func tick(now: UInt64) {
        flush(now: now)
        exited.age(now: now)
        for step in planner.tick(now: now) {
            publish([], step: execute(step), pid: step.pid, score: step.score, now: now)
        }
    }

    // MARK: Judging

    func judge(_ deviations: [Deviation], pid: Int32, now: UInt64, seen: UInt64? = nil) {
        guard !deviations.isEmpty else { return }
        if killed.contains(pid) || exited.contains(pid) {
            // Killed already: what it did on the way out is counted, not re-reported.
            quietAfterKill += deviations.count
            return
        }
        // A changed binary that a package installed is an upgrade: no deviation, a window.
        var deviations = deviations
        if let i = deviations.firstIndex(where: { $0.kind == .binaryChanged }), let id = deviations[i].profile,
           let sha = deviations[i].binarySHA256, let path = process(pid)?.path, let package = packageOf(path) {
            deviations.remove(at: i)
            upgrades[id] = (package, now + upgradeWindowNanos)
            onUpgrade(id, package, sha)
            if deviations.isEmpty { return }
        }
        let standing = scope.standing(of: pid)
        if standing == .outside, !reportOutside, !deviations.contains(where: { $0.kind == .tamper }) {
            // Not Vigil's business: counted, never reported or acted on.
            outOfScope += deviations.count
            let exe = process(pid)?.path ?? "pid \(pid)"
            if explain, outOfScopeBy[exe] == nil {
                Diagnostics.raw("skip    pid \(pid) \(exe): outside every workload (neither it nor an ancestor matched a selector at exec); its deviations are counted, not judged")
            }
            let key = outOfScopeBy[exe] != nil || outOfScopeBy.count < Self.outOfScopeProgramsMax ? exe : "(other programs)"
            outOfScopeBy[key, default: 0] += deviations.count
            return
        }
        // The policy as it applies to this process: its workload's block over the rest.
        var workload: String?
        if case .member(let w) = standing, w != WorkloadScope.everyProcess { workload = w }
        let ownBlock = workload.map { policy.workloads[$0] != nil } ?? false
        let local = ownBlock ? policy.applying(workload: workload) : policy
        if ownBlock { deviations = deviations.map { local.reweigh($0, from: policy) } }
        for d in deviations {
            findingsByKind[d.kind.rawValue, default: 0] += 1
            onDeviation(d)
            if !local.isStatistical(d) { concrete.insert(pid) }
        }
        var score = risk.score(pid, now: now)
        var climb = [score]
        for d in deviations {
            score = risk.add(d, now: now)
            if score != climb.last { climb.append(score) }
        }
        let profile = deviations.first?.profile
        let record = process(pid)
        let executable = record?.path
        var memberOf: String?
        if case .member(let w) = standing { memberOf = w }
        let mode = memberOf.flatMap { heldAtMonitor[$0] } != nil ? .monitor : modeOf(pid, profile)
        let limit = limit(pid, profile: profile, standing: standing, mode: mode, policy: local)
        var target: ResponsePlanner.Target?
        if !local.rules.isEmpty {
            let euid = record?.euid
            let context = ContextRule.Context(workload: workload, uid: euid, user: euid.flatMap(userName), executable: executable,
                                              parent: record.flatMap { process($0.ppid)?.path }, risk: score, deviations: deviations,
                                              stable: profile.map { !isLearning($0) })
            if let r = local.rule(for: context) {
                target = .init(r.then, rule: r.name, floor: max(0, (r.riskAtLeast ?? local.threshold(.alert)) - local.hysteresis))
            }
        }
        let steps = planner.update(pid: pid, profile: profile, executable: executable, score: score, now: now, mode: mode, limit: limit,
                                   policy: ownBlock ? local : nil, target: target)
        if steps.isEmpty {
            // Below the alert band, deviations only add to the risk score: no finding.
            if planner.rung(of: pid) >= .alert {
                publish(deviations, step: nil, pid: pid, score: score, now: now, climb: climb, standing: standing, limit: limit)
            } else {
                belowAlert += deviations.count
            }
        } else {
            // The deviations travel with the first step they caused.
            var first = true
            for step in steps {
                publish(first ? deviations : [], step: execute(step, seen: seen), pid: pid, score: score, now: now,
                        climb: first ? climb : [], standing: standing, limit: limit)
                first = false
            }
        }
        if mode == .enforce, standing.isMember, planner.rung(of: pid) >= .alert, (limit?.rung ?? .kill) > .alert,
           local.cap(profile: profile, executable: executable) > .alert {
            actions.markDeviating(pid)
        }
    }

    /// The ceiling on `pid` beyond the policy's caps, and the rule that sets it.
    private func limit(_ pid: Int32, profile: String?, standing: WorkloadScope.Standing, mode: ResponseMode,
                       policy: Policy) -> ResponsePlanner.Limit? {
        switch standing {
        case .protected(let why): return .init(.alert, rule: "protected: \(why)")
        case .outside: return .init(.alert, rule: "scope: outside every workload")
        case .member: break
        }
        if !mayAct { return .init(.alert, rule: "scope: no workload declared") }
        if let profile, isLearning(profile), !policy.enforceLearning.contains(profile) {
            return .init(.alert, rule: "cap: profile still learning")
        }
        if let profile, let up = upgrades[profile] {
            if clock.nowNanos() < up.until { return .init(.alert, rule: "cap: re-learning after the upgrade of package \(up.package)") }
            upgrades[profile] = nil
        }
        if !concrete.contains(pid), policy.statisticalCap < .kill {
            return .init(policy.statisticalCap, rule: "cap: statistical evidence only")
        }
        return nil
    }

    /// Carries out a step the planner left pending (enforce) and records its outcome; a
    /// monitor-mode step is returned as decided ("would have acted").
    private func execute(_ step: ResponseStep, seen: UInt64? = nil) -> ResponseStep {
        guard case .pending = step.outcome else {
            count(step)
            return step
        }
        let outcome = actions.apply(step)
        if case .succeeded = outcome, step.isUp, step.to > .alert { noteAct(step) }
        if case .succeeded = outcome, step.to == .kill { killed.insert(step.pid) }
        if case .succeeded = outcome, let seen, step.to > .alert {
            let done = clock.nowNanos()
            if done > seen { latencies.add(done - seen) }
        }
        let recorded = planner.record(outcome: outcome, for: step.id) ?? step
        count(recorded)
        return recorded
    }

    // MARK: Circuit breaker

    /// A step carried out on a member: counted for its workload, whose breaker trips when
    /// more than the policy's `circuit-breaker` acts fall within one minute.
    private func noteAct(_ step: ResponseStep) {
        guard case .member(let w) = scope.standing(of: step.pid) else { return }
        actsByWorkload[w, default: 0] += 1
        let limit = policy.applying(workload: w).circuitBreakerActsPerMinute
        guard limit > 0, heldAtMonitor[w] == nil else { return }
        let now = clock.nowNanos()
        var times = (recentActs[w] ?? []).filter { now &- $0 < 60_000_000_000 }
        times.append(now)
        recentActs[w] = times
        guard times.count > limit else { return }
        let why = "circuit breaker: \(times.count) actions within a minute, more than \(limit)"
        heldAtMonitor[w] = .breaker(why)
        onBreakerTrip(w, why)
    }

    /// Judges `workload` in monitor mode from now on, as an operator asked.
    func holdAtMonitor(_ workload: String, _ hold: Hold = .byOperator) { heldAtMonitor[workload] = hold }

    /// Lets `workload` be enforced again, its breaker re-armed.
    func rearm(_ workload: String) {
        heldAtMonitor[workload] = nil
        recentActs[workload] = nil
    }

    /// Resumes every process of `pids` that Vigil stopped; returns those resumed.
    func resume(_ pids: [Int32]) -> [Int32] { actions.resume(pids) }

    private func count(_ step: ResponseStep) {
        let outcome = FindingReport.Action.Outcome(step.outcome).rawValue
        actionCounts[AgentMetrics.ActionKey(action: step.to.name, outcome: outcome), default: 0] += 1
    }

    private func publish(_ deviations: [Deviation], step: ResponseStep?, pid: Int32, score: Double, now: UInt64, climb: [Double] = [],
                         standing: WorkloadScope.Standing? = nil, limit: ResponsePlanner.Limit? = nil) {
        let record = process(pid) ?? ProcessRecord(pid: pid, ppid: 0)
        var report = FindingReport(deviations: deviations, riskScore: score, step: step, rung: planner.rung(of: pid),
                                   process: record, ancestry: ancestry(pid), timeNanos: now)
        let standing = standing ?? scope.standing(of: pid)
        let rung = step?.to ?? planner.rung(of: pid)
        var workload: String?
        if case .member(let w) = standing { workload = w }
        // A step names its own rule; with no step, the limit decided if it holds the rung.
        let rule = step?.rule ?? limit.flatMap { rung >= $0.rung ? $0.rule : nil } ?? "bands"
        report.decision = FindingReport.Decision(acts: standing.isMember && rung > .alert, rule: rule, scope: standing.description, workload: workload)
        // Summarized per profile: only the syscall statistics (a file deviation names a path
        // worth its own line even when it is only statistical).
        report.statisticalOnly = !deviations.isEmpty && rung <= .alert
            && deviations.allSatisfy { ($0.kind == .newSequence || $0.kind == .newSyscall) && policy.isStatistical($0) }
        stream.publish(report)
        if explain { Diagnostics.raw(FindingText.line(report, climb: climb, policy: policy)) }
    }

    private var userNames: [UInt32: String?] = [:]

    /// The name of user `uid` (cached: rules ask for it at every judged batch).
    private func userName(_ uid: UInt32) -> String? {
        if let known = userNames[uid] { return known }
        var c = ProcessContext(pid: 0, executable: "", uid: uid)
        UserNameProvider().fill(&c)
        userNames[uid] = c.user
        return c.user
    }

    /// On the way out: nothing stays stopped, and the person running it hears the figures.
    func finish() {
        if outOfScope > 0 {
            let top = outOfScopeBy.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(5).map { "\($0.key) \($0.value)" }
            Diagnostics.info("\(outOfScope) deviations of processes outside every workload were counted, not reported (--report-outside reports them): "
                + top.joined(separator: ", ") + (outOfScopeBy.count > 5 ? ", and \(outOfScopeBy.count - 5) more programs" : ""))
        }
        actions.releaseAll()
        if latencies.count > 0 {
            let ms = { (ns: UInt64) in String(format: "%.1f ms", Double(ns) / 1e6) }
            let of = latencies.count > UInt64(latencies.samples.count) ? " of the last \(latencies.samples.count)" : ""
            Diagnostics.info("\(latencies.count) actions taken in user space; from the kernel seeing the deviation to the action: median\(of) \(ms(latencies.median)), max \(ms(latencies.max))")
        }
        if belowAlert > 0 { Diagnostics.info("\(belowAlert) deviations stayed below the alert band (they raised risk scores; no finding)") }
        let quiet = quietAfterKill
        if quiet > 0 { Diagnostics.info("\(quiet) deviations of already-killed processes were counted, not reported") }
    }
}

/// Whether responses are carried out.
public enum ResponseMode: String, Sendable, Hashable {
    /// Decide and report what would be done; never act.
    case monitor
    /// Decide; the caller carries out each step and reports how it went.
    case enforce
}

/// How carrying out a ``ResponseStep`` went.
public enum ResponseOutcome: Sendable, Hashable {
    /// Monitor mode: the step was decided, not carried out (dry run).
    case wouldHaveActed
    /// Enforce mode: the caller must carry out the step's ``ResponseStep/effects`` and report
    /// back with ``ResponsePlanner/record(outcome:for:)``.
    case pending
    /// Carried out.
    case succeeded
    /// Attempted and failed (e.g. the process was already gone), with why.
    case failed(String)
    /// Nothing to carry out: the step only changes what is reported (between none and alert).
    case notNeeded

    /// Whether an action on the process took effect.
    public var acted: Bool { self == .succeeded }

    /// The one rule for the outcome a step is decided with, whatever its rung: a step with
    /// nothing to carry out on the process (to or from alert, stepping down to none) is
    /// `notNeeded` in every mode; one with effects is `wouldHaveActed` in monitor mode and
    /// `pending` (for the caller to carry out) in enforce mode.
    public static func decided(effects: [ResponseStep.Effect], mode: ResponseMode) -> ResponseOutcome {
        guard !effects.isEmpty else { return .notNeeded }
        return switch mode {
        case .monitor: .wouldHaveActed
        case .enforce: .pending
        }
    }
}

/// One move on the response ladder of one process.
public struct ResponseStep: Sendable, Hashable {
    /// Unique per planner, increasing; names the step in ``ResponsePlanner/record(outcome:for:)``.
    public var id: UInt64
    public var pid: Int32
    public var profile: String?
    public var from: ResponseRung
    public var to: ResponseRung
    /// Why, in words: the score against the threshold, `auto-release`, a cap.
    public var reason: String
    /// The risk score when the step was decided.
    public var score: Double
    public var timeNanos: UInt64
    public var outcome: ResponseOutcome
    /// The rung the score called for when a cap or exemption held the step below it.
    public var cappedFrom: ResponseRung?
    /// The rule that decided the step: `bands` (the score's band), `policy cap` (a
    /// profile's cap or exemption), or the caller's limit (``ResponsePlanner/Limit``).
    public var rule: String = "bands"

    public var isUp: Bool { to > from }

    /// What carrying out the step means for the process.
    public enum Effect: String, Sendable, Hashable {
        case denyNetwork = "deny-network", allowNetwork = "allow-network", stop, resume, kill
    }

    /// The changes to make, in order: rungs are states (network denied at deny-network and
    /// above, stopped at suspend and above, kill final).
    public var effects: [Effect] {
        if to == .kill { return from == .kill ? [] : [.kill] }
        var e: [Effect] = []
        if from < .denyNetwork && to >= .denyNetwork { e.append(.denyNetwork) }
        if from < .suspend && to >= .suspend { e.append(.stop) }
        if from >= .suspend && to < .suspend { e.append(.resume) }
        if from >= .denyNetwork && to < .denyNetwork { e.append(.allowNetwork) }
        return e
    }
}

/// Decides, per process, the rung of the response ladder its risk calls for, and reports
/// every move up or down as a ``ResponseStep``.
///
/// - **Up** as soon as the score reaches a higher rung's threshold (``Policy/bands``),
///   straight to that rung (a tamper jumps from none to kill in one step), never above the
///   process's cap (``Policy/cap(profile:executable:)``: per-profile caps, exemptions, the
///   unknown-executable cap).
/// - **Down** when the score has fallen ``Policy/hysteresis`` points below the threshold of
///   the current rung, to the highest rung whose threshold `score + hysteresis` still
///   reaches: a score hovering around a threshold does not flap.
/// - **Suspend** holds until ``Policy/suspendReleaseSeconds`` have passed, then is released
///   (reason `auto-release`) to at most deny-network. Whenever the score climbs above the
///   highest it reached since the suspension, the hold starts again from that moment.
/// - **Kill** is final: no step follows it.
///
/// Scores between updates are decayed here with the policy's half-life, so ``tick(now:)``
/// can step down without the ``RiskTracker``: call ``update(pid:profile:executable:score:now:)``
/// after every change of a process's risk, and ``tick(now:)`` periodically.
public final class ResponsePlanner {
    /// Replaceable (a reload): rungs already held are re-judged against it at the next tick.
    public var policy: Policy
    /// The mode of processes whose ``update(pid:profile:executable:score:now:mode:)`` names none.
    public let mode: ResponseMode

    private struct State {
        var rung: ResponseRung = .none
        var profile: String?
        var executable: String?
        var score: Double = 0
        var at: UInt64 = 0
        var releaseAt: UInt64 = 0
        var scoreAtSuspend: Double = 0
        var mode: ResponseMode?
        var limit: Limit?
        /// The policy that applies to this process when it differs (its workload's).
        var policy: Policy?
        /// The rung a context rule decided, held while the score stays at or above its floor.
        var target: Target?
    }

    /// A rung a context rule decided for a process (``ContextRule``): it replaces the band's
    /// verdict, up or down, while the process's score stays at or above `floor`.
    public struct Target: Sendable, Hashable {
        public var rung: ResponseRung
        public var rule: String
        public var floor: Double
        public init(_ rung: ResponseRung, rule: String, floor: Double) {
            self.rung = rung
            self.rule = rule
            self.floor = floor
        }
    }

    /// A ceiling the caller puts on a process on top of the policy's caps, with the rule
    /// that sets it (a profile still learning, evidence that is only statistical, a
    /// process outside every workload).
    public struct Limit: Sendable, Hashable {
        public var rung: ResponseRung
        public var rule: String
        public init(_ rung: ResponseRung, rule: String) {
            self.rung = rung
            self.rule = rule
        }
    }

    private var states: [Int32: State] = [:]
    private var nextID: UInt64 = 1
    /// Enforce-mode steps still waiting for their outcome.
    public private(set) var pending: [UInt64: ResponseStep] = [:]

    public init(policy: Policy = .standard, mode: ResponseMode) {
        self.policy = policy
        self.mode = mode
    }

    /// The current rung of `pid`.
    public func rung(of pid: Int32) -> ResponseRung { states[pid]?.rung ?? .none }

    /// Processes on a rung above none.
    public var activePids: [Int32] { states.filter { $0.value.rung > .none }.map(\.key).sorted() }

    /// The risk of `pid` changed to `score` (see ``RiskTracker``); returns the steps it causes.
    /// `profile` nil means the process has no profile (``Policy/unknownCap`` applies);
    /// `mode` overrides the planner's for this process (profiles in monitor and in enforce
    /// side by side, `vigil run`).
    /// `limit` holds the process at or below a rung (nil: only the policy's caps); it is
    /// kept until the next update.
    /// `policy` is the one that applies to this process when it is not the planner's (a
    /// workload's, ``Policy/applying(workload:)``); `target` is a context rule's verdict,
    /// kept until the score falls below its floor or another rule decides.
    public func update(pid: Int32, profile: String?, executable: String? = nil, score: Double, now: UInt64,
                       mode: ResponseMode? = nil, limit: Limit? = nil, policy: Policy? = nil, target: Target? = nil) -> [ResponseStep] {
        var s = states[pid] ?? State()
        s.profile = profile
        s.limit = limit
        if let policy { s.policy = policy }
        if let target { s.target = target }
        if let mode { s.mode = mode }
        if let executable { s.executable = executable }
        s.score = score
        s.at = now
        let steps = evaluate(pid, &s, now: now)
        states[pid] = s
        return steps
    }

    /// Advances time: decays every score, steps down, releases suspended processes.
    public func tick(now: UInt64) -> [ResponseStep] {
        var out: [ResponseStep] = []
        for pid in states.keys.sorted() {
            var s = states[pid]!
            s.score = RiskTracker.decay(s.score, from: s.at, to: now, halfLifeSeconds: (s.policy ?? policy).halfLifeSeconds)
            s.at = max(s.at, now)
            out += evaluate(pid, &s, now: now)
            states[pid] = s
        }
        return out
    }

    /// Reports how an enforce-mode step went; returns the step with its outcome.
    @discardableResult
    public func record(outcome: ResponseOutcome, for stepID: UInt64) -> ResponseStep? {
        guard var step = pending.removeValue(forKey: stepID) else { return nil }
        step.outcome = outcome
        return step
    }

    /// Forgets a process (at exit).
    public func remove(_ pid: Int32) {
        states[pid] = nil
        pending = pending.filter { $0.value.pid != pid }
    }

    // MARK: Internals

    private func evaluate(_ pid: Int32, _ s: inout State, now: UInt64) -> [ResponseStep] {
        guard s.rung != .kill else { return [] }
        let policy = s.policy ?? self.policy
        let policyCap = policy.cap(profile: s.profile, executable: s.executable)
        var cap = policyCap, capRule = "policy cap"
        if let limit = s.limit, limit.rung < cap { (cap, capRule) = (limit.rung, limit.rule) }
        if let t = s.target, s.score < t.floor { s.target = nil }
        let wanted = s.target?.rung ?? policy.rung(for: s.score)
        let up = min(wanted, cap)
        if up > s.rung {
            var reason: String
            if let t = s.target {
                reason = "risk \(String(format2: s.score)); rule \(t.rule) decided \(t.rung.name)"
            } else {
                reason = "risk \(String(format2: s.score)) reached the \(up.name) threshold \(policy.threshold(up).clean)"
            }
            if wanted > cap { reason += "; \(wanted.name) called for, capped at \(cap.name) by \(capRule == "policy cap" ? "policy" : capRule)" }
            if up == .suspend { s.releaseAt = now + UInt64(policy.suspendReleaseSeconds * 1e9); s.scoreAtSuspend = s.score }
            var st = step(pid, &s, to: up, reason: reason, cappedFrom: wanted > cap ? wanted : nil, now: now)
            if wanted > cap { st.rule = capRule } else if let t = s.target { st.rule = "rule: \(t.rule)" }
            if st.outcome == .pending { pending[st.id] = st }
            return [st]
        }
        if let t = s.target, t.rung < s.rung, s.rung != .kill {
            // The rule answers lower than the band took the process: step down to it.
            var st = step(pid, &s, to: min(t.rung, cap), reason: "rule \(t.rule) decided \(t.rung.name) (risk \(String(format2: s.score)))", cappedFrom: nil, now: now)
            st.rule = "rule: \(t.rule)"
            if st.outcome == .pending { pending[st.id] = st }
            return [st]
        }
        if s.rung == .suspend {
            if s.score > s.scoreAtSuspend {
                // Risk climbed while suspended: the hold starts again from here.
                s.releaseAt = now + UInt64(policy.suspendReleaseSeconds * 1e9)
                s.scoreAtSuspend = s.score
                return []
            }
            guard now >= s.releaseAt else { return [] }
            s.target = nil // a rule's suspension ends like any other; the bands decide from here
            let to = min(policy.rung(for: s.score + policy.hysteresis), cap, .denyNetwork)
            return [step(pid, &s, to: to, reason: "auto-release after \(policy.suspendReleaseSeconds.clean) s; risk \(String(format2: s.score))", cappedFrom: nil, now: now)]
        }
        if s.target != nil { return [] } // held where the rule put it
        let down = min(policy.rung(for: s.score + policy.hysteresis), cap)
        if down < s.rung {
            let from = s.rung
            let reason = "risk decayed to \(String(format2: s.score)), below the \(from.name) threshold \(policy.threshold(from).clean) by more than the hysteresis \(policy.hysteresis.clean)"
            return [step(pid, &s, to: down, reason: reason, cappedFrom: nil, now: now)]
        }
        return []
    }

    private func step(_ pid: Int32, _ s: inout State, to: ResponseRung, reason: String, cappedFrom: ResponseRung?, now: UInt64) -> ResponseStep {
        var st = ResponseStep(id: nextID, pid: pid, profile: s.profile, from: s.rung, to: to, reason: reason, score: s.score,
                              timeNanos: now, outcome: .notNeeded, cappedFrom: cappedFrom)
        nextID += 1
        st.outcome = .decided(effects: st.effects, mode: s.mode ?? mode)
        if case .pending = st.outcome { pending[st.id] = st }
        s.rung = to
        return st
    }
}

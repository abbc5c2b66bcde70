/// Holds back repeated findings: per process, profile and kind of finding, at most `limit`
/// in each `windowNanos`, so one process's repeats never hold back another's finding (a
/// busy host's shells cannot use up the quota of an attacked service's children). Nothing
/// is hidden silently: the next finding let through carries how many were held back (OCSF
/// `count`), `takeSuppressedCounts()` reports them per profile, and
/// ``suppressedByWorkload`` counts them per workload for the metrics.
///
/// **Statistical findings, once per profile.** A finding of only statistical evidence at
/// alert (``FindingReport/statisticalOnly``) is also held to one per workload and profile in
/// each ``statisticalWindowNanos``: the forked children of a service doing a save it was
/// never seen doing show the same new calls one after the other, and are one alert, not
/// one per child. A finding with anything concrete is never held by this rule.
///
/// A value type driven by the caller's clock (event time), so tests need no sleeps.
public struct FindingThrottle: Sendable {
    /// Length of a throttling window, in nanoseconds of finding time.
    public var windowNanos: UInt64
    /// Findings let through per key and window; 0 lets everything through.
    public var limit: Int
    /// How long one statistical finding of a profile stands for the others (0: no such rule).
    public var statisticalWindowNanos: UInt64 = 600_000_000_000

    private struct Window { var start: UInt64; var admitted: Int; var suppressed: Int }
    private var windows: [String: Window] = [:]
    private var unreported: [String: Int] = [:]
    /// Findings held back since this throttle was made.
    public private(set) var totalSuppressed = 0
    /// Findings held back since this throttle was made, by workload (`-`: outside every
    /// workload, or a producer that names none).
    public private(set) var suppressedByWorkload: [String: Int] = [:]

    /// - Parameters:
    ///   - windowNanos: length of a throttling window (default one minute).
    ///   - limit: findings let through per key and window (default 5); 0 disables throttling.
    public init(windowNanos: UInt64 = 60_000_000_000, limit: Int = 5) {
        self.windowNanos = windowNanos
        self.limit = limit
    }

    /// The throttling key: the workload, the process, its profile and the kinds of
    /// deviation (not the uid or score, which differ on every repeat).
    public static func key(for f: FindingReport) -> String {
        workload(of: f) + "|" + String(f.process.pid) + "|" + f.profile + "|" + f.types.sorted().joined(separator: ",")
    }

    static func workload(of f: FindingReport) -> String { f.decision?.workload ?? "-" }

    /// Decides whether `finding` goes out. When it does, `suppressedBefore` is how many
    /// of its kind were held back since the last one that went out.
    public mutating func admit(_ finding: FindingReport, now: UInt64) -> (admit: Bool, suppressedBefore: Int) {
        guard limit > 0 else { return (true, 0) }
        let statistical = finding.statisticalOnly && statisticalWindowNanos > 0
        let key = statistical ? "statistical|" + Self.workload(of: finding) + "|" + finding.profile : Self.key(for: finding)
        let length = statistical ? statisticalWindowNanos : windowNanos
        let limit = statistical ? 1 : self.limit
        var w = windows[key] ?? Window(start: now, admitted: 0, suppressed: 0)
        if now &- w.start >= length {
            w.start = now
            w.admitted = 0
        }
        if w.admitted < limit {
            w.admitted += 1
            let held = w.suppressed
            w.suppressed = 0
            windows[key] = w
            return (true, held)
        }
        w.suppressed += 1
        windows[key] = w
        unreported[finding.profile, default: 0] += 1
        suppressedByWorkload[Self.workload(of: finding), default: 0] += 1
        totalSuppressed += 1
        return (false, 0)
    }

    /// Forgets windows that ended with nothing held back (keys are per process, so they
    /// come and go; a window with held-back findings stays until one goes out and carries
    /// its count). Bounded work: call it now and then, e.g. once a throttle window.
    public mutating func prune(now: UInt64) {
        windows = windows.filter {
            now &- $0.value.start < ($0.key.hasPrefix("statistical|") ? statisticalWindowNanos : windowNanos) || $0.value.suppressed > 0
        }
    }

    /// Windows held (for tests and memory figures).
    public var windowCount: Int { windows.count }

    /// Suppressed counts per profile since the last call (for a periodic health event).
    public mutating func takeSuppressedCounts() -> [String: Int] {
        defer { unreported = [:] }
        return unreported
    }
}

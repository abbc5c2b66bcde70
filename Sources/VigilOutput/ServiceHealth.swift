import Foundation

/// What `GET /healthz` answers: whether the agent's loop is alive and its outputs deliver.
///
/// The agent reports each pass of its once-a-second work (``noteLoop(atNanos:failingOutputs:)``);
/// the answer is judged when asked, against the clock, so a loop that wedges turns the
/// endpoint unhealthy by itself, without the loop's help.
///
/// - 200 `{"status":"ok","uptime_seconds":..,"last_loop_seconds_ago":..,"outputs_failing":[]}`
///   when the loop ran within ``staleAfterSeconds`` and no output is failing;
/// - 503, the same fields with `"status":"unhealthy"` and a `"reason"`, otherwise (also
///   before the loop first ran).
public struct ServiceHealth: Sendable, Equatable {
    /// Seconds without a loop pass after which the agent counts as wedged. The loop passes
    /// once a second, so this is five missed passes: a slow reload is not a failure.
    public static let staleAfterSeconds: Double = 5

    /// Monotonic nanoseconds when the agent started.
    public var startedNanos: UInt64
    /// Monotonic nanoseconds of the last loop pass; nil: not yet.
    public var lastLoopNanos: UInt64?
    /// Outputs failing now (their events go to the spool), by name.
    public var failingOutputs: [String] = []

    public init(startedNanos: UInt64) { self.startedNanos = startedNanos }

    public mutating func noteLoop(atNanos t: UInt64, failingOutputs: [String]) {
        lastLoopNanos = t
        self.failingOutputs = failingOutputs.sorted()
    }

    /// Why the agent is unhealthy at `now`, or nil when it is healthy.
    public func problem(now: UInt64) -> String? {
        guard let last = lastLoopNanos else { return "starting: the agent loop has not run yet" }
        let ago = Double(now &- min(now, last)) / 1e9
        if ago > Self.staleAfterSeconds {
            return String(format: "the agent loop last ran %.1f s ago (more than %.0f s): it may be wedged", ago, Self.staleAfterSeconds)
        }
        if !failingOutputs.isEmpty {
            return "outputs failing (their events go to the spool): " + failingOutputs.joined(separator: ", ")
        }
        return nil
    }

    /// The HTTP status and JSON body for `now`.
    public func response(now: UInt64) -> (status: Int, body: [UInt8]) {
        let problem = problem(now: now)
        var w = JSONWriter(reservingCapacity: 256)
        w.object { o in
            o.field("status", problem == nil ? "ok" : "unhealthy")
            if let problem { o.field("reason", problem) }
            o.key("uptime_seconds")
            o.raw(Array(String(format: "%.3f", Double(now &- min(now, startedNanos)) / 1e9).utf8))
            if let last = lastLoopNanos {
                o.key("last_loop_seconds_ago")
                o.raw(Array(String(format: "%.3f", Double(now &- min(now, last)) / 1e9).utf8))
            }
            o.array("outputs_failing") { a in for name in failingOutputs { a.string(name) } }
        }
        return (problem == nil ? 200 : 503, w.bytes + [0x0A])
    }
}

import Foundation
public import VigilCore

/// The typed front of the outputs: encodes events, findings and agent health to OCSF,
/// throttles repeated findings, and hands the lines to an `OutputRouter`.
///
/// ```swift
/// let stream = try EventStream(outputs: ["stdout", "file:/var/log/vigil.jsonl?max-bytes=104857600&keep=5"],
///                              spoolDirectory: "/var/lib/vigil/spool",
///                              encoder: OCSFEncoder(hostname: host, productVersion: version))
/// stream.publish(event, process: table.apply(event), ancestry: table.ancestry(of: event.pid))
/// stream.close()
/// ```
/// Safe to call from several threads.
public final class EventStream: @unchecked Sendable {
    /// The outputs lines go to (for raw `publish` and `stats`).
    public let router: OutputRouter
    /// The OCSF mapping in use.
    public let encoder: OCSFEncoder
    private let lock = NSLock()
    private var throttle: FindingThrottle
    private var lastSuppressedReport: UInt64 = 0
    private let clock: any OutputClock

    /// Parses the specs and opens the outputs.
    ///
    /// - Throws: `OutputSpecError` for a malformed spec (the CLI exits 2), or an error
    ///   creating the spool directory.
    ///
    /// Every event gets a `metadata.uid` from the agent's `EventIdentity`, kept in
    /// `spoolDirectory` (one for this run only without it), unless `encoder` has one already.
    public convenience init(outputs: [String], spoolDirectory: String?, encoder: OCSFEncoder,
                            throttle: FindingThrottle = FindingThrottle(),
                            clock: any OutputClock = SystemOutputClock.shared) throws {
        let specs = try outputs.map(OutputSpec.parse)
        var encoder = encoder
        if encoder.identity == nil {
            encoder.identity = try spoolDirectory.map { try EventIdentity(directory: $0) } ?? EventIdentity()
        }
        let options = OutputRouter.Options(healthEncoder: encoder, clock: clock)
        let router = try OutputRouter(specs: specs, spoolDirectory: spoolDirectory, options: options)
        self.init(router: router, encoder: encoder, throttle: throttle, clock: clock)
    }

    public init(router: OutputRouter, encoder: OCSFEncoder, throttle: FindingThrottle = FindingThrottle(),
                clock: any OutputClock = SystemOutputClock.shared) {
        self.router = router
        self.encoder = encoder
        self.throttle = throttle
        self.clock = clock
    }

    /// Publishes a sensor event (syscalls, and forks unless the encoder maps them, emit nothing).
    public func publish(_ event: Event, process: ProcessRecord?, ancestry: [ProcessRecord] = []) {
        if let e = encoder.encode(event, process: process, ancestry: ancestry) { router.publish(e) }
    }

    /// Publishes a finding unless throttling holds it back; returns whether it went out.
    /// Once per throttle window (by finding time) the counts held back are reported as an
    /// Application Lifecycle event, so suppression is visible even if no finding follows.
    @discardableResult
    public func publish(_ finding: FindingReport) -> Bool {
        lock.lock()
        let (admit, held) = throttle.admit(finding, now: finding.timeNanos)
        let reportDue = finding.timeNanos &- lastSuppressedReport >= throttle.windowNanos
        if reportDue { lastSuppressedReport = finding.timeNanos }
        lock.unlock()
        if reportDue { reportSuppressed(now: finding.timeNanos) }
        guard admit else { return false }
        router.publish(encoder.encode(finding, suppressedCount: held))
        return true
    }

    /// Publishes an agent lifecycle or health event.
    public func publish(_ agent: AgentEvent) {
        router.publish(encoder.encode(agent))
    }

    /// Publishes a health event with the findings suppressed since the last call, if any
    /// (call it periodically, e.g. once a minute, and at shutdown).
    public func reportSuppressed(now: UInt64) {
        lock.lock()
        let counts = throttle.takeSuppressedCounts()
        throttle.prune(now: now)
        lock.unlock()
        if !counts.isEmpty { publish(AgentEvent(.suppressed(counts: counts), timeNanos: now)) }
    }

    /// ``reportSuppressed(now:)`` at most once per throttle window (a clock tick can call it
    /// every second: one summary a minute, not one a second, reaches the SIEM).
    public func reportSuppressedIfDue(now: UInt64) {
        lock.lock()
        let due = now &- lastSuppressedReport >= throttle.windowNanos
        if due { lastSuppressedReport = now }
        lock.unlock()
        if due { reportSuppressed(now: now) }
    }

    /// Findings held back by throttling so far.
    public var suppressedFindings: Int {
        lock.lock()
        defer { lock.unlock() }
        return throttle.totalSuppressed
    }

    /// Findings held back by throttling so far, by workload.
    public var suppressedByWorkload: [String: Int] {
        lock.lock()
        defer { lock.unlock() }
        return throttle.suppressedByWorkload
    }

    /// Per-output counters.
    public var stats: [SinkStats] { router.stats }

    /// Reports suppressed findings, then flushes and closes every output.
    public func close(now: UInt64? = nil) {
        reportSuppressed(now: now ?? clock.wallNanos())
        router.close()
    }
}

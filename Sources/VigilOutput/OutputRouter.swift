import Foundation

/// Fans encoded events out to several outputs at once, each with its own thread, bounded
/// queue and disk spool, so a slow or dead receiver never slows the caller or the others.
///
/// ```swift
/// let router = try OutputRouter(specs: ["stdout", "syslog+tcp://siem:514?only=findings"].map(OutputSpec.parse),
///                               spoolDirectory: "/var/lib/vigil/spool")
/// router.publish(encoded.bytes, classUID: encoded.classUID)
/// router.close()  // delivers or spools what is queued
/// ```
///
/// Delivery is at-least-once and in order per output: nothing accepted is lost while it fits
/// the spool's bound (lines beyond it are counted in `stats` and reported as an Application
/// Error event), but a batch whose acknowledgement was lost is sent again.
public final class OutputRouter: @unchecked Sendable {
    /// Tuning that rarely needs changing.
    public struct Options: Sendable {
        /// The shortest retry delay after a failed delivery. Without jitter the first, doubling
        /// up to `retryMaxSeconds`; with it each delay is drawn between this and three times
        /// the previous one (``RetryBackoff``).
        public var retryInitialSeconds = 0.1
        /// Longest retry delay.
        public var retryMaxSeconds = 5.0
        /// How long `close()` keeps trying a failing output before leaving the rest in its spool.
        public var drainTimeoutSeconds = 5.0
        /// How often spooled lines are fsynced.
        public var syncIntervalSeconds = 0.2
        /// How often lost-event counts are turned into health events.
        public var lossReportIntervalSeconds = 5.0
        /// Longest `Retry-After` a receiver may ask for; longer requests wait this long.
        public var retryAfterMaxSeconds = 300.0
        /// The randomness that spreads retries (``RetryBackoff``): fresh per agent in
        /// production, seeded or none in tests.
        public var retryJitter: RetryJitter = .random()
        /// Bound of each output's dead-letter file (lines a receiver rejected for good).
        public var deadLetterMaxBytes = 64 << 20
        /// Encodes loss health events; nil sends none (they still show in `stats`).
        public var healthEncoder: OCSFEncoder?
        /// Where every timestamp and deadline of the outputs comes from.
        public var clock: any OutputClock = SystemOutputClock.shared
        /// The host name HEC envelopes carry (`host`); nil: the health encoder's, else this host's.
        public var hostname: String?

        public init(healthEncoder: OCSFEncoder? = nil, clock: any OutputClock = SystemOutputClock.shared) {
            self.healthEncoder = healthEncoder
            self.clock = clock
        }
    }

    private let workers: [SinkWorker]
    private let options: Options
    private let cond = NSCondition()
    private var closed = false
    private var housekeeper: Thread?
    private var housekeeperDone = false
    private var reported: [Reported]
    /// What health events have said about each output so far.
    private struct Reported { var lost = 0; var deadLettered = 0; var unauthorized: String? }

    /// Opens every output. Nothing connects yet: connections are made by each output's
    /// thread, so an unreachable receiver at start-up spools instead of failing the agent.
    ///
    /// - Parameters:
    ///   - spoolDirectory: where each output keeps its spool (a subdirectory per output,
    ///     named from the spec so a restart finds its backlog); nil keeps nothing on disk.
    /// - Throws: if a spool directory cannot be created or read.
    public convenience init(specs: [OutputSpec], spoolDirectory: String?, options: Options = Options()) throws {
        var pairs: [(any Sink, OutputSpec)] = []
        let hostname = options.hostname ?? options.healthEncoder?.hostname ?? SyslogSink.localHostname()
        for spec in specs { pairs.append((Self.makeSink(spec, clock: options.clock, hostname: hostname), spec)) }
        try self.init(sinks: pairs, spoolDirectory: spoolDirectory, options: options)
    }

    /// Builds a router over sinks you made (tests, benchmarks, custom sinks); the spec of
    /// each gives its filter, queue, spool and batch settings.
    public init(sinks: [(any Sink, OutputSpec)], spoolDirectory: String?, options: Options = Options()) throws {
        self.options = options
        var workers: [SinkWorker] = []
        var usedDirs: Set<String> = []
        for (sink, spec) in sinks {
            var spool: Spool?
            var deadLetter: DeadLetterFile?
            if let spoolDirectory {
                var dir = "\(spoolDirectory)/\(Self.directoryName(for: spec))"
                var n = 2
                while usedDirs.contains(dir) { dir = "\(spoolDirectory)/\(Self.directoryName(for: spec))-\(n)"; n += 1 }
                usedDirs.insert(dir)
                if spec.spoolMaxBytes > 0 { spool = try Spool(directory: dir, maxBytes: spec.spoolMaxBytes) }
                deadLetter = try DeadLetterFile(directory: dir, maxBytes: options.deadLetterMaxBytes)
            }
            let settings = SinkWorker.Settings(capacity: spec.queueCapacity, batchSize: spec.batchSize, batchBytes: spec.batchBytes,
                                               batchWaitSeconds: Double(spec.batchWaitMillis) / 1000,
                                               retryInitial: options.retryInitialSeconds, retryMax: options.retryMaxSeconds,
                                               retryAfterMax: options.retryAfterMaxSeconds, drainTimeout: options.drainTimeoutSeconds,
                                               jitter: options.retryJitter)
            workers.append(SinkWorker(sink: sink, spec: spec, spool: spool, deadLetter: deadLetter, clock: options.clock, settings: settings))
        }
        self.workers = workers
        self.reported = Array(repeating: Reported(), count: workers.count)
        // First deadlines from the clock as it is now, not whenever the thread gets going.
        let firstSync = options.clock.deadline(after: options.syncIntervalSeconds)
        let firstReport = options.clock.deadline(after: options.lossReportIntervalSeconds)
        let t = Thread { [self] in housekeeping(nextSync: firstSync, nextReport: firstReport) }
        t.name = "vigil-output-housekeeping"
        housekeeper = t
        t.start()
    }

    /// Sends one encoded event (one JSON object, no newline) to every output whose filter
    /// takes its class. Returns at once: each output queues or spools it.
    public func publish(_ bytes: [UInt8], classUID: Int) {
        publish(bytes, classUID: classUID, reserved: false)
    }

    /// `reserved`: a report of the outputs' own losses, which may use the room each output
    /// keeps beyond its bounds (``SinkWorker/reservedLines``).
    private func publish(_ bytes: [UInt8], classUID: Int, reserved: Bool) {
        let line = OutputLine(bytes: bytes, classUID: classUID)
        for w in workers where w.spec?.accepts(classUID: classUID) ?? true {
            w.publish(line, reserved: reserved)
        }
    }

    /// Sends one encoded event to every output whose filter takes its class.
    public func publish(_ event: EncodedEvent) {
        publish(event.bytes, classUID: event.classUID)
    }

    /// Counters per output, in the order the outputs were given.
    public var stats: [SinkStats] { workers.map(\.stats) }

    /// Flushes and closes every output: each delivers what it holds, or, if its receiver
    /// stays down past the drain timeout, leaves it in its spool for the next run. Idempotent.
    ///
    /// In two steps, so that the last loss report counts every loss: first every output
    /// drains (what it cannot deliver or spool is counted lost then), then the last report
    /// goes out, then every output closes, delivering it (within a second more) or spooling it.
    public func close() {
        cond.lock()
        if closed { cond.unlock(); return }
        closed = true
        cond.broadcast()
        while !housekeeperDone { cond.wait() }
        cond.unlock()
        // In parallel so one dead receiver's drain timeout does not add up.
        inParallel { $0.drain() }
        reportHealth()
        inParallel { $0.close() }
    }

    private func inParallel(_ body: @escaping @Sendable (SinkWorker) -> Void) {
        let group = DispatchGroup()
        for w in workers {
            DispatchQueue.global().async(group: group) { body(w) }
        }
        group.wait()
    }

    deinit { close() }

    private func housekeeping(nextSync: UInt64, nextReport: UInt64) {
        let clock = options.clock
        var nextSync = nextSync
        var nextReport = nextReport
        cond.lock()
        while !closed {
            clock.wait(cond, until: min(nextSync, nextReport))
            if closed { break }
            let now = clock.monotonicNanos()
            let syncDue = now >= nextSync, reportDue = now >= nextReport
            if !syncDue && !reportDue { continue }
            cond.unlock()
            if syncDue {
                for w in workers { w.sync() }
                nextSync = clock.deadline(after: options.syncIntervalSeconds)
            }
            if reportDue {
                reportHealth()
                nextReport = clock.deadline(after: options.lossReportIntervalSeconds)
            }
            cond.lock()
        }
        housekeeperDone = true
        cond.broadcast()
        cond.unlock()
    }

    /// Publishes a health event for each output that lost or dead-lettered lines since last
    /// time, and when an output starts or stops being refused its credentials.
    private func reportHealth() {
        guard let encoder = options.healthEncoder else { return }
        for (i, w) in workers.enumerated() {
            let s = w.stats
            cond.lock()
            let before = reported[i]
            reported[i] = Reported(lost: s.lost, deadLettered: s.deadLettered, unauthorized: s.unauthorized)
            cond.unlock()
            let now = options.clock.wallNanos()
            var events: [AgentEvent.Kind] = []
            if s.lost > before.lost { events.append(.loss(source: "output \(s.name)", count: s.lost - before.lost)) }
            if s.deadLettered > before.deadLettered {
                events.append(.deadLettered(output: s.name, count: s.deadLettered - before.deadLettered,
                                            reason: s.lastRejection ?? "rejected", file: s.deadLetterPath ?? ""))
            }
            if let why = s.unauthorized, before.unauthorized == nil { events.append(.outputFailing(output: s.name, reason: why)) }
            if s.unauthorized == nil, before.unauthorized != nil { events.append(.outputRecovered(output: s.name)) }
            for e in events {
                let encoded = encoder.encode(AgentEvent(e, timeNanos: now))
                publish(encoded.bytes, classUID: encoded.classUID, reserved: true)
            }
        }
    }

    /// Makes the sink a spec describes.
    static func makeSink(_ spec: OutputSpec, clock: any OutputClock = SystemOutputClock.shared,
                         hostname: String = SyslogSink.localHostname()) -> any Sink {
        let tls = TLSSettings(caFile: spec.caFile, verifyPeer: spec.verifyPeer, certFile: spec.certFile,
                              keyFile: spec.keyFile, minVersion: spec.minTLS)
        switch spec.target {
        case .stdout:
            return StdoutSink()
        case .file(let path, let maxBytes, let keep, let fsync):
            return FileSink(path: path, maxBytes: maxBytes, keep: keep, fsync: fsync)
        case .syslog(let transport, let host, let port):
            return SyslogSink(transport: transport, host: host, port: port, tls: transport == .tls ? tls : nil, clock: clock,
                              replaySeconds: Double(spec.replaySeconds))
        case .http(let secure, let host, let port, let path, let format):
            return HTTPSink(secure: secure, host: host, port: port, path: path, format: format,
                            token: spec.token, index: spec.index, tls: secure ? tls : nil,
                            gzip: spec.gzip ?? (format != .ndjson), hostname: hostname, clock: clock)
        case .nats(let host, let port, let subject):
            return NATSSink(settings: spec.natsSettings(host: host, port: port), subject: subject, stream: spec.natsStream)
        }
    }

    /// A stable, filesystem-safe name for an output's spool: readable prefix plus a hash of
    /// the whole spec (tokens are hashed, never written into a path).
    static func directoryName(for spec: OutputSpec) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in spec.redacted.utf8 { hash = (hash ^ UInt64(b)) &* 0x100_0000_01b3 }
        let readable = String(spec.redacted.prefix(40).map { $0.isLetter || $0.isNumber ? $0 : "_" })
        let hex = String(hash, radix: 16)
        return readable + "-" + String(repeating: "0", count: 16 - hex.count) + hex
    }
}

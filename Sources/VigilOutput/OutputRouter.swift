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
        /// First retry delay after a failed delivery; doubles up to `retryMaxSeconds`.
        public var retryInitialSeconds = 0.1
        /// Longest retry delay.
        public var retryMaxSeconds = 5.0
        /// How long `close()` keeps trying a failing output before leaving the rest in its spool.
        public var drainTimeoutSeconds = 5.0
        /// How often spooled lines are fsynced.
        public var syncIntervalSeconds = 0.2
        /// How often lost-event counts are turned into health events.
        public var lossReportIntervalSeconds = 5.0
        /// Encodes loss health events; nil sends none (they still show in `stats`).
        public var healthEncoder: OCSFEncoder?

        public init(healthEncoder: OCSFEncoder? = nil) { self.healthEncoder = healthEncoder }
    }

    private let workers: [SinkWorker]
    private let options: Options
    private let cond = NSCondition()
    private var closed = false
    private var housekeeper: Thread?
    private var housekeeperDone = false
    private var reportedLoss: [Int]

    /// Opens every output. Nothing connects yet: connections are made by each output's
    /// thread, so an unreachable receiver at start-up spools instead of failing the agent.
    ///
    /// - Parameters:
    ///   - spoolDirectory: where each output keeps its spool (a subdirectory per output,
    ///     named from the spec so a restart finds its backlog); nil keeps nothing on disk.
    /// - Throws: if a spool directory cannot be created or read.
    public convenience init(specs: [OutputSpec], spoolDirectory: String?, options: Options = Options()) throws {
        var pairs: [(any Sink, OutputSpec)] = []
        for spec in specs { pairs.append((Self.makeSink(spec), spec)) }
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
            if let spoolDirectory, spec.spoolMaxBytes > 0 {
                var dir = "\(spoolDirectory)/\(Self.directoryName(for: spec))"
                var n = 2
                while usedDirs.contains(dir) { dir = "\(spoolDirectory)/\(Self.directoryName(for: spec))-\(n)"; n += 1 }
                usedDirs.insert(dir)
                spool = try Spool(directory: dir, maxBytes: spec.spoolMaxBytes)
            }
            workers.append(SinkWorker(sink: sink, spec: spec, spool: spool, capacity: spec.queueCapacity,
                                      batchSize: spec.batchSize, retryInitial: options.retryInitialSeconds,
                                      retryMax: options.retryMaxSeconds, drainTimeout: options.drainTimeoutSeconds))
        }
        self.workers = workers
        self.reportedLoss = Array(repeating: 0, count: workers.count)
        let t = Thread { [self] in housekeeping() }
        t.name = "vigil-output-housekeeping"
        housekeeper = t
        t.start()
    }

    /// Sends one encoded event (one JSON object, no newline) to every output whose filter
    /// takes its class. Returns at once: each output queues or spools it.
    public func publish(_ bytes: [UInt8], classUID: Int) {
        let line = OutputLine(bytes: bytes, classUID: classUID)
        for w in workers where w.spec?.accepts(classUID: classUID) ?? true {
            w.publish(line)
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
    public func close() {
        cond.lock()
        if closed { cond.unlock(); return }
        cond.unlock()
        reportLoss()
        cond.lock()
        closed = true
        cond.broadcast()
        while !housekeeperDone { cond.wait() }
        cond.unlock()
        // Close in parallel so one dead receiver's drain timeout does not add up.
        let group = DispatchGroup()
        for w in workers {
            DispatchQueue.global().async(group: group) { w.close() }
        }
        group.wait()
    }

    deinit { close() }

    private func housekeeping() {
        var lastLossReport = Date()
        cond.lock()
        while !closed {
            _ = cond.wait(until: Date().addingTimeInterval(options.syncIntervalSeconds))
            if closed { break }
            cond.unlock()
            for w in workers { w.sync() }
            if Date().timeIntervalSince(lastLossReport) >= options.lossReportIntervalSeconds {
                reportLoss()
                lastLossReport = Date()
            }
            cond.lock()
        }
        housekeeperDone = true
        cond.broadcast()
        cond.unlock()
    }

    /// Publishes an Application Error event for each output that lost lines since last time.
    private func reportLoss() {
        guard let encoder = options.healthEncoder else { return }
        for (i, w) in workers.enumerated() {
            let s = w.stats
            cond.lock()
            let delta = s.lost - reportedLoss[i]
            reportedLoss[i] = s.lost
            cond.unlock()
            if delta > 0 {
                let now = UInt64(Date().timeIntervalSince1970 * 1_000_000_000)
                publish(encoder.encode(AgentEvent(.loss(source: "output \(s.name)", count: delta), timeNanos: now)))
            }
        }
    }

    /// Makes the sink a spec describes.
    static func makeSink(_ spec: OutputSpec) -> any Sink {
        let tls = TLSSettings(caFile: spec.caFile, verifyPeer: spec.verifyPeer)
        switch spec.target {
        case .stdout:
            return StdoutSink()
        case .file(let path, let maxBytes, let keep, let fsync):
            return FileSink(path: path, maxBytes: maxBytes, keep: keep, fsync: fsync)
        case .syslog(let transport, let host, let port):
            return SyslogSink(transport: transport, host: host, port: port, tls: transport == .tls ? tls : nil)
        case .http(let secure, let host, let port, let path, let format):
            return HTTPSink(secure: secure, host: host, port: port, path: path, format: format,
                            token: spec.token, index: spec.index, tls: secure ? tls : nil)
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

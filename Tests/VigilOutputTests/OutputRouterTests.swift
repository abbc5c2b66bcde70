import Foundation
import Testing
import VigilTestSupport
@testable import VigilOutput

/// A sink the test controls: records what it delivers, can be made to fail, to block until
/// released, or to spend time on a manual clock per delivery.
final class FakeSink: Sink, @unchecked Sendable {
    let name: String
    private let lock = NSLock()
    private var _lines: [OutputLine] = []
    private var _failure: (any Error)?
    private var _closed = false
    private var _attempts = 0
    private var _batchBytes: [Int] = []
    private let gate = NSCondition()
    private var _held = false
    /// Each delivery advances this clock by `cost` seconds (a slow receiver, in clock time).
    var clock: ManualOutputClock?
    var cost: Double = 0

    init(name: String = "fake") { self.name = name }

    var lines: [OutputLine] { lock.withLock { _lines } }
    var attempts: Int { lock.withLock { _attempts } }
    /// Event bytes of each batch delivered.
    var batchBytes: [Int] { lock.withLock { _batchBytes } }
    /// When set, every delivery throws it.
    var failure: (any Error)? {
        get { lock.withLock { _failure } }
        set { lock.withLock { _failure = newValue } }
    }
    var failing: Bool {
        get { failure != nil }
        set { failure = newValue ? Down() : nil }
    }
    /// While true, deliveries block (a stalled receiver) until it is set false again.
    var held: Bool {
        get { gate.withLock { _held } }
        set { gate.withLock { _held = newValue; gate.broadcast() } }
    }
    var closed: Bool { lock.withLock { _closed } }

    struct Down: Error {}

    func deliver(_ batch: ArraySlice<OutputLine>) throws {
        gate.withLock { while _held { gate.wait() } }
        if cost > 0 { clock?.advance(by: cost) }
        let failure: (any Error)? = lock.withLock { _attempts += 1; return _failure }
        if let failure { throw failure }
        lock.withLock { _lines += batch; _batchBytes.append(batch.reduce(0) { $0 + $1.bytes.count }) }
    }

    func close() { lock.withLock { _closed = true } }
}

/// Every test drives time with a manual clock: nothing sleeps, and no decision depends on
/// how fast the machine is. `waitFor` only waits (generously) for the worker threads to
/// get where the test's clock moves say they must.
@Suite(.timeLimit(.minutes(1))) struct OutputRouterTests {
    static func options(_ clock: ManualOutputClock, drain: Double = 5) -> OutputRouter.Options {
        var o = OutputRouter.Options(clock: clock)
        o.retryInitialSeconds = 0.1
        o.retryMaxSeconds = 0.8
        // These tests check each backoff step exactly; the jitter has its own (RetryBackoffTests).
        o.retryJitter = .none()
        o.drainTimeoutSeconds = drain
        // Housekeeping parks at 5 s: never mistaken for a backoff below.
        o.syncIntervalSeconds = 60
        o.lossReportIntervalSeconds = 5
        return o
    }

    /// Waits until a worker is parked on the clock `seconds` from now (its backoff).
    static func parked(_ clock: ManualOutputClock, at seconds: Double) -> Bool {
        waitFor(10) { clock.waiting.contains { abs($0 - seconds) < 1e-6 } }
    }

    @Test func fansOutToEveryOutputWhoseFilterTakesTheClass() throws {
        let all = FakeSink(), findings = FakeSink(), network = FakeSink()
        let router = try OutputRouter(sinks: [
            (all, try OutputSpec.parse("stdout")),
            (findings, try OutputSpec.parse("stdout?only=findings")),
            (network, try OutputSpec.parse("stdout?only=network,app")),
        ], spoolDirectory: nil, options: Self.options(ManualOutputClock()))
        for (i, cls) in [1007, 2004, 4001, 6002, 2004].enumerated() { router.publish(testLine(i, classUID: cls), classUID: cls) }
        router.close()
        #expect(all.lines.count == 5)
        #expect(findings.lines.map(\.classUID) == [2004, 2004])
        #expect(network.lines.map(\.classUID) == [4001, 6002])
        #expect(all.closed && findings.closed && network.closed)
        #expect(router.stats.map(\.delivered) == [5, 2, 2])
    }

    /// A receiver that stalls completely: publishing still returns (the test would hang
    /// otherwise) and the other output gets everything. (The other output's queue holds all
    /// 5,000 lines: with the default 4,096 and no spool, a worker thread starved on a loaded
    /// machine lost the overflow, as a bounded queue must, and the count never came.)
    @Test func aStalledOutputBlocksNeitherTheCallerNorTheOthers() throws {
        let stalled = FakeSink(), fast = FakeSink()
        stalled.held = true
        let router = try OutputRouter(sinks: [(stalled, try OutputSpec.parse("stdout?queue=100000")), (fast, try OutputSpec.parse("stdout?queue=10000"))],
                                      spoolDirectory: nil, options: Self.options(ManualOutputClock()))
        for i in 0..<5000 { router.publish(testLine(i), classUID: 1007) }
        #expect(waitFor(30) { fast.lines.count == 5000 }, "the other output gets everything")
        #expect(router.stats[1].lost == 0)
        #expect(stalled.lines.isEmpty)
        #expect(router.stats[0].queued > 0)
        stalled.held = false
        router.close()
        #expect(stalled.lines.map(\.bytes) == (0..<5000).map { testLine($0) })
    }

    @Test func anOutageSpoolsToDiskAndDeliversEverythingInOrderAfterwards() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let clock = ManualOutputClock()
        let sink = FakeSink()
        let router = try OutputRouter(sinks: [(sink, try OutputSpec.parse("stdout?queue=50&batch=20"))], spoolDirectory: dir, options: Self.options(clock))
        for i in 0..<100 { router.publish(testLine(i), classUID: 1007) }
        #expect(waitFor(10) { sink.lines.count == 100 })
        sink.failing = true
        for i in 100..<2000 { router.publish(testLine(i), classUID: 1007) }
        #expect(waitFor(10) { router.stats[0].spoolPendingBytes > 0 && router.stats[0].down })
        sink.failing = false
        // The retry comes when the clock says so, not before.
        #expect(Self.parked(clock, at: 0.1))
        clock.advance(by: 0.1)
        #expect(waitFor(10) { sink.lines.count == 2000 })
        router.close()
        #expect(sink.lines.map(\.bytes) == (0..<2000).map { testLine($0) }, "every line, once, in order")
        #expect(router.stats[0].lost == 0)
        #expect(router.stats[0].spooled > 0)
    }

    /// The backoff, exactly: 0.1 s, doubling to the 0.8 s cap; new events do not cut it short.
    @Test func aDownOutputIsRetriedWithExponentialBackoffNotOncePerEvent() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let clock = ManualOutputClock()
        let down = FakeSink()
        down.failing = true
        let router = try OutputRouter(sinks: [(down, try OutputSpec.parse("stdout?queue=10"))], spoolDirectory: dir, options: Self.options(clock))
        router.publish(testLine(0), classUID: 1007)
        var published = 1
        for (attempt, wait) in [0.1, 0.2, 0.4, 0.8, 0.8].enumerated() {
            #expect(Self.parked(clock, at: wait), "attempt \(attempt + 1) waits \(wait) s: \(clock.waiting)")
            #expect(down.attempts == attempt + 1)
            // Events arriving during the wait wake the worker, which waits on.
            let parks = clock.waitCount
            for _ in 0..<20 { router.publish(testLine(published), classUID: 1007); published += 1 }
            #expect(waitFor(10) { clock.waitCount > parks })
            #expect(down.attempts == attempt + 1, "no attempt before the clock reaches the backoff")
            clock.advance(by: wait)
            #expect(waitFor(10) { down.attempts == attempt + 2 })
        }
        down.failing = false
        #expect(Self.parked(clock, at: 0.8))
        clock.advance(by: 0.8)
        #expect(waitFor(10) { down.lines.count == published })
        router.close()
        #expect(down.lines.map(\.bytes) == (0..<published).map { testLine($0) })
    }

    @Test func undeliveredLinesSurviveARestartInTheSpool() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let spec = try OutputSpec.parse("http://127.0.0.1:9/x?batch=10")
        let down = FakeSink()
        down.failing = true
        // Drain timeout 0: close gives up at once, leaving everything on disk.
        let first = try OutputRouter(sinks: [(down, spec)], spoolDirectory: dir, options: Self.options(ManualOutputClock(), drain: 0))
        for i in 0..<300 { first.publish(testLine(i), classUID: 1007) }
        first.close()
        #expect(first.stats[0].lost == 0)

        let up = FakeSink()
        let second = try OutputRouter(sinks: [(up, spec)], spoolDirectory: dir, options: Self.options(ManualOutputClock()))
        second.publish(testLine(300), classUID: 1007)
        #expect(waitFor(10) { up.lines.count == 301 })
        second.close()
        #expect(up.lines.map(\.bytes) == (0...300).map { testLine($0) })
    }

    /// A receiver that takes 0.1 s (of clock time) per batch and a 0.5 s drain timeout: close
    /// delivers exactly what fits in the timeout and leaves the rest for the next run.
    @Test func closeLeavesASlowBacklogInTheSpoolForTheNextRun() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // A long batch wait on a frozen clock: every batch is a full 10.
        let spec = try OutputSpec.parse("stdout?batch=10&queue=100&batch-wait-ms=1000")
        let clock = ManualOutputClock()
        let slow = FakeSink()
        slow.held = true
        slow.clock = clock
        slow.cost = 0.1
        let first = try OutputRouter(sinks: [(slow, spec)], spoolDirectory: dir, options: Self.options(clock, drain: 0.5))
        for i in 0..<1000 { first.publish(testLine(i), classUID: 1007) }
        #expect(waitFor(10) { first.stats[0].spoolPendingBytes > 0 })  // the queue overflowed to disk
        // Release the receiver only once close has set its deadline.
        let closer = Thread { first.close() }
        closer.start()
        #expect(waitFor(10) { first.stats[0].draining })
        slow.held = false
        #expect(waitFor(10) { slow.closed })
        #expect(first.stats[0].lost == 0)
        let done = slow.lines.count
        // Five 0.1 s batches fill the 0.5 s drain timeout; the rest waits on disk.
        #expect(done == 50, "\(done) lines delivered within the drain timeout")

        let fast = FakeSink()
        let second = try OutputRouter(sinks: [(fast, spec)], spoolDirectory: dir, options: Self.options(ManualOutputClock()))
        #expect(waitFor(10) { fast.lines.count == 1000 - done })
        second.close()
        #expect((slow.lines + fast.lines).map(\.bytes) == (0..<1000).map { testLine($0) })
    }

    /// Lines lost beyond the spool's bound are reported in a health event once the report
    /// interval has passed on the clock.
    @Test func lossBeyondTheSpoolBoundIsCountedAndReported() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let clock = ManualOutputClock()
        let down = FakeSink(), health = FakeSink()
        down.failing = true
        var options = Self.options(clock, drain: 0)
        options.healthEncoder = Samples.encoder
        let healthSpec = try OutputSpec.parse("stdout?only=app")
        let router = try OutputRouter(sinks: [
            (down, try OutputSpec.parse("stdout?queue=10&spool-max-bytes=4096&only=process")),
            (health, healthSpec),
        ], spoolDirectory: dir, options: options)
        for i in 0..<500 { router.publish(testLine(i), classUID: 1007) }
        #expect(waitFor(10) { router.stats[0].lost > 0 })
        #expect(health.lines.isEmpty, "no report before the interval")
        clock.advance(by: 5)
        #expect(waitFor(10) { !health.lines.isEmpty })
        router.close()
        let stats = router.stats[0]
        #expect(stats.lost > 0)
        #expect(stats.accepted == 500)
        // With no drain time, the last report may be left in the health output's spool.
        let reported = try Self.reportedLosses(health, spool: dir + "/" + OutputRouter.directoryName(for: healthSpec))
        #expect(reported.reduce(0, +) == stats.lost, "every lost line is reported in a health event: \(reported) against \(stats.lost)")
    }

    /// The `lost_events` of each output-health report (OCSF 6008) `sink` received, and of
    /// those waiting in `spool` (an output's spool directory) for the next run.
    static func reportedLosses(_ sink: FakeSink, spool: String? = nil) throws -> [Int] {
        var lines = sink.lines.map { String(decoding: $0.bytes, as: UTF8.self) }
        if let spool {
            let segments = try FileManager.default.contentsOfDirectory(atPath: spool).filter { $0.hasSuffix(".jsonl") }.sorted()
            for s in segments { lines += try String(contentsOfFile: spool + "/" + s, encoding: .utf8).split(separator: "\n").map(String.init) }
        }
        return lines.compactMap { text -> Int? in
            guard text.contains(#""class_uid":6008"#), let r = text.range(of: #""lost_events":"#) else { return nil }
            return Int(text[r.upperBound...].prefix { $0.isNumber })
        }
    }

    /// What an output loses while it closes is in the last report: lines in memory when
    /// the close starts, with its spool full, are lost then, and the report that counts them
    /// reaches the other outputs. And an output whose queue and spool are full still takes
    /// the report of its own losses (the room kept for reports).
    @Test func lossesAtCloseAreInTheLastReport() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let clock = ManualOutputClock()
        let down = FakeSink(), health = FakeSink()
        down.failing = true
        down.held = true
        var options = Self.options(clock, drain: 1)
        options.healthEncoder = Samples.encoder
        let downSpec = try OutputSpec.parse("stdout?queue=10&batch=5&spool-max-bytes=4096")
        let router = try OutputRouter(sinks: [(down, downSpec), (health, try OutputSpec.parse("stdout?only=app"))],
                                      spoolDirectory: dir, options: options)
        // The first batch is stuck in the receiver; the queue fills, then the spool, then lines are lost.
        for i in 0..<500 { router.publish(testLine(i), classUID: 1007) }
        #expect(waitFor(10) { router.stats[0].lost > 0 && router.stats[0].queued == 10 })
        let lostBefore = router.stats[0].lost
        let closer = Thread { router.close() }
        closer.start()
        #expect(waitFor(10) { router.stats[0].draining })
        // The receiver answers (a failure): the batch and the queue find the spool full.
        down.held = false
        #expect(waitFor(10) { router.stats[0].lost > lostBefore })
        clock.advance(by: 2)  // past the drain timeout
        #expect(waitFor(10) { down.closed && health.closed })
        let stats = router.stats[0]
        let reported = try Self.reportedLosses(health)
        #expect(!reported.isEmpty)
        #expect(reported.reduce(0, +) == stats.lost, "every lost line is in a report, the ten lost at close too: \(reported) against \(stats.lost)")
        // The down output took the report of its own losses into the room beyond its spool's bound.
        let spool = dir + "/" + OutputRouter.directoryName(for: downSpec)
        let segments = try FileManager.default.contentsOfDirectory(atPath: spool).filter { $0.hasSuffix(".jsonl") }
        let spooled = try segments.map { try String(contentsOfFile: spool + "/" + $0, encoding: .utf8) }.joined()
        #expect(spooled.contains(#""class_uid":6008"#), "the report waits in the full output's spool for the next run")
    }

    /// `batch_wait_ms`: a batch that is not full waits for more lines, but no longer than the
    /// wait; a full one goes at once.
    @Test func batchesAreCappedByCountBytesAndTime() throws {
        let clock = ManualOutputClock()
        let sink = FakeSink()
        let router = try OutputRouter(sinks: [(sink, try OutputSpec.parse("stdout?batch=10&batch-bytes=1024&batch-wait-ms=500"))],
                                      spoolDirectory: nil, options: Self.options(clock))
        for i in 0..<3 { router.publish(testLine(i), classUID: 1007) }
        #expect(Self.parked(clock, at: 0.5))
        #expect(sink.attempts == 0, "three lines wait for more")
        clock.advance(by: 0.5)
        #expect(waitFor(10) { sink.lines.count == 3 })
        #expect(sink.attempts == 1, "one batch when the wait ran out")
        // Ten lines fill a batch: it goes without waiting for the clock.
        for i in 3..<13 { router.publish(testLine(i), classUID: 1007) }
        #expect(waitFor(10) { sink.lines.count == 13 })
        #expect(sink.attempts == 2)
        // 400-byte lines: 1 KiB holds two.
        let big = Array(repeating: UInt8(ascii: "x"), count: 400)
        for _ in 0..<5 { router.publish(big, classUID: 1007) }
        router.close()
        #expect(sink.lines.count == 18)
        #expect(sink.batchBytes.allSatisfy { $0 <= 1024 }, "\(sink.batchBytes)")
        #expect(sink.batchBytes.count >= 5, "two earlier batches, then 5 x 400 bytes need at least 3 batches of 1 KiB")
    }

    @Test func throttleHoldsBackRepeatsAndCountsThem() {
        var t = FindingThrottle(windowNanos: 1_000, limit: 2)
        let f = Samples.finding
        #expect(t.admit(f, now: 0) == (true, 0))
        #expect(t.admit(f, now: 10) == (true, 0))
        #expect(t.admit(f, now: 20) == (false, 0))
        #expect(t.admit(f, now: 30) == (false, 0))
        var other = f
        other.profile = "postgres"
        #expect(t.admit(other, now: 40) == (true, 0), "profiles are throttled separately")
        #expect(t.admit(f, now: 1_500) == (true, 2), "the next one out carries the held-back count")
        #expect(t.takeSuppressedCounts() == ["nginx": 2])
        #expect(t.takeSuppressedCounts().isEmpty)
        #expect(t.totalSuppressed == 2)
    }

    @Test func oneProcessesRepeatsNeverHoldBackAnothersFinding() {
        var t = FindingThrottle(windowNanos: 1_000, limit: 1)
        var shell = Samples.finding
        shell.decision = .init(acts: false, rule: "bands", scope: "outside every workload", workload: nil)
        for i in 0..<5 { _ = t.admit(shell, now: UInt64(i)) }
        var child = Samples.finding
        child.process.pid = shell.process.pid + 1
        child.decision = .init(acts: true, rule: "bands", scope: "workload web", workload: "web")
        #expect(t.admit(child, now: 10) == (true, 0), "another process of the same profile and kind still gets through")
        #expect(t.admit(child, now: 11) == (false, 0))
        #expect(t.suppressedByWorkload == ["-": 4, "web": 1])
        t.prune(now: 5_000)
        #expect(t.windowCount == 2, "windows holding back findings stay until one goes out")
        #expect(t.admit(shell, now: 5_001) == (true, 4))
        t.prune(now: 20_000)
        #expect(t.windowCount == 1, "the window that went out is pruned once it ends")
    }

    @Test func statisticalFindingsOfOneProfileAreOneAlertPerWindowAndConcreteOnesAlwaysGo() {
        var t = FindingThrottle(windowNanos: 1_000, limit: 5)
        t.statisticalWindowNanos = 10_000
        // Forked children of one service, each showing the same new calls.
        func child(_ pid: Int32, statistical: Bool = true) -> FindingReport {
            var f = Samples.finding
            f.process.pid = pid
            f.statisticalOnly = statistical
            f.decision = .init(acts: false, rule: "bands", scope: "workload db", workload: "db")
            return f
        }
        #expect(t.admit(child(100), now: 0) == (true, 0))
        for pid in Int32(101)..<110 { #expect(t.admit(child(pid), now: UInt64(pid)) == (false, 0), "child \(pid)") }
        #expect(t.admit(child(120, statistical: false), now: 200) == (true, 0), "a concrete finding is never held by the rule")
        var other = child(130)
        other.profile = "postgres"
        #expect(t.admit(other, now: 300) == (true, 0), "each profile has its own")
        #expect(t.admit(child(140), now: 10_001) == (true, 9), "after the window, the next one carries the count")
        #expect(t.suppressedByWorkload == ["db": 9])
        t.statisticalWindowNanos = 0
        #expect(t.admit(child(150), now: 10_002) == (true, 0), "0 turns the rule off: the per-process limit applies")
    }

    @Test func aTickEverySecondSummarizesSuppressionOncePerWindow() throws {
        let sink = FakeSink()
        let router = try OutputRouter(sinks: [(sink, try OutputSpec.parse("stdout"))], spoolDirectory: nil, options: Self.options(ManualOutputClock()))
        let stream = EventStream(router: router, encoder: Samples.encoder, throttle: FindingThrottle(windowNanos: 60_000_000_000, limit: 1))
        let t0 = Samples.finding.timeNanos
        #expect(stream.publish(Samples.finding))
        var f = Samples.finding
        for s in 1...120 {
            f.timeNanos = t0 + UInt64(s) * 500_000_000
            _ = stream.publish(f)                                     // held back: one a minute
            stream.reportSuppressedIfDue(now: f.timeNanos)            // the agent's tick
        }
        stream.close(now: t0 + 61_000_000_000)
        let summaries = sink.lines.filter { $0.classUID == 6002 }.count
        #expect(summaries <= 3, "\(summaries) summaries for one minute of ticks")
        #expect(summaries >= 1)
    }

    @Test func eventStreamEncodesThrottlesAndReportsSuppression() throws {
        let sink = FakeSink()
        let router = try OutputRouter(sinks: [(sink, try OutputSpec.parse("stdout"))], spoolDirectory: nil, options: Self.options(ManualOutputClock()))
        let stream = EventStream(router: router, encoder: Samples.encoder, throttle: FindingThrottle(windowNanos: 60_000_000_000, limit: 1))
        for c in Samples.events { stream.publish(c.event, process: c.process, ancestry: c.ancestry) }
        #expect(stream.publish(Samples.finding))
        #expect(!stream.publish(Samples.finding))
        stream.close(now: Samples.t0)
        let classes = sink.lines.map(\.classUID)
        #expect(classes.filter { $0 == 2004 }.count == 1)
        #expect(classes.last == 6002, "suppression summary at close")
        #expect(String(decoding: sink.lines.last!.bytes, as: UTF8.self).contains(#""suppressed_findings":{"nginx":1}"#))
        #expect(stream.suppressedFindings == 1)
    }
}

@Suite struct FileSinkTests {
    @Test func rotatesBySizeKeepingN() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/vigil.jsonl"
        let router = try OutputRouter(specs: [try OutputSpec.parse("file:\(path)?max-bytes=4096&keep=2&batch=10")], spoolDirectory: nil)
        for i in 0..<400 { router.publish(testLine(i), classUID: 1007) }
        router.close()
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        #expect(files == ["vigil.jsonl", "vigil.jsonl.1", "vigil.jsonl.2"])
        var all: [Int] = []
        for name in ["vigil.jsonl.2", "vigil.jsonl.1", "vigil.jsonl"] {
            let text = try String(contentsOfFile: "\(dir)/\(name)", encoding: .utf8)
            #expect(text.utf8.count <= 4096)
            #expect(text.hasSuffix("\n"), "whole lines only")
            all += text.split(separator: "\n").compactMap { seq($0) }
        }
        // The newest lines, contiguous and in order; older files were dropped by `keep`.
        #expect(all.last == 399)
        #expect(all == Array(all.first!...399))
    }
}

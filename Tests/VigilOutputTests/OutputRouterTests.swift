import Foundation
import Testing
import VigilTestSupport
@testable import VigilOutput

/// A sink the test controls: records what it delivers, can be made to fail or to stall.
final class FakeSink: Sink, @unchecked Sendable {
    let name: String
    private let lock = NSLock()
    private var _lines: [OutputLine] = []
    private var _failing = false
    private var _delay: Double = 0
    private var _closed = false

    init(name: String = "fake") { self.name = name }

    var lines: [OutputLine] { lock.withLock { _lines } }
    var failing: Bool {
        get { lock.withLock { _failing } }
        set { lock.withLock { _failing = newValue } }
    }
    var delay: Double {
        get { lock.withLock { _delay } }
        set { lock.withLock { _delay = newValue } }
    }
    var closed: Bool { lock.withLock { _closed } }

    struct Down: Error {}

    func deliver(_ batch: ArraySlice<OutputLine>) throws {
        let d = delay
        if d > 0 { Thread.sleep(forTimeInterval: d) }
        if failing { throw Down() }
        lock.withLock { _lines += batch }
    }

    func close() { lock.withLock { _closed = true } }
}

@Suite struct OutputRouterTests {
    static var fastRetry: OutputRouter.Options {
        var o = OutputRouter.Options()
        o.retryInitialSeconds = 0.01
        o.retryMaxSeconds = 0.05
        o.drainTimeoutSeconds = 0.5
        o.syncIntervalSeconds = 0.02
        o.lossReportIntervalSeconds = 0.05
        return o
    }

    @Test func fansOutToEveryOutputWhoseFilterTakesTheClass() throws {
        let all = FakeSink(), findings = FakeSink(), network = FakeSink()
        let router = try OutputRouter(sinks: [
            (all, try OutputSpec.parse("stdout")),
            (findings, try OutputSpec.parse("stdout?only=findings")),
            (network, try OutputSpec.parse("stdout?only=network,app")),
        ], spoolDirectory: nil, options: Self.fastRetry)
        for (i, cls) in [1007, 2004, 4001, 6002, 2004].enumerated() { router.publish(testLine(i, classUID: cls), classUID: cls) }
        router.close()
        #expect(all.lines.count == 5)
        #expect(findings.lines.map(\.classUID) == [2004, 2004])
        #expect(network.lines.map(\.classUID) == [4001, 6002])
        #expect(all.closed && findings.closed && network.closed)
        #expect(router.stats.map(\.delivered) == [5, 2, 2])
    }

    @Test func aSlowOutputBlocksNeitherTheCallerNorTheOthers() throws {
        let slow = FakeSink(), fast = FakeSink()
        slow.delay = 0.2
        let router = try OutputRouter(sinks: [(slow, try OutputSpec.parse("stdout?queue=100000")), (fast, try OutputSpec.parse("stdout"))],
                                      spoolDirectory: nil, options: Self.fastRetry)
        let start = Date()
        for i in 0..<5000 { router.publish(testLine(i), classUID: 1007) }
        #expect(Date().timeIntervalSince(start) < 0.2, "publishing waited for the slow sink")
        #expect(waitFor(5) { fast.lines.count == 5000 })
        #expect(slow.lines.count < 5000)
        slow.delay = 0
        router.close()
        #expect(slow.lines.map(\.bytes) == (0..<5000).map { testLine($0) })
    }

    @Test func anOutageSpoolsToDiskAndDeliversEverythingInOrderAfterwards() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let sink = FakeSink()
        let router = try OutputRouter(sinks: [(sink, try OutputSpec.parse("stdout?queue=50&batch=20"))], spoolDirectory: dir, options: Self.fastRetry)
        for i in 0..<100 { router.publish(testLine(i), classUID: 1007) }
        #expect(waitFor(5) { sink.lines.count == 100 })
        sink.failing = true
        for i in 100..<2000 { router.publish(testLine(i), classUID: 1007) }
        #expect(waitFor(5) { router.stats[0].spoolPendingBytes > 0 && router.stats[0].down })
        sink.failing = false
        #expect(waitFor(10) { sink.lines.count == 2000 })
        router.close()
        #expect(sink.lines.map(\.bytes) == (0..<2000).map { testLine($0) }, "every line, once, in order")
        #expect(router.stats[0].lost == 0)
        #expect(router.stats[0].spooled > 0)
    }

    @Test func aDownOutputIsRetriedWithBackoffNotOncePerEvent() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let down = FakeSink()
        down.failing = true
        var options = Self.fastRetry
        options.retryInitialSeconds = 0.05
        options.retryMaxSeconds = 0.1
        let router = try OutputRouter(sinks: [(down, try OutputSpec.parse("stdout?queue=10"))], spoolDirectory: dir, options: options)
        let start = Date()
        var i = 0
        while Date().timeIntervalSince(start) < 0.5 { router.publish(testLine(i), classUID: 1007); i += 1; usleep(100) }
        let failures = router.stats[0].failures
        #expect(failures >= 2 && failures <= 12, "\(failures) attempts in 0.5 s for \(i) events")
        down.failing = false
        #expect(waitFor(5) { down.lines.count == i })
        router.close()
    }

    @Test func undeliveredLinesSurviveARestartInTheSpool() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let spec = try OutputSpec.parse("http://127.0.0.1:9/x?batch=10")
        let down = FakeSink()
        down.failing = true
        let first = try OutputRouter(sinks: [(down, spec)], spoolDirectory: dir, options: Self.fastRetry)
        for i in 0..<300 { first.publish(testLine(i), classUID: 1007) }
        first.close()  // gives up after the drain timeout; everything is on disk
        #expect(first.stats[0].lost == 0)

        let up = FakeSink()
        let second = try OutputRouter(sinks: [(up, spec)], spoolDirectory: dir, options: Self.fastRetry)
        second.publish(testLine(300), classUID: 1007)
        #expect(waitFor(5) { up.lines.count == 301 })
        second.close()
        #expect(up.lines.map(\.bytes) == (0...300).map { testLine($0) })
    }

    @Test func closeLeavesASlowBacklogInTheSpoolForTheNextRun() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let spec = try OutputSpec.parse("stdout?batch=10&queue=100")
        let slow = FakeSink()
        slow.delay = 0.02
        let first = try OutputRouter(sinks: [(slow, spec)], spoolDirectory: dir, options: Self.fastRetry)
        for i in 0..<1000 { first.publish(testLine(i), classUID: 1007) }
        let start = Date()
        first.close()
        #expect(Date().timeIntervalSince(start) < 2, "close is bounded by the drain timeout")
        #expect(first.stats[0].lost == 0)
        let done = slow.lines.count
        #expect(done < 1000)

        let fast = FakeSink()
        let second = try OutputRouter(sinks: [(fast, spec)], spoolDirectory: dir, options: Self.fastRetry)
        #expect(waitFor(5) { fast.lines.count == 1000 - done })
        second.close()
        #expect((slow.lines + fast.lines).map(\.bytes) == (0..<1000).map { testLine($0) })
    }

    @Test func lossBeyondTheSpoolBoundIsCountedAndReported() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let down = FakeSink(), health = FakeSink()
        down.failing = true
        var options = Self.fastRetry
        options.healthEncoder = Samples.encoder
        let router = try OutputRouter(sinks: [
            (down, try OutputSpec.parse("stdout?queue=10&spool_max_bytes=4096&only=process")),
            (health, try OutputSpec.parse("stdout?only=app")),
        ], spoolDirectory: dir, options: options)
        for i in 0..<500 { router.publish(testLine(i), classUID: 1007) }
        #expect(waitFor(5) { !health.lines.isEmpty })
        router.close()
        let stats = router.stats[0]
        #expect(stats.lost > 0)
        #expect(stats.accepted == 500)
        let reported = health.lines.compactMap { l -> Int? in
            let text = String(decoding: l.bytes, as: UTF8.self)
            guard text.contains(#""class_uid":6008"#), let r = text.range(of: #""lost_events":"#) else { return nil }
            return Int(text[r.upperBound...].prefix { $0.isNumber })
        }
        #expect(reported.reduce(0, +) == stats.lost, "every lost line is reported in a health event")
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

    @Test func eventStreamEncodesThrottlesAndReportsSuppression() throws {
        let sink = FakeSink()
        let router = try OutputRouter(sinks: [(sink, try OutputSpec.parse("stdout"))], spoolDirectory: nil, options: Self.fastRetry)
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
        let router = try OutputRouter(specs: [try OutputSpec.parse("file:\(path)?max_bytes=4096&keep=2&batch=10")], spoolDirectory: nil)
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

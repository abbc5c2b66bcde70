import Foundation
import Testing
import VigilTestSupport
@testable import VigilOutput

/// Issue 18's delivery rules, each against a real HTTP peer on loopback (`TestHTTPServer`
/// answering as a SIEM would), with time on a manual clock.
@Suite(.serialized, .timeLimit(.minutes(1))) struct DeliveryRulesTests {
    static func options(_ clock: ManualOutputClock, health: Bool = false) -> OutputRouter.Options {
        var o = HTTPSinkTests.options(clock)
        if health { o.healthEncoder = Samples.encoder }
        return o
    }

    /// The `seq` of each event line in a request body (action lines of `_bulk` have none).
    static func seqs(_ r: TestHTTPServer.Request) -> [Int] {
        String(decoding: r.body, as: UTF8.self).split(separator: "\n").compactMap { seq($0) }
    }

    /// A 400 is permanent: that batch goes to the dead-letter file, is counted and reported,
    /// and the batches after it are delivered without waiting for any clock.
    @Test func aRejectedBatchGoesToDeadLetterWhileLaterBatchesFlow() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try TestHTTPServer()
        defer { server.stop() }
        // The receiver refuses any batch holding event 5 (as a SIEM refuses a malformed one).
        server.handler = { r in
            Self.seqs(r).contains(5) ? .init(status: 400, body: #"{"error":"bad event 5"}"#) : .init(status: 200)
        }
        let clock = ManualOutputClock()
        let router = try OutputRouter(specs: [try OutputSpec.parse("http://127.0.0.1:\(server.port)/in?batch=3&batch-wait-ms=100000")],
                                      spoolDirectory: dir, options: Self.options(clock, health: true))
        for i in 0..<12 { router.publish(testLine(i), classUID: 1007) }
        // Batches [0,1,2] [3,4,5] [6,7,8] [9,10,11]: the clock never moves, so nothing waited.
        #expect(waitFor(10) { server.lines.count == 9 })
        #expect(server.lines.compactMap(seq) == [0, 1, 2, 6, 7, 8, 9, 10, 11])
        let stats = router.stats[0]
        #expect(stats.deadLettered == 3)
        #expect(stats.failures == 0, "a rejection is not an outage")
        #expect(!stats.down)
        #expect(stats.lastRejection?.contains("400") == true)
        let file = try #require(stats.deadLetterPath)
        #expect(file.hasPrefix(dir + "/"), "the dead-letter file lives in the output's spool directory")
        let dead = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n")
        #expect(dead.compactMap { seq($0) } == [3, 4, 5])
        let first = try #require(try JSONSerialization.jsonObject(with: Data(dead[0].utf8)) as? [String: Any])
        #expect((first["reason"] as? String)?.contains("bad event 5") == true)
        #expect((first["event"] as? [String: Any])?["seq"] as? Int == 3, "the event exactly as sent")
        // Reported in the stream as an Application Error at the next health report.
        clock.advance(by: 30)
        #expect(waitFor(10) { router.stats[0].accepted == 13 })
        router.close()  // flushes the report, which would otherwise wait for a full batch
        let report = try #require(server.lines.first { $0.contains(#""rejected_events":3"#) })
        #expect(report.contains(#""class_uid":6008"#))
        #expect(report.contains(file))
    }

    /// A 429 with `Retry-After: 7` waits exactly 7 s of clock time (not the 0.1 s backoff).
    @Test func aTooManyRequestsAnswerIsRetriedAfterRetryAfter() throws {
        let server = try TestHTTPServer()
        defer { server.stop() }
        let calls = Counter()
        server.handler = { _ in
            calls.add() == 0 ? .init(status: 429, headers: [("Retry-After", "7")], body: "slow down") : .init(status: 200)
        }
        let clock = ManualOutputClock()
        let router = try OutputRouter(specs: [try OutputSpec.parse("http://127.0.0.1:\(server.port)/in")], spoolDirectory: nil, options: Self.options(clock))
        router.publish(testLine(1), classUID: 1007)
        #expect(HTTPSinkTests.parked(clock, at: 7), "waits as asked: \(clock.waiting)")
        #expect(server.allRequests.count == 1)
        clock.advance(by: 6.9)
        #expect(HTTPSinkTests.parked(clock, at: 0.1), "still waiting out the rest")
        #expect(server.allRequests.count == 1)
        clock.advance(by: 0.1)
        #expect(waitFor(10) { server.lines.count == 1 })
        router.close()
        #expect(router.stats[0].failures == 1)
        #expect(router.stats[0].deadLettered == 0)
    }

    @Test func retryAfterTakesSecondsOrAnHTTPDate() {
        let now: UInt64 = 1_767_225_600_000_000_000  // Thu, 01 Jan 2026 00:00:00 GMT
        #expect(HTTPSink.retryAfterSeconds("120", nowNanos: now) == 120)
        #expect(HTTPSink.retryAfterSeconds("Thu, 01 Jan 2026 00:00:30 GMT", nowNanos: now) == 30)
        #expect(HTTPSink.retryAfterSeconds("Wed, 31 Dec 2025 00:00:00 GMT", nowNanos: now) == 0)
        #expect(HTTPSink.retryAfterSeconds("soon", nowNanos: now) == nil)
    }

    /// `_bulk` with some items failing: items are created by `_id` (the event's
    /// `metadata.uid`); only the failed items are sent again, 409 counts as delivered, and
    /// the index ends up with every event exactly once. Once from memory, once with the
    /// events coming from the disk spool (a queue of one overflows at once).
    @Test(arguments: [false, true])
    func aPartialBulkFailureResendsOnlyTheFailedItemsWithoutDuplicates(fromSpool: Bool) throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try TestHTTPServer()
        defer { server.stop() }
        let index = MiniIndex()
        server.handler = { r in index.bulk(r) }
        let clock = ManualOutputClock()
        var encoder = Samples.encoder
        encoder.identity = EventIdentity()
        let spec = "http://127.0.0.1:\(server.port)/_bulk?format=bulk&batch=10" + (fromSpool ? "&queue=1" : "&batch-wait-ms=100000")
        let router = try OutputRouter(specs: [try OutputSpec.parse(spec)], spoolDirectory: fromSpool ? dir : nil, options: Self.options(clock))
        let events = (0..<10).map { i in encoder.encode(AgentEvent(.reloaded(detail: "n\(i)"), timeNanos: Samples.t0 + UInt64(i))) }
        let ids = try events.map { try #require(OutputLine(bytes: $0.bytes, classUID: $0.classUID).eventUID) }
        // A re-send of the first event (as after a lost answer): the index already holds it.
        index.preload(ids[0])
        // The index is busy for the 4th and 8th events the first time it sees them.
        index.refuseOnce = [ids[3], ids[7]]
        for e in events { router.publish(e) }
        #expect(HTTPSinkTests.parked(clock, at: 0.1), "the items refused with 429 wait for the backoff")
        clock.advance(by: 0.1)
        // Through the spool, how the ten split into batches depends on the worker's timing:
        // the 8th event's 429 can come in a later batch, with a wait of its own. Keep time
        // moving until every event is in.
        #expect(waitFor(10) {
            if index.documents.count < 10, !clock.waiting.isEmpty { clock.advance(by: 0.1) }
            return index.documents.count == 10
        })
        router.close()
        #expect(server.allRequests.allSatisfy { $0.headers["content-encoding"] == "gzip" })
        let sent = index.allIDs
        #expect(sent.filter { $0 == ids[3] }.count == 2 && sent.filter { $0 == ids[7] }.count == 2, "refused items sent again")
        #expect(ids.enumerated().allSatisfy { i, id in i == 3 || i == 7 || sent.filter { $0 == id }.count == 1 },
                "nothing else is sent twice: \(sent.count) items in \(index.requests) requests")
        #expect(index.documents.count == 10, "every event once")
        #expect(Set(index.documents.keys) == Set(ids))
        #expect(router.stats[0].delivered == 10)
        #expect(router.stats[0].deadLettered == 0)
        #expect(router.stats[0].spoolPendingBytes == 0)
    }

    /// 401: the output is failing, its events stay spooled (nothing dead-lettered), a health
    /// event says so; once the receiver takes the credentials again, all of it arrives.
    @Test func unauthorizedMarksTheOutputFailingAndKeepsEventsSpooled() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try TestHTTPServer()
        defer { server.stop() }
        let health = FakeSink()
        let clock = ManualOutputClock()
        server.status = 401
        let router = try OutputRouter(sinks: [
            (OutputRouter.makeSink(try OutputSpec.parse("http://127.0.0.1:\(server.port)/in?token=old&only=process"), clock: clock), try OutputSpec.parse("http://127.0.0.1:\(server.port)/in?token=old&only=process")),
            (health, try OutputSpec.parse("stdout?only=app")),
        ], spoolDirectory: dir, options: Self.options(clock, health: true))
        for i in 0..<20 { router.publish(testLine(i), classUID: 1007) }
        #expect(HTTPSinkTests.parked(clock, at: 1.6), "a refused credential is retried slowly: \(clock.waiting)")
        let stats = router.stats[0]
        #expect(stats.unauthorized?.contains("401") == true)
        #expect(stats.down)
        #expect(stats.deadLettered == 0)
        #expect(stats.spoolPendingBytes > 0, "the events wait in the spool")
        clock.advance(by: 30)  // the health report
        #expect(waitFor(10) { health.lines.contains { String(decoding: $0.bytes, as: UTF8.self).contains("is failing") } })
        server.status = 200
        #expect(waitFor(10) { clock.advance(by: 1.6); return server.lines.count == 20 })
        #expect(server.lines.compactMap(seq) == Array(0..<20))
        clock.advance(by: 30)
        #expect(waitFor(10) { health.lines.contains { String(decoding: $0.bytes, as: UTF8.self).contains("delivers again") } })
        router.close()
        #expect(router.stats[0].unauthorized == nil)
    }

    /// 413: the batch is split and the halves sent at once; a single event still too large
    /// goes to the dead-letter file.
    @Test func payloadTooLargeSplitsTheBatch() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try TestHTTPServer()
        defer { server.stop() }
        // Takes at most 3 events per request; never event 6 (too large alone, say).
        server.handler = { r in
            let s = Self.seqs(r)
            return s.count > 3 || s.contains(6) ? .init(status: 413, body: "too large") : .init(status: 200)
        }
        let clock = ManualOutputClock()
        let router = try OutputRouter(specs: [try OutputSpec.parse("http://127.0.0.1:\(server.port)/in?batch=8&batch-wait-ms=100000")],
                                      spoolDirectory: dir, options: Self.options(clock))
        for i in 0..<8 { router.publish(testLine(i), classUID: 1007) }
        #expect(waitFor(10) { server.lines.count == 7 })
        router.close()
        #expect(server.lines.compactMap(seq) == [0, 1, 2, 3, 4, 5, 7], "in order, the halves of halves")
        #expect(router.stats[0].deadLettered == 1)
        #expect(router.stats[0].failures == 0)
    }

    /// An OTLP collector's `partialSuccess`: the records it refused (it does not say which)
    /// are counted lost with its reason and reported; the rest are delivered; nothing is resent.
    @Test func anOTLPPartialSuccessCountsTheRefusedRecordsLost() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try TestHTTPServer()
        defer { server.stop() }
        let calls = Counter()
        server.handler = { _ in
            calls.add() == 0 ? .init(status: 200, body: #"{"partialSuccess":{"rejectedLogRecords":"3","errorMessage":"timestamps too old"}}"#)
                             : .init(status: 200, body: "{}")
        }
        let clock = ManualOutputClock()
        let file = dir + "/events.jsonl"
        let router = try OutputRouter(specs: [try OutputSpec.parse("otlp+http://127.0.0.1:\(server.port)/v1/logs?batch=4&batch-wait-ms=100000&gzip=false"),
                                              try OutputSpec.parse("file:" + file)],
                                      spoolDirectory: dir, options: Self.options(clock, health: true))
        for i in 0..<8 { router.publish(testLine(i), classUID: 1007) }
        #expect(waitFor(10) { router.stats[0].delivered == 5 })
        let stats = router.stats[0]
        #expect(server.allRequests.count == 2, "two batches, neither sent again")
        #expect(stats.lost == 3 && stats.failures == 0 && !stats.down && stats.deadLettered == 0)
        #expect(stats.lastRejection?.contains("rejected 3 of 4 log records") == true && stats.lastRejection?.contains("timestamps too old") == true,
                "\(stats.lastRejection ?? "nil")")
        clock.advance(by: 30)
        #expect(waitFor(10) { ((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").contains(#""lost_events":3"#) },
                "the loss is reported in the stream")
        router.close()
        #expect(HTTPSink.otlpRejected(Array(#"{"partialSuccess":{"rejectedLogRecords":2}}"#.utf8))?.0 == 2, "a number is read too")
        #expect(HTTPSink.otlpRejected(Array("{}".utf8)) == nil)
    }

    /// A receiver that does not take gzip (415) gets the batch again uncompressed.
    @Test func aReceiverRefusingGzipGetsPlainBodies() throws {
        let server = try TestHTTPServer()
        defer { server.stop() }
        server.handler = { r in r.headers["content-encoding"] == "gzip" ? .init(status: 415) : .init(status: 200) }
        let clock = ManualOutputClock()
        let router = try OutputRouter(specs: [try OutputSpec.parse("http://127.0.0.1:\(server.port)/in?gzip=true")], spoolDirectory: nil, options: Self.options(clock))
        router.publish(testLine(1), classUID: 1007)
        router.publish(testLine(2), classUID: 1007)
        #expect(waitFor(10) { server.lines.count == 2 })
        router.close()
        #expect(server.requests.allSatisfy { $0.headers["content-encoding"] == nil })
        #expect(server.allRequests.first?.headers["content-encoding"] == "gzip")
    }

    @Test func gzipShrinksRepetitiveBodiesAndRoundTrips() throws {
        let body = Array((0..<200).map { String(decoding: testLine($0), as: UTF8.self) }.joined(separator: "\n").utf8)
        let z = try Gzip.compress(body)
        #expect(z.count < body.count / 4)
        #expect(TestHTTPServer.gunzip(z) == body)
    }
}

/// A thread-safe counter for handlers (which run on connection threads).
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    /// Adds one and returns the value before.
    @discardableResult func add() -> Int { lock.withLock { defer { n += 1 }; return n } }
}

/// Just enough of an Elasticsearch index for `_bulk` `create`: 409 for an `_id` it holds;
/// 429 (a busy shard) for an `_id` in `refuseOnce`, the first time it is seen.
final class MiniIndex: @unchecked Sendable {
    private let lock = NSLock()
    private var docs: [String: String] = [:]
    private var perRequest: [[String]] = []
    private var _refuse: Set<String> = []

    var documents: [String: String] { lock.withLock { docs } }
    var requests: Int { lock.withLock { perRequest.count } }
    /// Every `_id` sent, in order, across requests.
    var allIDs: [String] { lock.withLock { perRequest.flatMap { $0 } } }
    var refuseOnce: Set<String> {
        get { lock.withLock { _refuse } }
        set { lock.withLock { _refuse = newValue } }
    }
    func preload(_ id: String) { lock.withLock { docs[id] = "{}" } }

    func bulk(_ r: TestHTTPServer.Request) -> TestHTTPServer.Reply {
        let lines = String(decoding: r.body, as: UTF8.self).split(separator: "\n").map(String.init)
        return lock.withLock {
            var ids: [String] = []
            var items: [String] = []
            var errors = false
            for k in stride(from: 0, to: lines.count - 1, by: 2) {
                guard let action = try? JSONSerialization.jsonObject(with: Data(lines[k].utf8)) as? [String: [String: String]],
                      let id = action["create"]?["_id"] else { return .init(status: 400, body: "no _id") }
                ids.append(id)
                if _refuse.remove(id) != nil {
                    errors = true
                    items.append(#"{"create":{"_id":"\#(id)","status":429,"error":{"type":"es_rejected_execution_exception","reason":"busy"}}}"#)
                } else if docs[id] != nil {
                    errors = true
                    items.append(#"{"create":{"_id":"\#(id)","status":409,"error":{"type":"version_conflict_engine_exception","reason":"exists"}}}"#)
                } else {
                    docs[id] = lines[k + 1]
                    items.append(#"{"create":{"_id":"\#(id)","status":201}}"#)
                }
            }
            perRequest.append(ids)
            return .init(status: 200, body: #"{"took":1,"errors":\#(errors),"items":[\#(items.joined(separator: ","))]}"#)
        }
    }
}

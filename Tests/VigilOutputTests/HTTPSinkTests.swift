import Foundation
import Testing
import VigilTestSupport
@testable import VigilOutput
#if canImport(Glibc)
import Glibc
#endif

/// Against a real HTTP peer on loopback (`TestHTTPServer`), with time on a manual clock:
/// waits are for I/O to complete, and every retry happens when the test moves the clock.
@Suite(.serialized, .timeLimit(.minutes(1))) struct HTTPSinkTests {
    static var options: OutputRouter.Options { options(ManualOutputClock()) }

    static func options(_ clock: ManualOutputClock, drain: Double = 5) -> OutputRouter.Options {
        var o = OutputRouter.Options(clock: clock)
        o.retryInitialSeconds = 0.1
        o.retryMaxSeconds = 1.6
        // These tests check each backoff step exactly; the jitter has its own (RetryBackoffTests).
        o.retryJitter = .none()
        o.drainTimeoutSeconds = drain
        o.syncIntervalSeconds = 60
        o.lossReportIntervalSeconds = 30
        o.hostname = Samples.encoder.hostname
        return o
    }

    static func parked(_ clock: ManualOutputClock, at seconds: Double) -> Bool {
        waitFor(10) { clock.waiting.contains { abs($0 - seconds) < 1e-6 } }
    }

    @Test func postsNDJSONBatchesOverOneKeptAliveConnection() throws {
        let server = try TestHTTPServer()
        defer { server.stop() }
        let router = try OutputRouter(specs: [try OutputSpec.parse("http://127.0.0.1:\(server.port)/ingest?batch=50&token=s3cret")],
                                      spoolDirectory: nil, options: Self.options)
        let events = Samples.all.map(\.1)
        for e in events { router.publish(e) }
        router.close()
        #expect(server.lines == events.map(\.text))
        let r = try #require(server.requests.first)
        #expect(r.path == "/ingest")
        #expect(r.headers["content-type"] == "application/x-ndjson")
        #expect(r.headers["authorization"] == "Bearer s3cret")
    }

    @Test func splunkHECWrapsEachEventInAnEnvelope() throws {
        let server = try TestHTTPServer()
        defer { server.stop() }
        let router = try OutputRouter(specs: [try OutputSpec.parse("http://127.0.0.1:\(server.port)/services/collector/event?format=hec&token=abc")],
                                      spoolDirectory: nil, options: Self.options)
        let finding = Samples.encoder.encode(Samples.finding)
        router.publish(finding)
        router.close()
        let r = try #require(server.requests.first)
        #expect(r.headers["authorization"] == "Splunk abc")
        let envelope = try #require(JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any])
        #expect(envelope["sourcetype"] as? String == "ocsf:2004")
        #expect(envelope["host"] as? String == Samples.encoder.hostname, "HEC events carry the host")
        #expect(r.headers["content-encoding"] == "gzip", "HEC takes gzip bodies")
        #expect((envelope["time"] as? Double).map { abs($0 - 1_767_225_600.006) < 0.0005 } == true)
        let event = try #require(envelope["event"] as? [String: Any])
        #expect(event["class_uid"] as? Int == 2004)
    }

    @Test func elasticsearchBulkPutsACreateActionBeforeEachEvent() throws {
        let server = try TestHTTPServer()
        defer { server.stop() }
        let router = try OutputRouter(specs: [try OutputSpec.parse("http://127.0.0.1:\(server.port)/_bulk?format=bulk&index=ocsf-1")],
                                      spoolDirectory: nil, options: Self.options)
        router.publish(testLine(1), classUID: 1007)
        router.publish(testLine(2), classUID: 4001)
        router.close()
        #expect(server.lines == [#"{"create":{"_index":"ocsf-1"}}"#, String(decoding: testLine(1), as: UTF8.self),
                                 #"{"create":{"_index":"ocsf-1"}}"#, String(decoding: testLine(2), as: UTF8.self)])
    }

    /// The receiver goes away mid-stream and comes back: every event arrives, in order.
    /// Delivery is at-least-once, so a batch in flight at the moment of the outage may arrive
    /// twice; the test shows that apart from such repeats the sequence is exact.
    @Test func receiverOutageMidStreamLosesNothingAndKeepsOrder() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try TestHTTPServer()
        let clock = ManualOutputClock()
        let router = try OutputRouter(specs: [try OutputSpec.parse("http://127.0.0.1:\(server.port)/in?batch=25&queue=200")],
                                      spoolDirectory: dir, options: Self.options(clock))
        let total = 3000
        for i in 0..<1000 { router.publish(testLine(i), classUID: 1007) }
        #expect(waitFor(10) { server.lines.count >= 1000 })
        server.stop()
        for i in 1000..<2000 { router.publish(testLine(i), classUID: 1007) }
        #expect(waitFor(5) { router.stats[0].down && router.stats[0].spoolPendingBytes > 0 }, "events go to the spool while the receiver is down")
        try server.start()  // same port
        for i in 2000..<total { router.publish(testLine(i), classUID: 1007) }
        // Retries happen as the clock passes each backoff.
        #expect(waitFor(20) { clock.advance(by: 1.6); return Set(server.lines.compactMap(seq)).count == total })
        router.close()
        let received = server.lines.compactMap(seq)
        var deduplicated: [Int] = []
        for s in received where s != deduplicated.last { deduplicated.append(s) }
        // Repeats can only be a re-sent batch: drop exact re-sends of earlier sequence numbers.
        var seen = Set<Int>(), inOrder: [Int] = []
        for s in deduplicated where seen.insert(s).inserted { inOrder.append(s) }
        #expect(inOrder == Array(0..<total))
        #expect(router.stats[0].lost == 0)
        #expect(router.stats[0].failures > 0)
    }

    @Test(arguments: [TestHTTPServer.ReplyStyle.chunked, .closeDelimited])
    func understandsChunkedAndCloseDelimitedAnswers(style: TestHTTPServer.ReplyStyle) throws {
        let server = try TestHTTPServer()
        defer { server.stop() }
        server.replyStyle = style
        let router = try OutputRouter(specs: [try OutputSpec.parse("http://127.0.0.1:\(server.port)/in?batch=3")], spoolDirectory: nil, options: Self.options)
        for i in 0..<10 { router.publish(testLine(i), classUID: 1007) }
        router.close()
        #expect(server.lines.compactMap(seq) == Array(0..<10))
        #expect(router.stats[0].failures == 0, "\(router.stats[0].lastError ?? "")")
    }

    @Test func aServerErrorIsRetriedWithBackoffUntilAccepted() throws {
        let server = try TestHTTPServer()
        defer { server.stop() }
        server.status = 503
        let clock = ManualOutputClock()
        let router = try OutputRouter(specs: [try OutputSpec.parse("http://127.0.0.1:\(server.port)/in")], spoolDirectory: nil, options: Self.options(clock))
        router.publish(testLine(7), classUID: 1007)
        #expect(Self.parked(clock, at: 0.1))
        #expect(router.stats[0].failures == 1)
        #expect(router.stats[0].lastError?.contains("503") == true)
        clock.advance(by: 0.1)
        #expect(Self.parked(clock, at: 0.2), "the second wait doubles")
        #expect(router.stats[0].failures == 2)
        server.status = 200
        clock.advance(by: 0.2)
        #expect(waitFor(10) { server.lines.count == 1 })
        router.close()
        #expect(router.stats[0].deadLettered == 0)
    }

    @Test(.enabled(if: (Tools.which("python3") != nil && Tools.openssl != nil) || Tools.required,
                   "needs python3 and openssl for the HTTPS receiver"))
    func postsOverHTTPSVerifyingTheCertificate() throws {
        let python = try #require(Tools.which("python3"), "VIGIL_REQUIRE_TOOLS=1 but python3 is missing")
        let openssl = try #require(Tools.openssl, "VIGIL_REQUIRE_TOOLS=1 but openssl is missing")
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let gen = try Tools.run(openssl, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(dir)/key.pem", "-out", "\(dir)/cert.pem",
                                          "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        try #require(gen.status == 0, "\(gen.output)")
        let server = Process()
        server.executableURL = URL(fileURLWithPath: python)
        server.arguments = [Tools.packageRoot.appendingPathComponent("scripts/https_test_receiver.py").path,
                            "\(dir)/port", "\(dir)/cert.pem", "\(dir)/key.pem", "\(dir)/received"]
        try server.run()
        defer { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }
        try #require(waitFor(10) { FileManager.default.fileExists(atPath: "\(dir)/port") }, "HTTPS receiver did not start")
        let port = try String(contentsOfFile: "\(dir)/port", encoding: .utf8)

        for host in ["127.0.0.1", "localhost"] {
            try? FileManager.default.removeItem(atPath: "\(dir)/received")
            let router = try OutputRouter(specs: [try OutputSpec.parse("https://\(host):\(port)/in?batch=5&ca=\(dir)/cert.pem")],
                                          spoolDirectory: nil, options: Self.options)
            let events = Samples.all.map(\.1)
            for e in events { router.publish(e) }
            router.close()
            #expect(router.stats[0].delivered == events.count, "\(router.stats[0])")
            let received = (try? String(contentsOfFile: "\(dir)/received", encoding: .utf8)) ?? ""
            #expect(received.split(separator: "\n").map(String.init) == events.map(\.text), "via \(host)")
        }

        // Without the receiver's CA the system store does not trust it: nothing is delivered.
        let untrusted = try OutputRouter(specs: [try OutputSpec.parse("https://127.0.0.1:\(port)/in")], spoolDirectory: nil,
                                         options: Self.options(ManualOutputClock(), drain: 0))
        untrusted.publish(testLine(1), classUID: 1007)
        #expect(waitFor(10) { untrusted.stats[0].failures > 0 })
        untrusted.close()
        #expect(untrusted.stats[0].delivered == 0)
        #expect(untrusted.stats[0].lastError?.contains("certificate") == true, "\(untrusted.stats[0].lastError ?? "")")
    }
}

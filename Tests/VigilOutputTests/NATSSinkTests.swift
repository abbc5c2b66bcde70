import Foundation
import Testing
import VigilTestSupport
@testable import VigilOutput

/// The nats:// output against a real nats-server (JetStream) started on a free port.
@Suite(.serialized) struct NATSSinkTests {
    static let natsMissing: Comment = "needs nats-server (apt-get install -y nats-server; scripts/setup.sh --tests)"
    static var available: Bool { NATSTestServer.binary != nil || Tools.required }

    static func line(_ uid: String, _ n: Int) -> OutputLine {
        OutputLine(bytes: Array(#"{"metadata":{"uid":"\#(uid)","version":"1.5.0"},"class_uid":1007,"n":\#(n)}"#.utf8), classUID: 1007)
    }

    static func server(_ dir: String, maxPayload: Int? = nil) throws -> NATSTestServer {
        #expect(NATSTestServer.binary != nil, "VIGIL_REQUIRE_TOOLS=1 but nats-server is missing (apt-get install -y nats-server)")
        return try NATSTestServer(directory: dir, maxPayload: maxPayload)
    }

    @Test func parsesNATSOutputs() throws {
        let s = try OutputSpec.parse("nats://10.0.0.5/vigil.events.web-1?creds=/etc/vigil/host.creds&tls=true&ca=/etc/ca.pem&stream=FLEET")
        #expect(s.target == .nats(host: "10.0.0.5", port: 4222, subject: "vigil.events.web-1"))
        #expect(s.natsCreds == "/etc/vigil/host.creds")
        #expect(s.natsTLS && s.caFile == "/etc/ca.pem" && s.natsStream == "FLEET")
        let d = try OutputSpec.parse("nats://127.0.0.1:4333/events")
        #expect(d.natsStream == "VIGIL_EVENTS" && d.natsCreds == nil && !d.natsTLS)
        for (bad, says) in [("nats://127.0.0.1:4222", "needs a subject"),
                            ("nats://127.0.0.1:4222/vigil.*", "not a NATS subject"),
                            ("nats://127.0.0.1:4222/a..b", "not a NATS subject"),
                            ("nats://127.0.0.1:4222/ev?stream=a.b", "option 'stream'"),
                            ("nats://127.0.0.1:4222/ev?creds=", "option 'creds' is empty"),
                            ("nats://127.0.0.1:4222/ev?format=hec", "unknown option 'format'"),
                            ("nats://127.0.0.1:99999/ev", "port '99999'")] {
            #expect(throws: OutputSpecError.self) { try OutputSpec.parse(bad) }
            do { _ = try OutputSpec.parse(bad); Issue.record("\(bad) parsed") } catch {
                #expect("\(error)".contains(says), "\(bad): \(error)")
                #expect("\(error)".contains(bad), "the error names the spec")
            }
        }
    }

    @Test func unreachableServerAndBadCredentialsAreClearFailures() throws {
        let port = try freeLoopbackPort()
        let sink = NATSSink(settings: NATSSettings(host: "127.0.0.1", port: port), subject: "ev", stream: "S")
        do { try sink.deliver([Self.line("x-1", 1)][...]); Issue.record("delivered to nothing") } catch let f as DeliveryFailure {
            #expect(f.kind == .transient(retryAfter: nil))
            #expect(f.message.contains("nats://127.0.0.1:\(port)") && f.message.contains("nats-server running"), "\(f.message)")
        }
        var s = NATSSettings(host: "127.0.0.1", port: port)
        s.credsFile = "/nonexistent/host.creds"
        do { try NATSSink(settings: s, subject: "ev", stream: "S").deliver([Self.line("x-1", 1)][...]); Issue.record("delivered") } catch let f as DeliveryFailure {
            #expect(f.kind == .unauthorized, "an operator must fix the credentials")
            #expect(f.message.contains("/nonexistent/host.creds"), "\(f.message)")
        }
    }

    @Test(.enabled(if: available, natsMissing))
    func createsAFileBackedStreamAndDropsResentDuplicates() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try Self.server(dir)
        let sink = NATSSink(settings: NATSSettings(host: "127.0.0.1", port: server.port), subject: "vigil.events", stream: "DEDUP")
        let lines = (1...20).map { Self.line("host-a-\($0)", $0) }
        try sink.deliver(lines[...])
        #expect(sink.duplicates == 0)
        try sink.deliver(lines[5...])  // a retried batch whose acknowledgement was lost
        #expect(sink.duplicates == 15, "the stream recognised every resent id")
        sink.close()
        let got = try server.readAll(stream: "DEDUP", subject: "vigil.events")
        #expect(got.map(\.msgID) == lines.map(\.eventUID), "each event once, in order, its metadata.uid as Nats-Msg-Id")
        #expect(got.first?.data == String(decoding: lines[0].bytes, as: UTF8.self))
        let info = try server.jetStreamAPI("STREAM.INFO.DEDUP")
        let config = info["config"] as? [String: Any] ?? [:]
        #expect(config["storage"] as? String == "file")
        #expect((config["duplicate_window"] as? NSNumber)?.int64Value == NATSSink.duplicateWindowSeconds * 1_000_000_000)
        // A second subject on the same stream is added to it, not refused.
        let other = NATSSink(settings: NATSSettings(host: "127.0.0.1", port: server.port), subject: "vigil.other", stream: "DEDUP")
        try other.deliver([Self.line("host-b-1", 1)][...])
        other.close()
        let subjects = ((try server.jetStreamAPI("STREAM.INFO.DEDUP")["config"] as? [String: Any])?["subjects"] as? [String]) ?? []
        #expect(Set(subjects) == ["vigil.events", "vigil.other"])
    }

    @Test(.enabled(if: (NATSTestServer.binary != nil && Tools.openssl != nil) || Tools.required, "needs nats-server and openssl"))
    func tlsWithAClientCertificateDeliversAndWithoutOneFails() throws {
        let pki = try MutualTLSTests.PKI()
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(NATSTestServer.binary != nil, "VIGIL_REQUIRE_TOOLS=1 but nats-server is missing")
        let server = try NATSTestServer(directory: dir, config: """
            tls {
              cert_file: "\(pki.dir)/server.pem"
              key_file: "\(pki.dir)/server.key"
              ca_file: "\(pki.dir)/ca.pem"
              verify: true
            }
            """, open: false)
        func sink(_ options: String) throws -> NATSSink {
            try #require(OutputRouter.makeSink(try OutputSpec.parse("nats://127.0.0.1:\(server.port)/tls.events?\(options)")) as? NATSSink)
        }
        let good = try sink("ca=\(pki.dir)/server.pem&cert=\(pki.dir)/client.pem&key=\(pki.dir)/client.key")
        try good.deliver([Self.line("tls-1", 1), Self.line("tls-2", 2)][...])  // returns once the stream acknowledged both
        good.close()
        for (options, says) in [("ca=\(pki.dir)/server.pem", "nats://127.0.0.1:\(server.port)"),
                                ("ca=\(pki.dir)/rogue.pem&cert=\(pki.dir)/client.pem&key=\(pki.dir)/client.key", "SSL"),
                                ("tls=true&ca=\(pki.dir)/missing.pem", "\(pki.dir)/missing.pem")] {
            let s = try sink(options)
            do { try s.deliver([Self.line("tls-3", 3)][...]); Issue.record("\(options): delivered") } catch let f as DeliveryFailure {
                #expect(f.message.contains(says), "\(options): \(f.message)")
            }
        }
    }

    @Test(.enabled(if: available, natsMissing))
    func refusedCredentialsMarkTheOutputUnauthorized() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(NATSTestServer.binary != nil, "VIGIL_REQUIRE_TOOLS=1 but nats-server is missing")
        let server = try NATSTestServer(directory: dir, config: "authorization { user: vigil, password: s3cret }\n", open: false)
        let sink = NATSSink(settings: NATSSettings(host: "127.0.0.1", port: server.port), subject: "ev", stream: "S")
        do { try sink.deliver([Self.line("x-1", 1)][...]); Issue.record("delivered without credentials") } catch let f as DeliveryFailure {
            #expect(f.kind == .unauthorized, "\(f.message)")
            #expect(f.message.contains("nats://127.0.0.1:\(server.port)"), "\(f.message)")
        }
    }

    /// Two agents publish to one server; the server restarts while they publish; every
    /// event of both is in the stream exactly once.
    @Test(.enabled(if: available, natsMissing))
    func twoPublishersAndAServerRestartLoseNothingAndDuplicateNothing() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try Self.server(dir)
        var options = OutputRouter.Options()
        options.retryInitialSeconds = 0.05
        options.retryMaxSeconds = 0.3
        options.drainTimeoutSeconds = 30
        let spec = try OutputSpec.parse("nats://127.0.0.1:\(server.port)/vigil.events?batch=16")
        let routers = try ["a", "b"].map { try OutputRouter(specs: [spec], spoolDirectory: dir + "/spool-\($0)", options: options) }
        let perHost = 1500
        // In three phases, each ended by what the routers report rather than by time: the
        // server up, then down while both keep publishing, then up again.
        func publish(_ range: ClosedRange<Int>) {
            for n in range {
                for (host, router) in zip(["a", "b"], routers) {
                    let l = Self.line("\(host)-\(n)", n)
                    router.publish(l.bytes, classUID: l.classUID)
                }
            }
        }
        publish(1...500)
        #expect(waitFor(20) { routers.allSatisfy { $0.stats[0].delivered >= 200 } }, "both publish before the restart")
        server.stop()
        publish(501...1000)
        // Both see the server gone and keep what they publish meanwhile in their spools.
        #expect(waitFor(20) { routers.allSatisfy { $0.stats[0].failures > 0 && $0.stats[0].spooled > 0 } },
                "both notice the server is down: \(routers.map { $0.stats[0] })")
        try server.start()
        publish(1001...perHost)
        for r in routers { r.close() }
        for (host, r) in zip(["a", "b"], routers) {
            let s = r.stats[0]
            #expect(s.failures > 0, "\(host): the restart interrupted delivery")
            #expect(s.spooled > 0, "\(host): lines waited in the spool")
            #expect(s.lost == 0 && s.deadLettered == 0, "\(host): \(s)")
            #expect(s.delivered >= perHost, "\(host): \(s)")
        }
        let got = try server.readAll(stream: "VIGIL_EVENTS", subject: "vigil.events")
        let ids = got.compactMap(\.msgID)
        let expected = Set(["a", "b"].flatMap { h in (1...perHost).map { "\(h)-\($0)" } })
        #expect(ids.count == got.count, "every message carries its id")
        #expect(Set(ids) == expected, "every event of both publishers arrived")
        #expect(ids.count == expected.count, "and each exactly once (\(ids.count) messages for \(expected.count) events)")
        // Per publisher, in order.
        for h in ["a", "b"] {
            let seq = ids.filter { $0.hasPrefix("\(h)-") }.map { Int($0.dropFirst(2))! }
            #expect(seq == Array(1...perHost), "\(h)'s events in order")
        }
    }
}

import Foundation
import Testing
import VigilTestSupport
@testable import VigilOutput
#if canImport(Glibc)
import Glibc
#endif

/// HTTPS outputs against a receiver that requires a client certificate
/// (`scripts/https_test_receiver.py` with a client CA), all keys made by `openssl` per test.
@Suite(.serialized, .timeLimit(.minutes(2)),
       .enabled(if: (Tools.which("python3") != nil && Tools.openssl != nil) || Tools.required,
                "needs python3 and openssl for the HTTPS receiver"))
struct MutualTLSTests {
    /// Certificates in a temp directory: a server certificate for 127.0.0.1, a client CA
    /// with one client it signed (`client.pem`/`client.key`, CN vigil-agent-test), and a
    /// self-signed stranger (`rogue.pem`/`rogue.key`) the receiver does not trust.
    final class PKI {
        let dir: String
        let openssl: String

        init() throws {
            openssl = try #require(Tools.openssl, "VIGIL_REQUIRE_TOOLS=1 but openssl is missing")
            dir = try makeTempDirectory("vigil-mtls")
            let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
            try run(["req", "-x509"] + ec + ["-keyout", "\(dir)/server.key", "-out", "\(dir)/server.pem", "-days", "1",
                     "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
            try run(["req", "-x509"] + ec + ["-keyout", "\(dir)/ca.key", "-out", "\(dir)/ca.pem", "-days", "1", "-subj", "/CN=Vigil Test Client CA"])
            try run(["req"] + ec + ["-keyout", "\(dir)/client.key", "-out", "\(dir)/client.csr", "-subj", "/CN=vigil-agent-test"])
            try run(["x509", "-req", "-in", "\(dir)/client.csr", "-CA", "\(dir)/ca.pem", "-CAkey", "\(dir)/ca.key",
                     "-CAcreateserial", "-out", "\(dir)/client.pem", "-days", "1"])
            try run(["req", "-x509"] + ec + ["-keyout", "\(dir)/rogue.key", "-out", "\(dir)/rogue.pem", "-days", "1", "-subj", "/CN=rogue"])
        }

        private func run(_ args: [String]) throws {
            let r = try Tools.run(openssl, args)
            try #require(r.status == 0, "openssl \(args.joined(separator: " ")): \(r.output)")
        }

        deinit { try? FileManager.default.removeItem(atPath: dir) }
    }

    /// The receiver, requiring clients signed by the PKI's client CA.
    final class Receiver {
        let process = Process()
        let port: String
        let received: String

        init(_ pki: PKI) throws {
            let python = try #require(Tools.which("python3"), "VIGIL_REQUIRE_TOOLS=1 but python3 is missing")
            received = "\(pki.dir)/received"
            process.executableURL = URL(fileURLWithPath: python)
            process.arguments = [Tools.packageRoot.appendingPathComponent("scripts/https_test_receiver.py").path,
                                 "\(pki.dir)/port", "\(pki.dir)/server.pem", "\(pki.dir)/server.key", received, "\(pki.dir)/ca.pem"]
            process.standardError = FileHandle.nullDevice
            try process.run()
            try #require(waitFor(10) { FileManager.default.fileExists(atPath: "\(pki.dir)/port") }, "HTTPS receiver did not start")
            port = try String(contentsOfFile: "\(pki.dir)/port", encoding: .utf8)
        }

        var lines: [String] {
            ((try? String(contentsOfFile: received, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }

        var peers: [String] {
            ((try? String(contentsOfFile: received + ".peers", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }

        deinit {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// Publishes one line to `spec` and returns the output's stats once it has delivered it
    /// or failed at least once.
    static func deliverOne(_ spec: String) throws -> SinkStats {
        let router = try OutputRouter(specs: [try OutputSpec.parse(spec)], spoolDirectory: nil,
                                      options: HTTPSinkTests.options(ManualOutputClock(), drain: 0))
        router.publish(testLine(1), classUID: 1007)
        _ = waitFor(15) { router.stats[0].failures > 0 || router.stats[0].delivered > 0 }
        router.close()
        return router.stats[0]
    }

    @Test func deliversWithTheClientCertificateAndTheReceiverSeesIt() throws {
        let pki = try PKI()
        let receiver = try Receiver(pki)
        let d = pki.dir
        for minTLS in ["1.2", "1.3"] {
            let router = try OutputRouter(
                specs: [try OutputSpec.parse("https://127.0.0.1:\(receiver.port)/in?batch=5&ca=\(d)/server.pem&cert=\(d)/client.pem&key=\(d)/client.key&min-tls=\(minTLS)")],
                spoolDirectory: nil, options: HTTPSinkTests.options)
            let events = Samples.all.map(\.1)
            for e in events { router.publish(e) }
            router.close()
            #expect(router.stats[0].delivered == events.count, "min-tls=\(minTLS): \(router.stats[0])")
        }
        let events = Samples.all.map(\.1)
        #expect(receiver.lines == (events + events).map(\.text))
        #expect(!receiver.peers.isEmpty && receiver.peers.allSatisfy { $0 == "vigil-agent-test" }, "\(receiver.peers)")
    }

    @Test func aMissingClientCertificateFailsDeliveryWithACertificateError() throws {
        let pki = try PKI()
        let receiver = try Receiver(pki)
        let stats = try Self.deliverOne("https://127.0.0.1:\(receiver.port)/in?ca=\(pki.dir)/server.pem")
        #expect(stats.delivered == 0)
        #expect(stats.lastError?.contains("certificate required") == true, "\(stats.lastError ?? "no error")")
        #expect(receiver.lines.isEmpty)
    }

    @Test func aClientCertificateFromAnotherCAFailsDelivery() throws {
        let pki = try PKI()
        let receiver = try Receiver(pki)
        let d = pki.dir
        let stats = try Self.deliverOne("https://127.0.0.1:\(receiver.port)/in?ca=\(d)/server.pem&cert=\(d)/rogue.pem&key=\(d)/rogue.key")
        #expect(stats.delivered == 0)
        #expect(stats.lastError?.contains("unknown ca") == true, "\(stats.lastError ?? "no error")")
        #expect(receiver.lines.isEmpty)
    }

    @Test func unreadableOrMismatchedClientFilesAreNamedInTheError() throws {
        let pki = try PKI()
        let receiver = try Receiver(pki)
        let d = pki.dir
        let missing = try Self.deliverOne("https://127.0.0.1:\(receiver.port)/in?ca=\(d)/server.pem&cert=\(d)/nope.pem&key=\(d)/client.key")
        #expect(missing.lastError?.contains("loading client certificate \(d)/nope.pem") == true, "\(missing.lastError ?? "no error")")
        let mismatched = try Self.deliverOne("https://127.0.0.1:\(receiver.port)/in?ca=\(d)/server.pem&cert=\(d)/client.pem&key=\(d)/rogue.key")
        #expect(mismatched.lastError?.contains("loading client key \(d)/rogue.key") == true && mismatched.lastError?.contains("key values mismatch") == true,
                "\(mismatched.lastError ?? "no error")")
        #expect(receiver.lines.isEmpty)
    }
}

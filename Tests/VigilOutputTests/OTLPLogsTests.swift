import Foundation
import Testing
import VigilTestSupport
@testable import VigilOutput

/// `otlp+http://`: OCSF events as OTLP/HTTP JSON log records, decoded by a receiver that uses
/// the official definitions (opentelemetry-proto's ExportLogsServiceRequest via protobuf's
/// json_format.Parse, which refuses unknown fields and wrongly typed values).
@Suite(.serialized, .timeLimit(.minutes(1))) struct OTLPLogsTests {
    /// The receiver (scripts/otlp-test-receiver.py), started for one test.
    final class Receiver {
        let process = Process()
        let port: UInt16
        let out: String

        init(python: String, directory: String) throws {
            out = directory + "/records.jsonl"
            process.executableURL = URL(fileURLWithPath: python)
            process.arguments = [Tools.packageRoot.path + "/scripts/otlp-test-receiver.py", out]
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            var text = ""
            while !text.contains("\n") {
                let chunk = pipe.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                text += String(decoding: chunk, as: UTF8.self)
            }
            guard let p = UInt16(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                process.terminate()
                throw Failure(description: "the OTLP receiver did not print its port (got '\(text)')")
            }
            port = p
        }

        struct Failure: Error, CustomStringConvertible { var description: String }

        var records: [[String: Any]] {
            guard let text = try? String(contentsOfFile: out, encoding: .utf8) else { return [] }
            return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }

        var errors: String { (try? String(contentsOfFile: out + ".errors", encoding: .utf8)) ?? "" }

        func stop() {
            // SIGKILL: a child of a test runner's thread may inherit SIGTERM blocked.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    static let needsReceiver = Tools.pythonWithOTLP != nil || Tools.required

    @Test func theSpecDefaultsToPort4318AndV1Logs() throws {
        let s = try OutputSpec.parse("otlp+http://collector")
        #expect(s.target == .http(secure: false, host: "collector", port: 4318, path: "/v1/logs", format: .otlp))
        let t = try OutputSpec.parse("otlp+https://collector:4443/custom/logs?token=abc&ca=/etc/ca.pem&gzip=false")
        #expect(t.target == .http(secure: true, host: "collector", port: 4443, path: "/custom/logs", format: .otlp))
        #expect(t.token == "abc" && t.caFile == "/etc/ca.pem" && t.gzip == false)
        #expect(t.redacted.contains("token=***"))
        #expect(throws: OutputSpecError.self) { try OutputSpec.parse("otlp+http://collector?index=x") }
        #expect(throws: OutputSpecError.self) { try OutputSpec.parse("otlp+http://collector?ca=/etc/ca.pem") }  // TLS options need https
    }

    @Test func severityFollowsTheOCSFSeverity() {
        #expect(OTLPLogs.severityNumber(ocsf: 1) == 9)    // INFO
        #expect(OTLPLogs.severityNumber(ocsf: 4) == 19)   // ERROR3
        #expect(OTLPLogs.severityNumber(ocsf: 5) == 21)   // FATAL
        #expect(OTLPLogs.severityNumber(ocsf: 99) == 0)   // Other: unspecified
        // Increasing with the OCSF order.
        let numbers = (1...6).map { OTLPLogs.severityNumber(ocsf: $0) }
        #expect(numbers == numbers.sorted() && Set(numbers).count == 6)
    }

    @Test(.enabled(if: needsReceiver, "needs python3 with opentelemetry-proto (scripts/setup.sh --tests)"))
    func eventsArriveAsLogRecordsTheOfficialDefinitionsDecode() throws {
        let python = try #require(Tools.pythonWithOTLP, "VIGIL_REQUIRE_TOOLS=1 but python3 with opentelemetry-proto is missing")
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let receiver = try Receiver(python: python, directory: dir)
        defer { receiver.stop() }
        var encoder = Samples.encoder
        encoder.identity = EventIdentity()
        let finding = encoder.encode(Samples.finding)
        let start = Samples.agentEvents[0].1
        let started = encoder.encode(start)
        let c = Samples.events[0]
        let process = try #require(encoder.encode(c.event, process: c.process, ancestry: c.ancestry))
        // Two deliveries: gzip (the default) and plain, each with a bearer token.
        for (i, query) in ["?token=t0k", "?token=t0k&gzip=false"].enumerated() {
            let router = try OutputRouter(specs: [try OutputSpec.parse("otlp+http://127.0.0.1:\(receiver.port)/v1/logs\(query)")],
                                          spoolDirectory: nil, options: HTTPSinkTests.options)
            for e in [finding, started, process] { router.publish(e) }
            router.close()
            #expect(router.stats[0].delivered == 3, "batch \(i): \(receiver.errors)")
            #expect(router.stats[0].deadLettered == 0)
        }
        #expect(receiver.errors.isEmpty, "the receiver refused a body: \(receiver.errors)")
        let records = receiver.records
        try #require(records.count == 6)
        #expect(records.prefix(3).allSatisfy { $0["gzip"] as? Bool == true })
        #expect(records.suffix(3).allSatisfy { $0["gzip"] as? Bool == false })
        #expect(records.allSatisfy { $0["authorization"] as? String == "Bearer t0k" })
        for (r, event) in zip(records, [finding, started, process, finding, started, process]) {
            // The body is the OCSF event exactly as the other outputs send it.
            #expect(r["body"] as? String == String(decoding: event.bytes, as: UTF8.self))
            let ocsf = try #require(try JSONSerialization.jsonObject(with: Data(event.bytes)) as? [String: Any])
            let resource = try #require(r["resource"] as? [String: Any])
            #expect(resource["host.name"] as? String == "web-01")
            #expect(resource["service.name"] as? String == "vigil")
            #expect(r["scope"] as? String == "vigil")
            let attributes = try #require(r["attributes"] as? [String: Any])
            #expect(attributes["ocsf.class_uid"] as? Int == event.classUID)
            #expect(attributes["ocsf.class_name"] as? String == ocsf["class_name"] as? String)
            #expect(attributes["ocsf.activity_id"] as? Int == ocsf["activity_id"] as? Int)
            #expect(attributes["ocsf.activity_name"] as? String == ocsf["activity_name"] as? String)
            #expect(attributes["ocsf.uid"] as? String == (ocsf["metadata"] as? [String: Any])?["uid"] as? String)
            #expect(attributes["ocsf.uid"] != nil)
            #expect(r["time_unix_nano"] as? Int == (ocsf["time"] as? Int).map { $0 * 1_000_000 })
            #expect(r["severity_text"] as? String == ocsf["severity"] as? String)
            #expect(r["severity_number"] as? Int == OTLPLogs.severityNumber(ocsf: ocsf["severity_id"] as? Int ?? -1))
        }
        // The finding (a kill, risk 82) is Critical: FATAL; the start of the agent is informational.
        #expect(records[0]["severity_text"] as? String == "Critical")
        #expect(records[0]["severity_number"] as? Int == 21)
        #expect(records[1]["severity_number"] as? Int == 9)
    }

    @Test(.enabled(if: needsReceiver, "needs python3 with opentelemetry-proto (scripts/setup.sh --tests)"))
    func aBodyTheReceiverCannotDecodeIsDeadLettered() throws {
        let python = try #require(Tools.pythonWithOTLP, "VIGIL_REQUIRE_TOOLS=1 but python3 with opentelemetry-proto is missing")
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let receiver = try Receiver(python: python, directory: dir)
        defer { receiver.stop() }
        // The receiver is strict: proving it refuses what is not an ExportLogsServiceRequest
        // shows that the decoding above checks something. An ndjson body to its /v1/logs:
        let router = try OutputRouter(specs: [try OutputSpec.parse("http://127.0.0.1:\(receiver.port)/v1/logs?format=hec")],
                                      spoolDirectory: dir, options: HTTPSinkTests.options)
        router.publish(Samples.encoder.encode(Samples.finding))
        router.close()
        #expect(router.stats[0].deadLettered == 1)
        #expect(router.stats[0].delivered == 0)
        #expect(receiver.errors.contains("ExportLogsServiceRequest"), "the receiver names what it could not decode: \(receiver.errors)")
    }
}

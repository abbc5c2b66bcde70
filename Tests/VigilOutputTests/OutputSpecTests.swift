import Testing
import VigilTestSupport
@testable import VigilOutput

@Suite struct OutputSpecTests {
    @Test func parsesEveryKindOfOutput() throws {
        #expect(try OutputSpec.parse("stdout").target == .stdout)
        #expect(try OutputSpec.parse("file:/var/log/vigil.jsonl?max-bytes=1048576&keep=3").target
            == .file(path: "/var/log/vigil.jsonl", maxBytes: 1_048_576, keep: 3, fsync: true))
        #expect(try OutputSpec.parse("syslog+udp://127.0.0.1:5514").target == .syslog(.udp, host: "127.0.0.1", port: 5514))
        #expect(try OutputSpec.parse("syslog+tcp://[::1]:601").target == .syslog(.tcp, host: "::1", port: 601))
        #expect(try OutputSpec.parse("syslog+tls://siem.example").target == .syslog(.tls, host: "siem.example", port: 6514))
        let hec = try OutputSpec.parse("https://splunk:8088/services/collector/event?format=hec&token=abc%2Fdef&only=findings,app")
        #expect(hec.target == .http(secure: true, host: "splunk", port: 8088, path: "/services/collector/event", format: .hec))
        #expect(hec.token == "abc/def")
        #expect(hec.classes == [2004, 6002, 6008])
        #expect(!hec.description.contains("abc"), "tokens never appear in names or logs")
        let bulk = try OutputSpec.parse("http://127.0.0.1:9200/_bulk?format=bulk&index=ocsf&batch=500&queue=100&spool-max-bytes=0")
        #expect(bulk.index == "ocsf")
        #expect(bulk.batchSize == 500 && bulk.queueCapacity == 100 && bulk.spoolMaxBytes == 0)
        #expect(try OutputSpec.parse("http://h:80?only=4001").classes == [4001])
    }

    @Test func parsesTLSClientOptions() throws {
        let spec = try OutputSpec.parse("syslog+tls://siem:6514?ca=/etc/vigil/ca.pem&cert=/etc/vigil/agent.pem&key=/etc/vigil/agent.key&min-tls=1.3")
        #expect(spec.caFile == "/etc/vigil/ca.pem" && spec.certFile == "/etc/vigil/agent.pem" && spec.keyFile == "/etc/vigil/agent.key")
        #expect(spec.minTLS == .v1_3)
        let plain = try OutputSpec.parse("https://h:443/in")
        #expect(plain.certFile == nil && plain.keyFile == nil && plain.minTLS == .v1_2)
    }

    @Test func syslogOverAStreamTakesAReplayWindow() throws {
        #expect(try OutputSpec.parse("syslog+tcp://siem:514").replaySeconds == 30)
        #expect(try OutputSpec.parse("syslog+tls://siem:6514?replay-seconds=120").replaySeconds == 120)
        #expect(throws: OutputSpecError.self) { try OutputSpec.parse("syslog+udp://siem:514?replay-seconds=5") }
        #expect(throws: OutputSpecError.self) { try OutputSpec.parse("syslog+tcp://siem:514?replay-seconds=-1") }
    }


    @Test func optionsAreKebabCaseAndTheOldSnakeCaseSpellingsStillWorkWithAWarning() throws {
        let new = try OutputSpec.parse("syslog+tls://siem:6514?spool-max-bytes=4096&batch-bytes=2048&batch-wait-ms=50&replay-seconds=9&min-tls=1.3")
        #expect(new.warnings.isEmpty)
        let old = try OutputSpec.parse("syslog+tls://siem:6514?spool_max_bytes=4096&batch_bytes=2048&batch_wait_ms=50&replay_seconds=9&min_tls=1.3")
        #expect(old.spoolMaxBytes == 4096 && old.batchBytes == 2048 && old.batchWaitMillis == 50 && old.replaySeconds == 9 && old.minTLS == .v1_3)
        #expect(old.warnings.count == 5)
        #expect(old.warnings.first == "option 'spool_max_bytes' is spelled 'spool-max-bytes' now; the old spelling still works")
        let file = try OutputSpec.parse("file:/var/log/v.jsonl?max_bytes=8192")
        guard case .file(_, let maxBytes, _, _) = file.target else { Issue.record("not a file output"); return }
        #expect(maxBytes == 8192 && file.warnings == ["option 'max_bytes' is spelled 'max-bytes' now; the old spelling still works"])
        // A snake_case spelling of an option the output does not take is still refused, as written.
        #expect(throws: OutputSpecError.self) { try OutputSpec.parse("syslog+udp://siem:514?replay_seconds=5") }
    }
    @Test(arguments: [
        ("", "empty output spec"),
        ("kafka://h:1", "unknown output scheme 'kafka'"),
        ("file:relative.log", "absolute path"),
        ("syslog+tcp://host:", "port '' is not a number"),
        ("syslog+tcp://host:99999", "port '99999'"),
        ("syslog+tcp://:514", "missing host"),
        ("syslog+udp://h:514?ca=/x", "unknown option 'ca'"),
        ("http://h:80/x?format=xml", "option 'format' must be one of ndjson, hec, bulk"),
        ("http://h:80/x?only=dns", "unknown class 'dns'"),
        ("file:/x?max-bytes=10", "at least 4096"),
        ("file:/x?keep", "key=value"),
        ("https://user:pw@h:443/", "credentials"),
        ("elsewhere", "unknown output"),
        ("https://h:443/?cert=/c.pem", "option 'cert' needs 'key'"),
        ("syslog+tls://h:6514?key=/k.pem", "option 'key' needs 'cert'"),
        ("https://h:443/?min-tls=1.1", "option 'min-tls' must be one of 1.2, 1.3, not '1.1'"),
        ("http://h:80/?cert=/c.pem&key=/k.pem", "unknown option 'cert'"),
        ("syslog+tcp://h:514?min-tls=1.3", "unknown option 'min-tls'"),
    ])
    func rejectsBadSpecsSayingWhatIsWrong(spec: String, message: String) {
        do {
            _ = try OutputSpec.parse(spec)
            Issue.record("'\(spec)' should not parse")
        } catch let e as OutputSpecError {
            #expect(e.description.contains(message), "\(e.description)")
            #expect(e.description.contains("'\(spec)'"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }
}

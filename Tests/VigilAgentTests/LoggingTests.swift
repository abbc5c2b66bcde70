import Foundation
import Logging
import Testing
import VigilAgent
import VigilCore

/// The agent's diagnostics through swift-log: JSON lines, levels, journald priorities, and
/// the configuration keys that set them.
@Suite struct LoggingTests {
    /// Collects the lines a handler writes.
    final class Lines: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: [String] = []
        var all: [String] { lock.withLock { stored } }
        func append(_ s: String) { lock.withLock { stored.append(s) } }
    }

    static let fixed = Date(timeIntervalSince1970: 1_764_806_400.25)  // 2025-12-04T00:00:00.250Z

    static func logger(_ level: Logger.Level, _ format: LogFormat, journald: Bool = false, into lines: Lines) -> Logger {
        Logger(label: "vigil") { label in
            VigilLogHandler(label: label, level: level, format: format, journald: journald, now: { fixed }, write: { lines.append($0) })
        }
    }

    @Test func jsonLinesParseAndCarryLevelLabelMessageAndMetadata() throws {
        let lines = Lines()
        let log = Self.logger(.info, .json, into: lines)
        log.warning("reload: refused \"a.json\"\n(bad)", metadata: ["profile": "redis", "count": "3", "hosts": .array(["a", "b"])])
        log.info("started")
        #expect(lines.all.count == 2)
        #expect(lines.all.allSatisfy { $0.hasSuffix("\n") && $0.dropLast().firstIndex(of: "\n") == nil }, "one object per line")
        let first = try #require(JSONSerialization.jsonObject(with: Data(lines.all[0].utf8)) as? [String: Any])
        #expect(first["level"] as? String == "warning")
        #expect(first["label"] as? String == "vigil")
        #expect(first["message"] as? String == "reload: refused \"a.json\"\n(bad)")
        #expect(first["time"] as? String == "2025-12-04T00:00:00.250Z")
        let metadata = try #require(first["metadata"] as? [String: Any])
        #expect(metadata["profile"] as? String == "redis")
        #expect(metadata["hosts"] as? [String] == ["a", "b"])
        let second = try #require(JSONSerialization.jsonObject(with: Data(lines.all[1].utf8)) as? [String: Any])
        #expect(second["level"] as? String == "info")
        #expect(second["metadata"] == nil, "no metadata member when there is none")
    }

    @Test func recordsBelowTheLevelAreDropped() {
        let lines = Lines()
        let log = Self.logger(.warning, .text, into: lines)
        log.debug("d")
        log.info("i")
        log.notice("n")
        log.warning("w")
        log.error("e")
        log.critical("c")
        #expect(lines.all == ["vigil: warning: w\n", "vigil: error: e\n", "vigil: critical: c\n"])

        let verbose = Lines()
        let all = Self.logger(.trace, .text, into: verbose)
        all.trace("t")
        all.info("i")
        #expect(verbose.all == ["vigil: trace: t\n", "vigil: i\n"])
    }

    @Test func textKeepsTheReadableFormAndAppendsMetadata() {
        let lines = Lines()
        Self.logger(.info, .text, into: lines).info("profile redis: learn -> monitor", metadata: ["to": "monitor", "from": "learn"])
        #expect(lines.all == ["vigil: profile redis: learn -> monitor from=learn to=monitor\n"])
    }

    @Test func journaldPrefixesEachLineWithItsPriority() {
        let lines = Lines()
        let log = Self.logger(.debug, .json, journald: true, into: lines)
        log.error("e")
        log.warning("w")
        log.info("i")
        log.debug("d")
        #expect(lines.all.map { String($0.prefix(3)) } == ["<3>", "<4>", "<6>", "<7>"])
        // After the prefix the line is still one JSON object.
        #expect((try? JSONSerialization.jsonObject(with: Data(lines.all[0].dropFirst(3).utf8))) != nil)
        #expect(VigilLogHandler.priority(.critical) == 2 && VigilLogHandler.priority(.notice) == 5)
    }

    @Test func journalStreamMustNameStderrItself() {
        #expect(!VigilLogHandler.stderrIsJournal(environment: [:]))
        #expect(!VigilLogHandler.stderrIsJournal(environment: ["JOURNAL_STREAM": "garbage"]))
        var st = stat()
        #expect(fstat(STDERR_FILENO, &st) == 0)
        #expect(VigilLogHandler.stderrIsJournal(environment: ["JOURNAL_STREAM": "\(st.st_dev):\(st.st_ino)"]))
        #expect(!VigilLogHandler.stderrIsJournal(environment: ["JOURNAL_STREAM": "\(st.st_dev):\(st.st_ino + 1)"]))
    }

    @Test func diagnosticsGoThroughTheConfiguredLogger() throws {
        let lines = Lines()
        VigilLog.use(Self.logger(.warning, .json, into: lines))
        defer { VigilLog.configure(level: .info, format: .text, journald: false) }
        Diagnostics.info("not written")
        Diagnostics.error("written", ["file": "x.json"])
        // Other tests in this process may log meanwhile: look for these two lines only.
        let objects = lines.all.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(!objects.contains { $0["message"] as? String == "not written" })
        let o = try #require(objects.first { $0["message"] as? String == "written" })
        #expect(o["level"] as? String == "error")
        #expect((o["metadata"] as? [String: Any])?["file"] as? String == "x.json")
    }

    @Test func configKeysSetLevelAndFormatAndRefuseOtherValues() throws {
        let c = try RunConfig.load(yaml: "models: m\nlog-level: debug\nlog-format: json\n", file: "v.yaml")
        #expect(c.logLevel == .debug && c.logFormat == .json)
        let d = try RunConfig.load(yaml: "models: m\n", file: "v.yaml")
        #expect(d.logLevel == nil && d.logFormat == nil)
        #expect {
            _ = try RunConfig.load(yaml: "models: m\nlog-level: verbose\n", file: "v.yaml")
        } throws: { e in
            let text = "\(e)"
            return text.hasPrefix("v.yaml:2:") && text.contains("log-level: expected one of trace, debug, info, notice, warning, error, critical")
                && text.contains("found 'verbose'")
        }
        #expect {
            _ = try RunConfig.load(yaml: "models: m\nlog-format: xml\n", file: "v.yaml")
        } throws: { e in "\(e)".hasPrefix("v.yaml:2:") && "\(e)".contains("log-format: expected one of text, json, found 'xml'") }
    }
}

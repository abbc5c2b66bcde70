import Foundation
import Testing
import VigilTestSupport

/// Issue 5's "must show": `vigil trace` into a file and into a real rsyslog over TCP at the
/// same time; every line of the file validates against the OCSF 1.5 schema and rsyslog
/// receives every event.
@Suite(.serialized, .enabled(if: BPFTestGate.shouldRun), .timeLimit(.minutes(2)))
struct TraceOutputsTests {
    @Test func traceToAFileAndToRsyslogOverTCP() throws {
        try BPFTestGate.check()
        guard let rsyslogd = Tools.which("rsyslogd"), let python = Tools.which("python3") else {
            Issue.record("rsyslogd and python3 are needed (scripts/setup.sh --tests installs them)")
            return
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-siem-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let port = try freeLoopbackPort()
        let received = dir + "/received.log"
        let conf = """
        global(workDirectory="\(dir)" maxMessageSize="64k")
        module(load="imtcp")
        input(type="imtcp" address="127.0.0.1" port="\(port)")
        template(name="msgonly" type="string" string="%msg%\\n")
        *.* action(type="omfile" file="\(received)" template="msgonly")
        """
        try conf.write(toFile: dir + "/rsyslog.conf", atomically: false, encoding: .utf8)
        let rsyslog = Process()
        rsyslog.executableURL = URL(fileURLWithPath: rsyslogd)
        rsyslog.arguments = ["-n", "-f", dir + "/rsyslog.conf", "-i", dir + "/rsyslog.pid"]
        rsyslog.standardOutput = FileHandle.nullDevice
        rsyslog.standardError = FileHandle.nullDevice
        try rsyslog.run()
        // rsyslogd inherits a blocked SIGTERM from the test runner's thread: stop it with SIGKILL.
        defer { kill(rsyslog.processIdentifier, SIGKILL); rsyslog.waitUntilExit() }
        Thread.sleep(forTimeInterval: 1)

        let file = dir + "/events.jsonl"
        let marker = "siem-marker-\(UInt32.random(in: 0...UInt32.max))"
        let r = try runVigil(["trace", "--duration", "4", "--output", "file:" + file, "--output", "syslog+tcp://127.0.0.1:\(port)"]) {
            try runProgram("/bin/echo", [marker])
            try runProgram("/bin/bash", ["-c", "exec 3<>/dev/tcp/127.0.0.1/1"])
        }
        #expect(r.status == 0, "stderr: \(r.err)")
        let lines = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.count >= 4, "start, the echo's launch and exit, the connect, stop")
        #expect(lines.contains { $0.contains(marker) })

        // Every line validates against the OCSF 1.5 schema (an independent validator).
        let v = Process()
        v.executableURL = URL(fileURLWithPath: python)
        v.arguments = [Tools.packageRoot.appendingPathComponent("scripts/validate_ocsf.py").path, file]
        let out = Pipe()
        v.standardOutput = out
        v.standardError = out
        try v.run()
        let report = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        v.waitUntilExit()
        #expect(v.terminationStatus == 0, "validator: \(report.suffix(500))")
        #expect(report.contains("\(lines.count) passed, 0 failed"), "validator: \(report.suffix(500))")

        // rsyslog received every event (it writes asynchronously: give it a moment).
        var got: [String] = []
        let end = Date().addingTimeInterval(5)
        repeat {
            got = ((try? String(contentsOfFile: received, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
            if got.count >= lines.count { break }
            Thread.sleep(forTimeInterval: 0.2)
        } while Date() < end
        #expect(got.count == lines.count, "rsyslog received \(got.count) of \(lines.count) events")
        let missing = Set(lines).subtracting(got.map { $0.trimmingCharacters(in: .whitespaces) })
        #expect(missing.isEmpty, "\(missing.count) events did not arrive byte for byte, e.g. \(missing.first?.prefix(300) ?? "")")
    }
}

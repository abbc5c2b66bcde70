import Foundation
import Testing
import VigilTestSupport

/// The built `vigil` executable, next to the test bundle in the build directory.
func vigilExecutable() throws -> URL {
    let dir = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    for candidate in [dir.appendingPathComponent("vigil"), dir.deletingLastPathComponent().appendingPathComponent("vigil")]
    where FileManager.default.isExecutableFile(atPath: candidate.path) {
        return candidate
    }
    throw POSIXError(.ENOENT)
}

/// The line an agent command prints on stderr once it is set up (its probes loaded, its
/// baselines and the running processes placed), or nil for a command that prints none.
func startLine(of args: [String]) -> String? {
    switch args.first {
    case "enforce", "monitor", "run": return " baselines loaded"  // `enforce --dry-run` says "monitor: "
    case "learn": return "vigil: learning into "
    case "trace": return " probes attached; "
    case "record": return "vigil: recording into "
    default: return nil
    }
}

/// Runs vigil with `args`, returning stdout, stderr and the exit status. `body` runs while
/// it does, `startDelay` seconds after the start and, for a command with a start line (an
/// agent command, trace, record), not before it has printed it (loading the probes takes
/// longer on a loaded machine).
func runVigil(_ args: [String], whileRunning body: (() throws -> Void)? = nil, startDelay: Double = 1.5) throws -> (out: String, err: String, status: Int32) {
    let p = Process()
    p.executableURL = try vigilExecutable()
    p.arguments = args
    // Files rather than pipes: nothing to drain concurrently while the command runs.
    let dir = FileManager.default.temporaryDirectory
    let outURL = dir.appendingPathComponent("vigil-test-\(UUID().uuidString).out")
    let errURL = dir.appendingPathComponent("vigil-test-\(UUID().uuidString).err")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: outURL); try? FileManager.default.removeItem(at: errURL) }
    p.standardOutput = try FileHandle(forWritingTo: outURL)
    p.standardError = try FileHandle(forWritingTo: errURL)
    try p.run()
    if let body {
        Thread.sleep(forTimeInterval: startDelay)
        if let line = startLine(of: args) {
            _ = waitFor(20) { !p.isRunning || ((try? String(contentsOf: errURL, encoding: .utf8))?.contains(line) ?? false) }
        }
        try body()
    }
    p.waitUntilExit()
    let outData = try Data(contentsOf: outURL), errData = try Data(contentsOf: errURL)
    return (String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self), p.terminationStatus)
}

func jsonLines(_ text: String) -> [[String: Any]] {
    text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
}

func dig(_ obj: [String: Any], _ path: String) -> Any? {
    var cur: Any? = obj
    for key in path.split(separator: ".") { cur = (cur as? [String: Any])?[String(key)] }
    return cur
}

@Suite(.serialized, .enabled(if: BPFTestGate.shouldRun), .timeLimit(.minutes(2)))
struct TraceCommandTests {
    @Test func traceShowsEchoAndConnectAsOCSFLines() throws {
        try BPFTestGate.check()
        let listener = try LoopbackListener()
        let marker = "trace-marker-\(UInt32.random(in: 0...UInt32.max))"
        var echoPid: Int32 = 0, bashPid: Int32 = 0
        let r = try runVigil(["trace", "--duration", "4"]) {
            echoPid = try runProgram("/bin/echo", [marker]).pid
            bashPid = try runProgram("/bin/bash", ["-c", "exec 3<>/dev/tcp/127.0.0.1/\(listener.port)"]).pid
        }
        #expect(r.status == 0, "stderr: \(r.err)")
        let lines = jsonLines(r.out)
        #expect(lines.count == r.out.split(separator: "\n").count, "every stdout line is JSON")

        let launch = try #require(lines.first { ($0["class_uid"] as? Int) == 1007 && (dig($0, "process.cmd_line") as? String)?.contains(marker) == true })
        #expect(dig(launch, "activity_id") as? Int == 1)
        #expect(dig(launch, "process.pid") as? Int == Int(echoPid))
        #expect(dig(launch, "process.file.path") as? String == "/bin/echo")
        #expect(dig(launch, "process.cmd_line") as? String == "/bin/echo \(marker)")
        #expect(dig(launch, "process.parent_process.pid") as? Int == Int(getpid()))
        #expect(dig(launch, "process.user.uid") as? String == String(getuid()))
        #expect((launch["time"] as? Int64 ?? 0) > 1_600_000_000_000)

        // The outbound side: the listener's own accept names the same port as its destination.
        let connect = try #require(lines.first { ($0["class_uid"] as? Int) == 4001 && dig($0, "dst_endpoint.port") as? Int == Int(listener.port)
            && dig($0, "connection_info.direction") as? String == "Outbound" })
        #expect(dig(connect, "dst_endpoint.ip") as? String == "127.0.0.1")
        #expect(dig(connect, "actor.process.pid") as? Int == Int(bashPid))
        #expect(dig(connect, "src_endpoint.ip") as? String == "127.0.0.1")
        #expect(r.err.contains("0 dropped in the kernel"))
    }

    @Test func textFormatAndFilters() throws {
        try BPFTestGate.check()
        let r = try runVigil(["trace", "--duration", "3", "--format", "text", "--comm", "sleep"]) {
            try runProgram("/bin/sleep", ["0.01"])
            try runProgram("/bin/echo", ["not-this-one"])
        }
        #expect(r.status == 0, "stderr: \(r.err)")
        #expect(r.out.contains("exec    sleep["))
        #expect(!r.out.contains("not-this-one"))
    }

    @Test func badFlagsAreRefusedWithExitCode2() throws {
        let r = try runVigil(["trace", "--duration", "-1"])
        #expect(r.status == 2, "usage errors exit 2; got \(r.status)")
        #expect(r.err.contains("--duration"))
        let r2 = try runVigil(["trace", "--format", "xml"])
        #expect(r2.status == 2)
        #expect(r2.err.contains("xml"))
    }

    @Test func sigtermEndsTraceCleanlyWithEverythingFlushed() throws {
        try BPFTestGate.check()
        let p = Process()
        p.executableURL = try vigilExecutable()
        p.arguments = ["trace", "--format", "text"]
        let err = Pipe(), out = Pipe()
        p.standardError = err
        p.standardOutput = out
        try p.run()
        Thread.sleep(forTimeInterval: 1.5)
        let marker = "sigterm-marker-\(UInt32.random(in: 0...UInt32.max))"
        try runProgram("/bin/echo", [marker])
        Thread.sleep(forTimeInterval: 0.3)
        kill(p.processIdentifier, SIGTERM)
        let outText = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let errText = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "stderr: \(errText)")
        #expect(outText.contains(marker), "events seen before SIGTERM are flushed")
        #expect(errText.contains("stopped:"))
    }

    @Test func withoutRootTraceSaysWhatIsMissingAndExits1() throws {
        try BPFTestGate.check()
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/runuser") else {
            Issue.record("runuser (util-linux) is needed to run vigil as an unprivileged user")
            return
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
        p.arguments = ["-u", "nobody", "--", try vigilExecutable().path, "trace", "--duration", "1"]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let errText = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 1, "stderr: \(errText)")
        #expect(errText.contains("needs root"))
        #expect(errText.contains("what to do:"))
    }
}

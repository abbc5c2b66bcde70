import Foundation
import Testing
import VigilCore
import VigilTestSupport

/// `vigil record`: a live host into a corpus `vigil eval` reads, with the context (program,
/// parent, lineage) that public corpora lack.
@Suite(.serialized, .enabled(if: BPFTestGate.shouldRun), .timeLimit(.minutes(2)))
struct RecordCommandTests {
    @Test func recordsASelectedProgram() throws {
        try BPFTestGate.check()
        let dir = try makeTempDirectory("vigil-record-e2e")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // A shell of its own name, so the selection is this test's alone.
        let shell = dir + "/rec-shell"
        try FileManager.default.copyItem(atPath: "/bin/dash", toPath: shell)
        let out = dir + "/corpus"
        var shellPid: Int32 = 0
        // The kernel filters by comm as well, so a loaded host's every syscall does not cross
        // the ring (and what the shell starts, with other names, is left to the unit tests).
        let r = try runVigil(["record", "--out", out, "--set", "attack/probe", "--only", shell, "--comm", "rec-shell", "--duration", "4"], whileRunning: {
            shellPid = try runProgram(shell, ["-c", "/bin/true; /bin/ls / >/dev/null; exit 3"]).pid
        }, startDelay: 2)
        #expect(r.status == 0, "\(r.err)")
        #expect(r.err.contains("recorded"), "\(r.err)")
        #expect(try Corpus.numbering(at: out) == .linuxX86_64)
        let traces = try Corpus.traceFiles(under: out + "/attack/probe")
        let context = try String(contentsOfFile: out + "/" + CorpusRecorder.contextFile, encoding: .utf8)
            .split(separator: "\n").map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        #expect(context.count == traces.count)
        // The shell itself, with its context; nothing else on the host.
        let sh = try #require(context.first { $0["executable"] as? String == shell && $0["pid"] as? Int == Int(shellPid) })
        #expect(sh["exit"] as? String == "code 3")
        #expect(sh["comm"] as? String == "rec-shell")
        #expect(context.allSatisfy { $0["executable"] as? String == shell })
        // Each trace is the numbers eval reads, as many as the context says.
        let calls = try TraceReader.readAll(path: out + "/" + (sh["trace"] as! String))
        #expect(calls.count == sh["calls"] as? Int)
        #expect(calls.contains(UInt32(SyscallTable.number("wait4")!)), "the shell waits for what it ran")
    }

    @Test func aBadSetIsRefusedBeforeAnythingLoads() throws {
        let r = try runVigil(["record", "--out", "/tmp/x", "--set", "attack/../etc"])
        #expect(r.status == 2)
        #expect(r.err.contains("--set 'attack/../etc'"))
    }
}

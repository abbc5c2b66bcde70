import Foundation
import Testing
@testable import VigilSensor

@Suite struct ProcScannerTests {
    @Test func statParsingSurvivesParenthesesInTheCommandName() throws {
        let line = "1234 (we ird) (name)) S 77 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 200"
        let s = try #require(ProcScanner.parseStat(line))
        #expect(s.comm == "we ird) (name)")
        #expect(s.ppid == 77)
        #expect(s.startTicks == 98765)
    }

    @Test func snapshotOfAFakeProcTree() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-proc-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        defer { try? FileManager.default.removeItem(at: root) }
        let p = root.appendingPathComponent("4321")
        try FileManager.default.createDirectory(at: p, withIntermediateDirectories: true)
        try "btime 1700000000\n".write(to: root.appendingPathComponent("stat"), atomically: false, encoding: .utf8)
        try "4321 (srv) S 1 4321 4321 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 500 0 0".write(to: p.appendingPathComponent("stat"), atomically: false, encoding: .utf8)
        try Data("/usr/bin/srv\0--port\0080\0".utf8).write(to: p.appendingPathComponent("cmdline"))
        try "Name:\tsrv\nUid:\t1000\t1001\t1000\t1000\nGid:\t50\t50\t50\t50\n".write(to: p.appendingPathComponent("status"), atomically: false, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: p.appendingPathComponent("exe").path, withDestinationPath: "/usr/bin/srv")
        // Not a process directory: ignored.
        try FileManager.default.createDirectory(at: root.appendingPathComponent("sys"), withIntermediateDirectories: true)

        let recs = ProcScanner.snapshot(procRoot: root.path, nowNanos: 0)
        #expect(recs.count == 1)
        let r = try #require(recs.first)
        #expect(r.pid == 4321 && r.ppid == 1)
        #expect(r.path == "/usr/bin/srv")
        #expect(r.argv == ["/usr/bin/srv", "--port", "080"])
        #expect(r.uid == 1000 && r.euid == 1001 && r.gid == 50)
        #expect(r.seeded)
        let ticks = UInt64(sysconf(Int32(_SC_CLK_TCK)))
        #expect(r.startNanos == 1_700_000_000 * 1_000_000_000 + 500 * 1_000_000_000 / ticks)
    }

    @Test func theRealProcIncludesThisProcess() {
        let recs = ProcScanner.snapshot(nowNanos: 0)
        #expect(recs.contains { $0.pid == getpid() })
    }
}

import Foundation
import Testing
import VigilCore
import VigilTestSupport

/// `vigil record`'s core: live events into the corpus layout `vigil eval` reads, with the
/// context a bare trace cannot carry.
@Suite struct CorpusRecorderTests {
    final class MemorySink: CorpusRecorder.Sink {
        var files: [String: String] = [:]
        var lines: [String: [String]] = [:]
        func write(_ text: String, to path: String) throws { files[path] = text }
        func append(line: String, to path: String) throws { lines[path, default: []].append(line) }
    }

    static func ev(_ pid: Int32, tid: Int32? = nil, _ payload: Event.Payload, at t: UInt64 = 1) -> Event {
        Event(timeNanos: t, pid: pid, tid: tid ?? pid, comm: "svc", payload: payload)
    }

    /// init forks a service, which execs, makes calls on two threads, and exits by a signal.
    static func life(service calls: Int, thread: Int) -> [Event] {
        var e: [Event] = [
            ev(1, .exec(.init(ppid: 0, uid: 0, euid: 0, gid: 0, path: "/sbin/init", argv: ["/sbin/init"]))),
            ev(1, .fork(.init(childPid: 40))),
            ev(40, .exec(.init(ppid: 1, uid: 33, euid: 33, gid: 33, path: "/usr/sbin/svc", argv: ["svc", "-d"]))),
        ]
        for i in 0..<calls { e.append(ev(40, .syscall(.init(number: i % 3)))) }
        for _ in 0..<thread { e.append(ev(40, tid: 41, .syscall(.init(number: 7)))) }
        e.append(ev(40, .exit(.init(status: 9))))
        return e
    }

    static func record(_ events: [Event], set: CorpusRecorder.Set = .train, wanted: (Event) -> Bool = { _ in true }) throws -> (CorpusRecorder, MemorySink) {
        let sink = MemorySink()
        let r = CorpusRecorder(set: set, sink: sink)
        var table = ProcessTable()
        for e in events {
            _ = table.apply(e)
            try r.apply(e, table: table, wanted: wanted(e))
        }
        try r.finishAll()
        return (r, sink)
    }

    @Test func eachTaskIsOneTraceWithItsContext() throws {
        let (r, sink) = try Self.record(Self.life(service: 12, thread: 11))
        #expect(r.written == 2)
        #expect(sink.files["train/svc-40-40.trace"] == (0..<12).map { String($0 % 3) }.joined(separator: " ") + "\n")
        #expect(sink.files["train/svc-40-41.trace"] == Array(repeating: "7", count: 11).joined(separator: " ") + "\n")
        let context = try #require(sink.lines[CorpusRecorder.contextFile])
        #expect(context.count == 2)
        let first = try #require(try JSONSerialization.jsonObject(with: Data(context[0].utf8)) as? [String: Any])
        #expect(first["trace"] as? String == "train/svc-40-40.trace")
        #expect(first["executable"] as? String == "/usr/sbin/svc")
        #expect(first["argv"] as? [String] == ["svc", "-d"])
        #expect(first["uid"] as? Int == 33 && first["ppid"] as? Int == 1)
        #expect(first["parent_executable"] as? String == "/sbin/init")
        #expect(first["exit"] as? String == "signal 9")
        #expect(first["calls"] as? Int == 12 && first["ring_drops"] as? Int == 0)
    }

    @Test func shortTracesAndUnwantedProcessesAreLeftOut() throws {
        let (r, sink) = try Self.record(Self.life(service: 12, thread: 3))
        #expect(r.written == 1 && r.skippedShort == 1)
        #expect(sink.files.keys.sorted() == ["train/svc-40-40.trace"])
        let (none, empty) = try Self.record(Self.life(service: 12, thread: 11), wanted: { _ in false })
        #expect(none.written == 0 && empty.files.isEmpty)
    }

    @Test func anExecEndsTheOldProgramsTrace() throws {
        var e = Array(Self.life(service: 12, thread: 0).dropLast())
        e.append(Self.ev(40, .exec(.init(ppid: 1, uid: 33, euid: 33, gid: 33, path: "/bin/sh", argv: ["sh"]))))
        for _ in 0..<10 { e.append(Self.ev(40, .syscall(.init(number: 59)))) }
        let (r, sink) = try Self.record(e)
        #expect(r.written == 2)
        let context = try sink.lines[CorpusRecorder.contextFile]!.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        #expect(context.map { $0["executable"] as? String } == ["/usr/sbin/svc", "/bin/sh"])
        #expect(context.map { $0["exit"] as? String } == ["exec", "running"])
        #expect(sink.files["train/svc-40-40.2.trace"] != nil, "a second trace of the same task gets its own name")
    }

    @Test func dropsAreCountedAgainstTheTracesOpenDuringThem() throws {
        let sink = MemorySink()
        let r = CorpusRecorder(set: .attack("web-shell"), sink: sink)
        var table = ProcessTable()
        for (i, e) in Self.life(service: 12, thread: 0).enumerated() {
            _ = table.apply(e)
            if i == 5 { r.noteDrops(3) }
            try r.apply(e, table: table, wanted: true)
        }
        let line = try #require(sink.lines[CorpusRecorder.contextFile]?.first)
        let o = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(o["ring_drops"] as? Int == 3)
        #expect(o["trace"] as? String == "attack/web-shell/svc-40-40.trace")
    }

    @Test func setsParseAndNormalWorkSplitsStably() {
        #expect(CorpusRecorder.Set("train") == .train && CorpusRecorder.Set("normal") == .normal)
        #expect(CorpusRecorder.Set("attack/ssh-brute_1.2") == .attack("ssh-brute_1.2"))
        for bad in ["", "attack/", "attack/../x", "attack/a/b", "attack/.hidden", "Train", "attacks/x"] {
            #expect(CorpusRecorder.Set(bad) == nil, "\(bad)")
        }
        // Consecutive pids land in both sets, about 40/60, the same way every time.
        let sink = MemorySink()
        let r = CorpusRecorder(set: .normal, sink: sink)
        r.minimumCalls = 1
        var table = ProcessTable()
        for pid in Int32(1000)..<1200 {
            let e = Self.ev(pid, .syscall(.init(number: 1)))
            _ = table.apply(e)
            try! r.apply(e, table: table, wanted: true)
        }
        try! r.finishAll()
        let train = sink.files.keys.filter { $0.hasPrefix("train/") }.count
        #expect(sink.files.count == 200)
        #expect((60...100).contains(train), "\(train) of 200 in train")
        let again = MemorySink()
        let r2 = CorpusRecorder(set: .normal, sink: again)
        r2.minimumCalls = 1
        for pid in Int32(1000)..<1200 { try! r2.apply(Self.ev(pid, .syscall(.init(number: 1))), table: table, wanted: true) }
        try! r2.finishAll()
        #expect(Set(again.files.keys) == Set(sink.files.keys))
    }

    @Test func aRecordedCorpusIsOneEvalReads() throws {
        let dir = try makeTempDirectory("vigil-record")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = CorpusRecorder(set: .train, sink: CorpusRecorder.DirectorySink(root: dir))
        try r.writeManifest(exists: false)
        var table = ProcessTable()
        for e in Self.life(service: 30, thread: 12) {
            _ = table.apply(e)
            try r.apply(e, table: table, wanted: true)
        }
        try r.finishAll()
        let corpus = try Corpus.load(at: dir)
        #expect(corpus.numbering == .linuxX86_64)
        #expect(corpus.train.map { ($0 as NSString).lastPathComponent } == ["svc-40-40.trace", "svc-40-41.trace"])
        #expect(try TraceReader.readAll(path: corpus.train[0]) == (0..<30).map { UInt32($0 % 3) })
    }
}

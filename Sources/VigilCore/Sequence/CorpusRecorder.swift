import Foundation

/// Writes a corpus from live events (`vigil record`): the layout ``Corpus`` reads (`train/`,
/// `validation/`, `attack/<case>/`, one task per file, syscall numbers separated by spaces,
/// `corpus.json` naming them `linux-x86_64`), plus what a bare trace cannot carry, one JSON
/// line per trace in `context.jsonl` at the corpus root (``Corpus`` reads only the set
/// directories, so `eval` and `replay` read a recorded corpus as any other):
///
/// `{"trace": "train/nginx-812-812.trace", "executable": "/usr/sbin/nginx", "invoked": ...,
///   "argv": [...], "comm": ..., "pid": 812, "tid": 812, "ppid": 1, "parent_executable": ...,
///   "ancestry": [...], "uid": 33, "euid": 33, "calls": 5120, "truncated": 0, "exit": "code 0",
///   "started_ns": ..., "ring_drops": 0}`
///
/// A trace is one task (thread), as the kernel's n-gram histories are: threads of one
/// process interleave nondeterministically, and a per-thread trace is what the live model
/// sees. It ends at the task's exit (or the process's, or the end of the recording) and is
/// kept when it has at least ``minimumCalls``. `ring_drops` counts records the kernel
/// dropped while the trace was open: such a trace may miss calls.
///
/// Pure: the caller feeds events and process records; files are written through
/// ``CorpusRecorder/Sink`` (a directory, or memory in tests).
public final class CorpusRecorder {
    /// Which set new traces go to.
    public enum Set: Sendable, Hashable, CustomStringConvertible {
        case train, validation
        /// Normal work split by a hash of the trace's name: 40% train, 60% validation, as
        /// `Benchmarks/linux-corpus/record.sh` splits.
        case normal
        case attack(String)

        /// Parses `train`, `validation`, `normal` or `attack/CASE` (CASE: letters, digits, `-`, `_`, `.`).
        public init?(_ text: String) {
            switch text {
            case "train": self = .train
            case "validation": self = .validation
            case "normal": self = .normal
            default:
                guard text.hasPrefix("attack/") else { return nil }
                let name = String(text.dropFirst("attack/".count))
                guard !name.isEmpty, !name.hasPrefix("."),
                      name.unicodeScalars.allSatisfy({ CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0) })
                else { return nil }
                self = .attack(name)
            }
        }

        public var description: String {
            switch self {
            case .train: "train"
            case .validation: "validation"
            case .normal: "normal"
            case .attack(let c): "attack/\(c)"
            }
        }

        func directory(for name: String) -> String {
            switch self {
            case .train: return "train"
            case .validation: return "validation"
            case .attack(let c): return "attack/\(c)"
            case .normal:
                // FNV-1a of the name, mixed (names of consecutive pids differ in one byte):
                // stable across runs and hosts.
                var h: UInt64 = 0xcbf2_9ce4_8422_2325
                for b in name.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
                h ^= h >> 33; h &*= 0xff51_afd7_ed55_8ccd; h ^= h >> 33; h &*= 0xc4ce_b9fe_1a85_ec53; h ^= h >> 33
                return h % 10 < 4 ? "train" : "validation"
            }
        }
    }

    /// Where finished traces go.
    public protocol Sink: AnyObject {
        /// Writes `text` to `path` (relative to the corpus root), replacing it.
        func write(_ text: String, to path: String) throws
        /// Appends `line` and a newline to `path` (relative to the corpus root).
        func append(line: String, to path: String) throws
    }

    /// The corpus root on disk.
    public final class DirectorySink: Sink {
        public let root: String
        public init(root: String) { self.root = root }
        public func write(_ text: String, to path: String) throws {
            let url = URL(fileURLWithPath: root + "/" + path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url, options: .atomic)
        }
        public func append(line: String, to path: String) throws {
            let full = root + "/" + path
            if !FileManager.default.fileExists(atPath: full) {
                try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
                guard FileManager.default.createFile(atPath: full, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                    throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: full])
                }
            }
            guard let h = FileHandle(forWritingAtPath: full) else {
                throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: full])
            }
            defer { try? h.close() }
            try h.seekToEnd()
            try h.write(contentsOf: Data((line + "\n").utf8))
        }
    }

    public static let contextFile = "context.jsonl"

    public let set: Set
    /// Shortest trace kept (shorter ones, e.g. a thread that only exited, are skipped).
    public var minimumCalls = 10
    /// Longest trace kept in memory per task; calls beyond it are counted, not stored.
    public var maximumCalls = 1 << 22
    /// Traces written, and skipped as too short.
    public private(set) var written = 0
    public private(set) var skippedShort = 0

    private let sink: any Sink
    private struct Open {
        var pid: Int32
        var calls: [UInt32] = []
        var truncated = 0
        var dropsAtStart: UInt64
        var process: ProcessRecord?
        var ancestry: [ProcessRecord]
        init(pid: Int32, dropsAtStart: UInt64, process: ProcessRecord?, ancestry: [ProcessRecord]) {
            self.pid = pid; self.dropsAtStart = dropsAtStart; self.process = process; self.ancestry = ancestry
        }
    }
    private var open: [Int32: Open] = [:]  // by tid
    private var drops: UInt64 = 0
    private var names: Swift.Set<String> = []

    public init(set: Set, sink: any Sink) {
        self.set = set
        self.sink = sink
    }

    /// Writes `corpus.json` (the numbering) unless the corpus already has one.
    public func writeManifest(exists: Bool) throws {
        guard !exists else { return }
        try sink.write("{\"syscalls\": \"\(Corpus.Numbering.linuxX86_64.rawValue)\"}\n", to: Corpus.manifestName)
    }

    /// Takes one event, after `table` has applied it; `wanted`: whether its process is one
    /// to record (its calls are dropped otherwise). A trace takes its process's record and
    /// ancestry from its first call. Throws what the sink could not write.
    public func apply(_ event: Event, table: ProcessTable, wanted: Bool) throws {
        switch event.payload {
        case .syscall(let s):
            guard wanted, s.number >= 0 else { return }
            if open[event.tid] == nil {
                open[event.tid] = Open(pid: event.pid, dropsAtStart: drops, process: table[event.pid], ancestry: table.ancestry(of: event.pid))
            }
            if open[event.tid]!.calls.count < maximumCalls { open[event.tid]!.calls.append(UInt32(s.number)) } else { open[event.tid]!.truncated += 1 }
        case .exec:
            // A new program: what the task ran before is a trace of the old one.
            for tid in tids(ofProcess: event.pid) { try finish(tid, exit: "exec") }
        case .exit(let x):
            let how = x.signal.map { "signal \($0)" } ?? "code \(x.code ?? 0)"
            // Thread exits are not reported separately: the process's exit ends all its tasks.
            for tid in tids(ofProcess: event.pid) { try finish(tid, exit: how) }
        default:
            return
        }
    }

    /// The kernel dropped `n` records: every open trace may miss calls from here on.
    public func noteDrops(_ n: UInt64) { drops &+= n }

    /// Writes every open trace (the recording ends).
    public func finishAll() throws {
        for tid in open.keys.sorted() { try finish(tid, exit: "running") }
    }

    private func tids(ofProcess pid: Int32) -> [Int32] {
        open.compactMap { tid, o in o.pid == pid ? tid : nil }.sorted()
    }

    private func finish(_ tid: Int32, exit: String) throws {
        guard let o = open.removeValue(forKey: tid) else { return }
        guard o.calls.count >= minimumCalls else { skippedShort += 1; return }
        let p = o.process
        let comm = Self.fileSafe(p?.comm ?? "task")
        let pid = o.pid
        var base = "\(comm)-\(pid)-\(tid)"
        var n = 1
        while names.contains(base) { n += 1; base = "\(comm)-\(pid)-\(tid).\(n)" }  // a pid reused within one recording
        names.insert(base)
        let path = set.directory(for: base) + "/" + base + ".trace"
        var text = ""
        text.reserveCapacity(o.calls.count * 3)
        for (i, c) in o.calls.enumerated() {
            if i > 0 { text += " " }
            text += String(c)
        }
        text += "\n"
        try sink.write(text, to: path)
        var fields: [(String, JSONValue)] = [
            ("trace", .string(path)), ("pid", .int(Int64(pid))), ("tid", .int(Int64(tid))),
            ("calls", .int(Int64(o.calls.count))), ("truncated", .int(Int64(o.truncated))),
            ("exit", .string(exit)), ("ring_drops", .uint(drops &- o.dropsAtStart)),
        ]
        if let p {
            fields += [
                ("executable", .string(p.path)), ("invoked", .string(p.invokedPath.isEmpty ? p.path : p.invokedPath)),
                ("argv", .array(p.argv.map { .string($0) })), ("comm", .string(p.comm)),
                ("ppid", .int(Int64(p.ppid))), ("uid", .uint(UInt64(p.uid))), ("euid", .uint(UInt64(p.euid))),
                ("started_ns", .uint(p.startNanos)),
                ("parent_executable", .string(o.ancestry.first?.path ?? "")),
                ("ancestry", .array(o.ancestry.map { .string($0.path.isEmpty ? "?" : $0.path) })),
            ]
        }
        var line = ""
        JSONValue.object(fields).write(into: &line, indent: 0, compact: true)
        try sink.append(line: line, to: Self.contextFile)
        written += 1
    }

    static func fileSafe(_ s: String) -> String {
        let mapped = s.unicodeScalars.map { CharacterSet.alphanumerics.contains($0) || "-_".unicodeScalars.contains($0) ? Character($0) : "_" }
        let out = String(mapped)
        return out.isEmpty ? "task" : out
    }
}

/// What Vigil knows about one live process.
public struct ProcessRecord: Sendable, Hashable {
    public var pid: Int32
    public var ppid: Int32
    public var uid: UInt32
    public var euid: UInt32
    public var gid: UInt32
    /// Absolute path of the executable file run, symlinks resolved (an exec's
    /// ``Event/Exec/executable``, /proc/PID/exe); empty when unknown (e.g. a kernel thread).
    public var path: String
    /// The path the program was started by, when known and different from ``path`` (an
    /// exec's ``Event/Exec/path``; for a process found running, an absolute argv[0] that
    /// resolves to ``path``); empty otherwise.
    public var invokedPath: String
    public var argv: [String]
    public var comm: String
    public var cgroupID: UInt64
    /// When the process started (seeded entries: when Vigil found it), ns since the epoch.
    public var startNanos: UInt64
    /// True when the entry came from the /proc snapshot taken at start-up, not from an event.
    public var seeded: Bool

    public init(pid: Int32, ppid: Int32, uid: UInt32 = 0, euid: UInt32 = 0, gid: UInt32 = 0, path: String = "",
                invokedPath: String = "", argv: [String] = [], comm: String = "", cgroupID: UInt64 = 0, startNanos: UInt64 = 0,
                seeded: Bool = false) {
        self.pid = pid
        self.ppid = ppid
        self.uid = uid
        self.euid = euid
        self.gid = gid
        self.path = path
        self.invokedPath = invokedPath == path ? "" : invokedPath
        self.argv = argv
        self.comm = comm
        self.cgroupID = cgroupID
        self.startNanos = startNanos
        self.seeded = seeded
    }

    /// The profile identity of this process (``ProfileIdentity/of(_:)``).
    public var identity: ProfileIdentity { ProfileIdentity.of(self) }

    /// The command line as one string, arguments joined by spaces.
    public var commandLine: String { argv.joined(separator: " ") }
}

/// The live processes of the host and their ancestry.
///
/// Seeded from a snapshot of /proc at start (processes that ran before Vigil), then kept
/// current by exec, fork and exit events. Exited processes are kept for a short grace
/// period so that events that arrive after the exit (ring-buffer order is per CPU) still
/// find their process.
public struct ProcessTable: Sendable {
    private var live: [Int32: ProcessRecord] = [:]
    private var exited: [Int32: (record: ProcessRecord, at: UInt64)] = [:]
    /// How long an exited process stays resolvable, in nanoseconds.
    public var exitGraceNanos: UInt64 = 5_000_000_000
    private var nextExpiry: UInt64 = 0

    public init() {}

    public init(seed: [ProcessRecord]) {
        for r in seed { live[r.pid] = r }
    }

    public var count: Int { live.count }

    /// Every live process.
    public var records: [ProcessRecord] { Array(live.values) }

    public subscript(pid: Int32) -> ProcessRecord? {
        live[pid] ?? exited[pid]?.record
    }

    /// Updates the table from one event. Returns the record the event refers to, after the update.
    @discardableResult
    public mutating func apply(_ event: Event) -> ProcessRecord? {
        switch event.payload {
        case .fork(let f):
            // The child starts as a copy of its parent until it execs.
            var child = live[event.pid] ?? ProcessRecord(pid: event.pid, ppid: 0, comm: event.comm)
            child.pid = f.childPid
            child.ppid = event.pid
            child.startNanos = event.timeNanos
            child.seeded = false
            child.cgroupID = event.cgroupID
            exited[f.childPid] = nil
            live[f.childPid] = child
            return live[event.pid]
        case .exec(let e):
            let r = ProcessRecord(pid: event.pid, ppid: e.ppid, uid: e.uid, euid: e.euid, gid: e.gid, path: e.executable,
                                  invokedPath: e.path, argv: e.argv, comm: event.comm, cgroupID: event.cgroupID,
                                  startNanos: live[event.pid]?.startNanos ?? event.timeNanos)
            live[event.pid] = r
            return r
        case .exit:
            guard let r = live.removeValue(forKey: event.pid) else { return exited[event.pid]?.record }
            exited[event.pid] = (r, event.timeNanos)
            expire(now: event.timeNanos)
            return r
        case .syscall, .network, .novelty, .action, .tamper, .file:
            if live[event.pid] == nil, exited[event.pid] == nil {
                // A process we never saw start (it raced the snapshot): learn what we can.
                live[event.pid] = ProcessRecord(pid: event.pid, ppid: 0, comm: event.comm, cgroupID: event.cgroupID,
                                                startNanos: event.timeNanos)
            }
            return self[event.pid]
        }
    }

    /// The chain of ancestors of `pid`, nearest first, stopping at an unknown parent, at
    /// pid 1, or after `limit` steps (a guard against cycles from pid reuse).
    public func ancestry(of pid: Int32, limit: Int = 64) -> [ProcessRecord] {
        var out: [ProcessRecord] = []
        var seen: Set<Int32> = [pid]
        var cur = self[pid]?.ppid ?? 0
        while cur > 0, out.count < limit, !seen.contains(cur), let r = self[cur] {
            out.append(r)
            seen.insert(cur)
            cur = r.ppid
        }
        return out
    }

    /// Exited processes kept at most (the newest half stay when a storm of exits within
    /// the grace period fills it).
    public static let exitedCapacity = 65_536

    /// Drops exited processes older than the grace period. Runs at most every quarter of
    /// the grace period, or when the list is full: a storm of exits costs amortised O(1)
    /// each, not a pass over every recent exit.
    public mutating func expire(now: UInt64) {
        guard exited.count > 256, now >= nextExpiry || exited.count > Self.exitedCapacity else { return }
        exited = exited.filter { now &- $0.value.at < exitGraceNanos }
        if exited.count > Self.exitedCapacity / 2 {
            let newest = exited.sorted { $0.value.at > $1.value.at }.prefix(Self.exitedCapacity / 2)
            exited = Dictionary(uniqueKeysWithValues: newest.map { ($0.key, $0.value) })
        }
        nextExpiry = now + exitGraceNanos / 4
    }

    /// How many exited processes are kept now.
    public var exitedCount: Int { exited.count }
}

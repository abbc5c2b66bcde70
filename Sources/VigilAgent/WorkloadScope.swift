import Foundation
public import VigilCore

/// Which processes Vigil may act on: the members of the declared workloads, never a
/// protected process.
///
/// Membership is sticky by lineage: a process is a member if it, or an ancestor, matched a
/// workload's selector at exec (or, for a process already running when Vigil started, as
/// it was found). Children inherit it at fork, exec keeps it, setuid and cgroup moves do
/// not take it away. The kernel applies the same rule for its own responses (exec guard,
/// kill at syscall, deny network), so the two agree without asking each other.
///
/// Protection comes in two strengths. PID 1, kernel threads, Vigil itself and its
/// ancestors are protected whatever else holds. Processes of the session that started
/// Vigil (when it runs interactively) and of the protected executables (sshd, systemd,
/// the package manager, ...), with their descendants, are protected unless a workload
/// selects them: an explicit workload match wins.
public final class WorkloadScope {
    /// Where a process stands.
    public enum Standing: Sendable, Hashable, CustomStringConvertible {
        /// In this workload: judged and, in enforce mode, acted on.
        case member(String)
        /// Outside every declared workload: not Vigil's business (at most reported).
        case outside
        /// Never signalled or denied, for this reason.
        case protected(String)

        public var description: String {
            switch self {
            case .member(let w): "workload \(w)"
            case .outside: "outside every workload"
            case .protected(let why): "protected (\(why))"
            }
        }

        public var isMember: Bool { if case .member = self { true } else { false } }
    }

    /// The name of the pseudo-workload `--all-processes` and an undeclared monitor use.
    public static let everyProcess = "all-processes"

    /// Programs protected by default (their lineage too, unless a workload selects it).
    public static let defaultProtectedExecutables = [
        "/usr/sbin/sshd", "/usr/lib/systemd/systemd", "/lib/systemd/systemd", "/usr/lib/systemd/systemd-*",
        "/lib/systemd/systemd-*", "/usr/bin/apt", "/usr/bin/apt-get",
        "/usr/bin/aptitude", "/usr/bin/dpkg", "/usr/bin/unattended-upgrade",
    ]

    public let workloads: [Workload]
    /// Every process not protected is acted on (`--all-processes`).
    public let allProcesses: Bool

    private struct Entry {
        var workload: Int?
        /// Protection that a workload match overrides.
        var softProtection: String?
    }

    private var entries: [Int32: Entry] = [:]
    private var hard: [Int32: String] = [:]
    private let selectors: [(workload: Int, selector: WorkloadSelector)]
    private let protectedExecutables: Set<String>
    private let protectedPrefixes: [String]
    private let sessionID: Int32?
    private let context: (ProcessRecord) -> ProcessContext

    /// - Parameters:
    ///   - protectedExecutables: absolute paths; a path ending in `*` protects every program
    ///     it prefixes (`/usr/lib/systemd/systemd-*`).
    ///   - sessionID: the session whose processes are protected (Vigil's own, when it runs
    ///     interactively); nil: none.
    ///   - context: how a process's context is read (tests give a fixed one).
    public init(workloads: [Workload], allProcesses: Bool, protectedExecutables: [String] = defaultProtectedExecutables,
                sessionID: Int32? = nil,
                context: @escaping (ProcessRecord) -> ProcessContext = { ContextProviders.context(pid: $0.pid, path: $0.path, uid: $0.uid) }) {
        self.workloads = workloads
        self.allProcesses = allProcesses
        var sel: [(Int, WorkloadSelector)] = []
        for (i, w) in workloads.enumerated() {
            for s in w.selectors {
                sel.append((i, s.kind == .exe ? WorkloadSelector(kind: .exe, value: ContextProviders.resolved(s.value)) : s))
            }
        }
        selectors = sel
        self.protectedExecutables = Set(protectedExecutables.filter { !$0.hasSuffix("*") }.flatMap { [$0, ContextProviders.resolved($0)] })
        protectedPrefixes = protectedExecutables.filter { $0.hasSuffix("*") }.map { String($0.dropLast()) }
        self.sessionID = sessionID
        self.context = context
    }

    /// Whether the operator declared what to act on (workloads or `--all-processes`).
    public var isDeclared: Bool { !workloads.isEmpty || allProcesses }

    /// Marks processes protected whatever else holds (PID 1, Vigil and its ancestors).
    public func protect(_ pid: Int32, reason: String) { hard[pid] = reason }

    /// Places processes that were running before Vigil started, parents before children.
    public func seed(_ records: [ProcessRecord], sessionOf: (Int32) -> Int32? = { _ in nil }) {
        let byPid = Dictionary(records.map { ($0.pid, $0) }, uniquingKeysWith: { a, _ in a })
        var visiting: Set<Int32> = []
        func place(_ r: ProcessRecord) {
            guard entries[r.pid] == nil, visiting.insert(r.pid).inserted else { return }
            var e = Entry()
            if let parent = byPid[r.ppid] {
                place(parent)
                e = entries[parent.pid] ?? Entry()
            }
            if r.pid == 2 || r.ppid == 2 { hard[r.pid] = "kernel thread" }
            if e.workload == nil, let sid = sessionID, sessionOf(r.pid) == sid { e.softProtection = "the session that started Vigil" }
            matchAtExec(r, &e)
            entries[r.pid] = e
        }
        for r in records.sorted(by: { $0.pid < $1.pid }) { place(r) }
    }

    /// A process exec'd (its record as it is after the exec).
    public func exec(_ record: ProcessRecord) {
        var e = entries[record.pid] ?? entries[record.ppid] ?? Entry()
        matchAtExec(record, &e)
        entries[record.pid] = e
    }

    public func fork(parent: Int32, child: Int32) {
        entries[child] = entries[parent] ?? Entry()
        if let h = hard[parent], h == "kernel thread" { hard[child] = h }
    }

    public func exit(_ pid: Int32) {
        entries[pid] = nil
        if hard[pid] == "kernel thread" { hard[pid] = nil }
    }

    private func matchAtExec(_ r: ProcessRecord, _ e: inout Entry) {
        if e.workload == nil, !selectors.isEmpty, !r.path.isEmpty {
            let c = context(r)
            if let m = selectors.first(where: { c.matches($0.selector) }) { e.workload = m.workload }
        }
        // The file that runs, or the path it was started by (a protected symlink).
        if e.workload == nil, e.softProtection == nil, let p = [r.path, r.invokedPath].first(where: isProtectedExecutable) {
            e.softProtection = "protected executable \(p)"
        }
    }

    private func isProtectedExecutable(_ path: String) -> Bool {
        guard !path.isEmpty else { return false }
        if protectedExecutables.contains(path) { return true }
        let resolved = ContextProviders.resolved(path)
        return protectedExecutables.contains(resolved) || protectedPrefixes.contains { path.hasPrefix($0) || resolved.hasPrefix($0) }
    }

    /// Where `pid` stands now.
    public func standing(of pid: Int32) -> Standing {
        if pid <= 1 { return .protected(pid == 1 ? "PID 1" : "no process") }
        if let h = hard[pid] { return .protected(h) }
        let e = entries[pid] ?? Entry()
        if let w = e.workload { return .member(workloads[w].name) }
        if let soft = e.softProtection { return .protected(soft) }
        return isDeclared && !allProcesses ? .outside : .member(Self.everyProcess)
    }

    /// The workload index of `pid` (0 ..< workloads.count), nil when it is a member of none.
    public func workloadIndex(of pid: Int32) -> Int? { entries[pid]?.workload }

    /// The live processes of the workload named `name` (every process that is no other
    /// workload's and not protected, for ``everyProcess``).
    public func members(of name: String) -> [Int32] {
        entries.keys.filter { standing(of: $0) == .member(name) }.sorted()
    }

    /// How many live processes each workload has.
    public var memberCounts: [String: Int] {
        var out = Dictionary(uniqueKeysWithValues: workloads.map { ($0.name, 0) })
        for e in entries.values { if let w = e.workload { out[workloads[w].name, default: 0] += 1 } }
        return out
    }
}

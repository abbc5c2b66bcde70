/// What Vigil learns and judges about files: the sensitive set, how written paths collapse
/// into learned prefixes, and which places are high-risk. Pure, shared by the learner, the
/// detector, the sensor (the kernel's name filter and keys) and `profile show`.
///
/// **Writes** are learned per directory. A profile's write entries are either
/// `DIR/PATTERN` (a file name with its digit runs made `*`, so `dump-4711.rdb.tmp` and
/// `dump-4712.rdb.tmp` are one entry, `dump-*.rdb.tmp`, and `app.log.1`, `app.log.2` are
/// `app.log.*`) or `DIR/**` (a collapsed prefix: every directory below DIR). A write into a
/// directory is known when some entry's directory is that directory, or a `/**` entry
/// covers it. When a profile has written into ``collapseThreshold`` or more sibling
/// directories of one parent, they collapse into `PARENT/**`, the way destinations collapse
/// into networks; never into a high-risk directory or one closer to the root than depth 2.
///
/// **Code mappings** and **sensitive reads** are exact paths (`/proc/1234/mem` becomes
/// `/proc/*/mem`).
public enum FileRules {
    /// The default sensitive set (`*` matches within one path component, `**` at the end
    /// anything below).
    public static let defaultSensitive: [String] = [
        "/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/sudoers", "/etc/sudoers.d/*",
        "/etc/ssh/ssh_host_*_key", "/root/.ssh/*", "/home/*/.ssh/*",
        "/proc/*/mem", "/root/.kube/config", "/home/*/.kube/config", "/etc/kubernetes/admin.conf",
        "/root/.aws/credentials", "/home/*/.aws/credentials", "/root/.config/gcloud/credentials.db",
        "/home/*/.config/gcloud/credentials.db", "/root/.azure/accessTokens.json", "/home/*/.azure/accessTokens.json",
        "/var/run/secrets/kubernetes.io/serviceaccount/token", "/run/secrets/kubernetes.io/serviceaccount/token",
    ]

    /// Sibling directories written before they collapse into their parent's `/**`.
    public static let collapseThreshold = 4

    // MARK: Hashes (the kernel's keys, BPF/files.bpf.c)

    /// FNV-1a 64 of `path`'s bytes before its last `/`: the kernel's key of a write.
    public static func directoryHash(_ path: String) -> UInt64 { PathHash.hash(directory(of: path)) }

    /// The directory part of an absolute path (`""` for a file in `/`).
    public static func directory(of path: String) -> String {
        guard let i = path.lastIndex(of: "/") else { return "" }
        return String(path[..<i])
    }

    /// An absolute path with "." and empty components dropped and ".." taking away the one
    /// before it (never above `/`), by text alone: a name as a rename or unlink gave it.
    public static func lexicallyNormalized(_ path: String) -> String {
        var parts: [Substring] = []
        for c in path.split(separator: "/", omittingEmptySubsequences: true) {
            if c == "." { continue }
            if c == ".." { _ = parts.popLast(); continue }
            parts.append(c)
        }
        return "/" + parts.joined(separator: "/")
    }

    /// The last component of a path.
    public static func name(of path: String) -> String {
        guard let i = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: i)...])
    }

    /// An entry of the kernel's vg_known_files for one slot: the op and its hash.
    public struct KernelKey: Sendable, Hashable {
        public var operation: Event.FileAccess.Operation
        public var hash: UInt64
        public init(operation: Event.FileAccess.Operation, hash: UInt64) {
            self.operation = operation
            self.hash = hash
        }

        /// The key the kernel uses for `path` under `operation`.
        public static func of(_ operation: Event.FileAccess.Operation, path: String) -> KernelKey {
            KernelKey(operation: operation, hash: operation == .write ? directoryHash(path) : PathHash.hash(path))
        }
    }

    /// What the kernel should hold for a profile: each write entry's directory, each mapped
    /// and sensitive file (entries with `*` cannot be hashed: they reach user space, which
    /// judges them covered, once per run).
    public static func kernelKeys(_ p: Profile) -> [KernelKey] {
        var out: [KernelKey] = []
        for e in p.writes.keys {
            out.append(KernelKey(operation: .write, hash: PathHash.hash(entryDirectory(e).dir)))
        }
        for m in p.maps.keys where !m.contains("*") { out.append(.of(.mapExec, path: m)) }
        for r in p.sensitiveReads.keys where !r.contains("*") { out.append(.of(.readSensitive, path: r)) }
        return out
    }

    // MARK: The sensitive set

    /// Whether `path` is in the sensitive set `patterns`.
    public static func isSensitive(_ path: String, patterns: [String] = defaultSensitive) -> Bool {
        patterns.contains { glob($0, matches: path) }
    }

    /// The file or directory names the kernel filters read-only opens by: each pattern's
    /// last component when it has no `*`, else its directory's last component. A pattern
    /// with neither (`/*/x*`) gives no name, so the kernel never resolves a read of it:
    /// ``unfilterable(_:)`` lists those, for the caller to say so.
    public static func kernelNames(_ patterns: [String]) -> Set<String> {
        var names: Set<String> = []
        for p in patterns {
            let base = name(of: p)
            if !base.contains("*"), !base.isEmpty { names.insert(base); continue }
            let dir = name(of: directory(of: p))
            if !dir.contains("*"), !dir.isEmpty { names.insert(dir) }
        }
        return names
    }

    /// Patterns neither whose name nor whose directory's name the kernel can test.
    public static func unfilterable(_ patterns: [String]) -> [String] {
        patterns.filter { p in
            let base = name(of: p), dir = name(of: directory(of: p))
            return (base.contains("*") || base.isEmpty) && (dir.contains("*") || dir.isEmpty)
        }
    }

    /// Checks a sensitive-set pattern: absolute, no empty component.
    public static func validatePattern(_ p: String) -> String? {
        guard p.hasPrefix("/") else { return "'\(p)' is not an absolute path" }
        guard !p.dropFirst().split(separator: "/", omittingEmptySubsequences: false).contains(where: \.isEmpty) else {
            return "'\(p)' has an empty path component"
        }
        return nil
    }

    /// Shell-style match: `*` within one component, a trailing `/**` anything below.
    public static func glob(_ pattern: String, matches path: String) -> Bool {
        if pattern.hasSuffix("/**") {
            let base = String(pattern.dropLast(3))
            let pc = path.split(separator: "/", omittingEmptySubsequences: false)
            let bc = base.split(separator: "/", omittingEmptySubsequences: false)
            guard pc.count > bc.count else { return false }
            return zip(bc, pc).allSatisfy { component(Substring($0), matches: Substring($1)) }
        }
        let pc = path.split(separator: "/", omittingEmptySubsequences: false)
        let gc = pattern.split(separator: "/", omittingEmptySubsequences: false)
        guard pc.count == gc.count else { return false }
        return zip(gc, pc).allSatisfy { component($0, matches: $1) }
    }

    static func component(_ g: Substring, matches s: Substring) -> Bool {
        let g = Array(g.utf8), s = Array(s.utf8)
        var gi = 0, si = 0, star = -1, mark = 0
        while si < s.count {
            if gi < g.count, g[gi] == UInt8(ascii: "*") { star = gi; mark = si; gi += 1 }
            else if gi < g.count, g[gi] == s[si] { gi += 1; si += 1 }
            else if star >= 0 { gi = star + 1; mark += 1; si = mark }
            else { return false }
        }
        while gi < g.count, g[gi] == UInt8(ascii: "*") { gi += 1 }
        return gi == g.count
    }

    // MARK: Learned entries

    /// A file name with its runs of digits as `*`: `dump-4711.rdb.tmp` -> `dump-*.rdb.tmp`.
    public static func namePattern(_ name: String) -> String {
        var out = "", inDigits = false
        for c in name {
            if c.isASCII, c.isNumber {
                if !inDigits { out.append("*") }
                inDigits = true
            } else {
                out.append(c)
                inDigits = false
            }
        }
        return out
    }

    /// The write entry a written path is learned as: `DIR/PATTERN`.
    public static func writeEntry(_ path: String) -> String {
        directory(of: path) + "/" + namePattern(name(of: path))
    }

    /// A mapped or sensitive path as learned: `/proc/<digits>/...` as `/proc/*/...`.
    public static func exactEntry(_ path: String) -> String {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count > 2, parts[1] == "proc", parts[2].allSatisfy(\.isNumber) || parts[2] == "self" else { return path }
        var p = parts.map(String.init)
        p[2] = "*"
        return p.joined(separator: "/")
    }

    /// The directory a write entry stands for, and whether it covers every directory below.
    public static func entryDirectory(_ entry: String) -> (dir: String, below: Bool) {
        if entry.hasSuffix("/**") { return (String(entry.dropLast(3)), true) }
        return (directory(of: entry), false)
    }

    /// Whether a write into directory `dir` is known to `entries`.
    public static func covers(_ entries: some Sequence<String>, directory dir: String) -> Bool {
        for e in entries {
            let (d, below) = entryDirectory(e)
            if d == dir { return true }
            if below, dir.hasPrefix(d + "/") || d.isEmpty { return true }
        }
        return false
    }

    /// The learned directory nearest `dir` (the longest shared leading components), or nil.
    public static func nearest(_ entries: some Sequence<String>, to dir: String) -> String? {
        let target = dir.split(separator: "/")
        var best: (String, Int)?
        for e in entries {
            let (d, below) = entryDirectory(e)
            let shown = below ? d + "/**" : d + "/"
            let common = zip(d.split(separator: "/"), target).prefix { $0 == $1 }.count
            if best == nil || common > best!.1 || (common == best!.1 && shown < best!.0) { best = (shown, common) }
        }
        return best?.0
    }

    /// Collapses sibling directories of `entries` into `PARENT/**` (see the type's notes);
    /// returns the new entries, each mapped to the entries it replaced.
    public static func collapse(_ entries: some Sequence<String>) -> [String: [String]] {
        var byParent: [String: Set<String>] = [:]
        var members: [String: [String]] = [:]
        let all = Array(entries)
        for e in all {
            let (d, below) = entryDirectory(e)
            let parent = directory(of: d)
            guard !parent.isEmpty else { continue }
            byParent[parent, default: []].insert(below ? d + "/**" : d)
            members[parent, default: []].append(e)
        }
        var out: [String: [String]] = [:]
        for (parent, children) in byParent where children.count >= collapseThreshold {
            guard parent.split(separator: "/").count >= 2, !isHighRiskWrite(directory: parent),
                  !all.contains(where: { entryDirectory($0).below && parent.hasPrefix(entryDirectory($0).dir + "/") }) else { continue }
            out[parent + "/**"] = members[parent]
        }
        return out
    }

    // MARK: High-risk places

    /// Directories anyone may write to (a new executable mapping from one is concrete evidence).
    public static let worldWritable = ["/tmp", "/var/tmp", "/dev/shm", "/run/shm", "/var/crash", "/run/lock", "/var/lock"]

    /// Whether `path` lies in a world-writable directory.
    public static func isWorldWritable(path: String) -> Bool {
        worldWritable.contains { path.hasPrefix($0 + "/") }
    }

    /// Whether a write into `dir` reaches a place an attacker writes to for persistence or
    /// access: `/etc` (with cron and systemd), a home directory (`/root`, `/home/*`, their
    /// `.ssh`), the cron spools, systemd unit directories.
    public static func isHighRiskWrite(directory dir: String) -> Bool {
        let prefixes = ["/etc", "/root", "/home", "/var/spool/cron", "/var/spool/anacron", "/lib/systemd/system",
                        "/usr/lib/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd", "/var/lib/systemd/linger"]
        if prefixes.contains(where: { dir == $0 || dir.hasPrefix($0 + "/") }) { return true }
        return dir.split(separator: "/").contains { $0 == ".ssh" || $0 == "systemd" && dir.contains("/.config/") }
    }
}

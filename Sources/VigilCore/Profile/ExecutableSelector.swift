/// Selects processes and profiles by executable path, as `vigil learn --only PATH`, the
/// run configuration's `learn.only` and `modes:` by path, and `vigil profile show PATH` do.
///
/// A path may be given as invoked (`/usr/bin/redis-server`, a symlink) or as resolved
/// (`/usr/bin/redis-check-rdb`), under the identity rule of ``ProfileIdentity``:
///
/// - the resolved path selects every identity of that executable, whatever name it ran under;
/// - another path selects the identity that running it would give: its resolved executable
///   with its base name as the invoked name (so `/usr/bin/redis-server` selects
///   `redis-check-rdb` run as `redis-server`, not plain `redis-check-rdb`), and any process
///   or profile recorded as started by exactly that path.
///
/// Paths that cannot select anything are reported in ``warnings`` at once (no such file), and
/// ones that resolve elsewhere get a note saying to what; ``unmatchedWarnings()`` names the
/// paths that matched nothing by the end of a run. Pure: the caller supplies `realpath`.
public final class ExecutableSelector: @unchecked Sendable {
    /// One path as given, and what it means on this host.
    public struct Entry: Sendable, Hashable {
        public var path: String
        /// `realpath` of ``path``; nil when it does not exist.
        public var resolved: String?
        /// The identity plainly running ``path`` gives (nil when it does not exist).
        public var identity: ProfileIdentity?
    }

    public let entries: [Entry]
    /// Messages about the paths as given: a path that does not exist, one that resolves to
    /// another path (what it resolves to, and the profile its processes get).
    public let warnings: [String]
    private var matched: Set<String> = []
    private let label: String

    /// - Parameters:
    ///   - paths: absolute paths; empty selects everything.
    ///   - label: how messages name the option (`--only`, `learn.only`).
    ///   - resolve: `realpath`; nil when the path does not exist.
    public init(paths: [String], label: String = "--only", resolve: (String) -> String?) {
        self.label = label
        var entries: [Entry] = []
        var warnings: [String] = []
        for path in paths {
            guard let r = resolve(path) else {
                entries.append(Entry(path: path, resolved: nil, identity: nil))
                warnings.append("\(label) \(path): no such file on this host; it can only match a process started by exactly that path")
                continue
            }
            let identity = ProfileIdentity.of(executable: r, argv: [path], comm: Self.comm(of: path))
            entries.append(Entry(path: path, resolved: r, identity: identity))
            if r != path {
                warnings.append("\(label) \(path) resolves to \(r): profiles are keyed on the resolved executable; "
                    + (identity.name.map { "it selects \(r) run as \"\($0)\" (profile \(identity.id)); give \(r) to select every program run from that file" }
                        ?? "it selects \(r) (profile \(identity.id))"))
            }
        }
        self.entries = entries
        self.warnings = warnings
    }

    /// Whether nothing is selected by path (everything is wanted).
    public var isEmpty: Bool { entries.isEmpty }

    /// Whether a process of `identity`, started by `invokedPath` (empty when unknown), is
    /// selected; everything is when no path was given. Records which paths matched.
    public func matches(_ identity: ProfileIdentity, invokedPath: String = "") -> Bool {
        if entries.isEmpty { return true }
        var any = false
        for e in entries where Self.selects(e, identity, invokedPaths: invokedPath.isEmpty ? [] : [invokedPath]) {
            matched.insert(e.path)
            any = true
        }
        return any
    }

    /// Whether process record `r` is selected (``matches(_:invokedPath:)`` on its identity).
    public func matches(_ r: ProcessRecord) -> Bool { matches(r.identity, invokedPath: r.invokedPath) }

    /// Whether a profile is selected: by its identity, or by a path it was invoked as.
    /// Does not count as a match for ``unmatchedWarnings()`` (a profile on disk is not a process).
    public func selects(_ p: Profile) -> Bool {
        entries.isEmpty || entries.contains { Self.selects($0, p.identity, invokedPaths: Set(p.invokedAs.keys)) }
    }

    /// The paths given that no process matched, one message each.
    public func unmatchedWarnings() -> [String] {
        entries.filter { !matched.contains($0.path) }.map { e in
            "\(label) \(e.path) matched no process"
                + (e.resolved.map { $0 == e.path ? "" : " (it resolves to \($0); profiles are keyed on that)" } ?? " (no such file on this host)")
        }
    }

    static func selects(_ e: Entry, _ identity: ProfileIdentity, invokedPaths: Set<String>) -> Bool {
        if invokedPaths.contains(e.path) { return true }
        if identity.executable == e.path { return true }
        guard let r = e.resolved, let mine = e.identity, identity.executable == r else { return false }
        return identity.name == mine.name
    }

    /// The kernel's command name for an exec of `path`: its base name's first 15 bytes.
    static func comm(of path: String) -> String {
        String(decoding: ProfileIdentity.basename(path).utf8.prefix(ProfileIdentity.commLength), as: UTF8.self)
    }
}

import Foundation
public import VigilCore

/// Where the file system says an executable path leads: the one place Vigil resolves
/// executable paths (exec events, `--only`, selectors, `vigil profile`), so every caller
/// gets the same answer as /proc/PID/exe gives for a running process.
///
/// Resolution is `realpath(3)`: symlinks (of the file and of its directories) resolved,
/// `.`/`..` removed. Hard links are not unified: a hard link is a path of its own, as
/// `realpath` and /proc/PID/exe leave it (the kernel keeps the path the file was opened by),
/// so two hard links of one binary are two profiles. A `#!` script is resolved to its
/// interpreter, as the kernel runs it and /proc/PID/exe shows it.
public struct ExecutablePath: Sendable {
    /// `realpath` of a path; nil when it does not exist.
    public var realpath: @Sendable (String) -> String?
    /// The first bytes of a file (for `#!`); nil when unreadable.
    public var head: @Sendable (String) -> [UInt8]?
    /// The target of a symlink in /proc (`/proc/PID/exe`, `/proc/PID/cwd`); nil when gone.
    public var procLink: @Sendable (Int32, String) -> String?

    public init(realpath: @escaping @Sendable (String) -> String?, head: @escaping @Sendable (String) -> [UInt8]?,
                procLink: @escaping @Sendable (Int32, String) -> String?) {
        self.realpath = realpath
        self.head = head
        self.procLink = procLink
    }

    /// The host's file system and /proc.
    public static let live = ExecutablePath(realpath: realpath(of:), head: head(of:), procLink: procLink(pid:_:))

    /// The file an exec of `path` by process `pid` runs: `path` made absolute (relative to
    /// the process's working directory, which exec does not change) and spelled plainly
    /// (``plain(_:)``: as the kernel's exec guard spells it), symlinks resolved, a
    /// `#!` script replaced by its interpreter (up to the kernel's 4 levels). Falls back to
    /// /proc/PID/exe when the path no longer resolves (deleted, `/dev/fd/N` of fexecve), and
    /// to `path` itself when the process is gone too.
    public func executable(execPath path: String, pid: Int32) -> (invoked: String, executable: String) {
        var invoked = path
        if path.hasPrefix("/") {
            invoked = Self.plain(path)
        } else if let cwd = procLink(pid, "cwd"), cwd.hasPrefix("/") {
            invoked = Self.plain(cwd + "/" + path)
        } else if let exe = procLink(pid, "exe").map(Self.stripDeleted), exe.hasPrefix("/") {
            // The old fallback: what the process runs now (a script's interpreter, so for a
            // relative script this is the best that is left).
            return (exe, exe)
        }
        guard var resolved = realpath(invoked) else {
            if let exe = procLink(pid, "exe").map(Self.stripDeleted), exe.hasPrefix("/") { return (invoked, exe) }
            return (invoked, invoked)
        }
        for _ in 0..<4 {
            guard let interpreter = head(resolved).flatMap(Self.shebangInterpreter), let next = realpath(interpreter) else { break }
            resolved = next
        }
        return (invoked, resolved)
    }

    /// Sets an exec event's ``Event/Exec/executable`` (and makes its path absolute).
    public func resolve(_ exec: inout Event.Exec, pid: Int32) {
        let r = executable(execPath: exec.path, pid: pid)
        exec.path = r.invoked
        exec.executable = r.executable
    }

    /// The interpreter path of a `#!` line, nil when the bytes do not start with one.
    static func shebangInterpreter(_ bytes: [UInt8]) -> String? {
        guard bytes.count > 2, bytes[0] == UInt8(ascii: "#"), bytes[1] == UInt8(ascii: "!") else { return nil }
        let line = bytes.dropFirst(2).prefix { $0 != UInt8(ascii: "\n") }
        let text = String(decoding: line, as: UTF8.self)
        let word = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).first.map(String.init)
        return word.flatMap { $0.hasPrefix("/") ? $0 : nil }
    }

    /// An absolute path with its `.` and empty components dropped (`/a//b/./c` is `/a/b/c`);
    /// `..` is kept (through a symbolic link it is not the parent of what it follows). The
    /// kernel's exec guard knows a script by its path spelled so (vg_normal_path_hash).
    static func plain(_ path: String) -> String {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }
        return "/" + parts.joined(separator: "/")
    }

    static func stripDeleted(_ p: String) -> String { p.hasSuffix(" (deleted)") ? String(p.dropLast(10)) : p }

    @Sendable static func realpath(of path: String) -> String? {
        guard let r = Foundation.realpath(path, nil) else { return nil }
        defer { free(r) }
        return String(cString: r)
    }

    @Sendable static func head(of path: String) -> [UInt8]? {
        guard let h = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? h.close() }
        return (try? h.read(upToCount: 256)).map { Array($0) }
    }

    @Sendable static func procLink(pid: Int32, _ name: String) -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/\(name)")
    }
}

/// What a path names on this host, for messages about `--only`, selectors and `vigil profile`.
public enum PathCheck: Sendable, Hashable {
    /// Nothing at that path.
    case missing
    /// The path is the file itself.
    case file
    /// The path resolves to another path (a symlink, or a symlinked directory on the way).
    case resolvesTo(String)

    public init(_ path: String, using fs: ExecutablePath = .live) {
        guard let r = fs.realpath(path) else { self = .missing; return }
        self = r == path ? .file : .resolvesTo(r)
    }
}

/// Which profile a process belongs to: the executable file it actually runs (symlinks
/// resolved), the name it was started under when that differs from the file's own name
/// (Debian's `redis-server` is a symlink to `redis-check-rdb`, which behaves differently by
/// name), and for interpreters the program they run (so every Python program does not
/// share one baseline).
///
/// One rule, ``of(executable:argv:comm:)``, serves exec events and processes found already
/// running alike: both give the resolved executable (the sensor resolves an exec's path,
/// /proc/PID/exe is resolved already), the command line and the kernel's command name.
/// See Models/README.md, "Profile identity", for the rules and the id format.
public struct ProfileIdentity: Sendable, Hashable, Comparable {
    /// What ``target`` names.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// A native program (or an interpreter run without a program: REPL, stdin).
        case binary
        /// A script file given to an interpreter (`python3 /opt/app/server.py`).
        case script
        /// A module run by name (`python -m http.server`, `java -m mod/cls`).
        case module
        /// A Java archive (`java -jar app.jar`).
        case jar
        /// A Java main class (`java -cp lib com.example.Main`).
        case javaClass = "class"
        /// Code given inline on the command line (`sh -c ...`, `python -c ...`, `node -e ...`):
        /// one profile per interpreter for all inline code, since the code text varies.
        case command
    }

    /// Absolute path of the executable file run, symlinks resolved (identity rule 2; a
    /// format-1 profile may hold the path as invoked, see `vigil profile upgrade`).
    public var executable: String
    public var kind: Kind
    /// The script path, module, jar or class; nil for ``Kind/binary`` and ``Kind/command``.
    public var target: String?
    /// The name the program was started under (a symlink's or hard link's base name, or a
    /// multi-call binary's applet name) when it differs from ``executable``'s base name; nil
    /// when they agree and for interpreters (`python3` and `python3.11` are one program).
    public var name: String?

    public init(executable: String, kind: Kind = .binary, target: String? = nil, name: String? = nil) {
        self.executable = executable
        self.kind = kind
        self.target = target
        self.name = name
    }

    /// The name processes of this identity run under: ``name``, else the executable's base name.
    public var programName: String { name ?? Self.basename(executable) }

    public static func < (l: Self, r: Self) -> Bool { l.id < r.id }

    /// The profile's stable name, also its file name without `.json`: readable and
    /// filename-safe. The executable path without its leading `/`, `/` turned into `-`;
    /// for interpreters `--` and the target (`module.`, `jar.`, `class.` prefixes, or
    /// `command`). Characters other than `A-Z a-z 0-9 . _ +` are replaced with `_`; when that
    /// or the `/` to `-` mapping could make two identities look alike (a `-` in the path,
    /// a replaced character, a name over 160 characters, a script named like a prefix),
    /// `~` and the first 8 hex digits of the SHA-256 of the identity are appended.
    public var id: String {
        var lossy = false
        func encode(_ s: String, slashes: Bool) -> String {
            var out = ""
            for ch in s.unicodeScalars {
                switch ch {
                case "a"..."z", "A"..."Z", "0"..."9", ".", "_", "+": out.unicodeScalars.append(ch)
                case "/" where slashes: out.append("-")
                case "-": out.append("-"); lossy = true
                default: out.append("_"); lossy = true
                }
            }
            if slashes {
                while out.hasPrefix("-") { out.removeFirst() }
            }
            return out
        }
        var text = encode(executable, slashes: true)
        switch kind {
        case .binary: break
        case .command: text += "--command"
        case .script:
            let t = encode(target ?? "", slashes: true)
            if ["module.", "jar.", "class.", "command"].contains(where: t.hasPrefix) || t.isEmpty { lossy = true }
            text += "--" + t
        case .module: text += "--module." + encode(target ?? "", slashes: true)
        case .jar: text += "--jar." + encode(target ?? "", slashes: true)
        case .javaClass: text += "--class." + encode(target ?? "", slashes: true)
        }
        if let name { text += "@" + encode(name, slashes: false) }
        if text.count > 160 { text = String(text.prefix(160)); lossy = true }
        if text.isEmpty || text.hasPrefix(".") { lossy = true; text = "_" + text }
        if lossy {
            // Identities without a name hash as they always did, so their ids do not change.
            let digest = SHA256.hex(of: Array("\(kind.rawValue)\u{0}\(executable)\u{0}\(target ?? "")\(name.map { "\u{0}" + $0 } ?? "")".utf8))
            text += "~" + digest.prefix(8)
        }
        return text
    }

    /// The identity of a process running `path` with command line `argv` (argv[0] first),
    /// `path` taken as resolved and no command name known: ``of(executable:argv:comm:)``
    /// with an empty `comm` (the invoked name then comes from argv[0] alone).
    public static func resolve(path: String, argv: [String]) -> ProfileIdentity {
        of(executable: path, argv: argv, comm: "")
    }

    /// The identity rule (rule 2), the same for an exec event and for a process found running.
    ///
    /// - Parameters:
    ///   - executable: the file actually run, symlinks resolved: for an exec the sensor's
    ///     resolution of the path given to execve (a `#!` script's interpreter, as the kernel
    ///     runs it), for a running process /proc/PID/exe. Hard links are not unified: each
    ///     link is its own path (as `realpath` leaves it), so its own profile.
    ///   - argv: the command line, argv[0] first.
    ///   - comm: the kernel's command name (/proc/PID/comm, an event's comm): at exec the
    ///     kernel sets it to the first 15 bytes of the base name of the path given to execve.
    ///     Empty when not known.
    ///
    /// The invoked name is `comm` (or argv[0]'s base name when `comm` is empty, or when it
    /// is the 15-byte cut of argv[0]'s base name). It is dropped when `comm` or argv[0]'s base
    /// name (up to a first space, as a rewritten process title has it) is the executable's own
    /// base name, so a program that renames itself after exec keeps its identity as long as
    /// one of the two still says what ran. Interpreters are recognised by the executable's
    /// base name, else (a multi-call binary such as busybox) by the invoked name; a
    /// recognised interpreter's identity is interpreter plus program, with no name.
    public static func of(executable: String, argv: [String], comm: String) -> ProfileIdentity {
        let base = basename(executable)
        let invoked = invokedName(base: base, argv0: argv.first ?? "", comm: comm)
        if let family = Interpreter(basename: base) {
            return family.identity(executable: executable, args: Array(argv.dropFirst()))
        }
        if let invoked, let family = Interpreter(basename: invoked) {
            var i = family.identity(executable: executable, args: Array(argv.dropFirst()))
            i.name = invoked
            return i
        }
        return ProfileIdentity(executable: executable, name: invoked)
    }

    /// The identity of a process table record (its resolved path, command line and name).
    public static func of(_ r: ProcessRecord) -> ProfileIdentity {
        of(executable: r.path, argv: r.argv, comm: r.comm)
    }

    /// The kernel's command-name length (TASK_COMM_LEN - 1).
    public static let commLength = 15

    /// The command name under which an exec of ``executable`` is this identity whatever its
    /// command line says, or nil when there is none: what lets the kernel name a process's
    /// profile at exec from the file and the comm alone (vg_exec_slots, `ExecSlotKey`).
    ///
    /// Only a native program's own identity has one: kind ``Kind/binary``, no ``name``, an
    /// absolute executable whose base name is no interpreter's (an interpreter's identity
    /// depends on argv) and fits the comm uncut (at most 15 bytes). Then, with comm equal
    /// to that base name, ``of(executable:argv:comm:)`` drops the invoked name at its first
    /// test, before argv is looked at, and returns exactly this identity. A named identity
    /// has none: the same comm with argv[0] naming the file itself gives the unnamed one.
    public var execComm: String? {
        guard kind == .binary, name == nil, target == nil, executable.hasPrefix("/") else { return nil }
        let base = Self.basename(executable)
        guard !base.isEmpty, base != "/", base.utf8.count <= Self.commLength, Interpreter(basename: base) == nil else { return nil }
        return base
    }

    /// The name a process was invoked under, nil when it is the executable's own `base`.
    static func invokedName(base: String, argv0: String, comm: String) -> String? {
        func cut(_ s: Substring) -> Substring { s.utf8.count <= commLength ? s : Substring(String(decoding: s.utf8.prefix(commLength), as: UTF8.self)) }
        var a0 = Substring(basename(argv0))
        if let space = a0.firstIndex(of: " ") { a0 = a0[..<space] }
        if a0.hasPrefix("-") { a0 = a0.dropFirst() } // a login shell's "-bash"
        if !comm.isEmpty, cut(Substring(base)) == Substring(comm) { return nil }
        if !a0.isEmpty, a0 == Substring(base) { return nil }
        if comm.isEmpty { return a0.isEmpty ? nil : String(a0) }
        // The kernel cut comm at 15 bytes; argv[0] may hold the whole name.
        if comm.utf8.count == commLength, cut(a0) == Substring(comm) { return String(a0) }
        return comm
    }

    /// The last component of a path ("" for "").
    public static func basename(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }
}

/// Interpreter families and how their command lines name the program they run.
enum Interpreter {
    case python, node, java, shell, perl, ruby, php, lua

    init?(basename b: String) {
        func family(_ prefix: String) -> Bool {
            // "python", "python3", "python3.11", "perl5.36.0", "php8.2": name plus version digits.
            guard b.hasPrefix(prefix) else { return false }
            return b.dropFirst(prefix.count).allSatisfy { $0.isNumber || $0 == "." }
        }
        if family("python") || family("pypy") || family("pypy3") { self = .python }
        else if b == "node" || b == "nodejs" || family("node") { self = .node }
        else if b == "java" { self = .java }
        else if ["sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "fish"].contains(b) { self = .shell }
        else if family("perl") { self = .perl }
        else if family("ruby") { self = .ruby }
        else if family("php") || b == "php-cli" { self = .php }
        else if family("lua") || b == "luajit" { self = .lua }
        else { return nil }
    }

    /// Options that consume the next argument (when not written `--opt=value` or attached).
    var optionsWithValue: Set<String> {
        switch self {
        case .python: ["-W", "-X", "-Q"]
        case .node: ["-r", "--require", "--import", "--loader", "--experimental-loader", "--inspect-port", "--title", "--conditions", "-C", "--env-file"]
        case .java: ["-cp", "-classpath", "--class-path", "-p", "--module-path", "--upgrade-module-path", "--add-modules",
                     "--add-opens", "--add-exports", "--add-reads", "--limit-modules", "--patch-module", "--enable-native-access"]
        case .shell: ["-o", "+o", "-O", "+O", "--rcfile", "--init-file"]
        case .perl: []
        case .ruby: ["-r", "-I", "-C", "-E", "--encoding"]
        case .php: ["-c", "-d", "-z"]
        case .lua: ["-l"]
        }
    }

    /// Options after which the program is inline code.
    var inlineCode: Set<String> {
        switch self {
        case .python: ["-c"]
        case .node: ["-e", "--eval", "-p", "--print"]
        case .java: []
        case .shell: ["-c"]
        case .perl: ["-e", "-E"]
        case .ruby: ["-e"]
        case .php: ["-r", "-R", "-B", "-E"]
        case .lua: ["-e"]
        }
    }

    func identity(executable: String, args: [String]) -> ProfileIdentity {
        var i = 0
        while i < args.count {
            let a = args[i]
            if a == "--" {
                // End of options: the next argument is the program.
                return i + 1 < args.count ? script(executable, args[i + 1]) : ProfileIdentity(executable: executable)
            }
            guard a.hasPrefix("-") || (self == .shell && a.hasPrefix("+")), a != "-" else {
                if self == .java { return ProfileIdentity(executable: executable, kind: .javaClass, target: a) }
                return script(executable, a)
            }
            if a == "-" { return ProfileIdentity(executable: executable) }
            // Shell option clusters like `-ec` or `-xc` include -c.
            if self == .shell, !a.hasPrefix("--"), a.dropFirst().contains("c") {
                return ProfileIdentity(executable: executable, kind: .command)
            }
            if inlineCode.contains(a) || (self == .perl && (a.hasPrefix("-e") || a.hasPrefix("-E")))
                || (self == .python && a.hasPrefix("-c")) {
                return ProfileIdentity(executable: executable, kind: .command)
            }
            switch (self, a) {
            case (.python, "-m"), (.java, "-m"), (.java, "--module"):
                if i + 1 < args.count { return ProfileIdentity(executable: executable, kind: .module, target: args[i + 1]) }
                return ProfileIdentity(executable: executable)
            case (.python, _) where a.hasPrefix("-m") && a.count > 2 && !a.hasPrefix("--"):
                return ProfileIdentity(executable: executable, kind: .module, target: String(a.dropFirst(2)))
            case (.java, "-jar"):
                if i + 1 < args.count { return ProfileIdentity(executable: executable, kind: .jar, target: args[i + 1]) }
                return ProfileIdentity(executable: executable)
            case (.php, "-f"):
                if i + 1 < args.count { return script(executable, args[i + 1]) }
                return ProfileIdentity(executable: executable)
            default:
                break
            }
            if optionsWithValue.contains(a) { i += 2 } else { i += 1 }
        }
        return ProfileIdentity(executable: executable)
    }

    private func script(_ executable: String, _ target: String) -> ProfileIdentity {
        ProfileIdentity(executable: executable, kind: .script, target: target)
    }
}

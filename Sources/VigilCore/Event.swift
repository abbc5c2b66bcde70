import Glibc

/// One thing the sensor observed, decoded from the kernel's wire format into Swift values.
///
/// Events are plain values: the sensor produces them live, `vigil replay` reads them back
/// from recordings, and the learner, detector and outputs consume them alike.
public struct Event: Sendable, Hashable {
    /// Wall-clock time in nanoseconds since the Unix epoch.
    public var timeNanos: UInt64
    /// The process (thread-group) id users see.
    public var pid: Int32
    /// The thread that produced the event.
    public var tid: Int32
    /// The task's short command name (at most 15 bytes, from the kernel).
    public var comm: String
    /// The cgroup v2 id of the task.
    public var cgroupID: UInt64
    public var payload: Payload

    public init(timeNanos: UInt64, pid: Int32, tid: Int32, comm: String, cgroupID: UInt64 = 0, payload: Payload) {
        self.timeNanos = timeNanos
        self.pid = pid
        self.tid = tid
        self.comm = comm
        self.cgroupID = cgroupID
        self.payload = payload
    }

    /// Milliseconds since the Unix epoch (OCSF `time`).
    public var timeMillis: Int64 { Int64(timeNanos / 1_000_000) }

    public enum Payload: Sendable, Hashable {
        case exec(Exec)
        case fork(Fork)
        case exit(Exit)
        case syscall(Syscall)
        case network(Network)
        /// The kernel saw behaviour its copy of the process's profile does not hold.
        case novelty(Novelty)
        /// The kernel carried out a response (refused a connection, killed a process).
        case action(KernelAction)
        /// Someone reached for the agent itself (signal, ptrace, BPF detach).
        case tamper(Tamper)
        /// A file written, mapped executable or read from the sensitive set, new to the
        /// process's profile (or every one, in `vigil trace`).
        case file(FileAccess)
    }

    public var kind: Kind {
        switch payload {
        case .exec: .exec
        case .fork: .fork
        case .exit: .exit
        case .syscall: .syscall
        case .network(let n): Kind(n.operation)
        case .novelty: .novelty
        case .action: .action
        case .tamper: .tamper
        case .file: .file
        }
    }

    /// A flat name for each kind of event, used in counters, filters and text output.
    public enum Kind: String, Sendable, Hashable, CaseIterable, Codable {
        case exec, fork, exit, syscall, connect, bind, listen, accept, novelty, action, tamper, file

        init(_ op: Network.Operation) {
            switch op {
            case .connect: self = .connect
            case .bind: self = .bind
            case .listen: self = .listen
            case .accept: self = .accept
            }
        }
    }
}

extension Event {
    /// A program started (a successful execve).
    public struct Exec: Sendable, Hashable {
        public var ppid: Int32
        public var uid: UInt32
        public var euid: UInt32
        public var gid: UInt32
        /// The path as execve was given it (the kernel's `bprm->filename`), made absolute by
        /// the sensor: what the caller ran, a symlink's own path included. Absolute, except
        /// for a relative execve whose process exited before the sensor could resolve it.
        public var path: String
        /// The file actually run: ``path`` with symlinks resolved, or for a `#!` script its
        /// interpreter, resolved (what /proc/PID/exe shows). The profile identity's executable.
        /// Equal to ``path`` when it could not be resolved.
        public var executable: String
        /// The command line; `argvTruncated` says the kernel's bound cut it short.
        public var argv: [String]
        public var argvTruncated: Bool
        /// Which exec of this process it is, as the kernel counts them (1: the first it saw;
        /// 0: not counted, e.g. `vigil trace`). Naming it when assigning the program's
        /// profile keeps a later exec from running under this one's.
        public var execSeq: UInt32
        /// The profile slot the kernel named for this exec itself (vg_exec_slots: the agent
        /// had published the file and command name), so the process was judged from its first
        /// syscall; 0: none, pending until the agent names it. The agent names it anyway
        /// and counts whether it agreed.
        public var kernelSlot: UInt32
        /// The kernel found this program among the children the exec'ing image's judged
        /// profile knows (by the hash of ``path`` as execve was given it). Informative: the
        /// detector still decides by the path itself, since a 64-bit FNV hash can be made to
        /// collide by whoever picks the path.
        public var knownChild = false

        public init(ppid: Int32, uid: UInt32, euid: UInt32, gid: UInt32, path: String, executable: String? = nil,
                    argv: [String], argvTruncated: Bool = false, execSeq: UInt32 = 0, kernelSlot: UInt32 = 0) {
            self.ppid = ppid
            self.uid = uid
            self.euid = euid
            self.gid = gid
            self.path = path
            self.executable = executable ?? path
            self.argv = argv
            self.argvTruncated = argvTruncated
            self.execSeq = execSeq
            self.kernelSlot = kernelSlot
        }
    }

    /// A new process was created by `pid` (threads are not reported).
    public struct Fork: Sendable, Hashable {
        public var childPid: Int32
        public init(childPid: Int32) { self.childPid = childPid }
    }

    /// A process ended.
    public struct Exit: Sendable, Hashable {
        /// The raw wait status: `(code << 8) | signal`.
        public var status: UInt32
        public init(status: UInt32) { self.status = status }
        /// The exit code when the process exited normally.
        public var code: Int32? { signal == nil ? Int32((status >> 8) & 0xff) : nil }
        /// The terminating signal, if a signal ended the process.
        public var signal: Int32? { status & 0x7f == 0 ? nil : Int32(status & 0x7f) }
    }

    /// A syscall entered.
    public struct Syscall: Sendable, Hashable {
        public var number: Int
        public init(number: Int) { self.number = number }
    }

    /// A syscall whose n-gram (the call and the calls before it in the same thread) is not
    /// among the known n-grams the kernel holds for the process's profile. Only novelty
    /// crosses the kernel boundary: known behaviour is counted in kernel maps instead.
    public struct Novelty: Sendable, Hashable {
        /// The profile number user space gave the process in the kernel (0: none yet).
        public var profileSlot: UInt32
        /// The n-gram, oldest call first; `NgramHash.startSymbol` stands for calls before
        /// the thread's first one. The last element is the call just made.
        public var calls: [UInt32]
        /// `NgramHash.hash(calls)`, as the kernel computed it.
        public var hash: UInt64
        /// The call itself (not only its sequence) is new to the profile.
        public var newSyscall: Bool

        public init(profileSlot: UInt32, calls: [UInt32], hash: UInt64, newSyscall: Bool) {
            self.profileSlot = profileSlot
            self.calls = calls
            self.hash = hash
            self.newSyscall = newSyscall
        }

        /// The syscall just made.
        public var syscall: UInt32 { calls.last ?? NgramHash.startSymbol }
    }

    /// A response the kernel carried out on the event's process.
    public struct KernelAction: Sendable, Hashable {
        public enum Kind: String, Sendable, Hashable {
            /// A connect or datagram send refused (the caller got EPERM).
            case deniedConnect = "denied-connect"
            /// SIGKILL sent at the process's next syscall.
            case killedAtSyscall = "killed-at-syscall"
            /// SIGKILL sent at exec of a program no baseline knows, before it ran.
            case killedAtExec = "killed-at-exec"
            /// A segmented process's connect or datagram to a destination its profile never
            /// learned, refused (the caller got EPERM).
            case segmentDenied = "segment-denied"
            /// A segmented process's bind to a port its profile never listened on, refused.
            case bindDenied = "bind-denied"
            /// A connection attempt to a listener from a peer its profile never accepted,
            /// dropped in the kernel (ingress segmentation); `remote`: the peer, with the
            /// local port it reached for. The event's pid is the process that bound the listener.
            case ingressDropped = "ingress-dropped"
        }
        public var kind: Kind
        /// 0 when it took effect, else the kernel helper's -errno.
        public var result: Int32
        /// For a refused connection: where it was going.
        public var remote: Endpoint?
        /// For a kill at exec: the program that did not run.
        public var path: String?
        /// For a refused connection: its transport, when the kernel said.
        public var transport: Transport?

        public init(kind: Kind, result: Int32, remote: Endpoint? = nil, path: String? = nil, transport: Transport? = nil) {
            self.kind = kind
            self.result = result
            self.remote = remote
            self.path = path
            self.transport = transport
        }
    }

    /// Someone reached for the agent; the event's pid is the actor.
    public struct Tamper: Sendable, Hashable {
        public enum Kind: String, Sendable, Hashable {
            case signal, ptrace, bpfDetach = "bpf-detach"
        }
        public var kind: Kind
        /// The signal number, ptrace request or bpf command.
        public var detail: UInt32

        public init(kind: Kind, detail: UInt32) {
            self.kind = kind
            self.detail = detail
        }
    }

    /// A file operation the kernel resolved to the file it opened or mapped (absolute path,
    /// symlinks and relative paths already resolved).
    public struct FileAccess: Sendable, Hashable {
        public enum Operation: String, Sendable, Hashable, Codable, CaseIterable {
            /// Opened with write access (open, openat, openat2, creat).
            case write
            /// Mapped executable: mmap with PROT_EXEC of a file, or mprotect adding it.
            case mapExec = "map-exec"
            /// Opened read-only, and of the sensitive set.
            case readSensitive = "read-sensitive"
        }
        public var operation: Operation
        public var path: String
        /// The profile slot the kernel judged it against (0: pending or none).
        public var profileSlot: UInt32
        /// The kernel's walk stopped before the root: the path lacks its leading components.
        public var truncated: Bool
        /// A map-exec by mprotect rather than mmap.
        public var viaMprotect: Bool
        /// How a write happened: opened for writing, or a call that names the file.
        public var via: Via

        /// The call behind a ``Operation/write``.
        public enum Via: String, Sendable, Hashable, Codable, CaseIterable {
            /// open, openat, openat2, creat with write access.
            case open
            /// The target of rename, renameat, renameat2.
            case rename
            /// The new name of link, linkat.
            case link
            /// The name unlink, unlinkat removed.
            case unlink
            /// chmod, fchmod, fchmodat, fchmodat2 to a mode with an execute bit.
            case chmodExec = "chmod-exec"
        }

        public init(operation: Operation, path: String, profileSlot: UInt32 = 0, truncated: Bool = false, viaMprotect: Bool = false,
                    via: Via = .open) {
            self.operation = operation
            self.path = path
            self.profileSlot = profileSlot
            self.truncated = truncated
            self.viaMprotect = viaMprotect
            self.via = via
        }
    }

    /// connect, bind, listen or accept, reported at the syscall's exit.
    public struct Network: Sendable, Hashable {
        public enum Operation: String, Sendable, Hashable, Codable { case connect, bind, listen, accept }
        public var operation: Operation
        /// 0 (or the new fd for accept) on success, `-errno` on failure.
        public var result: Int64
        public var fd: Int32
        public var transport: Transport
        public var local: Endpoint?
        public var remote: Endpoint?
        /// A connect to a socket the process itself bound on loopback (a self-pipe, such as
        /// Foundation's CFSocket wake-up pair): the kernel knows it is no destination, so it
        /// is neither learned nor judged (`vg_own_ports`).
        public var ownSocket: Bool
        /// A listen on a port the kernel picked (the socket was bound to port 0, or not bound
        /// before), or a connection accepted on one: learned and judged as "a port the kernel
        /// picks" (port 0), not its number.
        public var pickedPort: Bool

        public init(operation: Operation, result: Int64, fd: Int32, transport: Transport, local: Endpoint?, remote: Endpoint?,
                    ownSocket: Bool = false, pickedPort: Bool = false) {
            self.operation = operation
            self.result = result
            self.fd = fd
            self.transport = transport
            self.local = local
            self.remote = remote
            self.ownSocket = ownSocket
            self.pickedPort = pickedPort
        }

        public var succeeded: Bool { result >= 0 }
        /// EINPROGRESS: a non-blocking connect that is under way, not a failure.
        public var inProgress: Bool { result == -Int64(EINPROGRESS) }
        /// ECONNREFUSED: nothing listens at the destination.
        public var refused: Bool { result == -Int64(ECONNREFUSED) }
    }
}

/// The transport a socket uses, as far as the kernel told us.
public enum Transport: String, Sendable, Hashable, Codable {
    case tcp, udp, unix, other
}

/// One end of a connection.
public enum Endpoint: Sendable, Hashable {
    case ipv4(IPv4Address, port: UInt16)
    case ipv6(IPv6Address, port: UInt16)
    case unix(path: String)

    public var port: UInt16? {
        switch self {
        case .ipv4(_, let p), .ipv6(_, let p): p
        case .unix: nil
        }
    }

    /// The address as text: dotted quad, RFC 5952 IPv6, or the socket path (`@name` for abstract sockets).
    public var addressText: String {
        switch self {
        case .ipv4(let a, _): a.description
        case .ipv6(let a, _): a.description
        case .unix(let p): p
        }
    }
}

/// An IPv4 address, four bytes in network order.
public struct IPv4Address: Sendable, Hashable, CustomStringConvertible, Comparable {
    public var bytes: (UInt8, UInt8, UInt8, UInt8)
    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) { bytes = (a, b, c, d) }
    /// The address as a big-endian integer (`10.0.0.1` is `0x0A000001`).
    public var value: UInt32 { UInt32(bytes.0) << 24 | UInt32(bytes.1) << 16 | UInt32(bytes.2) << 8 | UInt32(bytes.3) }
    public init(value: UInt32) {
        bytes = (UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff))
    }
    /// Parses a dotted quad; nil for anything else.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var v: [UInt8] = []
        for p in parts {
            guard !p.isEmpty, p.count <= 3, p.allSatisfy(\.isASCII), let n = UInt8(p) else { return nil }
            v.append(n)
        }
        self.init(v[0], v[1], v[2], v[3])
    }
    public var description: String { "\(bytes.0).\(bytes.1).\(bytes.2).\(bytes.3)" }
    public static func == (l: Self, r: Self) -> Bool { l.value == r.value }
    public func hash(into h: inout Hasher) { h.combine(value) }
    public static func < (l: Self, r: Self) -> Bool { l.value < r.value }
}

/// An IPv6 address, sixteen bytes in network order.
public struct IPv6Address: Sendable, Hashable, CustomStringConvertible {
    public var bytes: [UInt8]
    public init(bytes: [UInt8]) {
        precondition(bytes.count == 16, "an IPv6 address has 16 bytes")
        self.bytes = bytes
    }

    /// The IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`).
    public var mappedIPv4: IPv4Address? {
        guard bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xff, bytes[11] == 0xff else { return nil }
        return IPv4Address(bytes[12], bytes[13], bytes[14], bytes[15])
    }

    /// RFC 5952 text: lower case, the longest run of two or more zero groups as `::`.
    public var description: String {
        if let v4 = mappedIPv4 { return "::ffff:\(v4)" }
        let groups = (0..<8).map { UInt16(bytes[2 * $0]) << 8 | UInt16(bytes[2 * $0 + 1]) }
        var bestStart = -1, bestLen = 0, i = 0
        while i < 8 {
            if groups[i] == 0 {
                var j = i
                while j < 8 && groups[j] == 0 { j += 1 }
                if j - i > bestLen { bestStart = i; bestLen = j - i }
                i = j
            } else { i += 1 }
        }
        func hex(_ r: Range<Int>) -> String { r.map { String(groups[$0], radix: 16) }.joined(separator: ":") }
        guard bestLen >= 2 else { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLen)..<8)
    }
}

import CVigilWire
import Glibc
public import VigilCore

/// Turns raw ring-buffer records into `Event`s: the one place where the kernel's wire
/// format (`vigil_wire.h`) becomes Swift values.
///
/// Every read is bounds-checked against the record's length. A record that is too short,
/// claims a size it does not have, or has a kind this build does not know is counted and
/// skipped; decoding never traps on kernel input.
public struct RecordDecoder: Sendable {
    /// What was seen and what could not be decoded.
    public struct Counters: Sendable, Equatable {
        public var records = 0
        public var decoded = 0
        /// Shorter than its header or than the struct its kind requires.
        public var truncated = 0
        /// A kind this build does not know (a newer BPF object, or corruption).
        public var unknownKind = 0
        /// The header's size disagrees with the bytes delivered.
        public var badSize = 0

        public init() {}
        public var undecodable: Int { truncated + unknownKind + badSize }
    }

    public private(set) var counters = Counters()
    /// Added to the kernel's CLOCK_MONOTONIC stamps to give wall-clock time.
    public var monotonicToRealtimeNanos: Int64
    /// Resolves each exec's path while it is decoded (made absolute, the file it runs in
    /// ``Event/Exec/executable``), so no later stage converts it again. Nil: the path as
    /// the kernel gave it (recordings, tests of the wire format alone).
    public var executables: ExecutablePath?

    public init(monotonicToRealtimeNanos: Int64, executables: ExecutablePath? = nil) {
        self.monotonicToRealtimeNanos = monotonicToRealtimeNanos
        self.executables = executables
    }

    public mutating func decode(_ raw: UnsafeRawBufferPointer) -> Event? {
        counters.records += 1
        guard raw.count >= MemoryLayout<vg_header>.size else {
            counters.truncated += 1
            return nil
        }
        let h = raw.loadUnaligned(as: vg_header.self)
        guard Int(h.size) <= raw.count, Int(h.size) >= MemoryLayout<vg_header>.size else {
            counters.badSize += 1
            return nil
        }
        let record = UnsafeRawBufferPointer(rebasing: raw[0..<Int(h.size)])
        guard let kind = WireKind.kind(UInt32(h.kind)) else {
            counters.unknownKind += 1
            return nil
        }
        let payload: Event.Payload?
        switch kind {
        case .exec: payload = decodeExec(record, pid: Int32(bitPattern: h.pid))
        case .fork: payload = load(vg_fork.self, record).map { .fork(.init(childPid: Int32(bitPattern: $0.child_pid))) }
        case .exit: payload = load(vg_exit.self, record).map { .exit(.init(status: $0.exit_code)) }
        case .syscall: payload = load(vg_syscall.self, record).map { .syscall(.init(number: Int($0.nr))) }
        case .connect: payload = decodeNet(record, .connect)
        case .bind: payload = decodeNet(record, .bind)
        case .listen: payload = decodeNet(record, .listen)
        case .accept: payload = decodeNet(record, .accept)
        case .novelty: payload = decodeNovelty(record)
        case .action: payload = decodeAction(record)
        case .file: payload = decodeFile(record)
        case .tamper:
            payload = load(vg_tamper.self, record).flatMap { t -> Event.Payload? in
                let kind: Event.Tamper.Kind? = switch t.what {
                case VG_TAMPER_SIGNAL.rawValue: .signal
                case VG_TAMPER_PTRACE.rawValue: .ptrace
                case VG_TAMPER_BPF_DETACH.rawValue: .bpfDetach
                default: nil
                }
                return kind.map { .tamper(.init(kind: $0, detail: t.detail)) }
            }
            if payload == nil, record.count >= MemoryLayout<vg_tamper>.size { counters.unknownKind += 1 }
        }
        guard let payload else { return nil } // counted as truncated by load()
        counters.decoded += 1
        let comm = Self.string(record, at: MemoryLayout<vg_header>.offset(of: \vg_header.comm)!, max: Int(VG_COMM_LEN))
        return Event(
            timeNanos: UInt64(clamping: Int64(bitPattern: h.ktime_ns) &+ monotonicToRealtimeNanos),
            pid: Int32(bitPattern: h.pid), tid: Int32(bitPattern: h.tid), comm: comm,
            cgroupID: h.cgroup_id, payload: payload)
    }

    private mutating func load<T>(_: T.Type, _ record: UnsafeRawBufferPointer) -> T? {
        guard record.count >= MemoryLayout<T>.size else {
            counters.truncated += 1
            return nil
        }
        return record.loadUnaligned(as: T.self)
    }

    private mutating func decodeExec(_ record: UnsafeRawBufferPointer, pid: Int32) -> Event.Payload? {
        guard let e = load(vg_exec.self, record) else { return nil }
        let pathOffset = MemoryLayout<vg_exec>.offset(of: \vg_exec.path)!
        let argsOffset = MemoryLayout<vg_exec>.offset(of: \vg_exec.args)!
        let path = Self.string(record, at: pathOffset, max: min(Int(e.path_len), Int(VG_PATH_MAX)))
        let argsLen = min(Int(e.args_len), Int(VG_ARGS_MAX))
        let args = UnsafeRawBufferPointer(rebasing: record[argsOffset..<(argsOffset + argsLen)])
        var argv = args.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        // The argument area ends with a NUL, which leaves one empty element after it.
        if argv.last == "" { argv.removeLast() }
        var exec = Event.Exec(
            ppid: Int32(bitPattern: e.ppid), uid: e.uid, euid: e.euid, gid: e.gid, path: path, argv: argv,
            argvTruncated: e.flags & UInt32(VG_EXEC_ARGS_TRUNCATED) != 0, execSeq: e.exec_seq, kernelSlot: e.slot)
        exec.knownChild = e.flags & UInt32(VG_EXEC_KNOWN_CHILD) != 0
        // The kernel gives the path as execve was called (`./svc`, a symlink): identities
        // need the file run (see ExecutablePath), resolved now, while the process is there.
        executables?.resolve(&exec, pid: pid)
        return .exec(exec)
    }

    private mutating func decodeNet(_ record: UnsafeRawBufferPointer, _ op: Event.Network.Operation) -> Event.Payload? {
        guard let n = load(vg_net.self, record) else { return nil }
        let localOffset = MemoryLayout<vg_net>.offset(of: \vg_net.local)!
        let remoteOffset = MemoryLayout<vg_net>.offset(of: \vg_net.remote)!
        let local = Self.endpoint(record, at: localOffset)
        let remote = Self.endpoint(record, at: remoteOffset)
        let family = local.family != 0 ? local.family : remote.family
        let transport: Transport = switch (Int32(family), Int32(n.sock_type)) {
        case (AF_UNIX, _): .unix
        case (AF_INET, Self.stream), (AF_INET6, Self.stream): .tcp
        case (AF_INET, Self.datagram), (AF_INET6, Self.datagram): .udp
        default: .other
        }
        return .network(.init(operation: op, result: n.result, fd: n.fd, transport: transport,
                              local: local.endpoint, remote: remote.endpoint,
                              ownSocket: op == .connect && n.flags & UInt16(VG_NET_OWN_SOCKET) != 0,
                              pickedPort: (op == .listen || op == .accept) && n.flags & UInt16(VG_NET_PICKED_PORT) != 0))
    }

    private mutating func decodeNovelty(_ record: UnsafeRawBufferPointer) -> Event.Payload? {
        guard let n = load(vg_novelty.self, record) else { return nil }
        let length = min(Int(n.length), Int(VG_NGRAM_MAX))
        let callsOffset = MemoryLayout<vg_novelty>.offset(of: \vg_novelty.calls)!
        let calls = (0..<length).map { record.loadUnaligned(fromByteOffset: callsOffset + 4 * $0, as: UInt32.self) }
        return .novelty(.init(profileSlot: n.profile, calls: calls, hash: n.hash,
                              newSyscall: n.flags & UInt32(VG_NOVELTY_NEW_SYSCALL) != 0))
    }

    private mutating func decodeFile(_ record: UnsafeRawBufferPointer) -> Event.Payload? {
        guard let f = load(vg_file.self, record) else { return nil }
        let op: Event.FileAccess.Operation
        switch f.op {
        case VG_FILE_WRITE.rawValue: op = .write
        case VG_FILE_MAP_EXEC.rawValue: op = .mapExec
        case VG_FILE_READ_SENSITIVE.rawValue: op = .readSensitive
        default:
            counters.unknownKind += 1
            return nil
        }
        let pathOffset = MemoryLayout<vg_file>.offset(of: \vg_file.path)!
        var path = Self.string(record, at: pathOffset, max: min(Int(f.path_len), Int(VG_PATH_MAX) - 1))
        // A name as the caller gave it, joined to its directory: "." and ".." folded here.
        if f.flags & UInt32(VG_FILE_AS_NAMED) != 0 { path = FileRules.lexicallyNormalized(path) }
        let via: Event.FileAccess.Via = if f.flags & UInt32(VG_FILE_CHMOD_EXEC) != 0 { .chmodExec }
            else if f.flags & UInt32(VG_FILE_VIA_RENAME) != 0 { .rename }
            else if f.flags & UInt32(VG_FILE_VIA_LINK) != 0 { .link }
            else if f.flags & UInt32(VG_FILE_VIA_UNLINK) != 0 { .unlink }
            else { .open }
        return .file(.init(operation: op, path: path, profileSlot: f.profile,
                           truncated: f.flags & UInt32(VG_FILE_PATH_TRUNCATED) != 0,
                           viaMprotect: f.flags & UInt32(VG_FILE_VIA_MPROTECT) != 0, via: via))
    }

    private mutating func decodeAction(_ record: UnsafeRawBufferPointer) -> Event.Payload? {
        guard let a = load(vg_action.self, record) else { return nil }
        let kind: Event.KernelAction.Kind
        switch a.action {
        case VG_ACTION_DENY_CONNECT.rawValue: kind = .deniedConnect
        case VG_ACTION_KILL_SYSCALL.rawValue: kind = .killedAtSyscall
        case VG_ACTION_KILL_EXEC.rawValue: kind = .killedAtExec
        case VG_ACTION_SEGMENT_DENY.rawValue: kind = .segmentDenied
        case VG_ACTION_BIND_DENY.rawValue: kind = .bindDenied
        case VG_ACTION_INGRESS_DROP.rawValue: kind = .ingressDropped
        default:
            counters.unknownKind += 1
            return nil
        }
        let remote = Self.endpoint(record, at: MemoryLayout<vg_action>.offset(of: \vg_action.remote)!).endpoint
        let path = Self.string(record, at: MemoryLayout<vg_action>.offset(of: \vg_action.path)!, max: Int(VG_PATH_MAX))
        let transport: Transport? = switch a.proto {
        case UInt32(VG_PROTO_TCP): .tcp
        case UInt32(VG_PROTO_UDP): .udp
        default: nil
        }
        return .action(.init(kind: kind, result: a.result, remote: remote, path: path.isEmpty ? nil : path, transport: transport))
    }

    /// `vg_net.sock_type` values (the C library's socket types).
    static let stream = Int32(SOCK_STREAM.rawValue), datagram = Int32(SOCK_DGRAM.rawValue)

    /// A `vg_sockaddr` at `offset` as an `Endpoint` (nil for family 0 or unknown families).
    static func endpoint(_ record: UnsafeRawBufferPointer, at offset: Int) -> (family: UInt16, endpoint: Endpoint?) {
        let a = record.loadUnaligned(fromByteOffset: offset, as: vg_sockaddr.self)
        let addrOffset = offset + MemoryLayout<vg_sockaddr>.offset(of: \vg_sockaddr.addr)!
        let bytes = Array(record[addrOffset..<(addrOffset + 16)])
        switch Int32(a.family) {
        case AF_INET:
            return (a.family, .ipv4(IPv4Address(bytes[0], bytes[1], bytes[2], bytes[3]), port: a.port))
        case AF_INET6:
            return (a.family, .ipv6(IPv6Address(bytes: bytes), port: a.port))
        case AF_UNIX:
            let pathOffset = offset + MemoryLayout<vg_sockaddr>.offset(of: \vg_sockaddr.path)!
            let raw = record[pathOffset..<(pathOffset + Int(VG_UNIX_PATH_MAX))]
            if raw.first == 0 {
                // Abstract socket: a leading NUL, then a name; shown as "@name".
                let name = raw.dropFirst().prefix { $0 != 0 }
                return (a.family, name.isEmpty ? nil : .unix(path: "@" + String(decoding: name, as: UTF8.self)))
            }
            return (a.family, .unix(path: String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)))
        default:
            return (a.family, nil)
        }
    }

    /// A NUL-terminated string of at most `max` bytes at `offset`; invalid UTF-8 is repaired.
    static func string(_ record: UnsafeRawBufferPointer, at offset: Int, max: Int) -> String {
        let end = Swift.min(offset + max, record.count)
        guard offset < end else { return "" }
        return String(decoding: record[offset..<end].prefix { $0 != 0 }, as: UTF8.self)
    }
}

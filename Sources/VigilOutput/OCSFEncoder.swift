public import VigilCore
import Glibc

/// One event encoded as a single line of OCSF JSON (without the trailing newline), with the
/// class it belongs to so routers can filter without parsing it again.
public struct EncodedEvent: Sendable, Hashable {
    /// The JSON object.
    public var bytes: [UInt8]
    /// Its OCSF `class_uid`.
    public var classUID: Int

    public init(bytes: [UInt8], classUID: Int) {
        self.bytes = bytes
        self.classUID = classUID
    }

    /// The line as text (for tests and logs).
    public var text: String { String(decoding: bytes, as: UTF8.self) }
}

/// Maps Vigil's events, findings and agent health to OCSF 1.5.0 JSON lines.
///
/// Mapping decisions (each checked against the 1.5.0 schema in the test suite):
/// - exec → Process Activity (1007) Launch; `actor.process` is the parent that ran it.
/// - exit → Process Activity Terminate with `exit_code`, or the signal in `status_detail`.
/// - fork → skipped by default: the child runs its parent's image, so the event carries no
///   program, and the child's exec (a Launch) or exit follows anyway. `ForkMapping.launch`
///   emits it as a Launch of the child when a SIEM wants every process creation.
/// - syscall → not emitted: far too many, and deviations in them reach the SIEM as findings.
/// - connect → Network Activity (4001) Open; a failed connect is Refuse (ECONNREFUSED) or
///   Fail (other errors) with `status_id` Failure and the errno in `status_code`.
/// - listen → Listen (7). accept → Open with `direction_id` Inbound (1.5.0 has no Accept).
///   bind → Other (99) named "Bind".
/// - Vigil start/stop/reload → Application Lifecycle (6002); loss of events (kernel drops,
///   a full spool) → Application Error (6008), so a SIEM can alert on gaps in coverage.
public struct OCSFEncoder: Sendable {
    /// Whether fork events are emitted.
    public enum ForkMapping: Sendable { case skip, launch }

    /// The host name written to `device.hostname`.
    public var hostname: String
    /// Vigil's version, written to `metadata.product.version`.
    public var productVersion: String
    /// Whether fork events are emitted (default: skipped).
    public var forks: ForkMapping
    /// Whether syscall events are emitted (`vigil trace --syscalls`): as Process Activity
    /// Other (99) named "Syscall", the call in `unmapped.syscall` (OCSF has no syscall class).
    public var syscalls = false
    /// Names each event (`metadata.uid`, written first in `metadata`); nil writes no uid.
    /// Shared by copies of the encoder, so they draw from one sequence.
    public var identity: EventIdentity?

    /// `metadata.product.name`.
    public static let productName = "Vigil"
    /// `metadata.product.vendor_name`.
    public static let vendorName = "Vigil Project"

    /// An encoder for this host (its name from `gethostname`).
    public init(productVersion: String, forks: ForkMapping = .skip) {
        self.init(hostname: SyslogSink.localHostname(), productVersion: productVersion, forks: forks)
    }

    public init(hostname: String, productVersion: String, forks: ForkMapping = .skip) {
        self.hostname = hostname
        self.productVersion = productVersion
        self.forks = forks
    }

    /// Encodes one sensor event; nil for events that are not emitted (syscalls, forks when skipped).
    ///
    /// - Parameters:
    ///   - process: the record of the process the event is about, from `ProcessTable.apply(_:)`
    ///     (for a fork: the parent). Without it only what the event itself carries is written.
    ///   - ancestry: its ancestors, nearest first; the first becomes `parent_process`.
    public func encode(_ event: Event, process: ProcessRecord?, ancestry: [ProcessRecord] = []) -> EncodedEvent? {
        let record = process ?? ProcessRecord(pid: event.pid, ppid: 0, comm: event.comm, cgroupID: event.cgroupID)
        switch event.payload {
        case .exec(let e):
            // The event itself is the authority on what was executed, by whom.
            var r = record
            r.path = e.path
            r.argv = e.argv
            r.ppid = e.ppid
            r.uid = e.uid
            r.euid = e.euid
            r.gid = e.gid
            if r.startNanos == 0 { r.startNanos = event.timeNanos }
            return processActivity(event, .launch, process: r, actor: ancestry.first, parents: ancestry)
        case .fork(let f):
            guard forks == .launch else { return nil }
            var child = record
            child.pid = f.childPid
            child.ppid = event.pid
            child.startNanos = event.timeNanos
            return processActivity(event, .launch, process: child, actor: record, parents: [record] + ancestry)
        case .exit(let x):
            return processActivity(event, .terminate, process: record, actor: record, parents: ancestry, exit: x)
        case .syscall(let s):
            guard syscalls else { return nil }
            return processActivity(event, .other, process: record, actor: ancestry.first, parents: ancestry, syscall: s.number)
        case .novelty, .action, .tamper:
            // Reach the SIEM as Detection Findings, through the detector.
            return nil
        case .network(let n):
            return networkActivity(event, n, process: record, parents: ancestry)
        case .file(let f):
            return fileActivity(event, f, process: record, parents: ancestry)
        }
    }

    // MARK: File System Activity

    private func fileActivity(_ event: Event, _ f: Event.FileAccess, process: ProcessRecord,
                              parents: [ProcessRecord]) -> EncodedEvent {
        let cls = OCSF.Class.fileSystemActivity
        let (activity, activityName, verb): (OCSF.FileSystemActivity, String, String) = switch f.operation {
        case .write: switch f.via {
            case .open: (.update, "Update", "opened for writing")
            case .rename: (.rename, "Rename", "made by a rename")
            case .link: (.create, "Create", "made by a link")
            case .unlink: (.delete, "Delete", "removed")
            case .chmodExec: (.setAttributes, "Set Attributes", "made executable (chmod)")
            }
        case .readSensitive: (.read, "Read", "read")
        case .mapExec: (.other, "Map Executable", f.viaMprotect ? "made executable (mprotect)" : "mapped executable")
        }
        var w = JSONWriter()
        w.object { w in
            header(&w, cls, activityID: activity.rawValue, activityName: activityName, severity: .informational,
                   timeNanos: event.timeNanos)
            w.field("message", "\(f.path) \(verb) by \(displayName(process)) (pid \(process.pid))")
            metadata(&w, profiles: ["host"])
            device(&w)
            w.object("actor") { w in
                w.object("process") { w in processObject(&w, process, parents: parents) }
            }
            w.object("file") { w in
                w.field("name", basename(f.path))
                w.field("path", f.path)
                w.field("parent_folder", f.path.utf8.lastIndex(of: UInt8(ascii: "/")).map { String(f.path[..<$0]) }.map { $0.isEmpty ? "/" : $0 } ?? "/")
                w.field("type_id", 1)
                w.field("type", "Regular File")
            }
            if f.truncated || f.operation == .mapExec || f.via != .open {
                w.object("unmapped") { w in
                    w.field("vigil_file_operation", f.operation.rawValue)
                    if f.via != .open { w.field("vigil_file_call", f.via.rawValue) }
                    if f.truncated { w.field("path_truncated", true) }
                }
            }
        }
        return EncodedEvent(bytes: w.bytes, classUID: cls.rawValue)
    }

    // MARK: Process Activity

    private func processActivity(_ event: Event, _ activity: OCSF.ProcessActivity, process: ProcessRecord,
                                 actor: ProcessRecord?, parents: [ProcessRecord], exit: Event.Exit? = nil,
                                 syscall: Int? = nil) -> EncodedEvent {
        let cls = OCSF.Class.processActivity
        let activityName = switch activity {
        case .launch: "Launch"
        case .terminate: "Terminate"
        case .other: "Syscall"
        }
        var w = JSONWriter()
        w.object { w in
            header(&w, cls, activityID: activity.rawValue, activityName: activityName, severity: .informational,
                   timeNanos: event.timeNanos)
            if let exit {
                if let code = exit.code { w.field("exit_code", Int64(code)) }
                if let sig = exit.signal {
                    w.field("status_detail", "terminated by signal \(sig)\(exit.status & 0x80 != 0 ? " (core dumped)" : "")")
                }
            }
            if let syscall {
                w.field("message", "\(displayName(process)) (pid \(process.pid)) called \(SyscallTable.name(syscall))")
                w.object("unmapped") { w in
                    w.object("syscall") { w in
                        w.field("nr", syscall)
                        w.field("name", SyscallTable.name(syscall))
                    }
                }
            } else {
                w.field("message", "\(activityName) \(displayName(process)) (pid \(process.pid))")
            }
            metadata(&w, profiles: ["host"])
            device(&w)
            w.object("actor") { w in
                w.object("process") { w in
                    if let actor {
                        processObject(&w, actor, parents: Array(parents.drop(while: { $0.pid == actor.pid || $0.pid == process.pid })))
                    } else {
                        // Unknown actor: say what little we know (its pid).
                        w.field("pid", Int64(process.ppid))
                    }
                }
            }
            w.object("process") { w in
                processObject(&w, process, parents: parents,
                              terminatedNanos: activity == .terminate ? event.timeNanos : nil)
            }
        }
        return EncodedEvent(bytes: w.bytes, classUID: cls.rawValue)
    }

    // MARK: Network Activity

    private func networkActivity(_ event: Event, _ n: Event.Network, process: ProcessRecord,
                                 parents: [ProcessRecord]) -> EncodedEvent {
        let cls = OCSF.Class.networkActivity
        let activity: OCSF.NetworkActivity
        let activityName: String
        let direction: (Int, String)
        switch n.operation {
        case .connect:
            direction = (2, "Outbound")
            if n.succeeded || n.inProgress {
                (activity, activityName) = (.open, "Open")
            } else if n.refused {
                (activity, activityName) = (.refuse, "Refuse")
            } else {
                (activity, activityName) = (.fail, "Fail")
            }
        case .accept: (activity, activityName, direction) = (.open, "Open", (1, "Inbound"))
        case .listen: (activity, activityName, direction) = (.listen, "Listen", (1, "Inbound"))
        case .bind: (activity, activityName, direction) = (.other, "Bind", (0, "Unknown"))
        }
        // Which end is which: for outbound traffic we are the source; for inbound (accept,
        // and the address a server listens or binds on) we are the destination.
        let (src, dst): (Endpoint?, Endpoint?) = n.operation == .connect ? (n.local, n.remote) : (n.remote, n.local)
        var w = JSONWriter()
        w.object { w in
            header(&w, cls, activityID: activity.rawValue, activityName: activityName,
                   severity: n.succeeded || n.inProgress ? .informational : .low, timeNanos: event.timeNanos)
            if n.inProgress {
                w.field("status_id", 99)
                w.field("status", "In Progress")
                w.field("status_code", "EINPROGRESS")
                w.field("status_detail", "non-blocking \(n.operation.rawValue) under way")
            } else if n.succeeded {
                w.field("status_id", 1)
                w.field("status", "Success")
            } else {
                // Wrapping: a corrupt record's Int64.min must not trap the agent on negation.
                let code = 0 &- n.result
                let name = Errno.name(Int32(clamping: code))
                w.field("status_id", 2)
                w.field("status", "Failure")
                w.field("status_code", name)
                w.field("status_detail", "\(n.operation.rawValue) failed: \(name) (\(code))")
            }
            let target = (n.operation == .connect ? n.remote : n.local).map { endpointText($0) } ?? "unknown address"
            let own = n.ownSocket ? " (its own socket)" : ""
            w.field("message", "\(n.operation.rawValue) \(target)\(own) by \(displayName(process)) (pid \(process.pid))")
            metadata(&w, profiles: ["host"])
            device(&w)
            w.object("actor") { w in
                w.object("process") { w in processObject(&w, process, parents: parents) }
            }
            w.object("connection_info") { w in
                switch n.transport {
                case .tcp: w.field("protocol_name", "tcp"); w.field("protocol_num", 6)
                case .udp: w.field("protocol_name", "udp"); w.field("protocol_num", 17)
                case .unix: w.field("protocol_name", "unix")
                case .other: break
                }
                w.field("direction_id", direction.0)
                w.field("direction", direction.1)
            }
            if let src { w.object("src_endpoint") { w in endpointObject(&w, src) } }
            if let dst { w.object("dst_endpoint") { w in endpointObject(&w, dst) } }
            if src == nil && dst == nil {
                // The schema needs one endpoint; the only one we know is this host.
                w.object("src_endpoint") { w in w.field("hostname", hostname) }
            }
        }
        return EncodedEvent(bytes: w.bytes, classUID: cls.rawValue)
    }

    // MARK: Shared pieces

    /// The members every class starts with, in a fixed order.
    func header(_ w: inout JSONWriter, _ cls: OCSF.Class, activityID: Int, activityName: String,
                severity: OCSF.Severity, timeNanos: UInt64) {
        w.field("time", Int64(timeNanos / 1_000_000))
        w.field("class_uid", cls.rawValue)
        w.field("class_name", cls.name)
        w.field("category_uid", cls.categoryUID)
        w.field("category_name", cls.categoryName)
        w.field("activity_id", activityID)
        w.field("activity_name", activityName)
        w.field("type_uid", cls.rawValue * 100 + activityID)
        w.field("type_name", "\(cls.name): \(activityName)")
        w.field("severity_id", severity.rawValue)
        w.field("severity", severity.name)
    }

    func metadata(_ w: inout JSONWriter, profiles: [String]) {
        w.object("metadata") { w in
            // First, so sinks find it without parsing the line (`OutputLine.eventUID`).
            if let identity { w.field("uid", identity.nextUID()) }
            w.field("version", OCSF.version)
            w.object("product") { w in
                w.field("name", Self.productName)
                w.field("vendor_name", Self.vendorName)
                w.field("version", productVersion)
            }
            w.array("profiles") { w in for p in profiles { w.string(p) } }
        }
    }

    func device(_ w: inout JSONWriter) {
        w.object("device") { w in
            w.field("hostname", hostname)
            w.field("type_id", 0)
            w.field("type", "Unknown")
        }
    }

    /// Writes an OCSF `process` object. The nearest ancestor becomes `parent_process`;
    /// `ancestryDepth` more ancestors are listed in `ancestry` (findings show the whole chain).
    func processObject(_ w: inout JSONWriter, _ r: ProcessRecord, parents: [ProcessRecord],
                       terminatedNanos: UInt64? = nil, ancestryDepth: Int = 0) {
        w.field("pid", Int64(r.pid))
        w.field("name", displayName(r))
        if !r.argv.isEmpty { w.field("cmd_line", r.commandLine) }
        if !r.path.isEmpty {
            w.object("file") { w in
                w.field("name", basename(r.path))
                w.field("path", r.path)
                w.field("type_id", 1)
                w.field("type", "Regular File")
            }
        }
        // Seeded or fork-only records never saw an exec, so their uid is unknown, not root.
        if !r.path.isEmpty || !r.argv.isEmpty {
            w.object("user") { w in w.field("uid", String(r.uid)) }
        }
        if r.startNanos > 0 { w.field("created_time", Int64(r.startNanos / 1_000_000)) }
        if let terminatedNanos { w.field("terminated_time", Int64(terminatedNanos / 1_000_000)) }
        if let parent = parents.first, parent.pid == r.ppid || r.ppid == 0 {
            w.object("parent_process") { w in
                processObject(&w, parent, parents: [])
            }
        } else if r.ppid > 0 {
            w.object("parent_process") { w in w.field("pid", Int64(r.ppid)) }
        }
        if ancestryDepth > 0, !parents.isEmpty {
            w.array("ancestry") { w in
                for a in parents.prefix(ancestryDepth) {
                    w.object { w in
                        w.field("pid", Int64(a.pid))
                        w.field("name", displayName(a))
                        if !a.argv.isEmpty { w.field("cmd_line", a.commandLine) }
                        if !a.path.isEmpty { w.field("path", a.path) }
                    }
                }
            }
        }
    }

    func endpointObject(_ w: inout JSONWriter, _ e: Endpoint) {
        switch e {
        case .ipv4, .ipv6:
            w.field("ip", e.addressText)
            if let p = e.port { w.field("port", Int64(p)) }
        case .unix(let path):
            w.field("name", path.isEmpty ? "(unnamed unix socket)" : path)
        }
    }

    func endpointText(_ e: Endpoint) -> String {
        switch e {
        case .ipv4: "\(e.addressText):\(e.port ?? 0)"
        case .ipv6: "[\(e.addressText)]:\(e.port ?? 0)"
        case .unix(let p): "unix:\(p)"
        }
    }

    func displayName(_ r: ProcessRecord) -> String {
        if !r.path.isEmpty { return basename(r.path) }
        return r.comm.isEmpty ? "pid \(r.pid)" : r.comm
    }

    func basename(_ path: String) -> String {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return path }
        let name = path[path.utf8.index(after: slash)...]
        return name.isEmpty ? path : String(name)
    }
}

/// Names for the errno values network syscalls commonly fail with (the C library's constants).
enum Errno {
    static func name(_ code: Int32) -> String {
        switch code {
        case EPERM: "EPERM"
        case ENOENT: "ENOENT"
        case EINTR: "EINTR"
        case EBADF: "EBADF"
        case EAGAIN: "EAGAIN"
        case EACCES: "EACCES"
        case EINVAL: "EINVAL"
        case EMFILE: "EMFILE"
        case EAFNOSUPPORT: "EAFNOSUPPORT"
        case EADDRINUSE: "EADDRINUSE"
        case EADDRNOTAVAIL: "EADDRNOTAVAIL"
        case ENETDOWN: "ENETDOWN"
        case ENETUNREACH: "ENETUNREACH"
        case ECONNABORTED: "ECONNABORTED"
        case ECONNRESET: "ECONNRESET"
        case ETIMEDOUT: "ETIMEDOUT"
        case ECONNREFUSED: "ECONNREFUSED"
        case EHOSTUNREACH: "EHOSTUNREACH"
        case EINPROGRESS: "EINPROGRESS"
        default: "errno \(code)"
        }
    }
}

public import VigilCore

/// One readable line per event, for `vigil trace --format text` (JSON goes through the
/// OCSF encoder and the outputs).
public enum EventFormatter {
    public static func text(_ e: Event) -> String {
        let who = "\(e.comm)[\(e.pid)]"
        switch e.payload {
        case .exec(let x):
            return "exec    \(who) ppid=\(x.ppid) uid=\(x.uid) \(x.path) \(x.argv.joined(separator: " "))\(x.argvTruncated ? " …" : "")"
        case .fork(let f):
            return "fork    \(who) child=\(f.childPid)"
        case .exit(let x):
            return "exit    \(who) " + (x.signal.map { "signal=\($0)" } ?? "code=\(x.code ?? 0)")
        case .syscall(let s):
            return "syscall \(who) \(SyscallTable.name(s.number))"
        case .novelty(let n):
            let calls = n.calls.map { $0 == NgramHash.startSymbol ? "^" : SyscallTable.name(Int($0)) }.joined(separator: ",")
            return "novel   \(who) \(n.newSyscall ? "new syscall " : "")\(calls)"
        case .action(let a):
            return "action  \(who) \(a.kind.rawValue)\(a.remote.map { " " + Self.endpoint($0) } ?? "")\(a.path.map { " " + $0 } ?? "") result=\(a.result)"
        case .tamper(let t):
            return "tamper  \(who) \(t.kind.rawValue) \(t.detail)"
        case .file(let f):
            return "file    \(who) \(f.operation.rawValue) \(f.path)\(f.truncated ? " (truncated)" : "")\(f.viaMprotect ? " (mprotect)" : "")\(f.via == .open ? "" : " (" + f.via.rawValue + ")")"
        case .network(let n):
            let local = n.local.map(Self.endpoint) ?? "-"
            let remote = n.remote.map(Self.endpoint) ?? "-"
            return "\(n.operation.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)) \(who) \(n.transport.rawValue) local=\(local) remote=\(remote)\(n.ownSocket ? " (own socket)" : "") result=\(n.result)"
        }
    }

    /// An action the kernel took on its own (a kill at exec, a refused connect), for --explain.
    public static func kernelAction(_ a: Event.KernelAction, pid: Int32) -> String {
        "vigil: kernel: \(a.kind.rawValue) pid \(pid)\(a.path.map { " " + $0 } ?? "")\(a.remote.map { " to " + endpoint($0) } ?? "")"
    }

    public static func endpoint(_ e: Endpoint) -> String {
        switch e {
        case .ipv4(let a, let p): "\(a):\(p)"
        case .ipv6(let a, let p): "[\(a)]:\(p)"
        case .unix(let path): path
        }
    }
}

import CVigilWire
import Foundation
import VigilBPF

/// A program's attach point, read from its ELF section name.
struct Hook: CustomStringConvertible {
    enum Kind { case btfTracepoint, tracepoint, rawTracepoint, cgroup, other }
    var kind: Kind
    var name: String
    var category: String

    init(section: String) {
        let parts = section.split(separator: "/").map(String.init)
        switch parts.first {
        case "tp_btf": kind = .btfTracepoint; category = ""; name = parts.count > 1 ? parts[1] : ""
        case "raw_tp", "raw_tracepoint": kind = .rawTracepoint; category = ""; name = parts.count > 1 ? parts[1] : ""
        case "tracepoint", "tp": kind = .tracepoint; category = parts.count > 1 ? parts[1] : ""; name = parts.count > 2 ? parts[2] : ""
        case "cgroup": kind = .cgroup; category = "cgroup"; name = parts.count > 1 ? parts[1] : ""
        case "cgroup_skb": kind = .cgroup; category = "cgroup"; name = "skb_" + (parts.count > 1 ? parts[1] : "")
        default: kind = .other; category = ""; name = section
        }
    }

    var description: String {
        switch kind {
        case .btfTracepoint: "BTF tracepoint \(name)"
        case .rawTracepoint: "raw tracepoint \(name)"
        case .tracepoint: "tracepoint \(category)/\(name)"
        case .cgroup: "cgroup hook \(name)"
        case .other: "hook \(name)"
        }
    }

    /// What the program feeds, for messages.
    var feature: String {
        if name.contains("connect") { return "connect events" }
        if name.contains("bind") { return "bind events" }
        if name.contains("listen") { return "listen events" }
        if name.contains("accept") { return "accept events" }
        if name.contains("exit") && kind == .btfTracepoint { return "process exit events" }
        if name.contains("fork") { return "fork events" }
        if name == "sys_enter" { return "syscall events, learning and detection" }
        if kind == .cgroup { return "network denial" }
        if name == "signal_generate" { return "detection of signals sent to the agent" }
        return "events from \(name)"
    }

    /// Why this hook cannot attach here, or nil when it can. Only looks: `traceFS` is where
    /// tracefs is mounted (``TraceFS/mountIfAbsent()``), nil when it is not.
    func missing(traceFS: String?) -> String? {
        switch kind {
        case .btfTracepoint:
            return KernelSupport.hasBTFTracepoint(name) ? nil : "not in the kernel's BTF"
        case .tracepoint:
            guard let base = traceFS else { return "tracefs is not mounted and could not be mounted" }
            return FileManager.default.fileExists(atPath: "\(base)/events/\(category)/\(name)")
                ? nil : "no \(category)/\(name) tracepoint; syscall tracepoints need CONFIG_FTRACE_SYSCALLS"
        case .rawTracepoint, .cgroup, .other:
            return nil
        }
    }
}

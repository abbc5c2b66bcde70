import CVigilWire
import Foundation
import VigilBPF

/// The cgroup v2 hierarchy, where the network-denial hooks attach (to its root, so they
/// see every process).
enum CgroupV2 {
    static func root(mounts: String = "/proc/mounts") -> String? {
        guard let text = try? String(contentsOfFile: mounts, encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ")
            if f.count >= 3, f[2] == "cgroup2" { return String(f[1]) }
        }
        return nil
    }
}

/// tracefs, where `tracepoint/` programs find their tracepoint ids.
enum TraceFS {
    static var root: String? {
        for p in ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"] where FileManager.default.fileExists(atPath: "\(p)/events") {
            return p
        }
        return nil
    }

    /// Mounts tracefs at /sys/kernel/tracing if no tracefs is mounted yet (the one side
    /// effect of the hook checks, done once by the sensor's start). Where tracefs is, or nil.
    static func mountIfAbsent() -> String? {
        if let root { return root }
        _ = mount("nodev", "/sys/kernel/tracing", "tracefs", 0, nil)
        return root
    }
}

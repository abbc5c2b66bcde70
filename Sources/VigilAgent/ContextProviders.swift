import Foundation
public import VigilCore

/// Adds what it knows to a process's context. A provider is a few lines: read one fact
/// (from /proc, the cgroup path, the user database) and set a field.
public protocol ContextProvider: Sendable {
    func fill(_ context: inout ProcessContext)
}

/// The cgroup v2 path, from `/proc/PID/cgroup` (the `0::` line).
public struct CgroupPathProvider: ContextProvider {
    public init() {}
    public func fill(_ c: inout ProcessContext) {
        guard c.cgroupPath == nil, let text = try? String(contentsOfFile: "/proc/\(c.pid)/cgroup", encoding: .utf8) else { return }
        for line in text.split(separator: "\n") where line.hasPrefix("0::") {
            c.cgroupPath = String(line.dropFirst(3))
        }
    }
}

/// The systemd unit and the container, both read from the cgroup path.
public struct UnitAndContainerProvider: ContextProvider {
    public init() {}
    public func fill(_ c: inout ProcessContext) {
        guard let path = c.cgroupPath else { return }
        c.unit = c.unit ?? ProcessContext.unit(ofCgroupPath: path)
        c.container = c.container ?? ProcessContext.container(ofCgroupPath: path)
    }
}

/// The user's name, from the user database.
public struct UserNameProvider: ContextProvider {
    public init() {}
    public func fill(_ c: inout ProcessContext) {
        guard c.user == nil, let pw = getpwuid(c.uid), let name = pw.pointee.pw_name else { return }
        c.user = String(cString: name)
    }
}

public enum ContextProviders {
    /// The built-in providers, in the order they run (the cgroup path first: unit and
    /// container are read from it).
    public static let standard: [any ContextProvider] = [CgroupPathProvider(), UnitAndContainerProvider(), UserNameProvider()]

    /// The context of process `pid` running `path` as `uid`, as the providers see it now.
    public static func context(pid: Int32, path: String, uid: UInt32, providers: [any ContextProvider] = standard) -> ProcessContext {
        var c = ProcessContext(pid: pid, executable: resolved(path), uid: uid)
        for p in providers { p.fill(&c) }
        return c
    }

    /// `path` with symlinks resolved (itself when it cannot be resolved, e.g. gone).
    public static func resolved(_ path: String) -> String {
        guard !path.isEmpty, let r = realpath(path, nil) else { return path }
        defer { free(r) }
        return String(cString: r)
    }
}

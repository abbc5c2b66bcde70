/// What is known about a process beyond its events, for workload selectors and policy
/// rules: filled by context providers (cgroup path, systemd unit, container, user name).
public struct ProcessContext: Sendable, Hashable {
    public var pid: Int32
    /// The executable as it runs (symlinks resolved).
    public var executable: String
    public var uid: UInt32
    /// The user's name, when the uid has one.
    public var user: String?
    /// The cgroup v2 path, from the cgroup root (`/system.slice/nginx.service`).
    public var cgroupPath: String?
    /// The systemd unit the cgroup path names (`nginx.service`).
    public var unit: String?
    /// The container id the cgroup path names.
    public var container: String?

    public init(pid: Int32, executable: String, uid: UInt32, user: String? = nil, cgroupPath: String? = nil,
                unit: String? = nil, container: String? = nil) {
        self.pid = pid
        self.executable = executable
        self.uid = uid
        self.user = user
        self.cgroupPath = cgroupPath
        self.unit = unit
        self.container = container
    }

    /// Whether `selector` selects this process (as it is at exec).
    public func matches(_ selector: WorkloadSelector) -> Bool {
        switch selector.kind {
        case .exe: return executable == selector.value
        case .user: return selector.value == String(uid) || selector.value == user
        case .cgroup, .unit, .container: return cgroupPath.map(selector.matches(cgroupPath:)) ?? false
        }
    }

    /// The systemd unit a cgroup path names: its innermost `.service` (or a `.scope` when
    /// there is no service), as systemd lays units out.
    public static func unit(ofCgroupPath path: String) -> String? {
        let components = path.split(separator: "/").map(String.init)
        return components.last { $0.hasSuffix(".service") } ?? components.last { $0.hasSuffix(".scope") }
    }

    /// The container id a cgroup path names (docker, containerd/CRI, podman layouts): a
    /// component of 64 hex digits, bare or with the runtime's prefix and `.scope`.
    public static func container(ofCgroupPath path: String) -> String? {
        for c in path.split(separator: "/").reversed() {
            let name = containerName(inCgroupComponent: c)
            if name.count == 64, name.allSatisfy(\.isHexDigit) { return String(name) }
        }
        return nil
    }

    /// A cgroup path component without the runtime's prefix and `.scope` suffix
    /// (`docker-ID.scope`, `cri-containerd-ID.scope`, `crio-ID.scope`, `libpod-ID.scope`, `ID`).
    public static func containerName(inCgroupComponent c: Substring) -> Substring {
        var name = c
        for prefix in ["docker-", "cri-containerd-", "crio-", "libpod-"] where name.hasPrefix(prefix) {
            name = name.dropFirst(prefix.count)
        }
        if name.hasSuffix(".scope") { name = name.dropLast(6) }
        return name
    }
}

/// One selector of a workload, as the operator writes it: `KIND:VALUE`.
///
/// A process is a member of a workload if it, or an ancestor, matched one of the
/// workload's selectors when it started (exec); membership then sticks to its lineage
/// (see `docs/policy.md`).
public struct WorkloadSelector: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// A systemd unit (`redis-server.service`; `.service` is implied without a suffix).
        case unit
        /// A cgroup v2 path prefix (`/system.slice/nginx.service`, relative to the cgroup root).
        case cgroup
        /// A container id (or its first 12 or more hex digits), found in the cgroup path
        /// the common runtimes use (docker, containerd/CRI, podman).
        case container
        /// An absolute executable path (symlinks resolved: the file that runs).
        case exe
        /// A user name or numeric uid (the real uid at exec).
        case user
    }

    public var kind: Kind
    public var value: String

    public init(kind: Kind, value: String) {
        self.kind = kind
        self.value = value
    }

    public var description: String { "\(kind.rawValue):\(value)" }

    /// Parses `KIND:VALUE`; the error says what is wrong in words for a flag or a config key.
    public static func parse(_ text: String) throws(WorkloadSelectorError) -> WorkloadSelector {
        guard let colon = text.firstIndex(of: ":") else {
            throw WorkloadSelectorError("'\(text)' is not KIND:VALUE (kinds: \(Kind.allCases.map(\.rawValue).joined(separator: ", ")); e.g. exe:/usr/bin/redis-server)")
        }
        let k = String(text[..<colon]), v = String(text[text.index(after: colon)...])
        guard let kind = Kind(rawValue: k) else {
            throw WorkloadSelectorError("unknown workload kind '\(k)' in '\(text)' (kinds: \(Kind.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard !v.isEmpty else { throw WorkloadSelectorError("'\(text)' names no \(k)") }
        switch kind {
        case .exe:
            guard v.hasPrefix("/") else { throw WorkloadSelectorError("exe: takes an absolute path, got '\(v)'") }
        case .cgroup:
            guard v.hasPrefix("/") else { throw WorkloadSelectorError("cgroup: takes a path from the cgroup root starting with '/', got '\(v)'") }
        case .container:
            let hex = v.lowercased()
            guard hex.count >= 12, hex.allSatisfy(\.isHexDigit) else {
                throw WorkloadSelectorError("container: takes a container id (at least 12 hex digits), got '\(v)'")
            }
        case .unit:
            guard !v.contains("/") else { throw WorkloadSelectorError("unit: takes a unit name such as nginx.service, got '\(v)'") }
        case .user:
            break
        }
        return WorkloadSelector(kind: kind, value: kind == .container ? v.lowercased() : v)
    }

    /// For `unit:`: the unit's name with its suffix (`redis-server` -> `redis-server.service`).
    public var unitName: String {
        value.contains(".") ? value : value + ".service"
    }

    /// Whether a cgroup v2 path (as in `/proc/PID/cgroup`, e.g. `/system.slice/nginx.service`)
    /// is selected by this selector: `cgroup:` by prefix (whole components), `unit:` by a
    /// component equal to the unit, `container:` by a component naming the container the
    /// way docker (`docker-ID.scope`, `/docker/ID`), containerd/CRI (`cri-containerd-ID.scope`)
    /// and podman (`libpod-ID.scope`) do. Other kinds never match a cgroup.
    public func matches(cgroupPath path: String) -> Bool {
        let components = path.split(separator: "/")
        switch kind {
        case .cgroup:
            let want = value.split(separator: "/")
            return components.count >= want.count && Array(components.prefix(want.count)) == want
        case .unit:
            return components.contains { $0 == unitName }
        case .container:
            return components.contains { ProcessContext.containerName(inCgroupComponent: $0).lowercased().hasPrefix(value) }
        case .exe, .user:
            return false
        }
    }
}

public struct WorkloadSelectorError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A named set of selectors: the unit of enforcement.
public struct Workload: Sendable, Hashable {
    /// The workload's name in findings, metrics and policy (`web`; for a flag, the selector).
    public var name: String
    public var selectors: [WorkloadSelector]

    public init(name: String, selectors: [WorkloadSelector]) {
        self.name = name
        self.selectors = selectors
    }
}

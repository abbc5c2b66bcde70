/// When and how often a profile saw one item, per host that saw it.
///
/// Counts are kept per host so that fleet merges can be idempotent: merging takes the
/// larger count per host (a host's counts only grow) and sums across hosts.
public struct Sighting: Sendable, Hashable {
    /// First and last time seen, nanoseconds since the Unix epoch.
    public var firstSeen: UInt64
    public var lastSeen: UInt64
    /// Times seen, by host id.
    public var hosts: [String: UInt64]

    public init(firstSeen: UInt64, lastSeen: UInt64, hosts: [String: UInt64]) {
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
        self.hosts = hosts
    }

    public init(host: String, at time: UInt64, count: UInt64 = 1) {
        self.init(firstSeen: time, lastSeen: time, hosts: [host: count])
    }

    /// Times seen on all hosts together.
    public var count: UInt64 { hosts.values.reduce(0, &+) }

    /// One more observation (or `count` more) on `host`.
    public mutating func record(host: String, at time: UInt64, count: UInt64 = 1) {
        firstSeen = min(firstSeen, time)
        lastSeen = max(lastSeen, time)
        hosts[host, default: 0] &+= count
    }

    /// Folds in a *different* item of the same source (e.g. an address into its network):
    /// counts add per host.
    public mutating func add(_ other: Sighting) {
        firstSeen = min(firstSeen, other.firstSeen)
        lastSeen = max(lastSeen, other.lastSeen)
        for (h, c) in other.hosts { hosts[h, default: 0] &+= c }
    }

    /// Folds in the *same* item from another source: the larger count per host wins, so a
    /// source merged twice is not counted twice.
    public mutating func merge(_ other: Sighting) {
        firstSeen = min(firstSeen, other.firstSeen)
        lastSeen = max(lastSeen, other.lastSeen)
        for (h, c) in other.hosts { hosts[h] = max(hosts[h] ?? 0, c) }
    }
}

/// A learned 6-gram: the calls in order (oldest first) and when it was seen.
public struct NgramItem: Sendable, Hashable {
    public var calls: [UInt32]
    public var seen: Sighting
    public init(calls: [UInt32], seen: Sighting) {
        self.calls = calls
        self.seen = seen
    }
}

/// A socket address of a profile: a place it connects to (``Profile/destinations``) or one
/// it listens on (``Profile/listens``, then `address` is the bind address: `0.0.0.0`, `::`,
/// a specific address or a unix socket path). `address` is an IP address, a network in CIDR
/// notation (after generalisation, see ``DestinationGeneralizer``) or a unix socket path.
/// One type for both, so a listener and a destination compare, print and parse alike.
public struct NetworkDestination: Sendable, Hashable, Comparable {
    public var transport: Transport
    public var address: String
    public var port: UInt16
    public init(transport: Transport, address: String, port: UInt16) {
        self.transport = transport
        self.address = address
        self.port = port
    }
    /// Destinations' order: by transport, address, then port.
    public static func < (l: Self, r: Self) -> Bool {
        (l.transport.rawValue, l.address, l.port) < (r.transport.rawValue, r.address, r.port)
    }
    /// Listeners' order: by transport, port, then address (how `profile show` lists them).
    public static func byPort(_ l: Self, _ r: Self) -> Bool {
        (l.transport.rawValue, l.port, l.address) < (r.transport.rawValue, r.port, r.address)
    }
    public var description: String {
        if transport == .unix { return "unix \(address)" }
        return port == Self.pickedPort ? "\(transport.rawValue) \(address) port picked by the kernel" : "\(transport.rawValue) \(address) port \(port)"
    }

    /// A listener's port 0: one the kernel picked (bound to port 0, or not bound before the
    /// listen), whatever its number, as FTP's passive mode or a test harness listens.
    public static let pickedPort: UInt16 = 0
}

/// A socket a profile listens on (or, for UDP, binds to receive on): the same type as a
/// destination, named for what it holds.
public typealias ListeningSocket = NetworkDestination

/// The learned baseline of one program: what it was seen doing, each item with first-seen,
/// last-seen and counts, plus the history that says whether learning is done.
public struct Profile: Sendable, Hashable {
    public var identity: ProfileIdentity
    /// Incremented by ``ProfileStore/save(_:force:)`` each time a save changes the file.
    public var revision: UInt64 = 0
    /// The paths this profile's processes were started by when they differ from
    /// ``ProfileIdentity/executable`` (a symlink such as `/usr/bin/redis-server`, a relative
    /// path made absolute): what `--only`, `profile show` and the kernel's known-executable
    /// set also accept for it. Format 2, optional (`invoked_as`).
    public var invokedAs: [String: Sighting] = [:]
    /// SHA-256 (hex) of each executable file seen for this profile.
    public var binaries: [String: Sighting] = [:]
    /// Syscalls by x86_64 number.
    public var syscalls: [UInt32: Sighting] = [:]
    /// 6-grams by ``NgramHash`` key.
    public var ngrams: [UInt64: NgramItem] = [:]
    /// Programs (executable paths) this profile's processes executed.
    public var executes: [String: Sighting] = [:]
    /// Executable paths of the processes that started this profile's processes.
    public var parents: [String: Sighting] = [:]
    public var destinations: [NetworkDestination: Sighting] = [:]
    public var listens: [ListeningSocket: Sighting] = [:]
    /// Peers that connected to the profile's listeners: `address` is the peer (an address,
    /// a network, or every address of a family once many networks were seen, see
    /// ``PeerGeneralizer``), `port` the local port they reached. Format 2, optional (`peers`).
    public var peers: [NetworkDestination: Sighting] = [:]
    /// The local addresses the profile's listeners were reached on (from accepted
    /// connections; a wildcard bind answers on the host's own addresses). What lets
    /// `vigil map` join another host's client to this listener. Optional (`served_on`).
    public var servedOn: [ListeningSocket: Sighting] = [:]
    /// The workloads (policy names) its processes were members of. Optional (`workloads`).
    public var workloads: [String: Sighting] = [:]
    /// User ids (real and effective) the processes ran as.
    public var users: [UInt32: Sighting] = [:]
    /// Where the processes write: `DIR/PATTERN` and collapsed `DIR/**` entries
    /// (``FileRules``). Format 2, optional (`writes`).
    public var writes: [String: Sighting] = [:]
    /// Executable files the processes mapped (libraries, modules, plugins). Optional (`maps`).
    public var maps: [String: Sighting] = [:]
    /// Files of the sensitive set the processes read. Optional (`sensitive_reads`).
    public var sensitiveReads: [String: Sighting] = [:]
    /// Learning history per host id.
    public var learning: [String: LearningHistory] = [:]

    public init(identity: ProfileIdentity) { self.identity = identity }

    public var id: String { identity.id }

    /// Every path that starts this profile's program as far as Vigil knows: the executable
    /// and the paths it was invoked as. What the kernel's known-executable set (keyed by the
    /// path given to execve) needs to hold for this profile, with ``executes``.
    public var knownPaths: Set<String> { Set([identity.executable]).union(invokedAs.keys) }

    /// The binary seen most recently (ties: the larger hash), or nil before any exec was seen.
    public var currentBinary: String? {
        binaries.max { ($0.value.lastSeen, $0.key) < ($1.value.lastSeen, $1.key) }?.key
    }

    /// Whether learning is done: stable when every host that learned this profile has a
    /// stable history (see ``StabilityPolicy/evaluate(_:now:)``).
    public func stability(now: UInt64? = nil) -> StabilityReport {
        guard !learning.isEmpty else {
            return StabilityReport(state: .learning, reason: "no learning history")
        }
        var reports: [(String, StabilityReport)] = []
        for (host, h) in learning.sorted(by: { $0.key < $1.key }) {
            reports.append((host, h.policy.evaluate(h, now: now ?? h.lastBucketEnd)))
        }
        if let (host, r) = reports.first(where: { $0.1.state == .learning }) {
            var r = r
            if reports.count > 1 { r.reason = "host \(host): \(r.reason)" }
            return r
        }
        return reports[0].1
    }

    /// Number of learned items of every kind together.
    public var itemCount: Int {
        invokedAs.count + binaries.count + syscalls.count + ngrams.count + executes.count + parents.count + destinations.count + listens.count + peers.count + users.count
            + writes.count + maps.count + sensitiveReads.count + servedOn.count + workloads.count
    }

    /// The most recent last-seen of any item.
    public var lastSeen: UInt64 {
        var t: UInt64 = 0
        for s in invokedAs.values { t = max(t, s.lastSeen) }
        for s in binaries.values { t = max(t, s.lastSeen) }
        for s in syscalls.values { t = max(t, s.lastSeen) }
        for s in ngrams.values { t = max(t, s.seen.lastSeen) }
        for s in executes.values { t = max(t, s.lastSeen) }
        for s in parents.values { t = max(t, s.lastSeen) }
        for s in destinations.values { t = max(t, s.lastSeen) }
        for s in listens.values { t = max(t, s.lastSeen) }
        for s in peers.values { t = max(t, s.lastSeen) }
        for s in users.values { t = max(t, s.lastSeen) }
        for s in writes.values { t = max(t, s.lastSeen) }
        for s in maps.values { t = max(t, s.lastSeen) }
        for s in sensitiveReads.values { t = max(t, s.lastSeen) }
        for s in servedOn.values { t = max(t, s.lastSeen) }
        for s in workloads.values { t = max(t, s.lastSeen) }
        return t
    }
}

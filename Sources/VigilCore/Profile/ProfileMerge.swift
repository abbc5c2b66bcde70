/// Fleet learning and housekeeping on profiles: merge, diff, prune.
///
/// **Merge** is the union of what several sources learned about one program. Counts are
/// kept per host: for the same item the larger count per host wins and hosts add up, first
/// seen is the minimum, last seen the maximum. Per-host learning histories keep the one
/// with more observations. So merge is commutative, associative and idempotent: merging a
/// host's file twice (or a merged file with one of its sources) counts nothing twice.
/// This relies on a host's counts only growing, which the learner guarantees.
public enum ProfileMerge {
    /// Merges profiles of the same identity. Precondition: all have the same id.
    public static func merge(_ sources: [Profile]) -> Profile {
        precondition(!sources.isEmpty && Set(sources.map(\.id)).count == 1, "merge needs profiles of one identity")
        var out = Profile(identity: sources[0].identity)
        out.revision = sources.map(\.revision).max() ?? 0
        for s in sources {
            mergeSet(&out.invokedAs, s.invokedAs)
            mergeSet(&out.binaries, s.binaries)
            mergeSet(&out.syscalls, s.syscalls)
            mergeSet(&out.executes, s.executes)
            mergeSet(&out.parents, s.parents)
            mergeSet(&out.listens, s.listens)
            mergeSet(&out.servedOn, s.servedOn)
            mergeSet(&out.workloads, s.workloads)
            mergeSet(&out.users, s.users)
            mergeSet(&out.writes, s.writes)
            mergeSet(&out.maps, s.maps)
            mergeSet(&out.sensitiveReads, s.sensitiveReads)
            for (k, g) in s.ngrams {
                if out.ngrams[k] == nil { out.ngrams[k] = g } else { out.ngrams[k]!.seen.merge(g.seen) }
            }
            for (host, h) in s.learning {
                if let mine = out.learning[host] { out.learning[host] = preferred(mine, h) } else { out.learning[host] = h }
            }
        }
        out.destinations = DestinationGeneralizer.union(sources.map(\.destinations))
        out.peers = PeerGeneralizer.union(sources.map(\.peers))
        Learner.collapseWrites(&out.writes)
        return out
    }

    /// Merges two profile sets by id.
    public static func merge(_ a: [Profile], _ b: [Profile]) -> [Profile] {
        var byID: [String: [Profile]] = [:]
        for p in a + b { byID[p.id, default: []].append(p) }
        return byID.keys.sorted().map { merge(byID[$0]!) }
    }

    /// What `host` itself contributed to a profile: only that host's counts and learning
    /// history; items no count of `host` backs are left out. A fleet entry signed by a host
    /// is read this way, so a host can add to the fleet's baseline only under its own name.
    /// (First and last seen are kept as they are: they are not recorded per host.)
    public static func restricted(_ p: Profile, to host: String) -> Profile {
        func own<K: Hashable>(_ m: [K: Sighting]) -> [K: Sighting] {
            var out: [K: Sighting] = [:]
            for (k, s) in m {
                guard let c = s.hosts[host] else { continue }
                var t = s
                t.hosts = [host: c]
                out[k] = t
            }
            return out
        }
        var out = p
        out.invokedAs = own(p.invokedAs)
        out.binaries = own(p.binaries)
        out.syscalls = own(p.syscalls)
        out.executes = own(p.executes)
        out.parents = own(p.parents)
        out.destinations = own(p.destinations)
        out.listens = own(p.listens)
        out.users = own(p.users)
        out.ngrams = [:]
        for (k, g) in p.ngrams {
            guard let c = g.seen.hosts[host] else { continue }
            var t = g
            t.seen.hosts = [host: c]
            out.ngrams[k] = t
        }
        out.learning = p.learning[host].map { [host: $0] } ?? [:]
        return out
    }

    static func mergeSet<K: Hashable>(_ into: inout [K: Sighting], _ from: [K: Sighting]) {
        for (k, s) in from {
            if into[k] == nil { into[k] = s } else { into[k]!.merge(s) }
        }
    }

    /// Of two histories of one host, the one that saw more (deterministic on ties).
    static func preferred(_ a: LearningHistory, _ b: LearningHistory) -> LearningHistory {
        func key(_ h: LearningHistory) -> (UInt64, UInt64, UInt64, UInt64) {
            (h.observations, h.observedBuckets, h.buckets.last?.start ?? 0, h.newItems)
        }
        if key(a) != key(b) { return key(a) > key(b) ? a : b }
        return ProfileCodec.encode(history: a) >= ProfileCodec.encode(history: b) ? a : b
    }

    // MARK: Diff

    /// One kind of item that differs between two profiles.
    public struct KindDiff: Sendable, Hashable {
        public var kind: String
        public var added: [String]
        public var removed: [String]
    }

    /// Items in `b` but not `a` (added) and in `a` but not `b` (removed), per kind, as the
    /// text a reviewer reads (syscall names, `tcp 10.0.0.0/24 port 443`, ...).
    public static func diff(_ a: Profile, _ b: Profile) -> [KindDiff] {
        let ka = itemKeys(a), kb = itemKeys(b)
        var out: [KindDiff] = []
        for kind in itemKinds {
            let x = ka[kind] ?? [], y = kb[kind] ?? []
            let added = y.subtracting(x).sorted(), removed = x.subtracting(y).sorted()
            if !added.isEmpty || !removed.isEmpty { out.append(KindDiff(kind: kind, added: added, removed: removed)) }
        }
        return out
    }

    /// The kinds of learned items, in file order.
    public static let itemKinds = ["invoked_as", "binaries", "syscalls", "ngrams", "executes", "parents", "destinations", "listens", "peers", "served_on", "users", "writes", "maps", "sensitive_reads", "workloads"]

    /// Every item of a profile as readable text, per kind.
    public static func itemKeys(_ p: Profile) -> [String: Set<String>] {
        [
            "invoked_as": Set(p.invokedAs.keys),
            "binaries": Set(p.binaries.keys),
            "syscalls": Set(p.syscalls.keys.map { SyscallTable.name(Int($0)) }),
            "ngrams": Set(p.ngrams.map { "\(ProfileCodec.hex16($0.key)) \($0.value.calls.map(ProfileCodec.callName).joined(separator: " "))" }),
            "executes": Set(p.executes.keys),
            "parents": Set(p.parents.keys),
            "destinations": Set(p.destinations.keys.map(\.description)),
            "listens": Set(p.listens.keys.map(\.description)),
            "peers": Set(p.peers.keys.map(\.description)),
            "served_on": Set(p.servedOn.keys.map(\.description)),
            "workloads": Set(p.workloads.keys),
            "users": Set(p.users.keys.map { "uid \($0)" }),
            "writes": Set(p.writes.keys),
            "maps": Set(p.maps.keys),
            "sensitive_reads": Set(p.sensitiveReads.keys),
        ]
    }

    // MARK: Prune

    /// Removes items last seen before `cutoff` (ns since the epoch), except the current
    /// binary. Returns what it removed, per kind, as in ``diff(_:_:)``.
    @discardableResult
    public static func prune(_ p: inout Profile, olderThan cutoff: UInt64) -> [KindDiff] {
        let before = p
        let current = p.currentBinary
        p.invokedAs = p.invokedAs.filter { $0.value.lastSeen >= cutoff }
        p.binaries = p.binaries.filter { $0.value.lastSeen >= cutoff || $0.key == current }
        p.syscalls = p.syscalls.filter { $0.value.lastSeen >= cutoff }
        p.ngrams = p.ngrams.filter { $0.value.seen.lastSeen >= cutoff }
        p.executes = p.executes.filter { $0.value.lastSeen >= cutoff }
        p.parents = p.parents.filter { $0.value.lastSeen >= cutoff }
        p.destinations = p.destinations.filter { $0.value.lastSeen >= cutoff }
        p.listens = p.listens.filter { $0.value.lastSeen >= cutoff }
        p.peers = p.peers.filter { $0.value.lastSeen >= cutoff }
        p.servedOn = p.servedOn.filter { $0.value.lastSeen >= cutoff }
        p.workloads = p.workloads.filter { $0.value.lastSeen >= cutoff }
        p.users = p.users.filter { $0.value.lastSeen >= cutoff }
        p.writes = p.writes.filter { $0.value.lastSeen >= cutoff }
        p.maps = p.maps.filter { $0.value.lastSeen >= cutoff }
        p.sensitiveReads = p.sensitiveReads.filter { $0.value.lastSeen >= cutoff }
        return diff(before, p)
    }

    /// Parses a duration like `30d`, `12h`, `90m`, `45s` or `2w` into nanoseconds.
    public static func parseDuration(_ text: String) -> UInt64? {
        guard let unit = text.last, let n = UInt64(text.dropLast()), n > 0 else { return nil }
        let seconds: UInt64
        switch unit {
        case "s": seconds = 1
        case "m": seconds = 60
        case "h": seconds = 3600
        case "d": seconds = 86_400
        case "w": seconds = 7 * 86_400
        default: return nil
        }
        let (v, overflow) = n.multipliedReportingOverflow(by: seconds * 1_000_000_000)
        return overflow ? nil : v
    }
}

/// An OCI runtime seccomp profile allowing exactly the learned syscalls.
public enum SeccompExport {
    /// The profile as JSON text: `defaultAction` `SCMP_ACT_ERRNO`, x86_64 only, one
    /// `SCMP_ACT_ALLOW` rule naming every learned syscall (sorted by name).
    public static func json(_ p: Profile) -> String {
        let names = Set(p.syscalls.keys.map { SyscallTable.name(Int($0)) }).sorted()
        let value = JSONValue.object([
            ("defaultAction", .string("SCMP_ACT_ERRNO")),
            ("architectures", .array([.string("SCMP_ARCH_X86_64")])),
            ("syscalls", .array([.object([("names", .array(names.map { .string($0) })), ("action", .string("SCMP_ACT_ALLOW"))])])),
        ])
        var out = ""
        value.write(into: &out, indent: 0, compact: false)
        return out + "\n"
    }
}

/// Builds profiles from events: learn mode's pure core.
///
/// The learner does no I/O. The caller feeds it events (with the process record from its
/// ``ProcessTable``), the kernel's counts of known behaviour, and drop counts; it supplies
/// binary hashes through a closure (see ``CachingFileHasher``). Profiles are keyed by
/// ``ProfileIdentity/id``; each gets a small per-run number (slot) the kernel uses.
///
/// Everything it records is attributed to ``hostID``, so profiles from several hosts can
/// be merged without double counting (see ``ProfileMerge``).
public final class Learner {
    public let hostID: String
    public let policy: StabilityPolicy
    /// The ``SequenceModel/Parameters/ngramLength`` novelty events carry.
    public let ngramLength: Int
    private let binaryHash: (String) -> String?

    public private(set) var profiles: [String: Profile] = [:]
    /// Ids of profiles changed since ``markSaved(_:)`` (what a periodic save should write).
    public private(set) var dirty: Set<String> = []
    private var pidProfile: [Int32: String] = [:]
    private var slots: [String: UInt32] = [:]
    private var slotIDs: [UInt32: String] = [:]
    /// The kernel's cumulative totals last absorbed, per slot and key, to absorb deltas only.
    private var kernelSyscallTotals: [UInt32: [UInt32: UInt64]] = [:]
    private var kernelNgramTotals: [UInt32: [UInt64: UInt64]] = [:]
    private var bucketEnd: UInt64 = 0

    /// Counters for things the learner could not attribute.
    public struct Stats: Sendable, Hashable {
        /// Events of processes with no known executable.
        public var unattributed: UInt64 = 0
        /// Kernel n-gram counts for keys the profile does not hold (calls unknown).
        public var unknownKernelNgrams: UInt64 = 0
        /// Novelty events whose slot no profile has.
        public var unknownSlots: UInt64 = 0
        /// Kernel-dropped events reported through ``noteDrops(_:now:)``.
        public var drops: UInt64 = 0
    }
    public private(set) var stats = Stats()
    /// The sensitive set (``FileRules/defaultSensitive``; ``Policy/sensitiveFiles``): a
    /// read-only open is learned only for a path in it.
    public var sensitivePatterns: [String] = FileRules.defaultSensitive

    /// - Parameters:
    ///   - hostID: the name this host's contributions carry in profiles (e.g. the hostname).
    ///   - profiles: profiles loaded from disk; learning continues from them.
    ///   - now: the start of this run (ns since the epoch); loaded profiles are observed from here.
    ///   - binaryHash: SHA-256 hex of an executable path, nil when unreadable.
    public init(hostID: String, policy: StabilityPolicy = .standard, ngramLength: Int = SequenceModel.Parameters.standard.ngramLength,
                profiles: [Profile] = [], now: UInt64, binaryHash: @escaping (String) -> String?) {
        self.hostID = hostID
        self.policy = policy
        self.ngramLength = ngramLength
        self.binaryHash = binaryHash
        for var p in profiles {
            resumeHistory(&p, now: now)
            self.profiles[p.id] = p
        }
        bucketEnd = now - now % policy.bucketNanos + policy.bucketNanos
    }

    // MARK: Slots and lookups

    /// The kernel's number for profile `id`: small, stable for this run, starting at 1.
    public func profileSlot(for id: String) -> UInt32 {
        if let s = slots[id] { return s }
        let s = UInt32(slots.count + 1)
        slots[id] = s
        slotIDs[s] = id
        return s
    }

    /// The profile id a slot was given to.
    public func profileID(forSlot slot: UInt32) -> String? { slotIDs[slot] }

    /// The profile a live process belongs to.
    public func profileID(forPid pid: Int32) -> String? { pidProfile[pid] }

    /// The live processes of profile `id`.
    public func pids(of id: String) -> [Int32] { pidProfile.filter { $0.value == id }.map(\.key).sorted() }

    /// Stops learning from `pid` (its profile left learning).
    public func release(pid: Int32) { pidProfile[pid] = nil }

    /// Adds a profile found after the start (a reload); a profile it holds already is kept.
    public func add(_ profile: Profile, now: UInt64) {
        guard profiles[profile.id] == nil else { return }
        var p = profile
        resumeHistory(&p, now: now)
        profiles[p.id] = p
    }

    /// Drops profile `id` (its file was deleted and the agent reloaded) and stops learning
    /// from its processes; its slot number stays taken for this run.
    public func remove(_ id: String) {
        profiles[id] = nil
        for (pid, p) in pidProfile where p == id { pidProfile[pid] = nil }
        markSaved([id])
    }

    /// Syscall numbers profile `id` knows (to preload the kernel's map), ascending.
    public func knownSyscalls(_ id: String) -> [UInt32] { profiles[id].map { $0.syscalls.keys.sorted() } ?? [] }

    /// N-gram keys profile `id` knows (to preload the kernel's map), ascending.
    public func knownNgramHashes(_ id: String) -> [UInt64] { profiles[id].map { $0.ngrams.keys.sorted() } ?? [] }

    /// The state of each profile's learning now.
    public func stability(_ id: String, now: UInt64) -> StabilityReport? {
        profiles[id]?.stability(now: now)
    }

    /// Forgets that profiles were changed (after saving them); `ids` nil means all.
    public func markSaved(_ ids: [String]? = nil) {
        if let ids { dirty.subtract(ids) } else { dirty.removeAll() }
    }

    /// Remembers that profile `id` still has changes no file holds (its save failed), so the
    /// next save writes it again.
    public func markUnsaved(_ id: String) {
        if profiles[id] != nil { dirty.insert(id) }
    }

    /// Sets a profile's revision after the store saved it.
    public func setRevision(_ revision: UInt64, for id: String) { profiles[id]?.revision = revision }

    // MARK: Input

    /// Processes that were running before learning started (the /proc snapshot): each is
    /// given its profile, and its executable and user are recorded.
    public func seed(_ records: [ProcessRecord], now: UInt64) {
        tick(now)
        for r in records where !r.path.isEmpty {
            let id = attach(pid: r.pid, record: r, now: now)
            record(id, now: now, observations: 1) { p, new in
                new += self.insertUsers(&p, uid: r.uid, euid: r.euid, now: now)
            }
        }
        for r in records where !r.path.isEmpty {
            if let id = pidProfile[r.pid], let parent = pidProfile[r.ppid], let path = profiles[parent]?.identity.executable {
                record(id, now: now, observations: 0) { p, new in
                    new += self.insert(&p.parents, path, now: now)
                }
            }
        }
    }

    /// Learns from one event. `process` is the process table's record for the event's pid
    /// (used when the learner has not seen the process start); `now` is the learner's clock.
    public func apply(_ event: Event, process: ProcessRecord?, now: UInt64) {
        tick(now)
        let t = event.timeNanos
        switch event.payload {
        case .exec(let e):
            let previous = pidProfile[event.pid]
            let parentID = pidProfile[e.ppid]
            if let previous {
                // The image that called execve started this program.
                record(previous, now: now, observations: 0) { p, new in new += self.insert(&p.executes, e.path, now: t) }
            }
            let id = attach(pid: event.pid, record: ProcessRecord(pid: event.pid, ppid: e.ppid, path: e.executable, invokedPath: e.path,
                                                                  argv: e.argv, comm: event.comm), now: t)
            let parentPath = parentID.flatMap { profiles[$0]?.identity.executable } ?? previous.flatMap { profiles[$0]?.identity.executable }
            record(id, now: now, observations: 1) { p, new in
                new += self.insertUsers(&p, uid: e.uid, euid: e.euid, now: t)
                if let parentPath { new += self.insert(&p.parents, parentPath, now: t) }
            }
        case .fork(let f):
            // The child is the parent's program until it execs.
            if let id = pidProfile[event.pid] ?? profileFromRecord(event.pid, process, now: t) {
                pidProfile[f.childPid] = id
                record(id, now: now, observations: 1) { _, _ in }
            }
        case .exit:
            if let id = pidProfile.removeValue(forKey: event.pid) {
                record(id, now: now, observations: 1) { _, _ in }
            }
        case .syscall(let s):
            guard let id = profileOf(event, process, now: t), s.number >= 0 else { return }
            record(id, now: now, observations: 1) { p, new in new += self.insert(&p.syscalls, UInt32(s.number), now: t) }
        case .network(let n):
            guard let id = profileOf(event, process, now: t) else { return }
            record(id, now: now, observations: 1) { p, new in new += self.learn(network: n, into: &p, now: t) }
        case .file(let f):
            var id: String?
            if f.profileSlot != 0 { id = slotIDs[f.profileSlot] }
            if id == nil { id = profileOf(event, process, now: t) }
            guard let id, !f.path.isEmpty, f.path.hasPrefix("/") else { return }
            if f.operation == .readSensitive, !FileRules.isSensitive(f.path, patterns: sensitivePatterns) { return }
            record(id, now: now, observations: 1) { p, new in new += self.learn(file: f, into: &p, now: t) }
        case .action, .tamper:
            // Responses and self-protection happen in monitor and enforce modes, not learning.
            return
        case .novelty(let n):
            var id: String?
            if n.profileSlot != 0 {
                id = slotIDs[n.profileSlot]
                if id == nil { stats.unknownSlots += 1 }
            }
            if id == nil { id = profileOf(event, process, now: t) }
            guard let id else { return }
            record(id, now: now, observations: 1) { p, new in
                if n.syscall != NgramHash.startSymbol { new += self.insert(&p.syscalls, n.syscall, now: t) }
                if n.calls.count == self.ngramLength {
                    if p.ngrams[n.hash] == nil {
                        p.ngrams[n.hash] = NgramItem(calls: n.calls, seen: Sighting(host: self.hostID, at: t))
                        new += 1
                    } else {
                        p.ngrams[n.hash]!.seen.record(host: self.hostID, at: t)
                    }
                }
            }
        }
    }

    /// Takes the kernel's counts of known behaviour for one profile slot. The counts are
    /// cumulative since the kernel entry was created; only the growth since the previous
    /// call is added (a total below the previous one means the entry was recreated, and
    /// counts from zero). `lastSeen` is wall-clock ns since the epoch.
    public func absorbKernelCounts(slot: UInt32, syscalls: [(nr: UInt32, count: UInt64, lastSeen: UInt64)],
                                   ngrams: [(hash: UInt64, count: UInt64, lastSeen: UInt64)], now: UInt64) {
        tick(now)
        guard let id = slotIDs[slot] else { stats.unknownSlots += 1; return }
        var seenSyscalls = kernelSyscallTotals[slot] ?? [:]
        var seenNgrams = kernelNgramTotals[slot] ?? [:]
        var unknown: UInt64 = 0
        record(id, now: now, observations: 0) { p, new in
            var observed: UInt64 = 0
            for s in syscalls {
                let before = seenSyscalls[s.nr] ?? 0
                let delta = s.count >= before ? s.count - before : s.count
                seenSyscalls[s.nr] = s.count
                guard delta > 0 else { continue }
                observed += delta
                if p.syscalls[s.nr] == nil {
                    p.syscalls[s.nr] = Sighting(host: self.hostID, at: s.lastSeen, count: delta)
                    new += 1
                } else {
                    p.syscalls[s.nr]!.record(host: self.hostID, at: s.lastSeen, count: delta)
                }
            }
            for g in ngrams {
                let before = seenNgrams[g.hash] ?? 0
                let delta = g.count >= before ? g.count - before : g.count
                seenNgrams[g.hash] = g.count
                guard delta > 0 else { continue }
                observed += delta
                if p.ngrams[g.hash] == nil { unknown += 1; continue }
                p.ngrams[g.hash]!.seen.record(host: self.hostID, at: g.lastSeen, count: delta)
            }
            p.learning[self.hostID]?.note(observations: observed, at: now)
        }
        stats.unknownKernelNgrams += unknown
        kernelSyscallTotals[slot] = seenSyscalls
        kernelNgramTotals[slot] = seenNgrams
    }

    /// Tells the learner the kernel dropped `n` events. Drops cannot be attributed, so every
    /// profile's current learning window is tainted (none can become stable on it).
    public func noteDrops(_ n: UInt64, now: UInt64) {
        tick(now)
        guard n > 0 else { return }
        stats.drops += n
        for id in profiles.keys {
            profiles[id]!.learning[hostID]?.note(drops: n, at: now)
            dirty.insert(id)
        }
    }

    /// Advances every profile's history to `now` (quiet buckets are observations too).
    /// Called by every other input; call it on a timer when nothing else happens.
    public func tick(_ now: UInt64) {
        guard now >= bucketEnd else { return }
        bucketEnd = now - now % policy.bucketNanos + policy.bucketNanos
        for id in profiles.keys {
            profiles[id]!.learning[hostID]?.advance(to: now)
            dirty.insert(id)
        }
    }

    // MARK: Internals

    private func resumeHistory(_ p: inout Profile, now: UInt64) {
        if p.learning[hostID] == nil || p.learning[hostID]!.policy != policy {
            // A different bucket length or rule makes the old buckets meaningless: start over.
            p.learning[hostID] = LearningHistory(policy: policy)
        }
        p.learning[hostID]!.resume(at: now)
    }

    /// Gives `pid` the profile of record `r` (``ProfileIdentity/of(_:)``, creating it),
    /// records the binary hash and the path it was invoked by.
    private func attach(pid: Int32, record r: ProcessRecord, now: UInt64) -> String {
        let identity = ProfileIdentity.of(r)
        let id = identity.id
        if profiles[id] == nil {
            var p = Profile(identity: identity)
            resumeHistory(&p, now: now)
            profiles[id] = p
        }
        pidProfile[pid] = id
        if r.invokedPath.hasPrefix("/"), r.invokedPath != identity.executable {
            // Not new behaviour: the same program started by another of its names.
            record(id, now: now, observations: 0) { p, _ in _ = self.insert(&p.invokedAs, r.invokedPath, now: now) }
        }
        if let hash = binaryHash(r.path) {
            record(id, now: now, observations: 0) { p, new in new += self.insert(&p.binaries, hash, now: now) }
        }
        return id
    }

    /// A learned process exec'd a program that is not being learned (`vigil learn --only`):
    /// the exec is recorded in the old program's profile, and the process is no longer
    /// attributed to any profile (no profile is created for the new program).
    public func noteUnlearnedExec(pid: Int32, path: String, at t: UInt64, now: UInt64) {
        tick(now)
        guard let previous = pidProfile.removeValue(forKey: pid) else { return }
        record(previous, now: now, observations: 1) { p, new in new += self.insert(&p.executes, path, now: t) }
    }

    /// Records the SHA-256 of the binary at `path` in every profile of that executable, for
    /// hashes computed off the event path (hashing a large binary must not stall the reader).
    public func noteBinary(path: String, sha256: String, now: UInt64) {
        for (id, p) in profiles where p.identity.executable == path || p.invokedAs[path] != nil {
            record(id, now: now, observations: 0) { p, new in new += self.insert(&p.binaries, sha256, now: now) }
        }
    }

    private func profileFromRecord(_ pid: Int32, _ process: ProcessRecord?, now: UInt64) -> String? {
        guard let r = process, !r.path.isEmpty else { return nil }
        let id = attach(pid: pid, record: r, now: now)
        record(id, now: now, observations: 0) { p, new in new += self.insertUsers(&p, uid: r.uid, euid: r.euid, now: now) }
        return id
    }

    private func profileOf(_ event: Event, _ process: ProcessRecord?, now: UInt64) -> String? {
        if let id = pidProfile[event.pid] { return id }
        if let id = profileFromRecord(event.pid, process, now: now) { return id }
        stats.unattributed += 1
        return nil
    }

    /// Runs `body` on profile `id`, then books the new items and observations it reports.
    private func record(_ id: String, now: UInt64, observations: UInt64, _ body: (inout Profile, inout UInt64) -> Void) {
        guard var p = profiles.removeValue(forKey: id) else { return }
        var new: UInt64 = 0
        body(&p, &new)
        if new > 0 || observations > 0 {
            if p.learning[hostID] == nil { resumeHistory(&p, now: now) }
            p.learning[hostID]!.note(newItems: new, observations: observations, at: now)
        }
        profiles[id] = p
        dirty.insert(id)
    }

    private func insert<K: Hashable>(_ set: inout [K: Sighting], _ key: K, now: UInt64) -> UInt64 {
        if set[key] == nil {
            set[key] = Sighting(host: hostID, at: now)
            return 1
        }
        set[key]!.record(host: hostID, at: now)
        return 0
    }

    private func insertUsers(_ p: inout Profile, uid: UInt32, euid: UInt32, now: UInt64) -> UInt64 {
        var new = insert(&p.users, uid, now: now)
        if euid != uid { new += insert(&p.users, euid, now: now) }
        return new
    }

    private func learn(file f: Event.FileAccess, into p: inout Profile, now: UInt64) -> UInt64 {
        switch f.operation {
        case .mapExec: return insert(&p.maps, FileRules.exactEntry(f.path), now: now)
        case .readSensitive: return insert(&p.sensitiveReads, FileRules.exactEntry(f.path), now: now)
        case .write:
            let dir = FileRules.directory(of: f.path)
            // A collapsed prefix that covers it takes the sighting: nothing new.
            if let cover = p.writes.keys.first(where: { $0.hasSuffix("/**") && FileRules.covers([$0], directory: dir) }) {
                p.writes[cover]!.record(host: hostID, at: now)
                return 0
            }
            let new = insert(&p.writes, FileRules.writeEntry(f.path), now: now)
            if new > 0 { Self.collapseWrites(&p.writes) }
            return new
        }
    }

    /// Collapses sibling directories of `writes` into `PARENT/**` entries
    /// (``FileRules/collapse(_:)``), their sightings added together, until nothing collapses.
    public static func collapseWrites(_ writes: inout [String: Sighting]) {
        // Entries an existing prefix covers (a merge brings them) fold into it.
        for prefix in writes.keys.filter({ $0.hasSuffix("/**") }).sorted() {
            for k in writes.keys where k != prefix && FileRules.covers([prefix], directory: FileRules.entryDirectory(k).dir) {
                if let s = writes.removeValue(forKey: k) { writes[prefix]?.add(s) }
            }
        }
        for _ in 0..<8 {
            let plan = FileRules.collapse(writes.keys)
            guard !plan.isEmpty else { return }
            for (prefix, members) in plan.sorted(by: { $0.key < $1.key }) {
                var seen = writes[prefix]
                for m in members where m != prefix {
                    guard let s = writes.removeValue(forKey: m) else { continue }
                    if seen == nil { seen = s } else { seen!.add(s) }
                }
                // Entries below the new prefix are covered by it now.
                for k in writes.keys where k != prefix && FileRules.covers([prefix], directory: FileRules.entryDirectory(k).dir) {
                    if let s = writes.removeValue(forKey: k) { if seen == nil { seen = s } else { seen!.add(s) } }
                }
                if let seen { writes[prefix] = seen }
            }
        }
    }

    private func learn(network n: Event.Network, into p: inout Profile, now: UInt64) -> UInt64 {
        switch n.operation {
        case .connect:
            // The process's own socket is not somewhere it talks to.
            guard n.succeeded || n.inProgress, !n.ownSocket, let remote = n.remote else { return 0 }
            let d = Self.destination(n.transport, remote)
            if let key = DestinationGeneralizer.existingKey(for: d, in: p.destinations) {
                p.destinations[key]!.record(host: hostID, at: now)
                return 0
            }
            p.destinations[d] = Sighting(host: hostID, at: now)
            p.destinations = DestinationGeneralizer.union([p.destinations])
            return 1
        case .listen:
            guard n.succeeded, let local = n.local else { return 0 }
            return insert(&p.listens, Self.listener(n, local), now: now)
        case .bind:
            // A UDP server receives on the port it binds; TCP ones are learned at listen.
            guard n.succeeded, n.transport == .udp, let local = n.local, (local.port ?? 0) != 0 else { return 0 }
            return insert(&p.listens, Self.socket(n.transport, local), now: now)
        case .accept:
            guard n.succeeded, let local = n.local else { return 0 }
            let served = Self.listener(n, local)
            learnPeer(n, port: served.port, into: &p, now: now)
            if !n.pickedPort { learnServedAddress(n.transport, local, into: &p, now: now) }
            // Counted on the listening socket of that port (its bind address may be a wildcard).
            if let key = p.listens.keys.filter({ $0.transport == n.transport && $0.port == served.port }).sorted(by: ListeningSocket.byPort).first {
                p.listens[key]!.record(host: hostID, at: now)
                return 0
            }
            // Listening since before learning started: the accepted local address stands in.
            return insert(&p.listens, served, now: now)
        }
    }

    /// The peer of an accepted connection, with the local port it reached. Not counted as
    /// new behaviour for stability: a public server meets new clients for ever, and that
    /// must not keep its profile learning (ports reached from many networks become open to
    /// anyone, see ``PeerGeneralizer``).
    private func learnPeer(_ n: Event.Network, port: UInt16, into p: inout Profile, now: UInt64) {
        guard n.transport != .unix, let remote = n.remote, remote.port != nil else { return }
        let d = NetworkDestination(transport: n.transport, address: Self.address(remote), port: port)
        if let key = p.peers.keys.first(where: { $0.covers(d) }) {
            p.peers[key]!.record(host: hostID, at: now)
            return
        }
        p.peers[d] = Sighting(host: hostID, at: now)
        p.peers = PeerGeneralizer.union([p.peers])
    }

    /// The local address an accepted connection reached. Like peers, not counted for
    /// stability: it says where the listener answers, not what the program does.
    private func learnServedAddress(_ t: Transport, _ local: Endpoint, into p: inout Profile, now: UInt64) {
        guard t != .unix, let port = local.port, port != 0 else { return }
        let s = ListeningSocket(transport: t, address: Self.address(local), port: port)
        guard !["0.0.0.0", "::", ""].contains(s.address) else { return }
        if p.servedOn[s] == nil { p.servedOn[s] = Sighting(host: hostID, at: now) } else { p.servedOn[s]!.record(host: hostID, at: now) }
    }

    /// Notes that process `pid` is a member of workload `name` (the agent's scope decides).
    /// Not counted as new behaviour: membership is where a process runs, not what it does.
    public func noteWorkload(pid: Int32, _ name: String, now: UInt64) {
        guard let id = pidProfile[pid], var p = profiles[id] else { return }
        if p.workloads[name] == nil { p.workloads[name] = Sighting(host: hostID, at: now) } else { p.workloads[name]!.record(host: hostID, at: now) }
        profiles[id] = p
        dirty.insert(id)
    }

    static func address(_ e: Endpoint) -> String {
        if case .ipv6(let a, _) = e, let v4 = a.mappedIPv4 { return v4.description }
        return e.addressText
    }

    static func destination(_ t: Transport, _ e: Endpoint) -> NetworkDestination {
        if case .unix = e { return NetworkDestination(transport: .unix, address: e.addressText, port: 0) }
        return NetworkDestination(transport: t, address: address(e), port: e.port ?? 0)
    }

    /// What a listen (or the listener an accepted connection reached) is learned and judged
    /// as: a port the kernel picked as port 0 (``ListeningSocket/pickedPort``), any other as
    /// its number.
    static func listener(_ n: Event.Network, _ local: Endpoint) -> ListeningSocket {
        var s = socket(n.transport, local)
        if n.pickedPort && s.transport != .unix { s.port = ListeningSocket.pickedPort }
        return s
    }

    static func socket(_ t: Transport, _ e: Endpoint) -> ListeningSocket {
        if case .unix = e { return ListeningSocket(transport: .unix, address: e.addressText, port: 0) }
        return ListeningSocket(transport: t, address: address(e), port: e.port ?? 0)
    }
}

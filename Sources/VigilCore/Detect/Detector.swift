/// Compares what processes do with their learned profiles and explains every difference
/// as a ``Deviation``: detect mode's pure core.
///
/// The detector does no I/O. The caller feeds it events (with the process table's record),
/// binary hashes it computed elsewhere, and the clock. Processes are attributed to profiles
/// as the ``Learner`` does: by ``ProfileIdentity/of(executable:argv:comm:)`` at exec, a forked
/// child keeping its parent's profile until it execs.
///
/// **Once per process.** Each distinct deviation (kind and observed item) is reported once
/// per process: a loop connecting to one new address is one deviation, not thousands.
/// Novel sequences are the exception by design: each novel call counts toward the density.
///
/// **Scores** (points of risk, 0 ... 100; weights from ``Policy``):
/// - new syscall: `weights[new-syscall] + danger[name]` (ptrace, process_vm_writev, module
///   loading, bpf, the setuid family, mount, memfd_create weigh more);
/// - new sequence: `weights[new-sequence] x min(surprise, 16) / 8 x k`, where surprise is
///   the bits the profile's ``SequenceModel`` charges the call (8 is a typical novel call)
///   and `k` the novel calls of this process within the last
///   ``Policy/sequenceWindowSeconds`` (capped at ``Policy/sequenceFrameCalls``), this one
///   included. The kernel sends only novel calls, so the locality frame is measured in time:
///   ten novel calls in a burst are worth `1 + 2 + ... + 10 = 55` units, ten spread out `10`.
///   A new sequence no more surprising than the profile's calibrated threshold
///   (``SequenceCalibration`` at ``Policy/sequenceFalseAlarmRate``, when the learned data
///   resolves that rate) is normal work's expected noise: counted in
///   ``sequencesBelowThreshold``, not a deviation;
/// - new program, parent, destination, listening port, user, binary hash, unknown
///   executable, memfd exec, tamper: their weight.
public final class Detector {
    /// Replaceable (a reload): weights and ignores apply from the next event; thresholds
    /// are recalibrated when the false-alarm rate changes.
    public var policy: Policy {
        didSet { if policy.sequenceFalseAlarmRate != oldValue.sequenceFalseAlarmRate { calibrations = [:] } }
    }
    /// New sequences not reported because they were no more surprising than the profile's
    /// calibrated threshold (``Policy/sequenceFalseAlarmRate``): expected noise of normal work.
    public private(set) var sequencesBelowThreshold: UInt64 = 0
    public let parameters: SequenceModel.Parameters
    public private(set) var profiles: [String: Profile]

    /// What a live process is judged against.
    public enum Attribution: Sendable, Hashable {
        /// A loaded profile, by id.
        case profile(String)
        /// An executable no loaded profile describes.
        case unknown(path: String)
    }

    private var attribution: [Int32: Attribution] = [:]
    private var models: [String: SequenceModel] = [:]
    private var calibrations: [String: SequenceCalibration] = [:]
    private var novelTimes: [Int32: [UInt64]] = [:]
    private var reported: [Int32: Set<String>] = [:]
    private var memfdCreated: Set<Int32> = []

    private static let memfdCreate = UInt32(SyscallTable.number("memfd_create") ?? 319)
    /// Items listed in ``Deviation/expected`` at most.
    public static let expectedSample = 8

    public init(profiles: [Profile], policy: Policy = .standard, parameters: SequenceModel.Parameters = .standard) {
        self.policy = policy
        self.parameters = parameters
        self.profiles = Dictionary(profiles.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// What `pid` is judged against, if the detector knows the process.
    public func attribution(of pid: Int32) -> Attribution? { attribution[pid] }

    /// The profile id of `pid`, nil when unknown or without a profile.
    public func profileID(forPid pid: Int32) -> String? {
        if case .profile(let id)? = attribution[pid] { return id }
        return nil
    }

    /// The sequence model of a profile, built from its n-grams on first use.
    public func model(for id: String) -> SequenceModel? {
        if let m = models[id] { return m }
        guard let p = profiles[id] else { return nil }
        let m = SequenceModel(profile: p, parameters: parameters)
        models[id] = m
        return m
    }

    /// A profile's calibrated sequence threshold (``SequenceCalibration``, from its own
    /// learned n-grams, held out one occurrence at a time, for the policy's
    /// ``Policy/sequenceFalseAlarmRate``), computed on first use.
    public func calibration(for id: String) -> SequenceCalibration? {
        if let c = calibrations[id] { return c }
        guard let p = profiles[id] else { return nil }
        let rate = policy.sequenceFalseAlarmRate > 0 ? policy.sequenceFalseAlarmRate : SequenceCalibration.standardRate
        let c = SequenceCalibration(profile: p, parameters: parameters, targetRate: rate)
        calibrations[id] = c
        return c
    }

    /// Adds or replaces a profile (a promotion, a reload); its sequence model is rebuilt on use.
    public func upsert(_ profile: Profile) {
        profiles[profile.id] = profile
        models[profile.id] = nil
        calibrations[profile.id] = nil
    }

    /// Sets a profile's revision after the store saved it (the agent's background writer
    /// finished the save of a promotion): the copy judged stays equal to its file, so a
    /// reload does not count it as updated. Its model is unchanged.
    public func setRevision(_ revision: UInt64, for id: String) { profiles[id]?.revision = revision }

    /// Drops profile `id` (its file was deleted and the agent reloaded): its running
    /// processes are judged as what they now are, executables no loaded profile describes.
    public func remove(profile id: String) {
        guard let p = profiles.removeValue(forKey: id) else { return }
        models[id] = nil
        calibrations[id] = nil
        for (pid, a) in attribution where a == .profile(id) { attribution[pid] = .unknown(path: p.identity.executable) }
    }

    /// Accepts `sha256` as a binary of profile `id` from now on (a package upgrade installed
    /// it): later execs of it are not `binary-changed`.
    public func acceptBinary(_ sha256: String, profile id: String, host: String, now: UInt64) {
        profiles[id]?.binaries[sha256.lowercased()] = Sighting(firstSeen: now, lastSeen: now, hosts: [host: 1])
    }

    /// Judges `pid` against profile `id` from now on (a process whose profile left learning).
    public func adopt(pid: Int32, profile id: String) {
        attribution[pid] = .profile(id)
    }

    /// Stops judging `pid` (its new program is being learned instead).
    public func forget(pid: Int32) {
        attribution[pid] = nil
        novelTimes[pid] = nil
        reported[pid] = nil
        memfdCreated.remove(pid)
    }

    // MARK: Input

    /// Processes running before detection started (the /proc snapshot). Returns an
    /// unknown-executable deviation for each one whose program has no profile (when the
    /// policy reports those).
    public func seed(_ records: [ProcessRecord], now: UInt64) -> [Deviation] {
        var out: [Deviation] = []
        for r in records where !r.path.isEmpty { out += attach(pid: r.pid, identity: r.identity, path: r.path, now: now) }
        return out
    }

    /// Judges one event. `process` is the process table's record for the event's pid (used
    /// for processes the detector has not seen start); `binaryHash` is the SHA-256 (hex) of
    /// the executable of an exec event, when the caller has it (else see ``noteBinary(pid:sha256:now:)``).
    /// `newImageLearned`: the program an exec starts is learned, not judged (`vigil run`,
    /// a profile in learn mode); only what the exec says about the old image counts, and the
    /// detector stops following the process.
    public func apply(_ event: Event, process: ProcessRecord?, binaryHash: String? = nil, now: UInt64,
                      newImageLearned: Bool = false) -> [Deviation] {
        let pid = event.pid
        var out: [Deviation] = []
        switch event.payload {
        case .exec(let e):
            // Not from `process`: for an exec the process table already holds the new image.
            let previous = attribution[pid]
            if case .profile(let id)? = previous, let p = profiles[id], p.executes[e.path] == nil {
                out.append(make(.newExec, pid, id, e.path, expected(p.executes.keys), now: now))
            }
            if memfdCreated.contains(pid) || e.path.hasPrefix("/memfd:") {
                out.append(make(.memfdExec, pid, previous.flatMap(Self.profileID), e.path,
                                ["an executable file (memfd_create was called first)"], now: now))
            }
            memfdCreated.remove(pid)
            novelTimes[pid] = nil
            reported[pid] = nil
            if newImageLearned {
                attribution[pid] = nil
                break
            }
            // The parent that started this program: the exec'ing image's parent, else the image itself.
            let parentPath = (attribution[e.ppid]).flatMap(executable) ?? previous.flatMap(executable)
            out += attach(pid: pid, identity: ProfileIdentity.of(executable: e.executable, argv: e.argv, comm: event.comm),
                          path: e.path, now: now)
            if case .profile(let id)? = attribution[pid], let p = profiles[id] {
                if let parentPath, !p.parents.isEmpty, p.parents[parentPath] == nil {
                    out.append(make(.newParent, pid, id, parentPath, expected(p.parents.keys), now: now))
                }
                for uid in Set([e.uid, e.euid]).sorted() where !p.users.isEmpty && p.users[uid] == nil {
                    out.append(make(.newUser, pid, id, "uid \(uid)", expected(p.users.keys.map { "uid \($0)" }), now: now))
                }
                if let binaryHash { out += checkBinary(pid: pid, profile: p, sha256: binaryHash, now: now) }
            }
        case .fork(let f):
            if let a = attribution[pid] ?? process.flatMap({ attributionFromRecord($0) }) {
                attribution[pid] = a
                attribution[f.childPid] = a
            }
            if memfdCreated.contains(pid) { memfdCreated.insert(f.childPid) }
        case .exit:
            attribution[pid] = nil
            novelTimes[pid] = nil
            reported[pid] = nil
            memfdCreated.remove(pid)
        case .syscall(let s):
            guard s.number >= 0 else { break }
            let nr = UInt32(s.number)
            if nr == Self.memfdCreate { memfdCreated.insert(pid) }
            guard let (id, p) = profileOf(pid, process) else { break }
            if p.syscalls[nr] == nil { out += newSyscall(pid, id, p, nr, now: now) }
        case .novelty(let n):
            if n.syscall == Self.memfdCreate { memfdCreated.insert(pid) }
            guard let (id, p) = profileOf(pid, process) else { break }
            // The profile, not the kernel's `newSyscall` flag, decides: the kernel's copy may be stale.
            if n.syscall != NgramHash.startSymbol, p.syscalls[n.syscall] == nil {
                out += newSyscall(pid, id, p, n.syscall, now: now)
            }
            if n.calls.count == parameters.ngramLength, p.ngrams[n.hash] == nil {
                if let d = newSequence(pid, id, n.calls, now: now) { out.append(d) }
            }
        case .network(let n):
            guard let (id, p) = profileOf(pid, process) else { break }
            out += network(n, pid: pid, id: id, profile: p, now: now)
        case .file(let f):
            guard let (id, p) = profileOf(pid, process), f.path.hasPrefix("/") else { break }
            if let d = file(f, pid: pid, id: id, profile: p, now: now) { out.append(d) }
        case .tamper(let t):
            let what = switch t.kind {
            case .signal: "sent signal \(t.detail) to the Vigil agent"
            case .ptrace: "ptrace request \(t.detail) on the Vigil agent"
            case .bpfDetach: "bpf command \(t.detail) (detach)"
            }
            return [tamper(pid: pid, what: what, now: now)]
        case .action(let a):
            // The kernel reporting a response already decided; nothing to judge, except a
            // connection segmentation refused: a new destination, stopped in the kernel.
            if a.kind == .segmentDenied, let remote = a.remote, case .profile(let id)? = attribution[pid], let p = profiles[id] {
                let d = Learner.destination(a.transport ?? .tcp, remote)
                var dev = make(.newDestination, pid, id, d.description + " (refused: segmentation)",
                               expected(p.destinations.keys.sorted().map(\.description), sorted: false), now: now)
                dev.destination = d
                out.append(dev)
            }
            if a.kind == .ingressDropped, let peer = a.remote, let port = peer.port, case .profile(let id)? = attribution[pid], let p = profiles[id] {
                let d = NetworkDestination(transport: a.transport ?? .tcp, address: Learner.address(peer), port: port)
                out.append(newPeer(d, " (dropped: segmentation)", pid: pid, id: id, profile: p, now: now))
            }
            if a.kind == .bindDenied, let local = a.remote, case .profile(let id)? = attribution[pid], let p = profiles[id] {
                let s = Learner.socket(a.transport ?? .tcp, local)
                out.append(make(.newListen, pid, id, s.description + " (refused: segmentation)",
                                expected(p.listens.keys.sorted(by: ListeningSocket.byPort).map(\.description), sorted: false), now: now))
            }
        }
        return out.filter { !policy.ignores($0.kind, profile: $0.profile) && once($0) }
    }

    /// Checks the SHA-256 of `pid`'s executable, computed off the event path.
    public func noteBinary(pid: Int32, sha256: String, now: UInt64) -> [Deviation] {
        guard let id = profileID(forPid: pid), let p = profiles[id] else { return [] }
        return checkBinary(pid: pid, profile: p, sha256: sha256, now: now)
            .filter { !policy.ignores($0.kind, profile: $0.profile) && once($0) }
    }

    /// An attack on Vigil itself by `pid` (signalling or ptrace-attaching the agent,
    /// detaching its BPF programs), described by `what`. Worth ``Policy/weights``[tamper]
    /// (100 by default: straight to the top of the ladder unless capped). Never ignored,
    /// never deduplicated.
    public func tamper(pid: Int32, what: String, now: UInt64) -> Deviation {
        make(.tamper, pid, profileID(forPid: pid), what, ["no process signals, traces or detaches the Vigil agent"], now: now)
    }

    // MARK: Internals

    private static func profileID(_ a: Attribution) -> String? {
        if case .profile(let id) = a { return id }
        return nil
    }

    private func executable(_ a: Attribution) -> String? {
        switch a {
        case .profile(let id): profiles[id]?.identity.executable
        case .unknown(let path): path
        }
    }

    private func attributionFromRecord(_ r: ProcessRecord) -> Attribution? {
        guard !r.path.isEmpty else { return nil }
        let id = r.identity.id
        return profiles[id] != nil ? .profile(id) : .unknown(path: r.path)
    }

    private func attach(pid: Int32, identity: ProfileIdentity, path: String, now: UInt64) -> [Deviation] {
        if profiles[identity.id] != nil {
            attribution[pid] = .profile(identity.id)
            return []
        }
        attribution[pid] = .unknown(path: path)
        guard policy.reportUnknown else { return [] }
        return [make(.unknownExecutable, pid, nil, path, ["a loaded profile named \(identity.id)"], now: now)]
    }

    private func profileOf(_ pid: Int32, _ process: ProcessRecord?) -> (String, Profile)? {
        if attribution[pid] == nil, let r = process, let a = attributionFromRecord(r) { attribution[pid] = a }
        guard case .profile(let id)? = attribution[pid], let p = profiles[id] else { return nil }
        return (id, p)
    }

    private func checkBinary(pid: Int32, profile p: Profile, sha256: String, now: UInt64) -> [Deviation] {
        // A profile that never hashed its binary (unreadable during learning) has nothing to compare.
        guard !p.binaries.isEmpty, p.binaries[sha256.lowercased()] == nil else { return [] }
        var d = make(.binaryChanged, pid, p.id, "sha256 \(sha256.lowercased())", expected(p.binaries.keys.map { "sha256 \($0)" }), now: now)
        d.binarySHA256 = sha256.lowercased()
        return [d]
    }

    private func newSyscall(_ pid: Int32, _ id: String, _ p: Profile, _ nr: UInt32, now: UInt64) -> [Deviation] {
        let name = SyscallTable.name(Int(nr))
        let danger = policy.danger[name] ?? 0
        var d = make(.newSyscall, pid, id, name, expected(p.syscalls.keys.sorted().map { SyscallTable.name(Int($0)) }, sorted: false), now: now)
        d.score = min(100, policy.weight(.newSyscall) + danger)
        d.scoring = danger > 0 ? "weight \(policy.weight(.newSyscall).clean) + danger \(name) \(danger.clean)"
                               : "weight \(policy.weight(.newSyscall).clean)"
        return [d]
    }

    /// A new sequence's deviation, or nil when the calibration calls it normal noise: no
    /// more surprising than the profile's held-out normal work at the policy's
    /// false-alarm rate. A gated call does not add to the burst density either.
    private func newSequence(_ pid: Int32, _ id: String, _ calls: [UInt32], now: UInt64) -> Deviation? {
        let bits = model(for: id)?.surprise(ofNgram: calls) ?? SequenceModel.novelSymbolBits
        let calibration = calibration(for: id)
        if policy.sequenceFalseAlarmRate > 0, let c = calibration, c.resolvesTarget, bits <= c.thresholdBits {
            sequencesBelowThreshold += 1
            return nil
        }
        let window = UInt64(policy.sequenceWindowSeconds * 1e9)
        var times = novelTimes[pid] ?? []
        times.removeAll { now &- $0 >= window || $0 > now }
        times.append(now)
        if times.count > policy.sequenceFrameCalls { times.removeFirst(times.count - policy.sequenceFrameCalls) }
        novelTimes[pid] = times
        let k = Double(times.count)
        let factor = min(bits, 16) / 8
        let w = policy.weight(.newSequence)
        let names = calls.map { $0 == NgramHash.startSymbol ? "^" : SyscallTable.name(Int($0)) }.joined(separator: " ")
        var d = make(.newSequence, pid, id, names, ["\(profiles[id]?.ngrams.count ?? 0) learned \(parameters.ngramLength)-call sequences"], now: now)
        d.score = min(100, w * factor * k)
        d.scoring = "weight \(w.clean) x surprise \(String(format2: bits)) bits / 8 x density \(Int(k)) novel calls within \(policy.sequenceWindowSeconds.clean) s"
        if let c = calibration {
            d.sequence = .init(surpriseBits: bits, thresholdBits: c.thresholdBits, targetRate: c.targetRate,
                               expectedNovelRate: c.expectedNovelRate, expectedRateAboveThreshold: c.expectedRateAboveThreshold)
            d.scoring += "; threshold \(String(format2: c.thresholdBits)) bits (\(d.sequence!.aboveThreshold ? "above" : "not above") it)"
            d.expected.append("new sequences on held-out normal work: \(Self.perMillion(c.expectedNovelRate)) per 10^6 calls, "
                + "above the threshold \(Self.perMillion(c.expectedRateAboveThreshold)) (target \(Self.perMillion(c.targetRate)))")
        }
        return d
    }

    private static func perMillion(_ rate: Double) -> String { String(format2: rate * 1e6) }

    private func network(_ n: Event.Network, pid: Int32, id: String, profile p: Profile, now: UInt64) -> [Deviation] {
        switch n.operation {
        case .connect:
            guard n.succeeded || n.inProgress, !n.ownSocket, let remote = n.remote else { return [] }
            let d = Learner.destination(n.transport, remote)
            if p.destinations.keys.contains(where: { $0.covers(d) }) { return [] }
            var dev = make(.newDestination, pid, id, d.description, expected(p.destinations.keys.sorted().map(\.description), sorted: false), now: now)
            dev.destination = d
            return [dev]
        case .listen, .bind:
            guard n.succeeded, let local = n.local else { return [] }
            if n.operation == .bind && (n.transport != .udp || (local.port ?? 0) == 0) { return [] }
            let s = n.operation == .listen ? Learner.listener(n, local) : Learner.socket(n.transport, local)
            // Matched on transport and port (and path for unix): the bind address of a server
            // often differs between hosts or restarts (wildcard vs. a specific address).
            if p.listens.keys.contains(where: { $0.transport == s.transport && $0.port == s.port && (s.transport != .unix || $0.address == s.address) }) {
                return []
            }
            return [make(.newListen, pid, id, s.description, expected(p.listens.keys.sorted(by: ListeningSocket.byPort).map(\.description), sorted: false), now: now)]
        case .accept:
            guard n.succeeded, let remote = n.remote, n.transport != .unix, let local = n.local, local.port != nil else { return [] }
            let d = NetworkDestination(transport: n.transport, address: Learner.address(remote), port: Learner.listener(n, local).port)
            if p.peers.keys.contains(where: { $0.covers(d) }) { return [] }
            return [newPeer(d, "", pid: pid, id: id, profile: p, now: now)]
        }
    }

    /// A peer `d` (port: the local one) the profile's listeners never accepted.
    private func newPeer(_ d: NetworkDestination, _ note: String, pid: Int32, id: String, profile p: Profile, now: UInt64) -> Deviation {
        let observed = "\(d.transport.rawValue) from \(d.address) to port \(d.port)" + note
        let learned = p.peers.keys.filter { $0.transport == d.transport && $0.port == d.port }.sorted().map(\.address)
        return make(.newPeer, pid, id, observed, expected(learned.isEmpty ? ["no peer on port \(d.port)"] : learned, sorted: false), now: now)
    }

    private func make(_ kind: Deviation.Kind, _ pid: Int32, _ profile: String?, _ observed: String, _ expected: [String], now: UInt64) -> Deviation {
        let w = min(100, policy.weight(kind))
        return Deviation(kind: kind, pid: pid, profile: profile, observed: observed, expected: expected, score: w,
                         scoring: "weight \(w.clean)", timeNanos: now)
    }

    /// A file operation its profile does not hold: a write into a directory no write entry
    /// covers, an executable mapping of a file never mapped, a read of a sensitive file
    /// never read. A profile that learned nothing of a kind (learned before files were
    /// captured) is not judged on it, as with parents and users.
    private func file(_ f: Event.FileAccess, pid: Int32, id: String, profile p: Profile, now: UInt64) -> Deviation? {
        let kind: Deviation.Kind
        var nearest: String?
        var highRisk = false
        var sample: [String]
        switch f.operation {
        case .write:
            let dir = FileRules.directory(of: f.path)
            guard !p.writes.isEmpty, !FileRules.covers(p.writes.keys, directory: dir) else { return nil }
            kind = .newWritePath
            nearest = FileRules.nearest(p.writes.keys, to: dir)
            // Making a file executable where the service never writes is concrete.
            highRisk = f.via == .chmodExec || FileRules.isHighRiskWrite(directory: dir)
            sample = Array(Set(p.writes.keys.map { e in
                let (d, below) = FileRules.entryDirectory(e)
                return below ? d + "/**" : d + "/"
            }))
        case .mapExec:
            guard !p.maps.isEmpty, p.maps[FileRules.exactEntry(f.path)] == nil else { return nil }
            kind = .newCodeMapping
            nearest = FileRules.nearest(p.maps.keys.map { $0 }, to: FileRules.directory(of: f.path)).map { String($0.dropLast()) + "/" }
            highRisk = FileRules.isWorldWritable(path: f.path)
            sample = Array(p.maps.keys)
        case .readSensitive:
            guard FileRules.isSensitive(f.path, patterns: policy.sensitiveFiles), p.sensitiveReads[FileRules.exactEntry(f.path)] == nil else { return nil }
            kind = .sensitiveRead
            highRisk = true
            sample = Array(p.sensitiveReads.keys)
        }
        let how = switch f.via {
        case .open: ""
        case .rename: " (rename target)"
        case .link: " (link)"
        case .unlink: " (unlink)"
        case .chmodExec: " (chmod +x)"
        }
        var d = make(kind, pid, id, f.path + how, expected(sample), now: now)
        if highRisk, kind != .sensitiveRead, policy.highRiskFileBonus > 0 {
            let w = min(100, policy.weight(kind) + policy.highRiskFileBonus)
            d.score = w
            d.scoring = "weight \(policy.weight(kind).clean) + high-risk place \(policy.highRiskFileBonus.clean)"
        }
        d.filePath = f.path
        d.nearestPrefix = nearest
        d.highRisk = highRisk
        if let nearest { d.expected.insert("nearest learned: \(nearest)", at: 0) }
        return d
    }

    /// A sorted sample of what the baseline holds, with a count of the rest.
    private func expected(_ items: some Sequence<String>, sorted: Bool = true) -> [String] {
        let all = sorted ? items.sorted() : Array(items)
        guard all.count > Self.expectedSample else { return all }
        return Array(all.prefix(Self.expectedSample)) + ["and \(all.count - Self.expectedSample) more"]
    }

    /// True the first time a process shows this deviation (novel sequences always).
    private func once(_ d: Deviation) -> Bool {
        if d.kind == .newSequence || d.kind == .tamper { return true }
        return reported[d.pid, default: []].insert("\(d.kind.rawValue)\u{0}\(d.observed)").inserted
    }
}

extension String {
    /// A number with two decimals.
    init(format2 v: Double) {
        let r = (v * 100).rounded() / 100
        self = r == r.rounded() ? String(Int(r)) : String(r)
    }
}

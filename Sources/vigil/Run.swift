import ArgumentParser
import Foundation
import VigilCore
import VigilOutput
import VigilSensor

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run Vigil as a service: learn, monitor and enforce per profile, from one configuration file (needs root).",
        discussion: """
        Everything the other commands take (models, policy, outputs, spool, metrics) comes \
        from one YAML file; examples/vigil.yaml documents every key. Each profile has its \
        own mode: programs Vigil has not seen start in learn (or monitor, as configured), and \
        a profile moves learn -> monitor once it has been stable (the statistic `vigil learn` \
        reports) for promotion.stable-seconds, and monitor -> enforce after \
        promotion.quiet-seconds without a deviation. Every move is an event and a metric; \
        modes survive restarts (<state>/modes.json). `mode: learn|monitor|enforce` fixes \
        every profile's mode instead.

        Signals:
          SIGHUP   reload configuration, policy and baselines (what a baseline
                   no longer holds is new again, in the kernel too); a file
                   that does not load is refused and reported, and what runs
                   stays
          SIGTERM  stop: probes detached, learning profiles saved, outputs
                   flushed
          SIGINT   the same

        `vigil status` reads the metrics endpoint (metrics.listen) and prints it for a \
        person. deploy/vigil.service runs this command under systemd.

        Examples:
          sudo vigil run --config examples/vigil.yaml
          sudo vigil run --config /etc/vigil/vigil.yaml --check
        """
    )

    @Option(help: ArgumentHelp("The configuration file (YAML).", valueName: "FILE"))
    var config: String

    @Flag(help: "Validate the configuration and the policy it names, then exit (0: valid, 2: not).")
    var check = false

    @Flag(help: "Also print each finding and response step as one readable line on stderr.")
    var explain = false

    func run() throws {
        let loaded: LoadedConfig
        do { loaded = try LoadedConfig.load(config) } catch {
            Diagnostics.error(error.description)
            throw ExitCode(2)
        }
        if check {
            Console.line("\(config): valid (models \(loaded.config.models), policy \(loaded.config.policy ?? "built-in"), \(loaded.config.outputs.count) outputs)")
            return
        }
        try Agent(configPath: config, loaded: loaded, explain: explain).run()
    }
}

/// A configuration with the policy it names, both read and validated.
struct LoadedConfig {
    var config: RunConfig
    var policy: Policy

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Reads and checks `path` and its policy: permissions, syntax, values.
    static func load(_ path: String) throws(Failure) -> LoadedConfig {
        let config: RunConfig
        do {
            try refuseWritableByOthers(path, what: "configuration")
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw Failure(description: "cannot read the configuration \(path): \(String(cString: strerror(errno)))")
            }
            config = try RunConfig.load(yaml: text, file: path) { spec in _ = try OutputSpec.parse(spec) }
        } catch let e as Failure {
            throw e
        } catch {
            throw Failure(description: "invalid configuration: \(error)")
        }
        return LoadedConfig(config: config, policy: try config.policy.map(loadPolicy) ?? .standard)
    }

    /// Reads and checks a policy file: permissions, syntax, values (`vigil monitor`,
    /// `enforce` and `run` alike).
    static func loadPolicy(_ file: String) throws(Failure) -> Policy {
        try refuseWritableByOthers(file, what: "policy")
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw Failure(description: "cannot read the policy \(file): \(String(cString: strerror(errno)))")
        }
        do { return try Policy.load(yaml: text, file: file) } catch {
            throw Failure(description: "invalid policy: \(error)")
        }
    }

    private static func refuseWritableByOthers(_ path: String, what: String) throws(Failure) {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw Failure(description: "cannot read the \(what) \(path): \(String(cString: strerror(errno)))")
        }
        if st.st_mode & 0o022 != 0 {
            throw Failure(description: "the \(what) \(path) is writable by users other than its owner; refusing to load it. Fix: chmod go-w \(path)")
        }
    }
}

/// SIGHUP asks the loop to reload.
final class ReloadSignal: @unchecked Sendable {
    private var source: (any DispatchSourceSignal)?
    private let flag = UnsafeMutablePointer<sig_atomic_t>.allocate(capacity: 1)

    init() {
        flag.pointee = 0
        signal(SIGHUP, SIG_IGN)
        let src = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        src.setEventHandler { [flag] in flag.pointee = 1 }
        src.resume()
        source = src
    }

    /// Whether a reload was asked for since the last call.
    func take() -> Bool {
        guard flag.pointee != 0 else { return false }
        flag.pointee = 0
        return true
    }
}

/// `vigil run`: one sensor; each profile learning, monitored or enforced by its mode.
///
/// Events of a process whose profile learns go to the ``Learner``; the others to the
/// ``Detector`` and the ``Responder``. Both see every exec, fork and exit so that each
/// knows which processes are its own. The kernel's profile slots are the learner's (one
/// numbering for all modes), and each slot's mode tells the kernel what a new n-gram does.
final class Agent {
    let configPath: String
    private(set) var config: RunConfig
    private var policy: Policy
    let explain: Bool

    init(configPath: String, loaded: LoadedConfig, explain: Bool) {
        self.configPath = configPath
        config = loaded.config
        policy = loaded.policy
        self.explain = explain
    }

    private var modesFile: String { config.state + "/modes.json" }

    func run() throws {
        try ModelsDirectory.prepare(config.models)
        try ModelsDirectory.prepare(config.state)
        let store = ProfileStore(directory: config.models)
        let (profiles, errors) = store.loadAll()
        for e in errors { Diagnostics.warning("refused \(e); it will not be overwritten") }
        var refused = Set(errors.map { (($0.file as NSString).lastPathComponent as NSString).deletingPathExtension })

        var modes = ProfileModes(policy: config.effectivePromotion)
        if let data = FileManager.default.contents(atPath: modesFile) {
            do { modes = try ProfileModes.decode(Array(data), policy: config.effectivePromotion) } catch {
                Diagnostics.error("cannot read \(modesFile): \(error). Fix or remove it (every profile then starts in its configured mode)")
                throw ExitCode(2)
            }
        }

        let encoder = OCSFEncoder(productVersion: VigilVersion.string)
        var stream: EventStream
        do {
            stream = try EventStream(outputs: config.outputs, spoolDirectory: config.spoolDirectory, encoder: encoder)
        } catch {
            Diagnostics.error("cannot open the outputs: \(error)")
            throw ExitCode(2)
        }
        var metricsServer: MetricsServer?
        if let listen = config.metricsListen {
            do { metricsServer = try MetricsServer(listen: listen) } catch {
                Diagnostics.error("\(error)")
                stream.close()
                throw ExitCode.failure
            }
        }

        let stop = StopSignal.install()
        let reload = ReloadSignal()
        var sensorOptions = SensorOptions()
        sensorOptions.mode = .detect
        sensorOptions.execGuard = true
        sensorOptions.sizeKnownMaps(for: profiles)
        let sensor = try Sensor.start(sensorOptions) { stream.close() }
        if config.bpfRunTime {
            do { try sensor.enableRunTimeStats() } catch { Diagnostics.warning("per-program BPF run time unavailable: \(error)") }
        }

        let now0 = Clock.nowNanos()
        let hasher = BackgroundHasher()
        let learner = Learner(hostID: ProcessInfo.processInfo.hostName, policy: config.stability, profiles: profiles, now: now0,
                              binaryHash: { hasher.cachedOrSchedule(path: $0) })
        var changes: [ModeChange] = []
        for p in profiles.sorted(by: { $0.id < $1.id }) {
            if let c = modes.register(p.id, created: false, now: now0) { changes.append(c) }
        }
        changes += applyOverrides(&modes, ids: profiles.map(\.id), learner: learner, now: now0)

        let detector = Detector(profiles: profiles.filter { modes.mode(of: $0.id) != .learn }, policy: policy)
        var table = ProcessTable(seed: ProcScanner.snapshot(nowNanos: now0))
        let responder = Responder(detector: detector, policy: policy, defaultMode: .monitor, sensor: sensor, stream: stream,
                                  explain: explain, process: { table[$0] }, ancestry: { table.ancestry(of: $0) })
        responder.modeOf = { id in id.flatMap { modes.mode(of: $0) } == .enforce ? .enforce : .monitor }
        responder.onDeviation = { d in if let id = d.profile { modes.noteDeviation(id, now: d.timeNanos) } }

        // The kernel's copy: every profile's known syscalls and n-grams, its slot's mode, and
        // every executable some profile knows.
        var inKernel: Set<String> = []
        var knownExecutables: Set<String> = []
        func loadIntoKernel(_ id: String) {
            guard let mode = modes.mode(of: id) else { return }
            let slot = learner.profileSlot(for: id)
            do {
                try sensor.setSlotMode(slot, mode)
                if inKernel.insert(id).inserted {
                    try sensor.preload(slot: slot, syscalls: learner.knownSyscalls(id), ngrams: learner.knownNgramHashes(id))
                }
            } catch {
                Diagnostics.warning("could not load profile \(id) into the kernel: \(error)")
            }
            if let p = learner.profiles[id] {
                let fresh = Set([p.identity.executable]).union(p.executes.keys).subtracting(knownExecutables)
                if !fresh.isEmpty {
                    knownExecutables.formUnion(fresh)
                    try? sensor.setKnownExecutables(fresh)
                }
            }
        }
        for id in learner.profiles.keys.sorted() { loadIntoKernel(id) }

        let onlyPaths = Set(config.only)
        /// Whether a new program is learned: its profile learns, or it has none and new ones learn.
        func learns(_ path: String, _ argv: [String]) -> Bool {
            let id = ProfileIdentity.resolve(path: path, argv: argv).id
            if let mode = modes.mode(of: id) { return mode == .learn }
            // Pinned to monitor or enforce with no baseline yet: an unknown executable.
            if let pinned = self.pinnedMode(id: id, path: path) { return pinned == .learn }
            guard modes.policy.newExecutables == .learn else { return false }
            return onlyPaths.isEmpty || onlyPaths.contains(path)
        }
        /// Gives `pid` its slot in the kernel: its learning profile, its watched profile, or none.
        func attach(_ pid: Int32) {
            var id = learner.profileID(forPid: pid)
            if id == nil, case .profile(let d)? = detector.attribution(of: pid) { id = d }
            guard let id else {
                try? sensor.assignProfile(pid: pid, slot: 0)
                return
            }
            if modes.mode(of: id) == nil, let c = modes.register(id, created: true, now: Clock.nowNanos()) {
                changes.append(c)
                if self.pinnedMode(id: id, path: learner.profiles[id]?.identity.executable) != nil { modes.pinned.insert(id) }
            }
            loadIntoKernel(id)
            try? sensor.assignProfile(pid: pid, slot: learner.profileSlot(for: id))
        }

        // Processes already running: attributed, not judged.
        let seeded = table.records.filter { $0.pid != getpid() && !$0.path.isEmpty }
        var toLearn: [ProcessRecord] = [], toWatch: [ProcessRecord] = []
        for r in seeded {
            if learns(r.path, r.argv) { toLearn.append(r) } else { toWatch.append(r) }
        }
        learner.seed(toLearn, now: now0)
        _ = detector.seed(toWatch, now: now0)
        for r in seeded { attach(r.pid) }

        var metrics = AgentMetrics()
        metrics.mode = "run"
        metrics.version = VigilVersion.string
        stream.publish(AgentEvent(.started(mode: "run"), timeNanos: now0))
        Diagnostics.info("run: \(profiles.count) baselines loaded; profiles \(Self.summary(modes)); \(seeded.count) processes running; policy \(config.policy ?? "built-in")"
            + (metricsServer.map { "; metrics on http://\($0.address)/metrics" } ?? ""))

        func publish(_ c: ModeChange) {
            stream.publish(AgentEvent(.modeChanged(profile: c.profile, from: c.from?.rawValue, to: c.to.rawValue, reason: c.reason), timeNanos: c.timeNanos))
            if let from = c.from {
                metrics.promotions[AgentMetrics.PromotionKey(from: from.rawValue, to: c.to.rawValue), default: 0] += 1
                Diagnostics.info("profile \(c.profile): \(from.rawValue) -> \(c.to.rawValue) (\(c.reason))")
            }
        }

        /// Moves a profile's processes between the learner and the detector after a mode change.
        func apply(_ c: ModeChange) {
            let id = c.profile
            if c.from == .learn || c.from == nil, c.to != .learn, learner.profiles[id] != nil {
                // Leaving learning: what the kernel counted is folded in, the baseline saved,
                // and the detector takes over its processes.
                learner.absorbKernelCounts(from: sensor, ids: [id], now: Clock.nowNanos())
                learner.save(id, to: store, refused: refused)
                detector.upsert(learner.profiles[id]!)
                for pid in learner.pids(of: id) {
                    learner.release(pid: pid)
                    detector.adopt(pid: pid, profile: id)
                }
            } else if c.to == .learn, let from = c.from, from != .learn {
                // Back to learning (an operator's `modes:`): the learner takes its processes.
                let running = table.records.filter { detector.profileID(forPid: $0.pid) == id }
                for r in running { detector.forget(pid: r.pid) }
                learner.seed(running, now: c.timeNanos)
            }
            loadIntoKernel(id)
        }

        func saveLearning(final: Bool) {
            // Only learning profiles are written: the learner's copy of a watched one may
            // have taken in what its processes did before promotion was complete.
            let learning = learner.profiles.keys.filter { modes.mode(of: $0) == .learn }
            learner.absorbAndSave(ids: learning, sensor: sensor, store: store, hasher: hasher, refused: refused, final: final)
            do { try modes.save(to: modesFile) } catch { Diagnostics.error("saving \(modesFile): \(error)") }
        }

        func reloadNow() {
            let t = Clock.nowNanos()
            let next: LoadedConfig
            do { next = try LoadedConfig.load(configPath) } catch {
                refuse(error.description)
                return
            }
            var restartOnly: [String] = []
            if next.config.models != config.models { restartOnly.append("models") }
            if next.config.state != config.state { restartOnly.append("state") }
            if next.config.spool != config.spool { restartOnly.append("spool") }
            if next.config.metricsListen != config.metricsListen { restartOnly.append("metrics.listen") }
            if next.config.stability != config.stability || next.config.only != config.only { restartOnly.append("learn") }
            if next.config.duration != config.duration { restartOnly.append("duration") }
            var newStream: EventStream?
            if next.config.outputs != config.outputs {
                do {
                    newStream = try EventStream(outputs: next.config.outputs, spoolDirectory: config.spoolDirectory, encoder: encoder)
                } catch {
                    refuse("cannot open the outputs: \(error)")
                    return
                }
            }
            // Everything checked: apply.
            if let newStream {
                stream.close()
                stream = newStream
                responder.stream = newStream
            }
            policy = next.policy
            responder.setPolicy(next.policy)
            config.policy = next.config.policy
            config.outputs = next.config.outputs
            config.events = next.config.events
            config.promotion = next.config.promotion
            config.modes = next.config.modes
            config.mode = next.config.mode
            modes.policy = next.config.effectivePromotion
            var changed = applyOverrides(&modes, ids: Array(learner.profiles.keys), learner: learner, now: t)
            // Baselines edited or added on disk (reviewed, merged) replace the watched copies.
            let (fresh, errs) = store.loadAll()
            for e in errs { Diagnostics.warning("reload: refused \(e)") }
            refused = Set(errs.map { (($0.file as NSString).lastPathComponent as NSString).deletingPathExtension })
            var updated = 0
            var kernelCopies: [UInt32: (syscalls: Set<UInt32>, ngrams: Set<UInt64>)] = [:]
            for p in fresh {
                if learner.profiles[p.id] == nil {
                    learner.add(p, now: t)
                    if let c = modes.register(p.id, created: false, now: t) { changed.append(c) }
                }
                guard modes.mode(of: p.id) != .learn else { continue }
                // Any difference in the file counts, not only a new revision (a hand-edited
                // file keeps its); compared as encoded, so fields a file does not hold do not.
                if detector.profiles[p.id].map(ProfileCodec.encode) != ProfileCodec.encode(p) {
                    detector.upsert(p)
                    kernelCopies[learner.profileSlot(for: p.id)] = (Set(p.syscalls.keys), Set(p.ngrams.keys))
                    inKernel.insert(p.id)
                    updated += 1
                }
            }
            do { try sensor.replaceKnown(kernelCopies) } catch {
                Diagnostics.warning("reload: could not load the updated baselines into the kernel: \(error)")
            }
            for c in changed {
                apply(c)
                publish(c)
            }
            metrics.reloads["ok", default: 0] += 1
            metrics.lastReloadSucceeded = true
            var detail = "policy \(config.policy ?? "built-in"), \(config.outputs.count) outputs, \(updated) baselines updated"
            if !restartOnly.isEmpty { detail += "; changes to \(restartOnly.joined(separator: ", ")) take effect at restart" }
            stream.publish(AgentEvent(.reloaded(detail: detail), timeNanos: t))
            Diagnostics.info("reloaded \(configPath): \(detail)")
        }

        func refuse(_ reason: String) {
            metrics.reloads["refused", default: 0] += 1
            metrics.lastReloadSucceeded = false
            stream.publish(AgentEvent(.reloadRefused(reason: reason), timeNanos: Clock.nowNanos()))
            Diagnostics.error("reload refused, the running configuration stays: \(reason)")
        }

        func updateMetrics() {
            guard let server = metricsServer else { return }
            let t = Clock.nowNanos()
            let stats = sensor.stats
            metrics.eventsByKind = Dictionary(uniqueKeysWithValues: Event.Kind.allCases.map { ($0.rawValue, stats.kernelEmitted[$0] ?? 0) })
            metrics.kernelDropsByKind = Dictionary(uniqueKeysWithValues: Event.Kind.allCases.map { ($0.rawValue, stats.kernelDrops[$0] ?? 0) })
            metrics.findingsByKind = responder.findingsByKind
            metrics.findingsSuppressed = UInt64(stream.suppressedFindings)
            metrics.actions = responder.actionCounts
            var byState: [AgentMetrics.ProfileStateKey: Int] = [:]
            for (id, r) in modes.records {
                let state = (learner.stability(id, now: t)?.state ?? .learning).rawValue
                byState[AgentMetrics.ProfileStateKey(mode: r.mode.rawValue, state: state), default: 0] += 1
            }
            metrics.profiles = byState
            let fill = sensor.ringBufferFill
            metrics.ringBufferUsedBytes = fill.used
            metrics.ringBufferSizeBytes = fill.size
            metrics.programs = sensor.programStats()
            metrics.runTimeStatsEnabled = sensor.runTimeStatsEnabled
            metrics.sinks = stream.stats
            metrics.processesTracked = table.records.count
            metrics.uptimeSeconds = Double(t - now0) / 1e9
            server.update(metrics.families())
        }

        for c in changes {
            apply(c)
            publish(c)
        }
        changes.removeAll()
        updateMetrics()

        /// The learning profile a novelty belongs to: its process's, or its slot's when that
        /// slot learns.
        func learningProfile(_ pid: Int32, slot: UInt32) -> String? {
            if let id = learner.profileID(forPid: pid) { return id }
            guard slot != 0, let id = learner.profileID(forSlot: slot), modes.mode(of: id) == .learn else { return nil }
            return id
        }

        var pendingHashes: [String: [Int32]] = [:]
        let handle: (Event) -> Void = { event in
            let now = Clock.nowNanos()
            let record = table.apply(event)
            if self.config.events { stream.publish(event, process: record, ancestry: table.ancestry(of: event.pid)) }
            let pid = event.pid
            switch event.payload {
            case .exec(let x):
                let hash = hasher.cachedOrSchedule(path: x.path)
                if learns(x.path, x.argv) {
                    // The detector still judges the exec against the old image's profile (a
                    // watched program starting something); the new image is learned, not judged.
                    responder.add(detector.apply(event, process: record, now: now, newImageLearned: true), pid: pid, seen: event.timeNanos)
                    learner.apply(event, process: record, now: now)
                } else {
                    learner.noteUnlearnedExec(pid: pid, path: x.path, at: event.timeNanos, now: now)
                    if hash == nil { pendingHashes[x.path, default: []].append(pid) }
                    responder.add(detector.apply(event, process: record, binaryHash: hash, now: now), pid: pid, seen: event.timeNanos)
                }
                attach(pid)
                responder.chapter(now: now, exec: pid)
            case .fork(let f):
                if learner.profileID(forPid: pid) != nil { learner.apply(event, process: record, now: now) }
                responder.add(detector.apply(event, process: record, now: now), pid: pid, seen: event.timeNanos)
                responder.fork(parent: pid, child: f.childPid, now: now)
            case .exit:
                if learner.profileID(forPid: pid) != nil { learner.apply(event, process: record, now: now) }
                responder.add(detector.apply(event, process: record, now: now), pid: pid, seen: event.timeNanos)
                responder.exit(pid, now: now)
            case .action(let a):
                if self.explain { Diagnostics.raw(EventFormatter.kernelAction(a, pid: pid)) }
                responder.add(detector.apply(event, process: record, now: now), pid: pid, seen: event.timeNanos)
            case .tamper:
                responder.add(detector.apply(event, process: record, now: now), pid: pid, seen: event.timeNanos)
                responder.chapter(now: now)
            case .novelty(let n):
                if let id = learningProfile(pid, slot: n.profileSlot) {
                    learner.apply(event, process: record, now: now)
                    if n.profileSlot == 0 {
                        // Reported while the process was pending: teach the kernel, so the
                        // profile's other processes do not report it again.
                        try? sensor.preload(slot: learner.profileSlot(for: id), syscalls: [n.syscall], ngrams: [n.hash])
                    }
                } else {
                    responder.add(detector.apply(event, process: record, now: now), pid: pid, seen: event.timeNanos)
                }
            case .syscall, .network:
                if learner.profileID(forPid: pid) != nil {
                    learner.apply(event, process: record, now: now)
                } else {
                    responder.add(detector.apply(event, process: record, now: now), pid: pid, seen: event.timeNanos)
                }
            }
        }

        let loop = SensorLoop(sensor: sensor, stop: stop, duration: config.duration)
        var nextSecond = DispatchTime.now().uptimeNanoseconds + 1_000_000_000
        var nextSave = DispatchTime.now().uptimeNanoseconds + UInt64(config.saveIntervalSeconds * 1e9)
        var failure: (any Error)?
        do {
            try loop.run(handle, afterRead: {
                let now = Clock.nowNanos()
                for (path, sha) in hasher.completed() {
                    learner.noteBinary(path: path, sha256: sha, now: now)
                    for pid in pendingHashes.removeValue(forKey: path) ?? [] {
                        responder.judge(detector.noteBinary(pid: pid, sha256: sha, now: now), pid: pid, now: now)
                    }
                }
                responder.tick(now: now)
                for c in changes {
                    apply(c)
                    publish(c)
                }
                changes.removeAll()
                let clock = DispatchTime.now().uptimeNanoseconds
                if reload.take() { reloadNow() }
                if clock >= nextSave {
                    saveLearning(final: false)
                    nextSave = clock + UInt64(config.saveIntervalSeconds * 1e9)
                }
                if clock >= nextSecond {
                    nextSecond = clock + 1_000_000_000
                    let due = modes.tick(now: now) { id in learner.stability(id, now: now)?.state }
                    if !due.isEmpty {
                        for c in due {
                            apply(c)
                            publish(c)
                        }
                        do { try modes.save(to: modesFile) } catch { Diagnostics.error("saving \(modesFile): \(error)") }
                    }
                    stream.reportSuppressed(now: now)
                    updateMetrics()
                }
            }, dropped: { dropped in
                let t = Clock.nowNanos()
                learner.noteDrops(dropped, now: t)
                stream.publish(AgentEvent(.loss(source: "kernel-ringbuf", count: Int(dropped)), timeNanos: t))
                Diagnostics.warning("the kernel dropped \(dropped) events (ring buffer full); learning profiles cannot become stable on this window")
            })
        } catch {
            failure = error
        }
        // Graceful stop: probes off first (nothing new arrives), then everything saved and flushed.
        sensor.detach()
        responder.finish()
        saveLearning(final: true)
        updateMetrics()
        metricsServer?.stop()
        stream.publish(AgentEvent(.stopped(reason: loop.stopReason), timeNanos: Clock.nowNanos()))
        stream.close()
        Diagnostics.info("stopped: \(Self.summary(modes)); " + StatsReport.summary(sensor.stats).replacingOccurrences(of: "stopped: ", with: ""))
        if let failure {
            Diagnostics.error("reading events failed: \(failure)")
            throw ExitCode.failure
        }
    }

    /// The configuration's `modes:` (by profile id or executable path) over promotion.
    private func applyOverrides(_ modes: inout ProfileModes, ids: [String], learner: Learner, now: UInt64) -> [ModeChange] {
        var out: [ModeChange] = []
        for id in ids.sorted() {
            guard let wanted = pinnedMode(id: id, path: learner.profiles[id]?.identity.executable) else {
                modes.pinned.remove(id)
                continue
            }
            modes.pinned.insert(id)
            if let c = modes.set(id, wanted, reason: "set in \(configPath)", now: now) { out.append(c) }
        }
        return out
    }

    /// The mode the configuration fixes for a profile (`modes:` by id or path, or `mode:`).
    private func pinnedMode(id: String, path: String?) -> ProfileMode? {
        config.modes[id] ?? path.flatMap { config.modes[$0] } ?? config.mode
    }

    private static func summary(_ modes: ProfileModes) -> String {
        let counts = Dictionary(grouping: modes.records.values, by: \.mode).mapValues(\.count)
        return ProfileMode.allCases.map { "\(counts[$0] ?? 0) \($0.rawValue)" }.joined(separator: ", ")
    }
}

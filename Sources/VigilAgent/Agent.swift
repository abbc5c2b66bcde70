import Foundation
public import VigilCore
public import VigilOutput
import VigilSensor

/// The one agent pipeline: kernel events -> process table -> learner | detector ->
/// responder -> outputs. `vigil learn`, `monitor`, `enforce` and `run` all run it; they
/// differ only in their ``AgentConfiguration``.
///
/// Each profile has a mode. Events of a process whose profile learns go to the ``Learner``;
/// the others to the ``Detector`` and the ``Responder``. Both see every exec, fork and exit
/// so that each knows which processes are its own. The kernel's profile slots are the
/// learner's (one numbering for every mode), and each slot's mode tells the kernel what a
/// new n-gram does.
///
/// The agent talks to the kernel through ``KernelControl`` and reads time from an
/// ``AgentClock``, so a fake kernel and a manual clock drive it in unit tests:
///
/// ```swift
/// let agent = try Agent(configuration: c, baselines: b, kernel: fake, stream: stream, clock: clock)
/// agent.start(running: [])
/// agent.handle(event)
/// agent.afterRead()
/// agent.stop(reason: "signal")
/// ```
public final class Agent {
    public private(set) var configuration: AgentConfiguration
    private var config: RunConfig { configuration.run }
    let kernel: any KernelControl
    let clock: any AgentClock
    public private(set) var stream: EventStream
    private let metricsServer: MetricsServer?

    let store: ProfileStore
    /// Writes the periodic saves off the loop; the final save at stop waits for it.
    private let writer: ProfileWriter
    /// Profiles the writer wrote since the last progress report, and whether it finished any.
    private var savedSinceReport: (wrote: Int, any: Bool) = (0, false)
    private var refused: Set<String>
    /// Baselines that cannot be used, by profile id (``Baselines/bad``): their programs and
    /// the workloads they run in are judged in monitor mode.
    public private(set) var badBaselines: [String: BadBaseline] = [:]
    /// Baselines a reload refused, with the error reported (each reported once while it lasts).
    private var reportedUnusable: [String: String] = [:]
    private(set) var modes: ProfileModes
    let learner: Learner
    let detector: Detector
    private(set) var table: ProcessTable
    let responder: Responder
    let scope: WorkloadScope
    private let hasher: BackgroundHasher
    private let progress: LearnProgress?

    private var inKernel: Set<String> = []
    /// The profiles whose slot the kernel names at exec itself (vg_exec_slots).
    private var execSlots = ExecSlotTable()
    /// Whether a full vg_exec_slots was reported (once; the metric keeps counting).
    private var reportedExecSlotsFull = false
    /// Keys the table holds as published that the kernel refused (full): tried again when
    /// their profile is published again, not counted as published meanwhile.
    private var refusedExecSlots: Set<ExecSlotKey> = []
    /// Executables the kernel names at exec now.
    private var publishedExecSlots: Int { execSlots.published - refusedExecSlots.count }
    /// Each process's last exec as the kernel counted it (Event.Exec.execSeq), named when its
    /// profile is assigned.
    private var execSeqs: [Int32: UInt32] = [:]
    /// Where each process stands for the kernel's responses, as last written (children
    /// inherit the kernel's copy at fork, so this follows without writing).
    private var membership: [Int32: Sensor.Membership] = [:]
    /// Whether the ingress gate is attached (nil: not asked for yet; false: refused).
    private var ingressGate: Bool?
    private var knownExecutables: Set<String> = []
    private var pendingHashes: [String: [Int32]] = [:]
    private var changes: [ModeChange] = []
    private var metrics = AgentMetrics()
    private let startNanos: UInt64
    private var nextSecond: UInt64
    private var nextSave: UInt64
    /// `--only` / `learn.only`: which programs may be learned, by the invoked or the
    /// resolved path (``ExecutableSelector``); empty selects every program.
    private let only: ExecutableSelector
    private var stopped = false
    /// The models directory as the agent last left it (its own saves included): a
    /// difference found later was made by someone else.
    private var modelsStamp: [String: FileStamp] = [:]
    /// Kernel drops already reported, by record kind.
    private var reportedDrops: [Event.Kind: UInt64] = [:]
    /// Kernel events and time at the last ``serviceStatus()`` (its events/s).
    private var statusSample: (events: UInt64, at: UInt64)?
    /// Whether an unreadable /proc/self was reported (once).
    private var reportedSelfMetrics = false
    /// Profiles with no slot in the kernel: their slot number is beyond the kernel's
    /// (``KernelControl/profileSlotLimit``, sized at start for the profiles loaded plus room
    /// to grow), so their processes are pending there and judged in user space only.
    public private(set) var withoutKernelSlot: Set<String> = []
    /// Kernel maps whose being full was reported (once per map; the metrics keep counting).
    private var reportedFull: Set<KernelFailureSite> = []
    /// The last stop or reload signal that came the legitimate way, in words (`status`, logs).
    public private(set) var lastStopSignal: String?

    /// What the models directory held at start.
    public struct Baselines {
        public var profiles: [Profile]
        /// Files refused at load, by profile id: never overwritten.
        public var refused: Set<String>
        public var modes: ProfileModes
        /// Baselines that cannot be used: refused files, and profiles the saved modes or
        /// the configuration's `modes:` hold in monitor or enforce whose file is gone.
        /// Non-empty only when `on-bad-baseline` is `monitor` (else the start was refused).
        public var bad: [BadBaseline] = []
    }

    /// A baseline the agent cannot use, and why.
    public struct BadBaseline: Sendable, Hashable {
        public var profile: String
        public var file: String
        public var reason: String
    }

    /// Checks the models (and state) directory and reads the baselines and saved modes; a
    /// problem is told on stderr and ends the command (exit 2 for bad input).
    ///
    /// A baseline that cannot be used (corrupt, of an unknown version, unreadable, or
    /// missing though the saved modes or `modes:` hold it in monitor or enforce) ends
    /// `monitor`, `enforce` and `run` with exit 2 naming each file and why, unless
    /// `on-bad-baseline` is `monitor` (then ``Baselines/bad`` lists them). `learn` reports
    /// them and never overwrites them.
    public static func loadBaselines(_ c: AgentConfiguration) throws(AgentExit) -> Baselines {
        try ModelsDirectory.check(c.run.models, what: "the models directory", create: c.command == .learn || c.command == .run)
        if c.keepsState { try ModelsDirectory.check(c.run.state, what: "the state directory", create: true) }
        if c.command == .learn || c.command == .run {
            let swept = ProfileStore(directory: c.run.models).sweepAbandonedWrites()
                + (c.keepsState ? ProfileStore(directory: c.run.state).sweepAbandonedWrites() : 0)
            if swept > 0 { Diagnostics.info("removed \(swept) temporary files of saves that were interrupted (the profiles themselves are whole)") }
        }
        if c.command == .run { FleetPull.run(c.run.fleet, models: c.run.models, when: "start") }
        let store = ProfileStore(directory: c.run.models)
        let (profiles, errors) = store.loadAll()
        if c.command == .learn {
            for e in errors { Diagnostics.warning("refused \(e); it will not be overwritten") }
        }
        var modes = ProfileModes(policy: c.run.effectivePromotion)
        let modesFile = c.run.state + "/modes.json"
        if c.keepsState, let data = FileManager.default.contents(atPath: modesFile) {
            do { modes = try ProfileModes.decode(Array(data), policy: c.run.effectivePromotion) } catch {
                Diagnostics.error("cannot read \(modesFile): \(error). Fix or remove it (every profile then starts in its configured mode)")
                throw .badInput
            }
        }
        let refused = Set(errors.map { Self.profileID(ofFile: $0.file) })
        var bad = errors.map { BadBaseline(profile: Self.profileID(ofFile: $0.file), file: $0.file,
                                           reason: $0.field == "(file)" ? $0.reason : "field \($0.field): \($0.reason)") }
        if c.command == .run {
            // A profile the saved modes (or the configuration) hold in monitor or enforce
            // whose baseline is gone would otherwise be learned again from scratch, silently.
            let loaded = Set(profiles.map(\.id))
            var named: [String: String] = [:]
            for (id, r) in modes.records where r.mode != .learn { named[id] = modesFile }
            for (id, m) in c.run.modes where m != .learn && !id.hasPrefix("/") { named[id] = c.configPath ?? "the configuration" }
            for (id, by) in named.sorted(by: { $0.key < $1.key }) where !loaded.contains(id) && !refused.contains(id) {
                bad.append(BadBaseline(profile: id, file: store.path(for: id),
                                       reason: "missing: \(by) holds profile \(id) in \(modes.mode(of: id) ?? c.run.modes[id] ?? .monitor), but the file does not exist"))
            }
        }
        if !bad.isEmpty, c.command != .learn {
            if c.run.onBadBaseline == .refuse {
                for b in bad { Diagnostics.error("\(b.file): \(b.reason)") }
                Diagnostics.error("\(bad.count) baseline\(bad.count == 1 ? "" : "s") in \(c.run.models) cannot be used; "
                    + "the programs they describe would go unprotected. Fix, restore or remove \(bad.count == 1 ? "it" : "them"), "
                    + (c.command == .run ? "or set on-bad-baseline: monitor" : "or pass --on-bad-baseline monitor")
                    + " to judge their programs in monitor mode")
                throw .badInput
            }
            for b in bad { Diagnostics.warning("\(b.file): \(b.reason); its programs, and the workloads they run in, are judged in monitor mode (on-bad-baseline: monitor)") }
        }
        return Baselines(profiles: profiles, refused: refused, modes: modes, bad: c.command == .learn ? [] : bad)
    }

    /// One warning per judged profile learned before n-grams looked through `futex` and
    /// `sched_yield` (``Profile/ngramsHoldingTransparentCalls``), in profile order: the
    /// kernel now forms n-grams that such a profile lacks, so work it knew can be reported
    /// as `new-sequence` until the profile is learned again.
    static func outdatedSequenceWarnings(_ profiles: some Sequence<Profile>) -> [String] {
        profiles.sorted { $0.id < $1.id }.compactMap { p in
            let n = p.ngramsHoldingTransparentCalls
            guard n > 0 else { return nil }
            return "profile \(p.id) was learned before n-grams looked through futex and sched_yield "
                + "(\(n) of its \(p.ngrams.count) n-grams hold one): work it knew can be reported as new-sequence. "
                + "Learn it again (vigil learn over the same models directory); "
                + "`vigil profile prune --older-than` later drops the n-grams no longer formed"
        }
    }

    /// The profile id a baseline file is named for (`<id>.json`).
    static func profileID(ofFile file: String) -> String {
        ((file as NSString).lastPathComponent as NSString).deletingPathExtension
    }

    /// `beforeProfileWrite` is called on the background writer's queue before each profile
    /// is written: tests hold the writer with it.
    public init(configuration c: AgentConfiguration, baselines: Baselines, kernel: any KernelControl, stream: EventStream,
                clock: any AgentClock = SystemClock(), metricsServer: MetricsServer? = nil, sessionID: Int32? = nil,
                hasher: BackgroundHasher = BackgroundHasher(), interactive: Bool = false,
                beforeProfileWrite: (@Sendable (String) -> Void)? = nil) {
        configuration = c
        self.kernel = kernel
        self.clock = clock
        self.stream = stream
        self.metricsServer = metricsServer
        self.hasher = hasher
        store = ProfileStore(directory: c.run.models)
        writer = ProfileWriter(store: store, beforeWrite: beforeProfileWrite)
        refused = baselines.refused
        modes = baselines.modes
        for b in baselines.bad { badBaselines[b.profile] = b }
        only = ExecutableSelector(paths: c.run.only, label: c.command == .learn ? "--only" : "learn.only",
                                  resolve: ExecutablePath.live.realpath)
        let now = clock.nowNanos()
        startNanos = now
        nextSecond = now + 1_000_000_000
        nextSave = now + UInt64(c.run.saveIntervalSeconds * 1e9)
        learner = Learner(hostID: c.hostID, policy: c.run.stability, profiles: baselines.profiles, now: now,
                          binaryHash: { [hasher] in hasher.cachedOrSchedule(path: $0) })
        learner.sensitivePatterns = c.policy.sensitiveFiles
        for p in baselines.profiles.sorted(by: { $0.id < $1.id }) {
            if let ch = modes.register(p.id, created: false, now: now) { changes.append(ch) }
        }
        changes += Self.applyOverrides(&modes, ids: baselines.profiles.map(\.id), learner: learner, configuration: c, now: now)
        if c.command == .run {
            // Not learned again from nothing, never promoted: held at monitor until fixed.
            for b in baselines.bad.sorted(by: { $0.profile < $1.profile }) {
                if let ch = modes.set(b.profile, .monitor, reason: "baseline cannot be used: \(b.reason)", now: now) { changes.append(ch) }
                modes.pinned.insert(b.profile)
            }
        }
        scope = WorkloadScope(workloads: c.workloads, allProcesses: c.allProcesses, protectedExecutables: c.protectedExecutables,
                              sessionID: sessionID)
        let watched = baselines.profiles.filter { [modes] in modes.mode(of: $0.id) != .learn }
        detector = Detector(profiles: c.command.judges ? watched : [], policy: c.policy)
        table = ProcessTable()
        progress = c.command == .learn ? LearnProgress(interactive: interactive, models: c.run.models) : nil
        var tableRef: () -> ProcessTable = { ProcessTable() }
        responder = Responder(detector: detector, policy: c.policy, defaultMode: c.command == .enforce ? .enforce : .monitor, kernel: kernel,
                              stream: stream, scope: scope, clock: clock, explain: c.explain,
                              process: { tableRef()[$0] }, ancestry: { tableRef().ancestry(of: $0) })
        tableRef = { [unowned self] in self.table }
        responder.reportOutside = c.reportOutside
        responder.mayAct = scope.isDeclared || c.command != .run
        responder.modeOf = { [unowned self] _, id in
            switch self.configuration.command {
            case .enforce: return .enforce
            case .monitor, .learn: return .monitor
            case .run: return id.flatMap { self.modes.mode(of: $0) } == .enforce ? .enforce : .monitor
            }
        }
        responder.isLearning = { [unowned self] id in self.stabilityState(of: id, now: self.clock.nowNanos()) != .stable }
        responder.onDeviation = { [unowned self] d in if let id = d.profile { self.modes.noteDeviation(id, now: d.timeNanos) } }
        responder.onBreakerTrip = { [unowned self] w, why in self.releaseToMonitor(w, why: why) }
        let provenance = c.command.judges ? PackageProvenance(infoDirectory: c.packageDatabase) : nil
        responder.packageOf = { path in provenance?.package(installing: path) }
        responder.onUpgrade = { [unowned self] id, package, sha in self.upgraded(id, package: package, sha256: sha) }
        metrics.mode = c.command.rawValue
        metrics.version = VigilVersion.string
    }

    // MARK: Start

    /// Loads the baselines into the kernel and takes over the processes already running
    /// (attributed, not judged: they were there before Vigil).
    public func start(running: [ProcessRecord]) {
        let now = clock.nowNanos()
        if segments, !configuration.policy.segmentAllow.isEmpty {
            do { try kernel.setEgress(slot: 0, configuration.policy.segmentAllow) } catch {
                Diagnostics.warning("could not load segment-allow into the kernel: \(error)")
            }
        }
        for w in only.warnings { Diagnostics.warning(w) }
        if configuration.command == .learn {
            for id in learner.profiles.keys.sorted() where only.selects(learner.profiles[id]!) { loadIntoKernel(id) }
        } else {
            for id in learner.profiles.keys.sorted() { loadIntoKernel(id) }
        }
        table = ProcessTable(seed: running)
        let me = getpid()
        scope.protect(me, reason: "Vigil itself")
        for a in table.ancestry(of: me) { scope.protect(a.pid, reason: "an ancestor of Vigil") }
        scope.seed(table.records, sessionOf: Self.session(of:))
        let seeded = table.records.filter { $0.pid != me && !$0.path.isEmpty }
        var toLearn: [ProcessRecord] = [], toWatch: [ProcessRecord] = []
        for r in seeded {
            if learns(r) { toLearn.append(r) } else { toWatch.append(r) }
        }
        learner.seed(toLearn, now: now)
        for r in toLearn { noteWorkload(r.pid, now: now) }
        if configuration.command.judges { _ = detector.seed(toWatch, now: now) }
        for r in seeded { attach(r.pid) }
        holdWorkloadsOfBadBaselines(running: seeded, atStart: true)
        modelsStamp = Self.stamps(of: config.models)
        for r in table.records { placeInKernel(r.pid) }
        flushChanges()

        let c = configuration
        switch c.command {
        case .learn:
            progress?.started(profiles: learner.profiles.count, processes: toLearn.count, only: c.run.only)
        case .monitor, .enforce:
            if learner.profiles.isEmpty {
                Diagnostics.warning("no baselines in \(c.run.models): every program will be an unknown executable (run `vigil learn` first)")
            }
            stream.publish(AgentEvent(.started(mode: c.command.rawValue), timeNanos: now))
            Diagnostics.info("\(c.command.rawValue): \(learner.profiles.count) baselines loaded, \(seeded.count) processes running, policy \(c.policyName); \(scopeSummary())")
        case .run:
            stream.publish(AgentEvent(.started(mode: "run"), timeNanos: now))
        }
        if c.command != .learn {
            for w in Self.outdatedSequenceWarnings(learner.profiles.values) { Diagnostics.warning(w) }
        }
        for b in badBaselines.values.sorted(by: { $0.profile < $1.profile }) {
            stream.publish(AgentEvent(.baselineUnusable(profile: b.profile, file: b.file, reason: b.reason,
                                                        consequence: "its programs, and the workloads they run in, are judged in monitor mode (on-bad-baseline: monitor)"),
                                      timeNanos: now))
        }
        switch c.command {
        case .learn: break
        case .monitor, .enforce:
            if let metricsServer { Diagnostics.info("\(c.command.rawValue): metrics on http://\(metricsServer.boundAddress)/metrics") }
        case .run:
            Diagnostics.info("run: \(learner.profiles.count) baselines loaded; profiles \(Self.summary(modes)); \(seeded.count) processes running; policy \(c.policyName); \(scopeSummary())"
                + (metricsServer.map { "; metrics on http://\($0.boundAddress)/metrics" } ?? ""))
            if !scope.isDeclared {
                Diagnostics.warning("no workloads declared: nothing will be acted on (findings say what would be done). Add workloads: to \(c.configPath ?? "the configuration"), or all-processes: true")
            }
        }
        updateMetrics()
    }

    private func scopeSummary() -> String {
        if configuration.allProcesses { return "acting on every process that is not protected (--all-processes)" }
        if scope.workloads.isEmpty { return "no workload declared: every process is judged" }
        return "workloads " + scope.memberCounts.sorted { $0.key < $1.key }.map { "\($0.key) (\($0.value) running)" }.joined(separator: ", ")
    }

    /// The session id of `pid`, from /proc/PID/stat.
    static func session(of pid: Int32) -> Int32? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        return fields.count > 3 ? Int32(fields[3]) : nil
    }

    // MARK: Events

    /// One event from the kernel.
    public func handle(_ event: Event) {
        let now = clock.nowNanos()
        let record = table.apply(event)
        if config.events { stream.publish(event, process: record, ancestry: table.ancestry(of: event.pid)) }
        let pid = event.pid
        let judges = configuration.command.judges
        switch event.payload {
        case .exec(let x):
            if let record { scope.exec(record) }
            if x.execSeq != 0 { execSeqs[pid] = x.execSeq }
            let started = record ?? ProcessRecord(pid: pid, ppid: x.ppid, uid: x.uid, euid: x.euid, gid: x.gid, path: x.executable,
                                                  invokedPath: x.path, argv: x.argv, comm: event.comm)
            if learns(started) {
                // The detector still judges the exec against the old image's profile (a
                // watched program starting something); the new image is learned, not judged.
                if judges { responder.add(detector.apply(event, process: record, now: now, newImageLearned: true), pid: pid, seen: event.timeNanos) }
                learner.apply(event, process: record, now: now)
                noteWorkload(pid, now: now)
            } else {
                learner.noteUnlearnedExec(pid: pid, path: x.path, at: event.timeNanos, now: now)
                if judges {
                    // The file that runs (a symlink's target, a script's interpreter), as the
                    // learner hashed it for the profile's binaries.
                    let hash = hasher.cachedOrSchedule(path: x.executable)
                    if hash == nil { pendingHashes[x.executable, default: []].append(pid) }
                    responder.add(detector.apply(event, process: record, binaryHash: hash, now: now), pid: pid, seen: event.timeNanos)
                }
            }
            let assigned = attach(pid)
            noteExecNaming(x, comm: event.comm, assigned: assigned, pid: pid)
            if let record { holdWorkloadsOfBadBaselines(running: [record]) }
            placeInKernel(pid)
            responder.chapter(now: now, exec: pid)
        case .fork(let f):
            scope.fork(parent: pid, child: f.childPid)
            if let m = membership[pid] { membership[f.childPid] = m }
            if let seq = execSeqs[pid] { execSeqs[f.childPid] = seq }
            if learner.profileID(forPid: pid) != nil { learner.apply(event, process: record, now: now) }
            if judges { responder.add(detector.apply(event, process: record, now: now), pid: pid, seen: event.timeNanos) }
            responder.fork(parent: pid, child: f.childPid, now: now)
        case .exit:
            if learner.profileID(forPid: pid) != nil { learner.apply(event, process: record, now: now) }
            if judges { responder.add(detector.apply(event, process: record, now: now), pid: pid, seen: event.timeNanos) }
            responder.exit(pid, now: now)
            scope.exit(pid)
            membership[pid] = nil
            execSeqs[pid] = nil
        case .action(let a):
            if configuration.explain { Diagnostics.raw(EventFormatter.kernelAction(a, pid: pid)) }
            if judges { responder.add(detector.apply(event, process: record, now: now), pid: pid, seen: event.timeNanos) }
        case .tamper(let t):
            if t.kind == .signal, let why = legitimateSignal(Int32(truncatingIfNeeded: t.detail), from: pid) {
                // Stopping (or reloading) the agent the way it is meant to be: not tampering.
                Diagnostics.info("\(Self.signalName(t.detail)) from pid \(pid) (\(record?.path ?? event.comm)): \(why), not tampering")
                lastStopSignal = "\(Self.signalName(t.detail)) from pid \(pid), \(why)"
                break
            }
            if judges { responder.add(detector.apply(event, process: record, now: now), pid: pid, seen: event.timeNanos) }
            responder.chapter(now: now)
        case .novelty(let n):
            if let id = learningProfile(pid, slot: n.profileSlot) {
                learner.apply(event, process: record, now: now)
                if n.profileSlot == 0 {
                    // Reported while the process was pending: teach the kernel, so the
                    // profile's other processes do not report it again. (A syscall-only
                    // novelty, a transparent call's, has no n-gram to teach.)
                    let ngrams = n.calls.count == learner.ngramLength ? [n.hash] : []
                    if !withoutKernelSlot.contains(id) { try? kernel.preload(slot: learner.profileSlot(for: id), syscalls: [n.syscall], ngrams: ngrams) }
                }
            } else if judges {
                responder.add(detector.apply(event, process: record, now: now), pid: pid, seen: event.timeNanos)
            }
        case .file(let f):
            if let id = learningProfile(pid, slot: f.profileSlot) {
                learner.apply(event, process: record, now: now)
                if f.profileSlot == 0 {
                    // Reported while pending: teach the kernel for the profile's other processes.
                    if !withoutKernelSlot.contains(id) { try? kernel.preloadFiles(slot: learner.profileSlot(for: id), [.of(f.operation, path: f.path)]) }
                }
            } else if judges {
                responder.add(detector.apply(event, process: record, now: now), pid: pid, seen: event.timeNanos)
            }
        case .syscall, .network:
            if learner.profileID(forPid: pid) != nil {
                learner.apply(event, process: record, now: now)
            } else if judges {
                responder.add(detector.apply(event, process: record, now: now), pid: pid, seen: event.timeNanos)
            }
        }
    }

    /// The session the agent runs in (`getsid(0)`; 0 when its leader is outside the agent's
    /// PID namespace). A stored property so that tests can name one.
    var ownSession: Int32 = getsid(0)

    /// Signals that stop or reload the agent (SIGHUP, SIGINT, SIGQUIT, SIGTERM).
    static let controlSignals: Set<Int32> = [SIGHUP, SIGINT, SIGQUIT, SIGTERM]

    /// Why signal `sig` from `sender` is the legitimate way to stop or reload the agent, or
    /// nil (then it is tampering): a stop or reload signal from the service manager (PID 1),
    /// an ancestor of the agent (its parent, `sudo` relaying, the shell that started it),
    /// a process of the session that started it or started from that session's leader; any
    /// signal from a kernel thread (a terminal's Ctrl-C is sent by one).
    func legitimateSignal(_ sig: Int32, from sender: Int32) -> String? {
        let me = getpid()
        if isKernelThread(sender) { return "sent by the kernel (a terminal key or a kernel thread)" }
        guard Self.controlSignals.contains(sig) else { return nil }
        if sender == 1 { return "the service manager" }
        let ancestors = Set(table.ancestry(of: me).map(\.pid) + [getppid()]).subtracting([1])
        if ancestors.contains(sender) { return "an ancestor of the agent" }
        // `kill` run by the shell that started the agent; needs no session (inside a PID
        // namespace whose session leader lies outside, getsid returns 0).
        if let parent = table[sender]?.ppid, ancestors.contains(parent) { return "started by an ancestor of the agent" }
        let session = ownSession
        if session > 1 {
            if Self.session(of: sender) == session { return "a process of the agent's session" }
            if table.ancestry(of: sender).contains(where: { $0.pid == session }) { return "started from the agent's session" }
        }
        return nil
    }

    /// Whether `pid` is a kernel thread (kthreadd or one of its children). The process
    /// table's record wins when it has one (the kernel reported that process's fork, so a
    /// reused pid cannot mislead); otherwise /proc/PID/stat.
    func isKernelThread(_ pid: Int32) -> Bool {
        if pid == 0 || pid == 2 { return true }
        if let known = table[pid] { return known.ppid == 2 }
        return Self.procSaysKernelThread(pid)
    }

    static func procSaysKernelThread(_ pid: Int32) -> Bool {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return false }
        let fields = text[text.index(after: close)...].split(separator: " ")
        return fields.count > 1 && fields[1] == "2"
    }

    static func signalName(_ sig: UInt32) -> String {
        let names: [UInt32: String] = [1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 9: "SIGKILL", 10: "SIGUSR1", 12: "SIGUSR2", 15: "SIGTERM",
                                       17: "SIGCHLD", 18: "SIGCONT", 19: "SIGSTOP", 20: "SIGTSTP", 23: "SIGURG"]
        return names[sig] ?? "signal \(sig)"
    }

    /// After each read of the ring buffer: finished hashes, the responder's batch and clock,
    /// mode changes, a reload asked for, the periodic save and the once-a-second work.
    public func afterRead(reloadRequested: Bool = false) {
        let now = clock.nowNanos()
        absorbWrites()
        for (path, sha) in hasher.completed() {
            learner.noteBinary(path: path, sha256: sha, now: now)
            for pid in pendingHashes.removeValue(forKey: path) ?? [] {
                responder.judge(detector.noteBinary(pid: pid, sha256: sha, now: now), pid: pid, now: now)
            }
        }
        responder.tick(now: now)
        flushChanges()
        if reloadRequested { reload() }
        if now >= nextSave {
            save(final: false)
            nextSave = now + UInt64(config.saveIntervalSeconds * 1e9)
        }
        if now >= nextSecond {
            nextSecond = now + 1_000_000_000
            tick(now: now)
        }
    }

    /// What identifies one version of a file: inode, size, modification and change times.
    struct FileStamp: Hashable {
        var inode: UInt64, size: Int64, mtime: Int, ctime: Int
    }

    /// The `*.json` files of `directory` (temporary files of saves excluded), stamped.
    static func stamps(of directory: String) -> [String: FileStamp] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [:] }
        var out: [String: FileStamp] = [:]
        for name in names where name.hasSuffix(".json") && !name.hasPrefix(".") {
            out[name] = stamp(of: directory + "/" + name)
        }
        return out
    }

    /// One file's stamp, nil when it does not exist.
    static func stamp(of path: String) -> FileStamp? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return FileStamp(inode: UInt64(st.st_ino), size: Int64(st.st_size),
                         mtime: st.st_mtim.tv_sec * 1_000_000_000 + st.st_mtim.tv_nsec,
                         ctime: st.st_ctim.tv_sec * 1_000_000_000 + st.st_ctim.tv_nsec)
    }

    /// Compares the models directory with how the agent left it; a difference is reported
    /// once (OCSF Application Error) and becomes the new reference.
    func checkModelsDirectory(now: UInt64) {
        guard configuration.command != .learn else { return }
        // The writer's finished files become the reference first; a file it has queued or
        // is writing now is its own change under way, taken when the write is booked.
        let busy = absorbWrites().busy
        var current = Self.stamps(of: config.models)
        for name in busy { current[name] = modelsStamp[name] }
        guard current != modelsStamp else { return }
        let added = current.keys.filter { modelsStamp[$0] == nil }.sorted()
        let removed = modelsStamp.keys.filter { current[$0] == nil }.sorted()
        let changed = current.keys.filter { modelsStamp[$0] != nil && modelsStamp[$0] != current[$0] }.sorted()
        modelsStamp = current
        stream.publish(AgentEvent(.modelsChanged(directory: config.models, added: added, changed: changed, removed: removed), timeNanos: now))
        Diagnostics.warning("the models directory \(config.models) changed, not by Vigil: added \(added), changed \(changed), removed \(removed); in force only after a reload or restart")
    }

    /// Once a second: promotion, the suppressed-findings report, metrics, the progress panel.
    public func tick(now: UInt64) {
        checkModelsDirectory(now: now)
        if configuration.command == .run {
            let due = modes.tick(now: now) { id in learner.stability(id, now: now)?.state }
            if !due.isEmpty {
                changes += due
                flushChanges()
                saveModes()
            }
        }
        stream.reportSuppressedIfDue(now: now)
        refreshKnownExecutableFilesIfDue(now: now)
        reportFullMaps(kernel.stats)
        updateMetrics()
        progress?.update(learner: learner, now: now)
    }

    /// When the exec guard last looked at the files behind the known executables.
    private var knownExecutableFilesCheckedAt: UInt64 = 0
    static let knownExecutableFilesInterval: UInt64 = 60_000_000_000

    /// Once a minute, the exec guard looks again at the file behind each known executable:
    /// one a package upgrade replaced (a new inode) stays known when run by a relative path
    /// or a link, not only by its own path.
    private func refreshKnownExecutableFilesIfDue(now: UInt64) {
        guard now >= knownExecutableFilesCheckedAt &+ Self.knownExecutableFilesInterval else { return }
        knownExecutableFilesCheckedAt = now
        do { try kernel.refreshKnownExecutableFiles() } catch {
            Diagnostics.warning("could not refresh the exec guard's known executable files: \(error)")
        }
    }

    /// A judged profile is as stable as the baseline it is judged against: its own learning
    /// history under the rule it was learned with (`vigil learn --bucket 15` stays stable
    /// for a monitor with the default rule, and drops while judging do not make it learning
    /// again). A profile being learned is as its learner says.
    func stabilityState(of id: String, now: UInt64) -> LearningState? {
        if let judged = detector.profiles[id] { return judged.stability().state }
        return learner.stability(id, now: now)?.state
    }

    /// The kernel dropped `count` records (ring buffer full): one loss event per record kind
    /// (`kernel-ringbuf:exec`, ...), from the kernel's per-kind counters.
    public func noteDrops(_ count: UInt64) {
        let t = clock.nowNanos()
        learner.noteDrops(count, now: t)
        let byKind = kernel.stats.kernelDrops
        var parts: [(String, UInt64)] = []
        for kind in Event.Kind.allCases {
            let n = (byKind[kind] ?? 0) &- (reportedDrops[kind] ?? 0)
            if let total = byKind[kind] { reportedDrops[kind] = total }
            if n > 0, n < 1 << 62 { parts.append((kind.rawValue, n)) }
        }
        // The per-kind counters are read after `count` was: they hold at least as much, and
        // what they hold beyond it is reported now and not again. A kernel that keeps no
        // per-kind figures gets the total.
        if byKind.isEmpty { parts = [("", count)] }
        if configuration.command != .learn {
            for (kind, n) in parts {
                stream.publish(AgentEvent(.loss(source: kind.isEmpty ? "kernel-ringbuf" : "kernel-ringbuf:" + kind, count: Int(clamping: n)), timeNanos: t))
            }
        }
        let detail = parts.isEmpty ? "reported with the previous drops" : parts.map { "\($0.1) \($0.0.isEmpty ? "of any kind" : $0.0)" }.joined(separator: ", ")
        Diagnostics.warning("the kernel dropped \(count) events (ring buffer full: \(detail)); learning profiles cannot become stable on this window")
    }

    // MARK: Stop

    /// Graceful stop: probes off first (nothing new arrives, nothing more is enforced), then
    /// nothing left suspended, every learning profile saved, the outputs flushed.
    public func stop(reason: String) {
        guard !stopped else { return }
        stopped = true
        kernel.detach()
        // Drops since the loop's last check (the probes ran until now): reported too, so the
        // loss events add up to what the kernel counted.
        let late = kernel.stats.kernelDrops.reduce(UInt64(0)) { $0 + ($1.value &- (reportedDrops[$1.key] ?? 0)) }
        if late > 0, late < 1 << 62 { noteDrops(late) }
        responder.finish()
        save(final: true)
        updateMetrics()
        metricsServer?.stop()
        let c = configuration
        if c.command != .learn { stream.publish(AgentEvent(.stopped(reason: reason), timeNanos: clock.nowNanos())) }
        stream.close()
        switch c.command {
        case .learn:
            progress?.finished(learner: learner, now: clock.nowNanos(), stats: kernel.stats)
            for w in only.unmatchedWarnings() { Diagnostics.warning(w) }
        case .run: Diagnostics.info("stopped: \(Self.summary(modes)); " + StatsReport.summary(kernel.stats).replacingOccurrences(of: "stopped: ", with: ""))
        case .monitor, .enforce: Diagnostics.info(StatsReport.summary(kernel.stats))
        }
        if c.command != .learn { Diagnostics.info(execNamingSummary) }
    }

    /// The kernel's naming of slots at exec, in one line (said at stop).
    var execNamingSummary: String {
        let overridden = metrics.execSlotNames["overridden"] ?? 0
        let named = (metrics.execSlotNames["agreed"] ?? 0) + overridden
        return "exec naming: executables published \(publishedExecSlots); execs named by the kernel \(named), overridden by the agent \(overridden)"
            + (metrics.execSlotPublishFailures > 0 ? "; \(metrics.execSlotPublishFailures) not published (vg_exec_slots full)" : "")
    }

    // MARK: Profiles and the kernel

    /// Whether a new program is learned: its profile learns, or it has none and new ones
    /// learn. Its profile is the identity rule's (``ProfileIdentity/of(_:)``: the resolved
    /// executable, plus the name it was started under when that differs), for a process
    /// started now as for one found running; `only` matches the invoked or the resolved path.
    /// Books a learned process's workload in its profile (what `vigil map` groups by).
    private func noteWorkload(_ pid: Int32, now: UInt64) {
        guard case .member(let name) = scope.standing(of: pid), name != WorkloadScope.everyProcess else { return }
        learner.noteWorkload(pid: pid, name, now: now)
    }

    private func learns(_ r: ProcessRecord) -> Bool {
        if configuration.command == .learn { return only.matches(r) }
        let id = r.identity.id
        // `learn.only` narrows learning in every mode (a fixed `mode: learn` included).
        if let mode = modes.mode(of: id) { return mode == .learn && only.matches(r) }
        // Pinned to monitor or enforce with no baseline yet: an unknown executable.
        if let pinned = pinnedMode(id: id, path: r.path) { return pinned == .learn && only.matches(r) }
        guard modes.policy.newExecutables == .learn else { return false }
        return only.matches(r)
    }

    /// The kernel's copy of a profile: its known syscalls and n-grams, its slot's mode, and
    /// the executables it knows (keyed by the path given to execve, so the paths it was
    /// invoked as too).
    private func loadIntoKernel(_ id: String) {
        guard let mode = modes.mode(of: id) else { return }
        let slot = learner.profileSlot(for: id)
        guard hasKernelSlot(id) else {
            loadKnownExecutables(id)
            return
        }
        do {
            try kernel.setSlotMode(slot, mode)
            if inKernel.insert(id).inserted {
                try kernel.preload(slot: slot, syscalls: learner.knownSyscalls(id), ngrams: learner.knownNgramHashes(id))
                if let p = learner.profiles[id] { try kernel.preloadFiles(slot: slot, FileRules.kernelKeys(p)) }
                publishExecSlot(id)
            }
        } catch {
            Diagnostics.warning("could not load profile \(id) into the kernel: \(error)")
        }
        if mode != .learn { loadKnownCalls(id, slot: slot) }
        loadKnownExecutables(id)
    }

    /// A judged profile's learned destinations, listening ports and children, for the
    /// kernel: the keys its connects, binds and listens are counted against instead of
    /// reported (BPF/network.bpf.c, `vg_net_known`), and its execs flagged and counted
    /// against (BPF/process.bpf.c); under segmentation, the destinations and ports let through.
    /// One set of keys for both, from the copy the detector judges by (the learner's may
    /// hold more, taken in while the profile was still being promoted); the peers only for
    /// ingress segmentation. Added to here; a reload makes them exactly the baseline's
    /// again (``knownKeys(_:)``, `Sensor.replaceKnownKeys`), so a destination it dropped is
    /// neither let through nor counted as known.
    private func loadKnownCalls(_ id: String, slot: UInt32) {
        guard let k = knownKeys(id) else { return }
        do {
            try kernel.setEgress(slot: slot, k.destinations)
            try kernel.setListens(slot: slot, k.listens)
            try kernel.setKnownChildren(slot: slot, k.children)
            try kernel.setIngress(slot: slot, k.peers)
        } catch {
            Diagnostics.warning("could not load the destinations, ports and peers of \(id) into the kernel "
                + "(its connects and listens are reported and judged in user space\(segments ? "; segmentation would refuse them" : "")): \(error)")
        }
    }

    /// What ``loadKnownCalls(_:slot:)`` puts in the kernel for a judged profile, from the
    /// copy the detector judges by: its destinations, ports, children (when judging) and
    /// peers (under segmentation); no file keys (the caller adds them where it needs them).
    /// Nil: none judged.
    private func knownKeys(_ id: String) -> Sensor.SlotKeys? {
        let judged = configuration.command.judges ? detector.profiles[id] : nil
        guard let p = judged ?? (segments ? learner.profiles[id] : nil) else { return nil }
        var k = Sensor.SlotKeys()
        k.destinations = Array(p.destinations.keys)
        k.listens = Array(p.listens.keys)
        if configuration.command.judges { k.children = Array(p.executes.keys) }
        if segments { k.peers = Array(p.peers.keys) }
        return k
    }

    /// The executables profile `id` knows, for the exec guard (one set for every profile).
    private func loadKnownExecutables(_ id: String) {
        guard let p = learner.profiles[id] else { return }
        let fresh = p.knownPaths.union(p.executes.keys).subtracting(knownExecutables)
        if !fresh.isEmpty {
            knownExecutables.formUnion(fresh)
            try? kernel.setKnownExecutables(fresh)
        }
    }

    /// Whether profile `id`'s slot is one the kernel holds. The first profile beyond them is
    /// reported as a full vg_slot_modes (OCSF Application Error), each one in the log, and
    /// all of them counted (`vigil_profiles_without_kernel_slot`, `vigil status`): never
    /// left unprotected in silence.
    private func hasKernelSlot(_ id: String) -> Bool {
        let limit = kernel.profileSlotLimit
        guard learner.profileSlot(for: id) >= limit else { return true }
        guard withoutKernelSlot.insert(id).inserted else { return false }
        let consequence = "profile \(id) and any later ones have no kernel slot: their processes are judged in user space from each distinct n-gram the kernel reports, "
            + "with no in-kernel guard or segmentation; restart the agent to size the slots for every profile"
        Diagnostics.warning("kernel map vg_slot_modes is full (\(limit - 1) profile slots): \(consequence)")
        if withoutKernelSlot.count == 1 {
            stream.publish(AgentEvent(.capacityReached(map: "vg_slot_modes", capacity: Int(limit) - 1, consequence: consequence), timeNanos: clock.nowNanos()))
        }
        return false
    }

    /// Reports each kernel map found full since the last look, once per map (the counts go
    /// on in `vigil_kernel_failures_total`).
    private func reportFullMaps(_ stats: SensorStats) {
        for site in KernelFailureSite.allCases where (stats.failures[site] ?? 0) > 0 && !reportedFull.contains(site) {
            guard let full = site.fullMap else { continue }
            reportedFull.insert(site)
            let capacity = Int(kernel.mapCapacities[full.map] ?? 0)
            Diagnostics.warning("kernel map \(full.map) is full (\(capacity) entries, \(stats.failures[site] ?? 0) times so far): \(full.consequence)")
            stream.publish(AgentEvent(.capacityReached(map: full.map, capacity: capacity, consequence: full.consequence), timeNanos: clock.nowNanos()))
        }
    }

    /// Tells the kernel whether it may act on `pid`: guarded as a member of a declared
    /// workload, protected, or neither (then the kernel leaves it alone, unless every
    /// process is in scope). Only commands that act write it; children inherit the kernel's
    /// copy at fork and exec keeps it, so a new member is written once, at its exec.
    private func placeInKernel(_ pid: Int32) {
        guard configuration.command == .enforce || configuration.command == .run else { return }
        var want: Sensor.Membership
        switch scope.standing(of: pid) {
        case .member(let w) where responder.heldAtMonitor[w] != nil: want = []
        case .member(let w):
            let block = responder.policy.workloads[w]
            want = w == WorkloadScope.everyProcess ? [] : block?.execGuard == false ? [.guarded, .noExecGuard] : .guarded
            // Segmented: a process of a profile that is enforced (under `vigil run`, only
            // profiles promoted to enforce) and stable, or opted in while learning.
            if block?.segment ?? configuration.segment, let id = detector.profileID(forPid: pid),
               configuration.command == .enforce || modes.mode(of: id) == .enforce,
               !responder.isLearning(id) || responder.policy.enforceLearning.contains(id) {
                want.insert(.segment)
            }
            if block?.segmentIngress ?? configuration.segmentIngress, let id = detector.profileID(forPid: pid),
               configuration.command == .enforce || modes.mode(of: id) == .enforce,
               !responder.isLearning(id) || responder.policy.enforceLearning.contains(id) {
                want.insert(.segmentIngress)
            }
        case .protected: want = .protected
        case .outside: want = []
        }
        if want.contains(.segmentIngress), !ingressGateReady(for: pid) { want.remove(.segmentIngress) }
        guard membership[pid] != want, want != [] || membership[pid] != nil else { return }
        do {
            try kernel.setMembership(pid: pid, want)
            // Listeners it opened before it was segmented: the kernel names later ones itself.
            if want.contains(.segmentIngress), membership[pid]?.contains(.segmentIngress) != true { kernel.ownListeners(pid: pid) }
            membership[pid] = want
        } catch {
            Diagnostics.warning("could not tell the kernel where pid \(pid) stands (\(scope.standing(of: pid))): \(error)")
        }
    }

    /// Attaches the ingress gate for the first process ingress segmentation applies to
    /// (until then no packet on the host runs it). When the kernel refuses it, said once,
    /// and ingress segmentation is off for this run: the member keeps the rest of its
    /// standing.
    private func ingressGateReady(for pid: Int32) -> Bool {
        if let ready = ingressGate { return ready }
        let ready: Bool
        do {
            try kernel.attachIngressGate()
            ready = true
        } catch {
            Diagnostics.warning("cannot attach the ingress gate for pid \(pid): \(error); ingress segmentation is off for this run")
            ready = false
        }
        ingressGate = ready
        return ready
    }

    /// Holds at monitor each workload that runs a program whose baseline cannot be used:
    /// the workloads that name its executable (`exe:`) at once, the others when one of its
    /// processes is seen as their member.
    private func holdWorkloadsOfBadBaselines(running records: [ProcessRecord], atStart: Bool = false) {
        guard !badBaselines.isEmpty, configuration.command == .enforce || configuration.command == .run else { return }
        var held: [(String, BadBaseline)] = []
        if atStart {
            for w in scope.workloads {
                for s in w.selectors where s.kind == .exe {
                    if let b = badBaselines[ProfileIdentity(executable: s.value).id] { held.append((w.name, b)) }
                }
            }
        }
        for r in records {
            guard let b = badBaselines[r.identity.id], case .member(let w) = scope.standing(of: r.pid) else { continue }
            held.append((w, b))
        }
        for (w, b) in held where responder.heldAtMonitor[w] == nil {
            let why = "baseline \(b.profile) cannot be used (\(b.file): \(b.reason)); on-bad-baseline: monitor"
            responder.holdAtMonitor(w, .badBaseline(why))
            releaseToMonitor(w, why: why)
        }
    }

    /// Whether segmentation may apply to anything this agent enforces.
    private var segments: Bool {
        (configuration.command == .enforce || configuration.command == .run)
            && (configuration.segment || configuration.segmentIngress
                || responder.policy.workloads.values.contains { $0.segment == true || $0.segmentIngress == true })
    }

    /// Gives `pid` its slot in the kernel: its learning profile, its watched profile, or none.
    /// Returns the slot written (0: none), nil when the process was released or the write failed.
    @discardableResult
    private func attach(_ pid: Int32) -> UInt32? {
        var id = learner.profileID(forPid: pid)
        if id == nil, case .profile(let d)? = detector.attribution(of: pid) { id = d }
        guard let id else {
            if configuration.command == .learn {
                kernel.releaseProcess(pid: pid)
                return nil
            }
            return (try? kernel.assignProfile(pid: pid, slot: 0, execSeq: execSeqs[pid])) != nil ? 0 : nil
        }
        if modes.mode(of: id) == nil, let c = modes.register(id, created: true, now: clock.nowNanos()) {
            changes.append(c)
            if pinnedMode(id: id, path: learner.profiles[id]?.identity.executable) != nil { modes.pinned.insert(id) }
        }
        loadIntoKernel(id)
        let slot = withoutKernelSlot.contains(id) ? Sensor.noKernelSlot : learner.profileSlot(for: id)
        do { try kernel.assignProfile(pid: pid, slot: slot, execSeq: execSeqs[pid]) } catch {
            Diagnostics.warning("could not assign pid \(pid) to profile \(id) in the kernel: \(error)")
            return nil
        }
        return slot
    }

    /// Has the kernel name profile `id`'s slot at exec, when the identity rule gives the
    /// profile from the file and the command name alone (``ProfileIdentity/execComm``) and
    /// the file has a key (``ExecSlotKey/of(executable:comm:)``); takes the key out when
    /// it has none now. Called when the profile goes into the kernel, when a reload changes
    /// it, and when an exec the key should have named was not (the file was replaced).
    private func publishExecSlot(_ id: String) {
        guard let identity = learner.profiles[id]?.identity, !withoutKernelSlot.contains(id) else { return }
        let key = identity.execComm.flatMap { ExecSlotKey.of(executable: identity.executable, comm: $0) }
        let slot = learner.profileSlot(for: id)
        var writes = execSlots.claim(id, key: key, slot: slot)
        if writes.isEmpty, let key, refusedExecSlots.contains(key) { writes = [.publish(key, slot: slot)] }
        applyExecSlotWrites(writes)
    }

    private func applyExecSlotWrites(_ writes: [ExecSlotTable.Write]) {
        for w in writes {
            switch w {
            case .publish(let key, let slot):
                do {
                    try kernel.publishExecSlot(key, slot: slot)
                    refusedExecSlots.remove(key)
                } catch {
                    refusedExecSlots.insert(key)
                    metrics.execSlotPublishFailures += 1
                    guard !reportedExecSlotsFull else { continue }
                    reportedExecSlotsFull = true
                    let capacity = Int(kernel.mapCapacities["vg_exec_slots"] ?? 0)
                    let consequence = "processes of profiles not published there are pending at exec until the agent names them (their first n-grams reported, judged late); "
                        + "restart the agent to size the map for every profile"
                    Diagnostics.warning("kernel map vg_exec_slots could not take \(key) (slot \(slot)): \(error); \(consequence)")
                    stream.publish(AgentEvent(.capacityReached(map: "vg_exec_slots", capacity: capacity, consequence: consequence), timeNanos: clock.nowNanos()))
                }
            case .unpublish(let key):
                kernel.unpublishExecSlot(key)
                refusedExecSlots.remove(key)
            }
        }
    }

    /// Counts whether the kernel's own naming of an exec (``Event/Exec/kernelSlot``) agreed
    /// with the slot the agent assigned from the exec record (the agent's answer is the one
    /// written last, so it stays either way). An exec of a published profile's program under
    /// its own name that the kernel did not name means the file changed (a new inode or
    /// size): its key is taken again.
    private func noteExecNaming(_ x: Event.Exec, comm: String, assigned: UInt32?, pid: Int32) {
        if x.kernelSlot != 0 {
            let agreed = assigned == x.kernelSlot
            metrics.execSlotNames[agreed ? "agreed" : "overridden", default: 0] += 1
            if !agreed {
                Diagnostics.debug("pid \(pid): the kernel named slot \(x.kernelSlot) at exec of \(x.executable), the agent assigned \(assigned.map(String.init) ?? "none")")
            }
            return
        }
        guard let assigned, assigned != 0, assigned != Sensor.noKernelSlot, let id = learner.profileID(forSlot: assigned),
              let identity = learner.profiles[id]?.identity, identity.executable == x.executable, identity.execComm == comm else { return }
        publishExecSlot(id)
    }

    /// The learning profile a novelty belongs to: its process's, or its slot's when that
    /// slot learns.
    private func learningProfile(_ pid: Int32, slot: UInt32) -> String? {
        if let id = learner.profileID(forPid: pid) { return id }
        guard slot != 0, let id = learner.profileID(forSlot: slot), modes.mode(of: id) == .learn else { return nil }
        return id
    }

    private func flushChanges() {
        let pending = changes
        changes.removeAll()
        // What the kernel counted for every profile leaving learning, read in one pass: a
        // read per profile walked the whole known maps each time, so loading 1,000 baselines
        // took minutes (Benchmarks/scale.sh).
        let leaving = pending.filter { ($0.from == .learn || $0.from == nil) && $0.to != .learn && learner.profiles[$0.profile] != nil }.map(\.profile)
        if !leaving.isEmpty { learner.absorbKernelCounts(from: kernel, ids: leaving, now: clock.nowNanos()) }
        for c in pending {
            apply(c)
            publish(c)
        }
    }

    /// Moves a profile's processes between the learner and the detector after a mode change.
    private func apply(_ c: ModeChange) {
        let id = c.profile
        if c.from == .learn || c.from == nil, c.to != .learn, learner.profiles[id] != nil {
            // Leaving learning: what the kernel counted was folded in (flushChanges, for
            // every such profile at once), the baseline saved, and the detector takes over
            // its processes.
            if c.from == .learn {
                if !refused.contains(id), let p = learner.profiles[id] { writer.submit([p]) }
                detector.upsert(learner.profiles[id]!)
            } else if detector.profiles[id] == nil {
                detector.upsert(learner.profiles[id]!)
            }
            // A baseline judged from the start stays as loaded: the learner's copy restarts
            // its history when this agent's stability rule differs from the one it was
            // learned with, and would read as still learning.
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

    private func publish(_ c: ModeChange) {
        // Fixed-mode commands set every profile's mode at start: that is no change to report.
        guard configuration.command == .run else { return }
        stream.publish(AgentEvent(.modeChanged(profile: c.profile, from: c.from?.rawValue, to: c.to.rawValue, reason: c.reason), timeNanos: c.timeNanos))
        if let from = c.from {
            metrics.promotions[AgentMetrics.PromotionKey(from: from.rawValue, to: c.to.rawValue), default: 0] += 1
            Diagnostics.info("profile \(c.profile): \(from.rawValue) -> \(c.to.rawValue) (\(c.reason))",
                            ["profile": "\(c.profile)", "from": "\(from.rawValue)", "to": "\(c.to.rawValue)"])
        }
    }

    private func save(final: Bool) {
        // Only learning profiles are written: the learner's copy of a watched one may
        // have taken in what its processes did before promotion was complete.
        let learning = learner.profiles.keys.filter { modes.mode(of: $0) == .learn }
        let writes = !learning.isEmpty || configuration.command == .learn
        let ids: [String]? = configuration.command == .learn ? nil : Array(learning)
        if writes {
            writer.submit(learner.absorbAndSnapshot(ids: ids, sensor: kernel, hasher: hasher, refused: refused, final: final, now: clock.nowNanos()))
        }
        if final {
            writer.waitUntilIdle()
            // A write that failed (disk full, a directory where the file goes) is tried once
            // more before the agent stops; what still fails is reported and stays unsaved.
            if absorbWrites(final: true, report: false).failed > 0 {
                writer.submit(learner.absorbAndSnapshot(ids: ids, sensor: kernel, hasher: hasher, refused: refused, final: true, now: clock.nowNanos()))
                writer.waitUntilIdle()
            }
            absorbWrites(final: true)
        }
        saveModes()
    }

    /// Books what the background writer finished: each profile's revision as on disk (in the
    /// learner, and in the detector for a promoted one), each file's stamp as the agent's
    /// own (not tampering), a failed write as still unsaved (the next save writes it), the
    /// count for the progress report. Returns the file names the writer has queued or is
    /// writing now, and how many writes failed.
    @discardableResult
    private func absorbWrites(final: Bool = false, report: Bool = true) -> (busy: Set<String>, failed: Int) {
        let (outcomes, busy) = writer.collect()
        var failed = 0
        for o in outcomes {
            if let r = o.revision {
                learner.setRevision(r, for: o.id)
                // A promotion's save: the detector judges what was written.
                if modes.mode(of: o.id) != .learn { detector.setRevision(r, for: o.id) }
            } else {
                learner.markUnsaved(o.id)
                failed += 1
            }
            modelsStamp[o.id + ".json"] = o.stamp
        }
        // One report per save: once the writer has nothing left (its files may be booked
        // over several passes of the loop).
        savedSinceReport.wrote += outcomes.filter(\.wrote).count
        savedSinceReport.any = savedSinceReport.any || !outcomes.isEmpty
        if report, final || (savedSinceReport.any && busy.isEmpty) {
            progress?.saved(count: savedSinceReport.wrote, final: final)
            savedSinceReport = (0, false)
        }
        return (busy, failed)
    }

    /// Blocks until every profile handed to the background writer is on disk and booked
    /// (tests and benchmarks; the final save at stop does this itself).
    public func waitForSaves() {
        writer.waitUntilIdle()
        absorbWrites()
    }

    private func saveModes() {
        guard configuration.keepsState else { return }
        let file = config.state + "/modes.json"
        do { try modes.save(to: file) } catch { Diagnostics.error("saving \(file): \(error)") }
    }

    // MARK: Reload

    /// Reloads the configuration file (SIGHUP): a file that does not load is refused and
    /// reported, and what runs stays.
    public func reload() {
        guard let path = configuration.configPath else { return }
        let next: LoadedConfig
        do { next = try LoadedConfig.load(path) } catch {
            reloadRefused(error.description)
            return
        }
        reload(to: next, from: path)
    }

    /// Applies a configuration that loaded and checked (see ``reload()``).
    public func reload(to next: LoadedConfig, from path: String) {
        let t = clock.nowNanos()
        var restartOnly: [String] = []
        if next.config.models != config.models { restartOnly.append("models") }
        if next.config.state != config.state { restartOnly.append("state") }
        if next.config.spool != config.spool { restartOnly.append("spool") }
        if next.config.metricsListen != config.metricsListen { restartOnly.append("metrics.listen") }
        if next.config.stability != config.stability || next.config.only != config.only { restartOnly.append("learn") }
        if next.config.duration != config.duration { restartOnly.append("duration") }
        // Whether the kernel keeps known connects, binds and listens back is set when its
        // programs load: streaming every one (`events: true`) needs a restart to start.
        if next.config.events != config.events { restartOnly.append("events (for the kernel's keeping back of known network calls)") }
        if next.config.workloads != config.workloads || next.config.allProcesses != config.allProcesses { restartOnly.append("workloads") }
        var newStream: EventStream?
        if next.config.outputs != config.outputs {
            do {
                newStream = try EventStream(outputs: next.config.outputs, spoolDirectory: config.spoolDirectory, encoder: stream.encoder)
            } catch {
                reloadRefused("cannot open the outputs: \(error)")
                return
            }
        }
        // Everything checked: apply.
        if let newStream {
            stream.close()
            stream = newStream
            responder.stream = newStream
        }
        responder.setPolicy(next.policy)
        configuration.policy = next.policy
        configuration.policyName = next.config.policy ?? "built-in"
        // The new policy's workload blocks (exec guard, segmentation) reach the kernel for the
        // processes running now, not only for those placed from now on.
        for r in table.records { placeInKernel(r.pid) }
        if segments {
            // Exactly the new list: a destination it dropped is refused again at once.
            var allowed = Sensor.SlotKeys()
            allowed.destinations = next.policy.segmentAllow
            do { try kernel.replaceKnownKeys([0: allowed]) } catch {
                Diagnostics.warning("reload: could not load segment-allow into the kernel: \(error)")
            }
        }
        configuration.run.policy = next.config.policy
        configuration.run.outputs = next.config.outputs
        configuration.run.events = next.config.events
        configuration.run.promotion = next.config.promotion
        configuration.run.modes = next.config.modes
        configuration.run.mode = next.config.mode
        if next.config.logLevel != config.logLevel || next.config.logFormat != config.logFormat {
            configuration.run.logLevel = next.config.logLevel
            configuration.run.logFormat = next.config.logFormat
            VigilLog.configure(level: configuration.logLevel ?? next.config.logLevel ?? .info,
                               format: configuration.logFormat ?? next.config.logFormat ?? .text)
        }
        modes.policy = next.config.effectivePromotion
        changes += Self.applyOverrides(&modes, ids: Array(learner.profiles.keys), learner: learner, configuration: configuration, now: t)
        // The fleet's baselines are merged into the directory first (`fleet:`).
        configuration.run.fleet = next.config.fleet
        let fleetDetail = FleetPull.run(next.config.fleet, models: config.models, when: "reload")
        // Baselines edited or added on disk (reviewed, merged) replace the watched copies.
        checkModelsDirectory(now: t)
        let (fresh, errs) = store.loadAll()
        refused = Set(errs.map { Self.profileID(ofFile: $0.file) })
        for e in errs {
            // A baseline edited into something unreadable: the copy in force stays, and says so.
            let id = Self.profileID(ofFile: e.file)
            let loaded = detector.profiles[id] != nil || learner.profiles[id] != nil
            let consequence = loaded ? "the copy loaded before stays in force" : "it was not loaded; its programs are judged as unknown executables"
            Diagnostics.warning("reload: refused \(e); \(consequence)")
            if reportedUnusable[id] != e.description {
                reportedUnusable[id] = e.description
                stream.publish(AgentEvent(.baselineUnusable(profile: id, file: e.file, reason: e.field == "(file)" ? e.reason : "field \(e.field): \(e.reason)",
                                                            consequence: consequence), timeNanos: t))
            }
        }
        reportedUnusable = reportedUnusable.filter { refused.contains($0.key) }
        // A file the writer has queued or is writing (a promotion's save) is the agent's
        // own: not deleted though it may not be there yet, and what the detector holds is
        // newer than what it may hold yet.
        let writing = absorbWrites().busy
        let removed = removeDeletedBaselines(present: Set(fresh.map(\.id)).union(refused)
            .union(writing.map { Self.profileID(ofFile: $0) }))
        var updated = 0
        var kernelCopies: [UInt32: (syscalls: Set<UInt32>, ngrams: Set<UInt64>)] = [:]
        var keyCopies: [UInt32: Sensor.SlotKeys] = [:]
        for p in fresh {
            if learner.profiles[p.id] == nil {
                learner.add(p, now: t)
                if let c = modes.register(p.id, created: false, now: t) { changes.append(c) }
            }
            guard modes.mode(of: p.id) != .learn, !writing.contains(p.id + ".json") else { continue }
            // Any difference in the file counts, not only a new revision (a hand-edited
            // file keeps its); compared as encoded, so fields a file does not hold do not.
            if detector.profiles[p.id].map(ProfileCodec.encode) != ProfileCodec.encode(p) {
                detector.upsert(p)
                if hasKernelSlot(p.id) {
                    kernelCopies[learner.profileSlot(for: p.id)] = (Set(p.syscalls.keys), Set(p.ngrams.keys))
                    var keys = knownKeys(p.id)
                    keys?.files = FileRules.kernelKeys(p)
                    keyCopies[learner.profileSlot(for: p.id)] = keys
                }
                inKernel.insert(p.id)
                publishExecSlot(p.id)
                updated += 1
            }
        }
        do {
            try kernel.replaceKnown(kernelCopies)
            try kernel.replaceKnownKeys(keyCopies)
        } catch {
            Diagnostics.warning("reload: could not load the updated baselines into the kernel: \(error)")
        }
        flushChanges()
        metrics.reloads["ok", default: 0] += 1
        metrics.lastReloadSucceeded = true
        var detail = "policy \(configuration.policyName), \(config.outputs.count) outputs, \(updated) baselines updated"
        if !removed.isEmpty { detail += ", \(removed.count) removed (\(removed.joined(separator: ", ")))" }
        if !errs.isEmpty { detail += ", \(errs.count) refused" }
        if let fleetDetail { detail += "; \(fleetDetail)" }
        if !restartOnly.isEmpty { detail += "; changes to \(restartOnly.joined(separator: ", ")) take effect at restart" }
        stream.publish(AgentEvent(.reloaded(detail: detail), timeNanos: t))
        Diagnostics.info("reloaded \(path): \(detail)")
    }

    /// Drops every watched baseline whose file is gone from the models directory (deleted
    /// by the operator): from the detector, the learner, the modes and the kernel (its known
    /// syscalls and n-grams, the executables only it knew); its running processes are judged
    /// as unknown executables from now on. Learning profiles are the agent's own writes and
    /// stay (the next save writes them again). Returns the ids removed.
    private func removeDeletedBaselines(present: Set<String>) -> [String] {
        let gone = detector.profiles.keys.filter { !present.contains($0) && modes.mode(of: $0) != .learn }.sorted()
        guard !gone.isEmpty else { return [] }
        var emptied: [UInt32: (syscalls: Set<UInt32>, ngrams: Set<UInt64>)] = [:]
        for id in gone {
            let slot = learner.profileSlot(for: id)
            emptied[slot] = ([], [])
            let pids = table.records.map(\.pid).filter { detector.profileID(forPid: $0) == id || learner.profileID(forPid: $0) == id }
            detector.remove(profile: id)
            learner.remove(id)
            writer.cancel(id)
            modes.forget(id)
            inKernel.remove(id)
            applyExecSlotWrites(execSlots.release(id))
            badBaselines[id] = nil
            for pid in pids { try? kernel.assignProfile(pid: pid, slot: 0, execSeq: execSeqs[pid]) }
            Diagnostics.info("reload: \(store.path(for: id)) is gone; profile \(id) removed (its programs are unknown executables from now on)")
        }
        do {
            try kernel.replaceKnown(emptied)
            try kernel.replaceKnownKeys(emptied.mapValues { _ in Sensor.SlotKeys() })
        } catch {
            Diagnostics.warning("reload: could not remove the deleted baselines from the kernel: \(error)")
        }
        let stillKnown = learner.profiles.values.reduce(into: Set<String>()) { $0.formUnion($1.knownPaths.union($1.executes.keys)) }
        let forgotten = knownExecutables.subtracting(stillKnown)
        if !forgotten.isEmpty {
            knownExecutables.subtract(forgotten)
            do { try kernel.removeKnownExecutables(forgotten) } catch {
                Diagnostics.warning("reload: could not remove executables of the deleted baselines from the kernel's exec guard: \(error)")
            }
        }
        saveModes()
        return gone
    }

    /// A reload that could not be applied: reported, counted; what runs stays.
    public func reloadRefused(_ reason: String) {
        metrics.reloads["refused", default: 0] += 1
        metrics.lastReloadSucceeded = false
        stream.publish(AgentEvent(.reloadRefused(reason: reason), timeNanos: clock.nowNanos()))
        Diagnostics.error("reload refused, the running configuration stays: \(reason)")
    }

    /// The configuration's `modes:` (by profile id or executable path) over promotion.
    private static func applyOverrides(_ modes: inout ProfileModes, ids: [String], learner: Learner, configuration c: AgentConfiguration,
                                       now: UInt64) -> [ModeChange] {
        var out: [ModeChange] = []
        for id in ids.sorted() {
            guard let wanted = pinnedMode(id: id, path: learner.profiles[id]?.identity.executable, config: c.run) else {
                modes.pinned.remove(id)
                continue
            }
            modes.pinned.insert(id)
            if let ch = modes.set(id, wanted, reason: "set in \(c.configPath ?? "the command line")", now: now) { out.append(ch) }
        }
        return out
    }

    /// The mode the configuration fixes for a profile (`modes:` by id or path, or `mode:`).
    private func pinnedMode(id: String, path: String?) -> ProfileMode? { Self.pinnedMode(id: id, path: path, config: config) }

    private static func pinnedMode(id: String, path: String?, config: RunConfig) -> ProfileMode? {
        config.modes[id] ?? path.flatMap { config.modes[$0] } ?? config.mode
    }

    static func summary(_ modes: ProfileModes) -> String {
        let counts = Dictionary(grouping: modes.records.values, by: \.mode).mapValues(\.count)
        return ProfileMode.allCases.map { "\(counts[$0] ?? 0) \($0.rawValue)" }.joined(separator: ", ")
    }

    // MARK: Upgrades

    /// Profile `id`'s binary was replaced by package `package`: the new binary is accepted,
    /// and the profile re-learns: under `vigil run` it goes back to learn mode (promotion
    /// brings it back once stable); under monitor and enforce its findings are held at alert
    /// for the window (the responder's `upgrades`).
    private func upgraded(_ id: String, package: String, sha256: String) {
        let now = clock.nowNanos()
        detector.acceptBinary(sha256, profile: id, host: configuration.hostID, now: now)
        let minutes = Int(responder.upgradeWindowNanos / 60_000_000_000)
        if configuration.command == .run, modes.mode(of: id) != .learn,
           let change = modes.set(id, .learn, reason: "binary upgraded by package \(package)", now: now) {
            changes.append(change)
            Diagnostics.info("profile \(id): binary upgraded by package \(package); learning again")
        } else {
            stream.publish(AgentEvent(.modeChanged(profile: id, from: modes.mode(of: id)?.rawValue, to: "re-learning",
                                                   reason: "binary upgraded by package \(package); findings held at alert for \(minutes) minutes"),
                                      timeNanos: now))
            Diagnostics.info("profile \(id): binary upgraded by package \(package) (dpkg's digest matches); held at alert for \(minutes) minutes")
        }
    }

    // MARK: Workload modes

    /// The declared workloads (with the pseudo-workload of `--all-processes`).
    public var workloadNames: [String] {
        scope.workloads.map(\.name) + (configuration.allProcesses ? [WorkloadScope.everyProcess] : [])
    }

    /// The mode `workload` is judged in now.
    public func mode(ofWorkload workload: String) -> String {
        guard configuration.command == .enforce || configuration.command == .run else { return "monitor" }
        switch responder.heldAtMonitor[workload] {
        case .breaker?: return "monitor (circuit breaker)"
        case .byOperator?: return "monitor (operator)"
        case .badBaseline?: return "monitor (bad baseline)"
        case nil: return "enforce"
        }
    }

    /// `workload` falls back to monitor: the kernel stops acting on its members at once
    /// (exec guard, kill, deny network), what Vigil stopped is resumed, and the stream says so.
    private func releaseToMonitor(_ workload: String, why: String) {
        for pid in scope.members(of: workload) { placeInKernel(pid) }
        let resumed = responder.resume(scope.members(of: workload))
        Diagnostics.warning("workload \(workload) now monitor: \(why)" + (resumed.isEmpty ? "" : "; resumed \(resumed.count) stopped processes"))
        stream.publish(AgentEvent(.workloadModeChanged(workload: workload, to: "monitor", reason: why), timeNanos: clock.nowNanos()))
    }

    /// Switches a workload (nil: every workload) to `mode`, as `vigil mode` asks; returns what
    /// happened, in words, or throws a message for a request that cannot be met.
    public func setWorkloadMode(_ workload: String?, to mode: ResponseMode) throws(AgentRequestError) -> String {
        let names = try targets(workload)
        if mode == .enforce, configuration.command != .enforce && configuration.command != .run {
            throw AgentRequestError("this agent runs `vigil \(configuration.command.rawValue)`, which never acts; start `vigil enforce` to enforce")
        }
        var changed: [String] = []
        for w in names {
            switch mode {
            case .monitor:
                guard responder.heldAtMonitor[w] == nil else { continue }
                responder.holdAtMonitor(w)
                releaseToMonitor(w, why: Responder.Hold.byOperator.description)
            case .enforce:
                guard responder.heldAtMonitor[w] != nil else { continue }
                responder.rearm(w)
                for pid in scope.members(of: w) { placeInKernel(pid) }
                Diagnostics.info("workload \(w) enforced again (operator: vigil mode enforce)")
                stream.publish(AgentEvent(.workloadModeChanged(workload: w, to: "enforce", reason: "operator: vigil mode enforce"), timeNanos: clock.nowNanos()))
            }
            changed.append(w)
        }
        updateMetrics()
        return changed.isEmpty ? "no change: \(names.joined(separator: ", ")) already \(mode.rawValue)"
                               : "\(changed.joined(separator: ", ")) now \(mode.rawValue)"
    }

    /// Resumes every process of a workload (nil: of every workload) that Vigil stopped.
    public func resume(workload: String?) throws(AgentRequestError) -> String {
        let names = try targets(workload)
        var resumed: [Int32] = []
        for w in names { resumed += responder.resume(scope.members(of: w)) }
        return resumed.isEmpty ? "nothing to resume in \(names.joined(separator: ", "))"
                               : "resumed \(resumed.count): " + resumed.map(String.init).joined(separator: " ")
    }

    /// Answers one control request (``ControlServer``): `mode monitor|enforce [WORKLOAD]`,
    /// `resume [WORKLOAD]` or `workloads`. The answer starts with `ok` or `error`.
    public func answer(_ request: String) -> String {
        let line = request.trimmingCharacters(in: .whitespaces)
        let words = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true).map(String.init)
        let usage = "expected: mode monitor|enforce [WORKLOAD], resume [WORKLOAD], or workloads"
        do throws(AgentRequestError) {
            switch words.first {
            case "mode":
                guard words.count >= 2, let m = ResponseMode(rawValue: words[1]) else { return "error mode takes monitor or enforce; \(usage)" }
                return "ok " + (try setWorkloadMode(words.count == 3 ? words[2] : nil, to: m))
            case "resume":
                let rest = line.dropFirst("resume".count).trimmingCharacters(in: .whitespaces)
                return "ok " + (try resume(workload: rest.isEmpty ? nil : rest))
            case "workloads" where words.count == 1:
                let names = workloadNames
                return "ok " + (names.isEmpty ? "no workload declared" : names.map { "\($0): \(mode(ofWorkload: $0))" }.joined(separator: "; "))
            default:
                return "error unknown request '\(line.prefix(80))'; \(usage)"
            }
        } catch {
            return "error \(error)"
        }
    }

    private func targets(_ workload: String?) throws(AgentRequestError) -> [String] {
        let names = workloadNames
        guard let workload else {
            if names.isEmpty { throw AgentRequestError("no workload is declared in this agent") }
            return names
        }
        guard names.contains(workload) else {
            throw AgentRequestError("no workload '\(workload)' in this agent; it has: \(names.isEmpty ? "none" : names.joined(separator: ", "))")
        }
        return [workload]
    }

    // MARK: Metrics

    /// The agent's figures as `/metrics` serves them.
    public func metricsSnapshot() -> AgentMetrics {
        var m = metrics
        let t = clock.nowNanos()
        let stats = kernel.stats
        m.eventsByKind = Dictionary(uniqueKeysWithValues: Event.Kind.allCases.map { ($0.rawValue, stats.kernelEmitted[$0] ?? 0) })
        m.kernelDropsByKind = Dictionary(uniqueKeysWithValues: Event.Kind.allCases.map { ($0.rawValue, stats.kernelDrops[$0] ?? 0) })
        m.kernelKnownByKind = Dictionary(uniqueKeysWithValues: Event.Kind.allCases.map { ($0.rawValue, stats.kernelKnown[$0] ?? 0) })
        m.kernelFailuresBySite = Dictionary(uniqueKeysWithValues: KernelFailureSite.allCases.map { ($0.rawValue, stats.failures[$0] ?? 0) })
        m.profilesWithoutKernelSlot = withoutKernelSlot.count
        m.execSlotKeys = publishedExecSlots
        m.profileSlots = Int(kernel.profileSlotLimit) - 1
        m.kernelMapCapacity = kernel.mapCapacities.mapValues(UInt64.init)
        m.findingsByKind = responder.findingsByKind
        m.findingsSuppressed = stream.suppressedByWorkload.mapValues(UInt64.init)
        m.sequencesBelowThreshold = detector.sequencesBelowThreshold
        let counts = scope.memberCounts
        m.workloads = workloadNames.map { w in
            AgentMetrics.WorkloadFigures(name: w, members: w == WorkloadScope.everyProcess ? scope.members(of: w).count : counts[w] ?? 0,
                                         mode: mode(ofWorkload: w), acts: responder.actsByWorkload[w] ?? 0)
        }
        m.actions = responder.actionCounts
        var byState: [AgentMetrics.ProfileStateKey: Int] = [:]
        for (id, r) in modes.records {
            let state = (stabilityState(of: id, now: t) ?? .learning).rawValue
            byState[AgentMetrics.ProfileStateKey(mode: r.mode.rawValue, state: state), default: 0] += 1
        }
        m.profiles = byState
        let fill = kernel.ringBufferFill
        m.ringBufferUsedBytes = fill.used
        m.ringBufferSizeBytes = fill.size
        m.programs = kernel.programStats()
        m.runTimeStatsEnabled = kernel.runTimeStatsEnabled
        m.sinks = stream.stats
        m.processesTracked = table.records.count
        m.unusableBaselines = badBaselines.count + refused.subtracting(badBaselines.keys).count
        m.uptimeSeconds = Double(t - startNanos) / 1e9
        m.process = ProcessSelfMetrics.read()
        return m
    }

    /// One line for the service manager (`systemctl status`): mode, profiles by mode, and
    /// kernel events per second since the previous call (none on the first).
    public func serviceStatus() -> String {
        let now = clock.nowNanos()
        let events = kernel.stats.kernelEmitted.values.reduce(0, +)
        var rate = ""
        if let last = statusSample, now > last.at, events >= last.events {
            rate = String(format: "; %.0f events/s", Double(events - last.events) / (Double(now - last.at) / 1e9))
        }
        statusSample = (events, now)
        return "\(configuration.command.rawValue): profiles \(Self.summary(modes))\(rate)"
    }

    private func updateMetrics() {
        guard let server = metricsServer else { return }
        let snapshot = metricsSnapshot()
        server.update(snapshot.families())
        if let problems = snapshot.process?.problems, !problems.isEmpty, !reportedSelfMetrics {
            reportedSelfMetrics = true
            Diagnostics.warning("process_* metrics left out, /proc unreadable: \(problems.joined(separator: "; ")) (reported once)")
        }
        // Called once a second from the loop: what `/healthz` judges the loop alive by.
        server.noteLoop(failingOutputs: snapshot.sinks.filter(\.down).map(\.name))
    }
}

/// The version every component reports.
public enum VigilVersion {
    public static let string = "0.1.0"
}

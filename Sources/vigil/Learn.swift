import ArgumentParser
import Foundation
import VigilCore
import VigilSensor

struct Learn: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Learn per-program baselines from what processes on this host do (needs root).",
        discussion: """
        Run it on a staging host while its services do their normal work. Every program that \
        runs (or only the executables named with --only) gets a profile: the syscalls and \
        syscall sequences (6-grams) it makes, the programs it starts, who starts it, where it \
        connects, which ports it listens on, which users it runs as, and the SHA-256 of its \
        binary. Profiles are JSON files in --models (one per program; Models/README.md), \
        saved atomically every --save-interval seconds and on exit; learning continues from \
        what the directory already holds.

        Only novelty crosses the kernel boundary: the kernel holds each profile's known \
        syscalls and n-grams in BPF maps, counts them in place, and reports only what is new.

        A profile is `stable` once its rate of never-seen behaviour has levelled off over the \
        last --window buckets of --bucket seconds (and no events were dropped meanwhile); \
        `learning` until then. `vigil profile list --models DIR` shows which.

        Examples:
          sudo vigil learn --models /var/lib/vigil/models --duration 3600
          sudo vigil learn --models ./models --only /usr/sbin/nginx --only /usr/bin/redis-server
        """
    )

    @Option(help: ArgumentHelp("The models directory (created owner-only if missing).", valueName: "DIR"))
    var models: String

    @Option(help: "Stop after this many seconds (default: until SIGINT or SIGTERM).")
    var duration: Double?

    @Option(parsing: .singleValue, help: ArgumentHelp("Learn only this executable (absolute path; repeatable).", valueName: "PATH"))
    var only: [String] = []

    @Option(name: .customLong("save-interval"), help: "Seconds between saves.")
    var saveInterval: Double = 30

    @Option(help: "Seconds per bucket of the stability statistic.")
    var bucket: UInt64 = 60

    @Option(help: "Buckets the rate of new behaviour must stay level over to call a profile stable.")
    var window: Int = 5

    @Option(name: .customLong("min-observed"), help: "Seconds a profile must be observed, at least, before it can be stable.")
    var minObserved: UInt64 = 600

    func validate() throws {
        if let d = duration, !(d > 0) || !d.isFinite { throw ValidationError("--duration must be a positive number of seconds, got \(d)") }
        if !(saveInterval >= 1) { throw ValidationError("--save-interval must be at least 1 second, got \(saveInterval)") }
        if bucket < 1 { throw ValidationError("--bucket must be at least 1 second") }
        if window < 1 { throw ValidationError("--window must be at least 1 bucket") }
        for p in only where !p.hasPrefix("/") {
            throw ValidationError("--only takes absolute executable paths, got '\(p)'")
        }
    }

    func run() throws {
        try ModelsDirectory.prepare(models)
        let store = ProfileStore(directory: models)
        let (loaded, errors) = store.loadAll()
        for e in errors { Diagnostics.warning("refused \(e); it will not be overwritten") }
        let refused = Set(errors.map { (($0.file as NSString).lastPathComponent as NSString).deletingPathExtension })

        var options = SensorOptions()
        options.mode = .learn
        options.sizeKnownMaps(for: loaded)
        let stop = StopSignal.install()
        let sensor = try Sensor.start(options)

        let policy = StabilityPolicy(bucketSeconds: bucket, windowBuckets: window, minObservedSeconds: minObserved)
        let hasher = BackgroundHasher()
        let now = Clock.nowNanos()
        let learner = Learner(hostID: ProcessInfo.processInfo.hostName, policy: policy, profiles: loaded, now: now,
                              binaryHash: { hasher.cachedOrSchedule(path: $0) })
        let onlyPaths = Set(only)
        let wanted: (String) -> Bool = { onlyPaths.isEmpty || onlyPaths.contains($0) }

        // What the kernel already knows: every loaded profile's syscalls and n-grams.
        var preloaded: Set<String> = []
        func preload(_ id: String) {
            guard !preloaded.contains(id) else { return }
            preloaded.insert(id)
            do {
                let slot = learner.profileSlot(for: id)
                try sensor.setSlotMode(slot, .learn)
                try sensor.preload(slot: slot, syscalls: learner.knownSyscalls(id), ngrams: learner.knownNgramHashes(id))
            } catch {
                Diagnostics.warning("could not preload profile \(id) into the kernel: \(error)")
            }
        }
        for id in learner.profiles.keys where wanted(learner.profiles[id]!.identity.executable) { preload(id) }

        // Processes already running.
        var table = ProcessTable(seed: ProcScanner.snapshot(nowNanos: now))
        let seed = table.records.filter { !$0.path.isEmpty && wanted($0.path) && $0.pid != getpid() }
        learner.seed(seed, now: now)
        for r in seed { attach(r.pid, learner: learner, sensor: sensor, preload: preload) }

        let progress = LearnProgress(interactive: isatty(STDOUT_FILENO) == 1, models: models)
        progress.started(profiles: loaded.count, processes: seed.count, only: only)

        let loop = SensorLoop(sensor: sensor, stop: stop, duration: duration)
        var nextSave = DispatchTime.now().uptimeNanoseconds + UInt64(saveInterval * 1e9)
        var nextProgress = DispatchTime.now().uptimeNanoseconds + 1_000_000_000
        var failure: (any Error)?

        let handle: (Event) -> Void = { event in
            let record = table.apply(event)
            switch event.payload {
            case .exec(let x):
                guard wanted(x.path) else {
                    sensor.releaseProcess(pid: event.pid)
                    // A learned program exec'd something not learned: record that it did.
                    learner.noteUnlearnedExec(pid: event.pid, path: x.path, at: event.timeNanos, now: Clock.nowNanos())
                    return
                }
                learner.apply(event, process: record, now: Clock.nowNanos())
                attach(event.pid, learner: learner, sensor: sensor, preload: preload)
            case .novelty(let n):
                guard let id = learner.profileID(forPid: event.pid) ?? (n.profileSlot != 0 ? learner.profileID(forSlot: n.profileSlot) : nil) else { return }
                learner.apply(event, process: record, now: Clock.nowNanos())
                if n.profileSlot == 0 {
                    // Reported while the process was pending: teach the kernel, so the
                    // profile's other processes do not report it again.
                    try? sensor.preload(slot: learner.profileSlot(for: id), syscalls: [n.syscall], ngrams: [n.hash])
                }
            default:
                guard learner.profileID(forPid: event.pid) != nil else { return }
                learner.apply(event, process: record, now: Clock.nowNanos())
            }
        }

        func absorbAndSave(final: Bool) {
            let saved = learner.absorbAndSave(ids: nil, sensor: sensor, store: store, hasher: hasher, refused: refused, final: final)
            progress.saved(count: saved, final: final)
        }

        do {
            try loop.run(handle, afterRead: {
                let clock = DispatchTime.now().uptimeNanoseconds
                for (path, hash) in hasher.completed() {
                    learner.noteBinary(path: path, sha256: hash, now: Clock.nowNanos())
                }
                if clock >= nextSave {
                    absorbAndSave(final: false)
                    nextSave = clock + UInt64(saveInterval * 1e9)
                }
                if clock >= nextProgress {
                    progress.update(learner: learner, now: Clock.nowNanos())
                    nextProgress = clock + 1_000_000_000
                }
            }, dropped: { dropped in
                learner.noteDrops(dropped, now: Clock.nowNanos())
                Diagnostics.warning("the kernel dropped \(dropped) events (ring buffer full); profiles cannot become stable on this window")
            })
        } catch {
            failure = error
        }
        absorbAndSave(final: true)
        sensor.detach()
        progress.finished(learner: learner, now: Clock.nowNanos(), stats: sensor.stats)
        if let failure {
            Diagnostics.error("reading events failed: \(failure)")
            throw ExitCode.failure
        }
    }

    /// Gives process `pid` its profile's slot in the kernel (after the learner decided it).
    private func attach(_ pid: Int32, learner: Learner, sensor: Sensor, preload: (String) -> Void) {
        guard let id = learner.profileID(forPid: pid) else {
            sensor.releaseProcess(pid: pid)
            return
        }
        preload(id)
        do {
            try sensor.assignProfile(pid: pid, slot: learner.profileSlot(for: id))
        } catch {
            Diagnostics.warning("could not assign pid \(pid) to profile \(id) in the kernel: \(error)")
        }
    }
}

/// The learner's way to the kernel's counts and to disk, shared by `vigil learn` and `vigil run`.
extension Learner {
    /// Folds the kernel's counts of known behaviour into profiles `ids` (nil: every profile
    /// with a slot).
    func absorbKernelCounts(from sensor: Sensor, ids: [String]?, now: UInt64) {
        let counts = sensor.knownCounts()
        let slots = ids.map { $0.map { profileSlot(for: $0) } } ?? counts.keys.filter { profileID(forSlot: $0) != nil }
        for slot in slots {
            guard let c = counts[slot] else { continue }
            absorbKernelCounts(slot: slot, syscalls: c.syscalls, ngrams: c.ngrams, now: now)
        }
    }

    /// Writes profile `id` if it changed, unless its file was refused at load; true when written.
    @discardableResult
    func save(_ id: String, to store: ProfileStore, refused: Set<String>) -> Bool {
        guard !refused.contains(id), var p = profiles[id] else { return false }
        do {
            let wrote = try store.save(&p)
            setRevision(p.revision, for: id)
            return wrote
        } catch {
            Diagnostics.error("saving profile \(id): \(error)")
            return false
        }
    }

    /// Takes the finished binary hashes and the kernel's counts, then writes the changed
    /// profiles among `ids` (nil: all). Returns how many were written.
    @discardableResult
    func absorbAndSave(ids: [String]?, sensor: Sensor, store: ProfileStore, hasher: BackgroundHasher,
                       refused: Set<String>, final: Bool) -> Int {
        let t = Clock.nowNanos()
        if final { hasher.waitForPending(seconds: 10) }
        for (path, hash) in hasher.completed() { noteBinary(path: path, sha256: hash, now: t) }
        absorbKernelCounts(from: sensor, ids: ids, now: t)
        tick(t)
        let candidates = ids.map { Set($0).intersection(dirty) } ?? dirty
        let saved = candidates.sorted().filter { save($0, to: store, refused: refused) }.count
        markSaved()
        return saved
    }
}

/// SHA-256 of executables, computed on a background queue so that hashing a large binary
/// never stalls the ring-buffer reader. The first request for a path schedules it; the
/// result is handed back through `completed()` and cached by inode, size and mtime.
final class BackgroundHasher: @unchecked Sendable {
    private let hasher = CachingFileHasher()
    private let queue = DispatchQueue(label: "vigil.hash", qos: .utility)
    private let lock = NSLock()
    private var cache: [String: String] = [:]
    private var scheduled: Set<String> = []
    private var done: [(String, String)] = []
    private let group = DispatchGroup()

    func cachedOrSchedule(path: String) -> String? {
        lock.lock()
        defer { lock.unlock() }
        if let h = cache[path] { return h }
        if scheduled.insert(path).inserted {
            queue.async(group: group) { [self] in
                let h = hasher.sha256(path: path)
                lock.lock()
                if let h {
                    cache[path] = h
                    done.append((path, h))
                }
                lock.unlock()
            }
        }
        return nil
    }

    func completed() -> [(String, String)] {
        lock.lock()
        defer { lock.unlock() }
        let out = done
        done.removeAll()
        return out
    }

    func waitForPending(seconds: Double) {
        _ = group.wait(timeout: .now() + seconds)
    }
}

/// The models directory: created owner-only; refused when others can write to it.
enum ModelsDirectory {
    /// An existing models directory (monitor, enforce): present, a directory, not writable by others.
    static func requireSafe(_ path: String) throws {
        guard let st = status(path), st.st_mode & S_IFMT == S_IFDIR else {
            Diagnostics.error("--models \(path) is not a directory (learn baselines first: vigil learn --models \(path))")
            throw ExitCode(2)
        }
        try refuseWritableByOthers(path, st, what: "the models directory \(path) is writable by users other than its owner; anyone could plant a baseline")
    }

    private static func status(_ path: String) -> stat? {
        var st = stat()
        return stat(path, &st) == 0 ? st : nil
    }

    private static func refuseWritableByOthers(_ path: String, _ st: stat, what: String) throws {
        if st.st_mode & 0o022 != 0 {
            Diagnostics.error("\(what). Fix: chmod go-w \(path)")
            throw ExitCode(2)
        }
    }

    static func prepare(_ path: String) throws {
        var st = stat()
        if stat(path, &st) != 0 {
            do {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                Diagnostics.error("cannot create the models directory \(path): \(error.localizedDescription)")
                throw ExitCode.failure
            }
            return
        }
        guard st.st_mode & S_IFMT == S_IFDIR else {
            Diagnostics.error("--models \(path) is not a directory")
            throw ExitCode(2)
        }
        if st.st_mode & 0o002 != 0 {
            Diagnostics.error("the models directory \(path) is writable by every user; anyone could plant a baseline. Fix: chmod o-w \(path)")
            throw ExitCode(2)
        }
    }
}

/// What `vigil learn` tells the person running it: a live panel on a terminal, a plain
/// log line per save otherwise.
final class LearnProgress {
    let interactive: Bool
    let models: String
    private var lastNew: UInt64 = 0
    private var lastTime: UInt64 = 0
    private var drawnLines = 0

    init(interactive: Bool, models: String) {
        self.interactive = interactive
        self.models = models
    }

    func started(profiles: Int, processes: Int, only: [String]) {
        Diagnostics.info("learning into \(models): \(profiles) profiles loaded, \(processes) running processes attached"
            + (only.isEmpty ? "" : "; only \(only.joined(separator: ", "))"))
    }

    func update(learner: Learner, now: UInt64) {
        guard interactive else { return }
        let ids = learner.profiles.keys.sorted()
        let reports = ids.map { ($0, learner.stability($0, now: now)) }
        let stable = reports.filter { $0.1?.state == .stable }
        let totalNew = learner.profiles.values.reduce(UInt64(0)) { $0 + UInt64($1.itemCount) }
        let perMinute = lastTime == 0 ? 0 : Double(totalNew &- lastNew) * 60e9 / Double(max(now - lastTime, 1))
        lastNew = totalNew
        lastTime = now
        var lines = ["vigil learn: \(ids.count) profiles, \(stable.count) stable, \(String(format: "%.0f", perMinute)) new behaviours/min"]
        let busiest = reports.sorted { ($0.1?.windowNewItems ?? 0) > ($1.1?.windowNewItems ?? 0) }.prefix(8)
        for (id, r) in busiest {
            lines.append("  \(r?.state == .stable ? "stable  " : "learning") \(id)  \(r.map { String(format: "%.1f new/min", $0.newPerMinute) } ?? "")")
        }
        var out = drawnLines > 0 ? "\u{1B}[\(drawnLines)A" : ""
        for l in lines { out += "\u{1B}[2K" + l + "\n" }
        drawnLines = lines.count
        Console.raw(out)
    }

    func saved(count: Int, final: Bool) {
        if !interactive || final { Diagnostics.info("saved \(count) changed profiles to \(models)") }
    }

    func finished(learner: Learner, now: UInt64, stats: SensorStats) {
        let stable = learner.profiles.keys.filter { learner.stability($0, now: now)?.state == .stable }.count
        Diagnostics.info("stopped: \(learner.profiles.count) profiles (\(stable) stable); \(stats.totalKernelDrops) events dropped in the kernel")
    }
}

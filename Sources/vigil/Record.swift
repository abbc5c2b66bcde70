import ArgumentParser
import Foundation
import VigilAgent
import VigilCore
import VigilSensor

struct Record: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Record a syscall corpus from this host, for `vigil eval` and `vigil replay`.",
        discussion: """
        Traces every syscall of the selected processes (--only, --comm, --pid; every \
        process when none is given) and writes one trace per task (thread) when it exits, \
        in the corpus layout `vigil eval` reads: DIR/train/, DIR/validation/ or \
        DIR/attack/CASE/ (--set), syscall numbers separated by spaces, and DIR/corpus.json \
        saying they are linux-x86_64 numbers. What a bare trace cannot carry goes to \
        DIR/context.jsonl, one JSON line per trace: the executable as resolved and as \
        invoked, argv, user and effective user, the parent's executable and the whole \
        ancestry, how the task ended, and how many records the kernel dropped while it ran \
        (such a trace may miss calls). Recording into an existing corpus adds to it. Needs root.

        --set normal splits the traces by a hash of their names, 40% train and 60% \
        validation; record each attack into its own --set attack/CASE, starting the \
        recording before the attack and stopping it after.

        Examples:
          sudo vigil record --out ./corpus --set normal --only /usr/sbin/nginx --duration 600
          sudo vigil record --out ./corpus --set attack/webshell --only /usr/sbin/nginx --duration 30
          vigil eval ./corpus
        """
    )

    @Option(help: ArgumentHelp("The corpus directory (created if missing).", valueName: "DIR"))
    var out: String

    @Option(help: ArgumentHelp("Where the traces go: train, validation, normal (split 40/60 by name) or attack/CASE.", valueName: "SET"))
    var set: String = "normal"

    @Option(help: "Stop after this many seconds (default: until SIGINT or SIGTERM).")
    var duration: Double?

    @Option(parsing: .singleValue, help: ArgumentHelp("Record only processes of this executable and those they start (absolute path; repeatable).", valueName: "PATH"))
    var only: [String] = []

    @Option(help: "Record only tasks with this command name (the kernel's 15-byte comm).")
    var comm: String?

    @Option(help: "Record only this process id.")
    var pid: Int32?

    @Option(name: .customLong("min-calls"), help: "Shortest trace kept, in calls.")
    var minCalls: Int = 10

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard CorpusRecorder.Set(set) != nil else {
            throw ValidationError("--set '\(set)': expected train, validation, normal or attack/CASE (CASE: letters, digits, '-', '_', '.')")
        }
        if let d = duration, !(d > 0) || !d.isFinite {
            throw ValidationError("--duration must be a positive number of seconds, got \(d)")
        }
        if let p = pid, p <= 0 { throw ValidationError("--pid must be a positive process id, got \(p)") }
        if let c = comm, c.isEmpty || c.utf8.count > 15 {
            throw ValidationError("--comm '\(c)': expected 1 to 15 bytes (the kernel's command name)")
        }
        for p in only where !p.hasPrefix("/") { throw ValidationError("--only \(p): expected an absolute path") }
        guard minCalls >= 1 else { throw ValidationError("--min-calls must be at least 1, got \(minCalls)") }
    }

    func run() throws {
        logging.apply()
        let root = URL(fileURLWithPath: out).standardizedFileURL.path
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: root, isDirectory: &isDir), !isDir.boolValue {
            Diagnostics.error("--out \(root): exists and is not a directory")
            throw ExitCode(2)
        }
        let recorder = CorpusRecorder(set: CorpusRecorder.Set(set)!, sink: CorpusRecorder.DirectorySink(root: root))
        recorder.minimumCalls = minCalls
        do {
            try recorder.writeManifest(exists: FileManager.default.fileExists(atPath: root + "/" + Corpus.manifestName))
        } catch {
            Diagnostics.error("cannot write the corpus at \(root): \(error.localizedDescription)")
            throw ExitCode(2)
        }
        let selector = ExecutableSelector(paths: only, resolve: ExecutablePath.live.realpath)
        for w in selector.warnings { Diagnostics.warning(w) }

        var options = SensorOptions()
        options.syscalls = true
        options.pid = pid
        options.comm = comm
        var table = ProcessTable(seed: ProcScanner.snapshot(nowNanos: Clock.nowNanos()))
        // A process is recorded when it, or a process that started it, is selected.
        var wanted: [Int32: Bool] = [:]
        func isWanted(_ pid: Int32) -> Bool {
            if selector.isEmpty { return true }
            if let w = wanted[pid] { return w }
            let chain = [table[pid]].compactMap { $0 } + table.ancestry(of: pid)
            let w = chain.contains { selector.matches($0) }
            wanted[pid] = w
            return w
        }
        let stop = StopSignal.install()
        let sensor = try Sensor.start(options) {}
        Diagnostics.info("recording into \(root) (\(set)): \(sensor.attachedHooks.count) probes attached")
        let loop = SensorLoop(sensor: sensor, stop: stop, duration: duration)
        var failure: (any Error)?
        do {
            try loop.run({ event in
                guard failure == nil else { return }
                _ = table.apply(event)
                do { try recorder.apply(event, table: table, wanted: isWanted(event.pid)) } catch { failure = error }
                switch event.payload {
                case .exec, .exit: wanted[event.pid] = nil  // a new program is selected (or not) anew
                default: break
                }
            }, dropped: { n in
                recorder.noteDrops(n)
                Diagnostics.warning("the kernel dropped \(n) records (ring buffer full): the traces open now may miss calls (context.jsonl counts them)")
            })
        } catch {
            Diagnostics.error("reading events failed: \(error)")
            failure = failure ?? error
        }
        sensor.detach()
        if failure == nil {
            do { try recorder.finishAll() } catch { failure = error }
        }
        for w in selector.unmatchedWarnings() { Diagnostics.warning(w) }
        if let failure {
            Diagnostics.error("cannot write the corpus at \(root): \(failure.localizedDescription); \(recorder.written) traces written before it")
            throw ExitCode.failure
        }
        Diagnostics.info("recorded \(recorder.written) traces into \(root) (\(recorder.skippedShort) shorter than \(minCalls) calls skipped); context in \(root)/\(CorpusRecorder.contextFile)")
    }
}

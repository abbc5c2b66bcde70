import ArgumentParser
import Foundation
import VigilCore
import VigilSensor

struct Trace: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stream process and network events from the kernel as OCSF JSON lines.",
        discussion: """
        Loads Vigil's eBPF probes (exec, fork, exit; connect, bind, listen, accept; and, with \
        --syscalls, every syscall entry) and prints one event per line until the duration ends \
        or SIGINT/SIGTERM arrives. Needs root.

        JSON lines are OCSF 1.5: Process Activity (class_uid 1007) for launch and terminate, \
        Network Activity (4001) for connect, listen and accept (and bind).

        Examples:
          sudo vigil trace --duration 10
          sudo vigil trace --comm nginx --format text
          sudo vigil trace --pid 4242 --syscalls
        """
    )

    @Option(help: "Stop after this many seconds (default: run until SIGINT or SIGTERM).")
    var duration: Double?

    @Option(help: "Only events of this process id.")
    var pid: Int32?

    @Option(help: "Only events of tasks with this command name (the kernel's 15-byte comm).")
    var comm: String?

    @Flag(help: "Also report every syscall entry (many events).")
    var syscalls = false

    @Option(help: "Output format: json (OCSF lines) or text (one readable line per event).")
    var format: OutputFormat = .json

    func validate() throws {
        if let d = duration, !(d > 0) || !d.isFinite {
            throw ValidationError("--duration must be a positive number of seconds, got \(d)")
        }
        if let p = pid, p <= 0 { throw ValidationError("--pid must be a positive process id, got \(p)") }
        if let c = comm {
            if c.isEmpty { throw ValidationError("--comm must not be empty") }
            if c.utf8.count > 15 {
                throw ValidationError("--comm '\(c)' is longer than the kernel's 15-byte command name; use its first 15 bytes")
            }
        }
    }

    func run() throws {
        var options = SensorOptions()
        options.syscalls = syscalls
        options.pid = pid
        options.comm = comm

        let writer = LineWriter(fd: STDOUT_FILENO)
        var table = ProcessTable(seed: ProcScanner.snapshot(nowNanos: Clock.nowNanos()))
        let formatter = EventFormatter(format: format)
        let stop = StopSignal.install()

        let sensor: Sensor
        do {
            sensor = try Sensor(options: options)
        } catch {
            Diagnostics.error(error.description)
            throw ExitCode.failure
        }
        for note in sensor.notices { Diagnostics.warning(note) }
        Diagnostics.info("tracing: \(sensor.attachedHooks.count) probes attached; \(table.count) processes already running")

        let deadline = duration.map { DispatchTime.now().uptimeNanoseconds + UInt64($0 * 1e9) }
        var reportedDrops: UInt64 = 0
        let handle: (Event) -> Void = { event in
            let record = table.apply(event)
            if let line = formatter.format(event, process: record, table: table) { writer.write(line) }
        }
        do {
            while !stop.requested {
                if let d = deadline, DispatchTime.now().uptimeNanoseconds >= d { break }
                try sensor.poll(timeoutMillis: 100, handle)
                writer.flush()
                let drops = sensor.stats.totalKernelDrops
                if drops > reportedDrops {
                    Diagnostics.warning("the kernel dropped \(drops - reportedDrops) records (ring buffer full); \(drops) in all")
                    reportedDrops = drops
                }
            }
            try sensor.drain(handle)
        } catch {
            Diagnostics.error("reading events failed: \(error)")
            throw ExitCode.failure
        }
        sensor.detach()
        writer.flush()
        let stats = sensor.stats
        Diagnostics.info(StatsReport.summary(stats))
        if writer.failed { throw ExitCode.failure }
    }
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case json, text
}

import ArgumentParser
import Foundation
import VigilAgent
import VigilCore
import VigilOutput
import VigilSensor

struct Trace: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stream process and network events from the kernel as OCSF JSON lines.",
        discussion: """
        Loads Vigil's eBPF probes (exec, fork, exit; connect, bind, listen, accept; and, with \
        --syscalls, every syscall entry; with --files, files opened for writing, renamed, linked, \
        unlinked or made executable, files mapped executable and reads of the sensitive set) and prints one event per line until the duration ends \
        or SIGINT/SIGTERM arrives. Needs root.

        JSON lines are OCSF 1.5: Process Activity (class_uid 1007) for launch and terminate, \
        Network Activity (4001) for connect, listen and accept (and bind), File System \
        Activity (1001) for --files.

        Outputs (--output, repeatable; default stdout): stdout, file:PATH[?max-bytes=N&keep=K], \
        syslog+udp://HOST:PORT, syslog+tcp://HOST:PORT, syslog+tls://HOST:PORT (RFC 5424, \
        octet-counted on TCP and TLS), http(s)://HOST:PORT/PATH[?format=ndjson|hec|bulk], \
        nats://HOST:PORT/SUBJECT[?creds=FILE&tls=true] (NATS JetStream, acknowledged, \
        de-duplicated by the event's metadata.uid), otlp+http(s)://HOST[:PORT][/PATH] \
        (OTLP/HTTP JSON logs to an OpenTelemetry collector; port 4318, path /v1/logs). \
        Each output has its own queue; with --spool, events an output cannot take (it is down \
        or slow) wait on disk and are delivered in order when it is back. The grammar and \
        options: docs/outputs.md.

        Examples:
          sudo vigil trace --duration 10
          sudo vigil trace --comm nginx --format text
          sudo vigil trace --pid 4242 --syscalls
          sudo vigil trace --comm redis-server --files --format text
          sudo vigil trace --output file:/var/log/vigil.jsonl --output syslog+tcp://127.0.0.1:6514
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

    @Flag(help: "Also report files opened for writing, renamed, linked, unlinked or made executable, files mapped executable and reads of the sensitive set (its default list: docs/policy.md).")
    var files = false

    @Option(help: "Output format: json (OCSF lines) or text (one readable line per event, stdout only).")
    var format: OutputFormat = .json

    @Option(parsing: .singleValue, help: ArgumentHelp("Where events go (repeatable): stdout, file:PATH, syslog+tcp://H:P, https://H:P/path, nats://H:P/SUBJECT, ...", valueName: "SPEC"))
    var output: [String] = []

    @Option(help: ArgumentHelp("Directory where events wait while an output is down or slow (bounded per output).", valueName: "DIR"))
    var spool: String?

    @OptionGroup var logging: LoggingOptions

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
        if format == .text && !output.isEmpty && output != ["stdout"] {
            throw ValidationError("--format text writes to stdout only; outputs (--output) take OCSF JSON")
        }
        for spec in output {
            let parsed: OutputSpec
            do { parsed = try OutputSpec.parse(spec) } catch { throw ValidationError("--output \(error)") }
            for w in parsed.warnings { Diagnostics.warning("--output \(parsed): \(w)") }
        }
    }

    func run() throws {
        logging.apply()
        var options = SensorOptions()
        options.syscalls = syscalls
        options.files = files
        options.pid = pid
        options.comm = comm

        let writer = LineWriter(fd: STDOUT_FILENO)
        var table = ProcessTable(seed: ProcScanner.snapshot(nowNanos: Clock.nowNanos()))
        let stop = StopSignal.install()
        var stream: EventStream?
        if format == .json {
            var encoder = OCSFEncoder(productVersion: VigilVersion.string)
            encoder.syscalls = syscalls
            do {
                stream = try EventStream(outputs: output.isEmpty ? ["stdout"] : output, spoolDirectory: spool, encoder: encoder)
            } catch {
                Diagnostics.error("cannot open the outputs: \(error)")
                throw ExitCode(2)
            }
        }

        let sensor = try Sensor.start(options) { stream?.close() }
        stream?.publish(AgentEvent(.started(mode: "trace"), timeNanos: Clock.nowNanos()))
        Diagnostics.info("tracing: \(sensor.attachedHooks.count) probes attached; \(table.count) processes already running")

        let loop = SensorLoop(sensor: sensor, stop: stop, duration: duration)
        let handle: (Event) -> Void = { event in
            let record = table.apply(event)
            if let stream {
                stream.publish(event, process: record, ancestry: table.ancestry(of: event.pid))
            } else {
                writer.write(EventFormatter.text(event))
            }
        }
        do {
            var total: UInt64 = 0
            try loop.run(handle, afterRead: writer.flush) { dropped in
                total += dropped
                Diagnostics.warning("the kernel dropped \(dropped) records (ring buffer full); \(total) in all")
                stream?.publish(AgentEvent(.loss(source: "kernel-ringbuf", count: Int(dropped)), timeNanos: Clock.nowNanos()))
            }
        } catch {
            Diagnostics.error("reading events failed: \(error)")
            stream?.close()
            throw ExitCode.failure
        }
        sensor.detach()
        writer.flush()
        let stats = sensor.stats
        if let stream {
            stream.publish(AgentEvent(.stopped(reason: loop.stopReason), timeNanos: Clock.nowNanos()))
            stream.close()
            for s in stream.stats where s.lost > 0 || s.spoolPendingBytes > 0 {
                Diagnostics.warning("output \(s.name): \(s.delivered) delivered, \(s.lost) lost, \(s.spoolPendingBytes) bytes left in the spool for the next run")
            }
        }
        Diagnostics.info(StatsReport.summary(stats))
        if writer.failed { throw ExitCode.failure }
    }
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case json, text
}

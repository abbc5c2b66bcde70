import Foundation
import VigilCore
import VigilOutput
import VigilSensor

/// Runs the agent on the real kernel: what every agent command's `run()` calls.
public enum AgentRunner {
    public static func run(_ c: AgentConfiguration) throws(AgentExit) {
        let baselines = try Agent.loadBaselines(c)
        let stream: EventStream
        do {
            stream = try EventStream(outputs: c.command == .learn ? [] : c.run.outputs,
                                     spoolDirectory: c.keepsState ? c.run.spoolDirectory : c.run.spool,
                                     encoder: OCSFEncoder(productVersion: VigilVersion.string))
        } catch {
            Diagnostics.error("cannot open the outputs: \(error)")
            throw .badInput
        }
        var metricsServer: MetricsServer?
        if let listen = c.run.metricsListen {
            do { metricsServer = try MetricsServer(listen: listen) } catch {
                Diagnostics.error("\(error)")
                stream.close()
                throw .failure
            }
        }
        let stop = StopSignal.install()
        let reload = c.configPath != nil ? ReloadSignal() : nil
        var options = SensorOptions()
        options.mode = c.command == .learn ? .learn : .detect
        options.execGuard = c.command == .enforce || c.command == .run
        options.guardAllProcesses = c.allProcesses
        // Known connects, binds and listens of judged profiles stay in the kernel, unless
        // every event is streamed (`--events`, `events: true`).
        options.filterKnown = c.command.judges && !c.run.events
        // Processes running now each take a vg_procs entry once found: the built-in size
        // stays the room for those started later.
        let running = (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.filter { $0.allSatisfy(\.isNumber) }.count ?? 0
        options.sizeKnownMaps(for: baselines.profiles, processes: running)
        options.sensitiveFiles = c.policy.sensitiveFiles
        options.pinDirectory = c.command == .learn ? nil : c.run.bpfPin
        if let kib = ProcessInfo.processInfo.environment["VIGIL_RING_BUFFER_KIB"] {
            // A test knob (storm campaigns): a ring small enough to overflow.
            guard let n = UInt32(kib), n >= 4, n <= 1 << 20, n & (n - 1) == 0 else {
                Diagnostics.error("VIGIL_RING_BUFFER_KIB must be a power of two from 4 to 1048576 (KiB), got '\(kib)'")
                stream.close()
                throw .badInput
            }
            options.ringBufferBytes = n * 1024
        }
        let sensor = try Sensor.start(options) { stream.close() }
        if let report = sensor.pinReport { Diagnostics.info(report) }
        if c.run.bpfRunTime {
            do { try sensor.enableRunTimeStats() } catch { Diagnostics.warning("per-program BPF run time unavailable: \(error)") }
        }
        let interactive = isatty(STDIN_FILENO) == 1
        let agent = Agent(configuration: c, baselines: baselines, kernel: sensor, stream: stream, metricsServer: metricsServer,
                          sessionID: interactive ? getsid(0) : nil, interactive: isatty(STDOUT_FILENO) == 1)
        agent.start(running: ProcScanner.snapshot(nowNanos: Clock.nowNanos()))
        var control: ControlServer?
        if let path = c.controlSocket, c.command != .learn {
            do { control = try ControlServer(path: path) } catch {
                Diagnostics.warning("\(error); `vigil mode` and `vigil resume --workload` cannot reach this agent")
            }
        }
        // Probes attached, baselines loaded: a `Type=notify` unit is started now.
        let notifier = ServiceNotifier()
        notifier.ready(status: agent.serviceStatus())
        let loop = SensorLoop(sensor: sensor, stop: stop, duration: c.run.duration)
        var failure: (any Error)?
        do {
            try loop.run(agent.handle, afterRead: {
                let reloading = reload?.take() ?? false
                if reloading { notifier.reloading() }
                agent.afterRead(reloadRequested: reloading)
                if reloading { notifier.ready(status: agent.serviceStatus()) }
                control?.serve(agent.answer)
                // Pinged from this loop, so a loop that wedges stops pinging.
                notifier.tick(status: agent.serviceStatus)
            }, dropped: agent.noteDrops)
        } catch {
            failure = error
        }
        notifier.stopping()
        control?.stop()
        // The signal's record was read in the final drain: say who asked.
        agent.stop(reason: loop.stopReason == "signal" ? agent.lastStopSignal.map { "signal: \($0)" } ?? "signal" : loop.stopReason)
        if let failure {
            Diagnostics.error("reading events failed: \(failure)")
            throw .failure
        }
    }
}

import Foundation
public import VigilCore
import VigilOutput
public import VigilSensor

extension Sensor {
    /// Loads and attaches the probes for a command. On failure the person is told what is
    /// missing, `cleanup` runs (close the outputs) and the command exits 1; what the kernel
    /// lacks is shown as warnings.
    public static func start(_ options: SensorOptions, cleanup: () -> Void = {}) throws(AgentExit) -> Sensor {
        let sensor: Sensor
        do { sensor = try Sensor(options: options) } catch {
            Diagnostics.error(error.description)
            cleanup()
            throw .failure
        }
        for note in sensor.notices { Diagnostics.warning(note) }
        return sensor
    }
}

/// The read loop every long-running command shares (`trace`, `learn`, `monitor`,
/// `enforce`, `run`): read the ring buffer until the duration has passed or SIGINT/SIGTERM
/// arrives, then drain what is left.
public struct SensorLoop {
    let sensor: Sensor
    let stop: StopSignal
    /// Seconds to run; nil: until a signal.
    let duration: Double?

    public init(sensor: Sensor, stop: StopSignal, duration: Double?) {
        self.sensor = sensor
        self.stop = stop
        self.duration = duration
    }

    /// Why the loop ended, in the words the agent's stop event uses.
    public var stopReason: String { stop.requested ? "signal" : "duration elapsed" }

    /// Runs the loop. `handle` gets every event; `afterRead` runs after each read of the
    /// ring buffer and once more after the final drain; `dropped` gets the number of
    /// records the kernel dropped since the last report. Drops are checked at most once a
    /// second: reading the per-CPU counters costs a syscall per record kind, too much for
    /// every read when events are many.
    public func run(_ handle: (Event) -> Void, afterRead: () -> Void = {}, dropped: (UInt64) -> Void) throws {
        let start = DispatchTime.now().uptimeNanoseconds
        let deadline = duration.map { start + UInt64($0 * 1e9) }
        var reported: UInt64 = 0
        var nextDropCheck = start
        func checkDrops() {
            let drops = sensor.kernelDrops
            if drops > reported {
                dropped(drops - reported)
                reported = drops
            }
        }
        while !stop.requested {
            let clock = DispatchTime.now().uptimeNanoseconds
            if let d = deadline, clock >= d { break }
            try sensor.poll(timeoutMillis: 100, handle)
            afterRead()
            if clock >= nextDropCheck {
                checkDrops()
                nextDropCheck = clock + 1_000_000_000
            }
        }
        try sensor.drain(handle)
        afterRead()
        checkDrops()
    }
}

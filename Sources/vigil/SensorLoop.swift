import ArgumentParser
import Foundation
import VigilCore
import VigilSensor

extension Sensor {
    /// Loads and attaches the probes for a command. On failure the person is told what is
    /// missing, `cleanup` runs (close the outputs) and the command exits 1; what the kernel
    /// lacks is shown as warnings.
    static func start(_ options: SensorOptions, cleanup: () -> Void = {}) throws -> Sensor {
        let sensor: Sensor
        do { sensor = try Sensor(options: options) } catch {
            Diagnostics.error(error.description)
            cleanup()
            throw ExitCode.failure
        }
        for note in sensor.notices { Diagnostics.warning(note) }
        return sensor
    }
}

/// The read loop every long-running command shares (`trace`, `learn`, `monitor`,
/// `enforce`): read the ring buffer until the duration has passed or SIGINT/SIGTERM
/// arrives, then drain what is left.
struct SensorLoop {
    let sensor: Sensor
    let stop: StopSignal
    /// Seconds to run; nil: until a signal.
    let duration: Double?

    /// Why the loop ended, in the words the agent's stop event uses.
    var stopReason: String { stop.requested ? "signal" : "duration elapsed" }

    /// Runs the loop. `handle` gets every event; `afterRead` runs after each read of the
    /// ring buffer and once more after the final drain; `dropped` gets the number of
    /// records the kernel dropped since the last report. Drops are checked at most once a
    /// second: reading the per-CPU counters costs a syscall per record kind, too much for
    /// every read when events are many.
    func run(_ handle: (Event) -> Void, afterRead: () -> Void = {}, dropped: (UInt64) -> Void) throws {
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

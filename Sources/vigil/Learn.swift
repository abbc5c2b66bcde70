import ArgumentParser
import Foundation
import VigilCore
import VigilAgent

struct Learn: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Learn per-program baselines from what processes on this host do (needs root).",
        discussion: Help.learn
    )

    @Option(help: ArgumentHelp("The models directory (created owner-only if missing).", valueName: "DIR"))
    var models: String

    @Option(help: "Stop after this many seconds (default: until SIGINT or SIGTERM).")
    var duration: Double?

    @Option(parsing: .singleValue, help: ArgumentHelp(
        "Learn only this executable (absolute path, as invoked or resolved: a symlink selects its target run under the symlink's name; repeatable). A path that does not exist or matched no process is warned about.",
        valueName: "PATH"))
    var only: [String] = []

    @Option(name: .customLong("save-interval"), help: "Seconds between saves.")
    var saveInterval: Double = 30

    @Option(help: "Seconds per bucket of the stability statistic.")
    var bucket: UInt64 = 60

    @Option(help: "Buckets the rate of new behaviour must stay level over to call a profile stable.")
    var window: Int = 5

    @Option(name: .customLong("min-observed"), help: "Seconds a profile must be observed, at least, before it can be stable.")
    var minObserved: UInt64 = 600

    @OptionGroup var logging: LoggingOptions

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
        logging.apply()
        let stability = StabilityPolicy(bucketSeconds: bucket, windowBuckets: window, minObservedSeconds: minObserved)
        try AgentRunner.run(.learning(models: models, duration: duration, only: only, saveIntervalSeconds: saveInterval, stability: stability))
    }
}

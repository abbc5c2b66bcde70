import Foundation
import VigilCore
import VigilSensor

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

import ArgumentParser
import Foundation
import VigilAgent
import VigilOutput

/// The agent's metrics, laid out for a person.
struct StatusReport {
    let byName: [String: [ParsedSample]]
    /// An earlier read of the same endpoint and the seconds between the two, for rates.
    let earlier: [String: [ParsedSample]]?
    let seconds: Double

    init(_ samples: [ParsedSample], earlier: [ParsedSample]? = nil, seconds: Double = 0) {
        byName = Dictionary(grouping: samples, by: \.name)
        self.earlier = earlier.map { Dictionary(grouping: $0, by: \.name) }
        self.seconds = seconds
    }

    /// Per second between the earlier read and this one, by `label`, of a labelled counter
    /// family; nil without an earlier read.
    func rates(_ name: String, _ label: String) -> [(String, Double)]? {
        guard let earlier, seconds > 0 else { return nil }
        let before = Dictionary((earlier[name] ?? []).compactMap { s in s.labels[label].map { ($0, s.value) } }, uniquingKeysWith: { a, _ in a })
        return pairs(name, label).map { ($0.0, max(0, $0.1 - (before[$0.0] ?? 0)) / seconds) }
    }

    func samples(_ name: String) -> [ParsedSample] { byName[name] ?? [] }
    func value(_ name: String) -> Double? { samples(name).first?.value }

    /// `label=value` pairs of a labelled family, sorted by label, skipping zeros when asked.
    func pairs(_ name: String, _ label: String, skipZero: Bool = false) -> [(String, Double)] {
        samples(name).compactMap { s in
            guard let l = s.labels[label], !(skipZero && s.value == 0) else { return nil }
            return (l, s.value)
        }.sorted { $0.0 < $1.0 }
    }

    func render(address: String) -> String {
        var lines: [String] = []
        func row(_ title: String, _ text: String) {
            lines.append(title.padding(toLength: 15, withPad: " ", startingAt: 0) + text)
        }
        func list(_ items: [(String, Double)]) -> String {
            items.isEmpty ? "none" : items.map { "\($0.0) \(Self.count($0.1))" }.joined(separator: ", ")
        }

        let info = samples("vigil_info").first
        let mode = info?.labels["mode"].flatMap { $0.isEmpty ? nil : $0 } ?? "unknown"
        let version = info?.labels["version"].flatMap { $0.isEmpty ? nil : $0 } ?? "unknown"
        lines.append("vigil \(version) at \(address): mode \(mode), up \(Self.duration(value("vigil_uptime_seconds") ?? 0))")
        row("processes", Self.count(value("vigil_processes") ?? 0))

        let profiles = samples("vigil_profiles").map { ("\($0.labels["mode"] ?? "?")/\($0.labels["state"] ?? "?")", $0.value) }
            .filter { $0.1 != 0 }.sorted { $0.0 < $1.0 }
        row("profiles", profiles.isEmpty ? "none" : "\(Self.count(profiles.reduce(0) { $0 + $1.1 })) (" + list(profiles) + ")")

        let slots = value("vigil_kernel_profile_slots") ?? 0
        let slotless = value("vigil_profiles_without_kernel_slot") ?? 0
        if slotless > 0 {
            row("KERNEL SLOTS", "!! \(Self.count(slotless)) profiles have no kernel slot (all \(Self.count(slots)) taken): their processes are judged in user space only; restart the agent to size the slots")
        } else if slots > 0 {
            row("kernel slots", "every profile has one (\(Self.count(slots)) slots)")
        }
        let named = Dictionary(uniqueKeysWithValues: pairs("vigil_exec_slot_names_total", "outcome"))
        if let keys = value("vigil_exec_slot_keys") {
            let overridden = named["overridden"] ?? 0
            row("exec naming", "\(Self.count(keys)) executables named by the kernel at exec; \(Self.count((named["agreed"] ?? 0) + overridden)) execs named there"
                + (overridden > 0 ? ", !! \(Self.count(overridden)) of them overridden by the agent (it named another profile)" : ""))
        }
        let full = pairs("vigil_kernel_failures_total", "site", skipZero: true).filter { $0.0.hasSuffix("-full") }
        if !full.isEmpty {
            row("KERNEL MAPS", "!! full: \(list(full)) (times an entry did not fit; see the agent's log for what each loses)")
        }

        let events = pairs("vigil_events_total", "kind", skipZero: true)
        row("events", events.isEmpty ? "none" : "\(Self.count(events.reduce(0) { $0 + $1.1 })) (" + list(events) + ")")
        let known = pairs("vigil_kernel_known_total", "kind", skipZero: true)
        if !known.isEmpty {
            row("known calls", "\(Self.count(known.reduce(0) { $0 + $1.1 })) (" + list(known) + "): calls the profile knows, counted in the kernel, not sent")
        }

        // Steady state should be 0/s: known behaviour is counted in the kernel, not sent.
        if let perKind = rates("vigil_events_total", "kind") {
            let moving = perKind.filter { $0.1 > 0 }
            let total = moving.reduce(0) { $0 + $1.1 }
            let dropRate = (rates("vigil_kernel_drops_total", "kind") ?? []).reduce(0) { $0 + $1.1 }
            let kinds = moving.map { "\($0.0) \(Self.rate($0.1))" }.joined(separator: ", ")
            let known = (rates("vigil_kernel_known_total", "kind") ?? []).filter { $0.1 > 0 }
            let knownText = known.isEmpty ? "" : ", \(Self.rate(known.reduce(0) { $0 + $1.1 }))/s known and kept in the kernel ("
                + known.map { "\($0.0) \(Self.rate($0.1))" }.joined(separator: ", ") + ")"
            row("kernel records", "\(Self.rate(total))/s submitted" + (moving.isEmpty ? "" : " (\(kinds))") + knownText
                + ", \(Self.rate(dropRate))/s dropped, over \(Self.rate(seconds)) s")
        }

        let drops = pairs("vigil_kernel_drops_total", "kind", skipZero: true)
        let lost = pairs("vigil_sink_lost_events_total", "sink", skipZero: true)
        if drops.isEmpty {
            row("kernel drops", "none")
        } else {
            row("KERNEL DROPS", "!! \(Self.count(drops.reduce(0) { $0 + $1.1 })) records lost before Vigil saw them (\(list(drops))): the ring buffer was full; give it more room or watch less")
        }
        if !lost.isEmpty {
            row("OUTPUT LOSS", "!! events an output could not keep (queue and spool full): \(list(lost))")
        }

        let findings = pairs("vigil_findings_total", "kind", skipZero: true)
        let suppressed = samples("vigil_findings_suppressed_total").reduce(0) { $0 + $1.value }
        var findingText = findings.isEmpty ? "none" : "\(Self.count(findings.reduce(0) { $0 + $1.1 })) (" + list(findings) + ")"
        if suppressed > 0 { findingText += "; \(Self.count(suppressed)) repeats suppressed" }
        row("findings", findingText)

        let workloads = samples("vigil_workload_members")
        if !workloads.isEmpty {
            let acts = Dictionary(pairs("vigil_workload_actions_total", "workload"), uniquingKeysWith: { a, _ in a })
            row("workloads", workloads.map { s in
                let name = s.labels["workload"] ?? "?"
                let n = Int(s.value)
                return "\(name): \(n) member\(n == 1 ? "" : "s"), \(s.labels["mode"] ?? "?")"
                    + ((acts[name] ?? 0) > 0 ? ", \(Self.count(acts[name]!)) actions" : "")
            }.joined(separator: "; "))
        }

        let actions = samples("vigil_actions_total").filter { $0.value != 0 }
            .map { ("\($0.labels["action"] ?? "?") \($0.labels["outcome"] ?? "?")", $0.value) }.sorted { $0.0 < $1.0 }
        row("actions", list(actions))

        let promotions = samples("vigil_promotions_total").filter { $0.value != 0 }
            .map { ("\($0.labels["from"] ?? "?")->\($0.labels["to"] ?? "?")", $0.value) }.sorted { $0.0 < $1.0 }
        row("promotions", list(promotions))

        var reloadText = list(pairs("vigil_reloads_total", "result", skipZero: true))
        if let last = value("vigil_last_reload_success") { reloadText += last == 1 ? " (last took effect)" : " (LAST REFUSED: the previous configuration still runs)" }
        row("reloads", reloadText)

        let used = value("vigil_ringbuf_used_bytes") ?? 0
        let size = value("vigil_ringbuf_size_bytes") ?? 0
        if size > 0 {
            let percent = used > 0 && used / size < 0.001 ? "<0.1" : String(format: "%.1f", used / size * 100)
            row("ring buffer", percent + "% full (\(Self.bytes(used)) of \(Self.bytes(size)))")
        } else {
            row("ring buffer", "unknown")
        }

        if (value("vigil_bpf_run_time_stats_enabled") ?? 0) == 0 {
            row("eBPF programs", "run-time statistics off")
        } else {
            let seconds = Dictionary(uniqueKeysWithValues: pairs("vigil_bpf_program_run_seconds_total", "program"))
            let runs = pairs("vigil_bpf_program_runs_total", "program")
            if runs.isEmpty { row("eBPF programs", "none reported") }
            for (i, (program, count)) in runs.enumerated() {
                let avg = count > 0 ? String(format: "%.0f ns/run", (seconds[program] ?? 0) * 1e9 / count) : "not run yet"
                row(i == 0 ? "eBPF programs" : "", "\(program): \(avg), \(Self.count(count)) runs")
            }
        }

        let sinkNames = Set(samples("vigil_sink_up").compactMap { $0.labels["sink"] }).sorted()
        if sinkNames.isEmpty { row("outputs", "none") }
        func sinkValue(_ name: String, _ sink: String) -> Double {
            samples(name).first { $0.labels["sink"] == sink }?.value ?? 0
        }
        for (i, sink) in sinkNames.enumerated() {
            let up = sinkValue("vigil_sink_up", sink) == 1
            var text = "\(sink): \(up ? "up" : "DOWN")"
            text += ", \(Self.count(sinkValue("vigil_sink_queued_events", sink))) queued"
            text += ", \(Self.bytes(sinkValue("vigil_sink_spool_bytes", sink))) spooled"
            text += ", \(Self.count(sinkValue("vigil_sink_delivered_events_total", sink))) delivered"
            row(i == 0 ? "outputs" : "", text)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func count(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(format: "%.2f", v)
    }

    static func rate(_ v: Double) -> String {
        v == v.rounded() ? String(Int64(v)) : String(format: v < 10 ? "%.2f" : "%.1f", v)
    }

    static func bytes(_ v: Double) -> String {
        if v < 1024 { return "\(Int64(v)) B" }
        if v < 1024 * 1024 { return String(format: "%.1f KiB", v / 1024) }
        if v < 1024 * 1024 * 1024 { return String(format: "%.1f MiB", v / 1024 / 1024) }
        return String(format: "%.1f GiB", v / 1024 / 1024 / 1024)
    }

    static func duration(_ s: Double) -> String {
        let t = Int(max(0, s))
        let (d, h, m, sec) = (t / 86_400, t / 3600 % 24, t / 60 % 60, t % 60)
        if d > 0 { return "\(d)d \(h)h \(m)m" }
        if h > 0 { return "\(h)h \(m)m \(sec)s" }
        if m > 0 { return "\(m)m \(sec)s" }
        return "\(sec)s"
    }
}

public import VigilCore

// Metrics in Prometheus's text exposition format (version 0.0.4): the data model, the
// renderer the metrics endpoint serves, the parser `vigil status` reads it back with, and
// the agent's snapshot of what it counts.

/// One sample of a metric family: its labels, in the order they are rendered, and its value.
public struct MetricSample: Sendable, Hashable {
    /// One `name="value"` pair.
    public struct Label: Sendable, Hashable {
        public var name: String
        public var value: String
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    public var labels: [Label]
    public var value: Double

    public init(labels: [Label], value: Double) {
        self.labels = labels
        self.value = value
    }

    /// Labels as `(name, value)` pairs, in order.
    public init(_ labels: [(String, String)] = [], value: Double) {
        self.labels = labels.map { Label($0.0, $0.1) }
        self.value = value
    }

    public init(_ labels: [(String, String)] = [], _ value: UInt64) {
        self.init(labels, value: Double(value))
    }
}

/// A metric: its name, help text, type and samples.
public struct MetricFamily: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        case counter, gauge
    }

    /// The metric name. Rendering replaces characters Prometheus does not allow with `_`,
    /// and gives a counter the `_total` suffix when it lacks it.
    public var name: String
    public var help: String
    public var kind: Kind
    public var samples: [MetricSample]

    public init(name: String, help: String, kind: Kind, samples: [MetricSample]) {
        self.name = name
        self.help = help
        self.kind = kind
        self.samples = samples
    }
}

/// One sample read back from exposition text.
public struct ParsedSample: Sendable, Hashable {
    public var name: String
    public var labels: [String: String]
    public var value: Double

    public init(name: String, labels: [String: String], value: Double) {
        self.name = name
        self.labels = labels
        self.value = value
    }
}

/// Exposition text that cannot be read, with the line (1-based) where reading stopped.
public struct PrometheusParseError: Error, CustomStringConvertible, Sendable, Equatable {
    public var line: Int
    public var message: String
    public var description: String { "metrics text, line \(line): \(message)" }
}

/// Prometheus text exposition format, version 0.0.4.
public enum PrometheusText {
    /// The `Content-Type` the format is served with.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// Renders the families in the order given, samples in the order given: `# HELP`,
    /// `# TYPE`, then one line per sample. A family without samples still gets its
    /// `# HELP` and `# TYPE` lines, so scrapers learn it exists.
    public static func render(_ families: [MetricFamily]) -> String {
        var out = ""
        for family in families {
            var name = sanitizedName(family.name)
            if family.kind == .counter && !name.hasSuffix("_total") { name += "_total" }
            out += "# HELP \(name) \(escapeHelp(family.help))\n"
            out += "# TYPE \(name) \(family.kind.rawValue)\n"
            for sample in family.samples {
                out += name
                if !sample.labels.isEmpty {
                    out += "{"
                    for (i, label) in sample.labels.enumerated() {
                        if i > 0 { out += "," }
                        out += "\(sanitizedLabelName(label.name))=\"\(escapeLabelValue(label.value))\""
                    }
                    out += "}"
                }
                out += " \(format(sample.value))\n"
            }
        }
        return out
    }

    /// `name` with every character outside `[a-zA-Z0-9_:]` replaced by `_`, and a `_` in
    /// front when it would start with a digit (or be empty).
    public static func sanitizedName(_ name: String) -> String {
        sanitize(name, allowColon: true)
    }

    /// A label name: like a metric name, without colons.
    public static func sanitizedLabelName(_ name: String) -> String {
        sanitize(name, allowColon: false)
    }

    private static func sanitize(_ name: String, allowColon: Bool) -> String {
        var out = ""
        for u in name.unicodeScalars {
            let ok = (u >= "a" && u <= "z") || (u >= "A" && u <= "Z") || (u >= "0" && u <= "9") || u == "_" || (allowColon && u == ":")
            out.unicodeScalars.append(ok ? u : "_")
        }
        if out.isEmpty || out.unicodeScalars.first!.properties.numericType != nil { out = "_" + out }
        return out
    }

    /// Backslash, double quote and newline escaped, as label values require.
    public static func escapeLabelValue(_ value: String) -> String {
        var out = ""
        for c in value.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Backslash and newline escaped, as help text requires.
    static func escapeHelp(_ text: String) -> String {
        var out = ""
        for c in text.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Whole numbers print without a fraction (`42`, not `42.0`); the rest as Swift's
    /// shortest round-tripping form, which Prometheus's parser reads.
    static func format(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded(), abs(v) < 9.007_199_254_740_992e15 { return String(Int64(v)) }
        return String(v)
    }

    /// Reads exposition text into samples, in order. Comments (`# HELP`, `# TYPE`, others)
    /// and blank lines are skipped; an optional timestamp after the value is accepted and
    /// ignored. Throws `PrometheusParseError` naming the line of the first problem.
    public static func parse(_ text: String) throws(PrometheusParseError) -> [ParsedSample] {
        var out: [ParsedSample] = []
        var lineNumber = 0
        // By scalars: as Characters, "\r\n" is one grapheme and would not split at "\n".
        for rawLine in text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            var line = Array(rawLine)
            if line.last == "\r" { line.removeLast() }
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) || line.first == "#" { continue }
            do {
                out.append(try parseSample(line))
            } catch {
                throw PrometheusParseError(line: lineNumber, message: error.message)
            }
        }
        return out
    }

    private struct LineError: Error { var message: String }

    private static func parseSample(_ s: [Unicode.Scalar]) throws(LineError) -> ParsedSample {
        var i = 0
        func skipSpaces() { while i < s.count, s[i] == " " || s[i] == "\t" { i += 1 } }
        func isNameChar(_ u: Unicode.Scalar, first: Bool, colon: Bool) -> Bool {
            (u >= "a" && u <= "z") || (u >= "A" && u <= "Z") || u == "_" || (colon && u == ":") || (!first && u >= "0" && u <= "9")
        }
        func name(colon: Bool, what: String) throws(LineError) -> String {
            let start = i
            while i < s.count, isNameChar(s[i], first: i == start, colon: colon) { i += 1 }
            guard i > start else {
                throw LineError(message: i < s.count ? "expected a \(what), found '\(s[i])'" : "expected a \(what), found the end of the line")
            }
            return String(String.UnicodeScalarView(s[start..<i]))
        }

        skipSpaces()
        let metric = try name(colon: true, what: "metric name")
        var labels: [String: String] = [:]
        var beforeValue = i
        skipSpaces()
        if i < s.count, s[i] == "{" {
            i += 1
            while true {
                skipSpaces()
                if i < s.count, s[i] == "}" { i += 1; break }
                let key = try name(colon: false, what: "label name")
                skipSpaces()
                guard i < s.count, s[i] == "=" else { throw LineError(message: "expected '=' after label \(key)") }
                i += 1
                skipSpaces()
                guard i < s.count, s[i] == "\"" else { throw LineError(message: "expected '\"' to open the value of label \(key)") }
                i += 1
                var value = ""
                var closed = false
                while i < s.count {
                    let c = s[i]
                    i += 1
                    if c == "\"" { closed = true; break }
                    if c == "\\" {
                        guard i < s.count else { break }
                        switch s[i] {
                        case "\\": value += "\\"
                        case "\"": value += "\""
                        case "n": value += "\n"
                        default: throw LineError(message: "unknown escape '\\\(s[i])' in the value of label \(key)")
                        }
                        i += 1
                    } else {
                        value.unicodeScalars.append(c)
                    }
                }
                guard closed else { throw LineError(message: "the value of label \(key) is not closed with '\"'") }
                guard labels[key] == nil else { throw LineError(message: "label \(key) appears twice") }
                labels[key] = value
                skipSpaces()
                if i < s.count, s[i] == "," { i += 1; continue }
                if i < s.count, s[i] == "}" { i += 1; break }
                throw LineError(message: "expected ',' or '}' after the value of label \(key)")
            }
            beforeValue = i
        }
        i = beforeValue
        skipSpaces()
        guard i > beforeValue || i == s.count else { throw LineError(message: "expected a space before the value of \(metric)") }
        let valueStart = i
        while i < s.count, s[i] != " " && s[i] != "\t" { i += 1 }
        let valueText = String(String.UnicodeScalarView(s[valueStart..<i]))
        guard !valueText.isEmpty else { throw LineError(message: "\(metric) has no value") }
        guard let value = parseValue(valueText) else { throw LineError(message: "'\(valueText)' is not a number (value of \(metric))") }
        skipSpaces()
        if i < s.count {
            let tsStart = i
            while i < s.count, s[i] != " " && s[i] != "\t" { i += 1 }
            let ts = String(String.UnicodeScalarView(s[tsStart..<i]))
            guard Int64(ts) != nil else { throw LineError(message: "'\(ts)' after the value of \(metric) is not a timestamp") }
            skipSpaces()
            guard i == s.count else { throw LineError(message: "unexpected text after the timestamp of \(metric)") }
        }
        return ParsedSample(name: metric, labels: labels, value: value)
    }

    static func parseValue(_ text: String) -> Double? {
        switch text {
        case "NaN": return .nan
        case "+Inf", "Inf": return .infinity
        case "-Inf": return -.infinity
        default:
            // Double(_:) also takes "nan", "inf" and hex; the format allows only decimal.
            guard text.unicodeScalars.allSatisfy({ ($0 >= "0" && $0 <= "9") || "+-.eE".unicodeScalars.contains($0) }) else { return nil }
            return Double(text)
        }
    }
}

/// What the agent counts, as one plain snapshot (filled about once a second by `vigil run`),
/// and its rendering as Prometheus metric families named `vigil_…`. Every labelled family
/// comes out sorted by its labels, so the same snapshot always renders the same text.
public struct AgentMetrics: Sendable {
    /// A response step and how it went.
    public struct ActionKey: Sendable, Hashable, Comparable {
        public var action: String
        public var outcome: String
        public init(action: String, outcome: String) {
            self.action = action
            self.outcome = outcome
        }
        /// The labels of a finding's action: the same raw values the OCSF mapping reads.
        public init(_ action: FindingReport.Action) {
            self.init(action: action.step.name, outcome: action.outcome.rawValue)
        }
        /// The labels of a response step: its target rung and the core's outcome.
        public init(_ step: ResponseStep) {
            self.init(action: step.to.name, outcome: FindingReport.Action.Outcome(step.outcome).rawValue)
        }
        public static func < (a: Self, b: Self) -> Bool { (a.action, a.outcome) < (b.action, b.outcome) }
    }

    /// A profile's mode (`learn`, `monitor`, `enforce`) and learning state (`learning`, `stable`).
    public struct ProfileStateKey: Sendable, Hashable, Comparable {
        public var mode: String
        public var state: String
        public init(mode: String, state: String) {
            self.mode = mode
            self.state = state
        }
        public static func < (a: Self, b: Self) -> Bool { (a.mode, a.state) < (b.mode, b.state) }
    }

    /// A profile's move from one mode to another.
    public struct PromotionKey: Sendable, Hashable, Comparable {
        public var from: String
        public var to: String
        public init(from: String, to: String) {
            self.from = from
            self.to = to
        }
        public static func < (a: Self, b: Self) -> Bool { (a.from, a.to) < (b.from, b.to) }
    }

    /// Events decoded, by kind (`exec`, `connect`, ...).
    public var eventsByKind: [String: UInt64] = [:]
    /// Records the kernel dropped because the ring buffer was full, by kind.
    public var kernelDropsByKind: [String: UInt64] = [:]
    /// Calls the kernel found known to their judged profile and counted instead of
    /// submitting a record, by record kind (connect, bind, listen).
    public var kernelKnownByKind: [String: UInt64] = [:]
    /// Failures of the kernel side that lose detail or memory but not the agent, by the site
    /// that failed (`argv-read`, `known-ngrams-full`, ...: one counter per site).
    public var kernelFailuresBySite: [String: UInt64] = [:]
    /// Profiles with no slot in the kernel (more profiles than its slots): their processes
    /// are judged in user space only. Should be 0.
    public var profilesWithoutKernelSlot = 0
    /// Profile slots the kernel holds (sized at start); 0: not known.
    public var profileSlots = 0
    /// Files (with the command name they run under) whose profile slot the kernel names at
    /// exec itself (vg_exec_slots), so their processes are judged from their first syscall.
    public var execSlotKeys = 0
    /// Execs the kernel named, by whether the agent's own answer from the exec record was
    /// the same (`agreed`) or another (`overridden`; the agent's stays). `overridden`
    /// should be 0.
    public var execSlotNames: [String: UInt64] = [:]
    /// Keys vg_exec_slots could not take (full): their execs are pending until named.
    public var execSlotPublishFailures: UInt64 = 0
    /// The size (max_entries) of each kernel map that holds profiles or processes, by map.
    public var kernelMapCapacity: [String: UInt64] = [:]
    /// Events an output lost (memory queue and spool both full), by output name. An output
    /// of `sinks` missing here reports its own `SinkStats.lost`; so leave this empty unless
    /// the agent counts losses itself.
    public var spoolLost: [String: UInt64] = [:]
    /// Findings reported, by deviation kind.
    public var findingsByKind: [String: UInt64] = [:]
    /// Findings held back by the throttle, by workload (`-`: none).
    public var findingsSuppressed: [String: UInt64] = [:]
    /// New sequences within their profile's calibrated threshold: counted, not reported.
    public var sequencesBelowThreshold: UInt64 = 0
    /// The declared workloads now: members, the mode they are judged in, acts so far.
    public var workloads: [WorkloadFigures] = []

    /// One declared workload as the metrics show it.
    public struct WorkloadFigures: Sendable, Hashable {
        public var name: String
        public var members: Int
        /// `enforce`, `monitor`, or `monitor (circuit breaker)`.
        public var mode: String
        public var acts: UInt64
        public init(name: String, members: Int, mode: String, acts: UInt64) {
            self.name = name
            self.members = members
            self.mode = mode
            self.acts = acts
        }
    }
    /// Response steps, by action and outcome.
    public var actions: [ActionKey: UInt64] = [:]
    /// Profiles now, by mode and state.
    public var profiles: [ProfileStateKey: Int] = [:]
    /// Profile mode changes, by from and to.
    public var promotions: [PromotionKey: UInt64] = [:]
    /// Configuration reloads, by result (`ok`, `refused`).
    public var reloads: [String: UInt64] = [:]
    /// Whether the last reload took effect; nil before the first (then not rendered).
    public var lastReloadSucceeded: Bool?
    /// Baselines in the models directory that cannot be used now (their programs judged in
    /// monitor mode, or an older copy kept after a reload).
    public var unusableBaselines: Int = 0
    public var ringBufferUsedBytes: Int = 0
    public var ringBufferSizeBytes: Int = 0
    /// Per BPF program run counts and times (meaningful when `runTimeStatsEnabled`).
    public var programs: [ProgramStats] = []
    public var runTimeStatsEnabled: Bool = false
    /// Each output's counters (`OutputRouter.stats`).
    public var sinks: [SinkStats] = []
    public var processesTracked: Int = 0
    public var uptimeSeconds: Double = 0
    /// The agent's mode (`learn`, `monitor`, `enforce`) for `vigil_info`.
    public var mode: String = ""
    /// Vigil's version for `vigil_info`.
    public var version: String = ""
    /// The agent's own CPU, memory and descriptors (`process_*`); nil: not read.
    public var process: ProcessSelfMetrics?

    public init() {}

    /// Lost events of every output: `spoolLost` where it has the output, else the output's own count.
    var lostBySink: [String: UInt64] {
        var out = spoolLost
        for sink in sinks where out[sink.name] == nil { out[sink.name] = UInt64(max(0, sink.lost)) }
        return out
    }

    /// The snapshot as metric families, in a fixed order.
    public func families() -> [MetricFamily] {
        func byLabel(_ label: String, _ values: [String: UInt64]) -> [MetricSample] {
            values.sorted { $0.key < $1.key }.map { MetricSample([(label, $0.key)], $0.value) }
        }
        func one(_ value: Double) -> [MetricSample] { [MetricSample(value: value)] }
        let sortedSinks = sinks.sorted { $0.name < $1.name }
        func perSink(_ value: (SinkStats) -> Double) -> [MetricSample] {
            sortedSinks.map { MetricSample([("sink", $0.name)], value: value($0)) }
        }
        let sortedPrograms = programs.sorted { $0.name < $1.name }

        var out: [MetricFamily] = [
            MetricFamily(name: "vigil_info", help: "Always 1; the agent's mode and version as labels.", kind: .gauge,
                         samples: [MetricSample([("mode", mode), ("version", version)], value: 1)]),
            MetricFamily(name: "vigil_uptime_seconds", help: "Seconds since the agent started.", kind: .gauge, samples: one(uptimeSeconds)),
            MetricFamily(name: "vigil_processes", help: "Processes the agent tracks now.", kind: .gauge, samples: one(Double(processesTracked))),
            MetricFamily(name: "vigil_events_total", help: "Records the kernel submitted to the ring buffer, by kind.", kind: .counter,
                         samples: byLabel("kind", eventsByKind)),
            MetricFamily(name: "vigil_kernel_drops_total", help: "Records the kernel dropped because the ring buffer was full, by kind.",
                         kind: .counter, samples: byLabel("kind", kernelDropsByKind)),
            MetricFamily(name: "vigil_kernel_known_total",
                         help: "Calls of a judged profile its profile already knows (a learned destination or port), counted in the kernel instead of submitted, by kind.",
                         kind: .counter, samples: byLabel("kind", kernelKnownByKind)),
            MetricFamily(name: "vigil_kernel_failures_total", help: "Failures in the kernel side that cost detail or learning, by the site that failed.",
                         kind: .counter, samples: byLabel("site", kernelFailuresBySite)),
            MetricFamily(name: "vigil_profiles_without_kernel_slot",
                         help: "Profiles with no kernel slot (more profiles than the slots sized at start): their processes are judged in user space only.",
                         kind: .gauge, samples: one(Double(profilesWithoutKernelSlot))),
            MetricFamily(name: "vigil_kernel_profile_slots", help: "Profile slots the kernel holds, sized at start for the profiles loaded plus room to grow.",
                         kind: .gauge, samples: one(Double(profileSlots))),
            MetricFamily(name: "vigil_exec_slot_keys",
                         help: "Executables whose profile slot the kernel names at exec itself, so their processes are judged from their first syscall.",
                         kind: .gauge, samples: one(Double(execSlotKeys))),
            MetricFamily(name: "vigil_exec_slot_names_total",
                         help: "Execs the kernel named a profile slot for, by whether the agent's answer from the exec record agreed or overrode it.",
                         kind: .counter, samples: byLabel("outcome", ["agreed": execSlotNames["agreed"] ?? 0, "overridden": execSlotNames["overridden"] ?? 0])),
            MetricFamily(name: "vigil_exec_slot_publish_failures_total",
                         help: "Executables the kernel's vg_exec_slots map could not take (full): their processes are pending at exec until the agent names them.",
                         kind: .counter, samples: one(Double(execSlotPublishFailures))),
            MetricFamily(name: "vigil_kernel_map_capacity_entries", help: "Size (max_entries) of each kernel map that holds profiles or processes, as loaded.",
                         kind: .gauge, samples: byLabel("map", kernelMapCapacity)),
            MetricFamily(name: "vigil_findings_total", help: "Findings reported, by deviation kind.", kind: .counter,
                         samples: byLabel("kind", findingsByKind)),
            MetricFamily(name: "vigil_findings_suppressed_total", help: "Findings held back by the repeat throttle, by workload (-: none).",
                         kind: .counter, samples: byLabel("workload", findingsSuppressed)),
            MetricFamily(name: "vigil_sequences_below_threshold_total",
                         help: "New syscall sequences no more surprising than their profile's calibrated threshold: expected noise, not reported.",
                         kind: .counter, samples: one(Double(sequencesBelowThreshold))),
            MetricFamily(name: "vigil_workload_members", help: "Live processes of each declared workload, with the mode it is judged in.",
                         kind: .gauge, samples: workloads.map { MetricSample([("workload", $0.name), ("mode", $0.mode)], value: Double($0.members)) }),
            MetricFamily(name: "vigil_workload_actions_total", help: "Response steps carried out on members of each workload.",
                         kind: .counter, samples: workloads.map { MetricSample([("workload", $0.name)], $0.acts) }),
            MetricFamily(name: "vigil_actions_total", help: "Response steps, by action and outcome.", kind: .counter,
                         samples: actions.sorted { $0.key < $1.key }.map {
                             MetricSample([("action", $0.key.action), ("outcome", $0.key.outcome)], $0.value)
                         }),
            MetricFamily(name: "vigil_profiles", help: "Profiles now, by mode and learning state.", kind: .gauge,
                         samples: profiles.sorted { $0.key < $1.key }.map {
                             MetricSample([("mode", $0.key.mode), ("state", $0.key.state)], value: Double($0.value))
                         }),
            MetricFamily(name: "vigil_promotions_total", help: "Profile mode changes, by previous and new mode.", kind: .counter,
                         samples: promotions.sorted { $0.key < $1.key }.map {
                             MetricSample([("from", $0.key.from), ("to", $0.key.to)], $0.value)
                         }),
            MetricFamily(name: "vigil_reloads_total", help: "Configuration reloads, by result.", kind: .counter,
                         samples: byLabel("result", reloads)),
            MetricFamily(name: "vigil_baselines_unusable", help: "Baselines that cannot be used (corrupt, unknown version, unreadable, missing).",
                         kind: .gauge, samples: one(Double(unusableBaselines))),
        ]
        if let lastReloadSucceeded {
            out.append(MetricFamily(name: "vigil_last_reload_success", help: "1 when the last configuration reload took effect, 0 when it was refused.",
                                    kind: .gauge, samples: one(lastReloadSucceeded ? 1 : 0)))
        }
        out += [
            MetricFamily(name: "vigil_ringbuf_used_bytes", help: "Bytes of the kernel ring buffer written and not yet read.", kind: .gauge,
                         samples: one(Double(ringBufferUsedBytes))),
            MetricFamily(name: "vigil_ringbuf_size_bytes", help: "Size of the kernel ring buffer in bytes.", kind: .gauge,
                         samples: one(Double(ringBufferSizeBytes))),
            MetricFamily(name: "vigil_bpf_run_time_stats_enabled", help: "1 when the kernel counts BPF program run time (the bpf_program metrics).",
                         kind: .gauge, samples: one(runTimeStatsEnabled ? 1 : 0)),
            MetricFamily(name: "vigil_bpf_program_run_seconds_total", help: "Time spent running each BPF program.", kind: .counter,
                         samples: sortedPrograms.map { MetricSample([("program", $0.name)], value: Double($0.runTimeNanos) / 1e9) }),
            MetricFamily(name: "vigil_bpf_program_runs_total", help: "Runs of each BPF program.", kind: .counter,
                         samples: sortedPrograms.map { MetricSample([("program", $0.name)], $0.runCount) }),
            MetricFamily(name: "vigil_sink_up", help: "1 while an output delivers, 0 while it is failing (its events go to the spool).",
                         kind: .gauge, samples: perSink { $0.down ? 0 : 1 }),
            MetricFamily(name: "vigil_sink_queued_events", help: "Events waiting in an output's memory queue.", kind: .gauge,
                         samples: perSink { Double($0.queued) }),
            MetricFamily(name: "vigil_sink_spool_bytes", help: "Bytes waiting in an output's disk spool.", kind: .gauge,
                         samples: perSink { Double($0.spoolPendingBytes) }),
            MetricFamily(name: "vigil_sink_delivered_events_total", help: "Events an output delivered.", kind: .counter,
                         samples: perSink { Double($0.delivered) }),
            MetricFamily(name: "vigil_sink_lost_events_total", help: "Events an output lost (memory queue and spool both full, a rejection with no room in the dead-letter file, or refused by the receiver without being named).", kind: .counter,
                         samples: byLabel("sink", lostBySink)),
            MetricFamily(name: "vigil_sink_dead_lettered_events_total",
                         help: "Events an output's receiver rejected for good (HTTP 4xx), kept in its dead-letter file.", kind: .counter,
                         samples: perSink { Double($0.deadLettered) }),
            MetricFamily(name: "vigil_sink_unauthorized", help: "1 while an output's receiver refuses its credentials (HTTP 401/403).",
                         kind: .gauge, samples: perSink { $0.unauthorized == nil ? 0 : 1 }),
        ]
        out += process?.families() ?? []
        return out
    }
}

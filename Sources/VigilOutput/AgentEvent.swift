/// Vigil's own lifecycle and health, reported in the same stream as what it observes so a
/// SIEM can tell "nothing happened" from "Vigil was not looking".
public struct AgentEvent: Sendable, Hashable {
    /// What happened to the agent.
    public enum Kind: Sendable, Hashable {
        /// The agent started (`mode` e.g. `learn`, `enforce`, `trace`).
        case started(mode: String)
        /// The agent stopped (`reason` e.g. `SIGTERM`).
        case stopped(reason: String)
        /// Configuration or baselines were reloaded.
        case reloaded(detail: String)
        /// A reload was refused; what was running before keeps running.
        case reloadRefused(reason: String)
        /// A profile changed mode (`from` nil: its first mode), e.g. promoted learn -> monitor.
        case modeChanged(profile: String, from: String?, to: String, reason: String)
        /// A workload changed the mode it is judged in: its circuit breaker tripped (to
        /// monitor), or an operator switched it (`vigil mode`).
        case workloadModeChanged(workload: String, to: String, reason: String)
        /// Events were lost: `source` says where (e.g. `kernel-ringbuf`, `spool:file:/x`).
        case loss(source: String, count: Int)
        /// Findings held back by throttling since the last report, per profile.
        case suppressed(counts: [String: Int])
        /// An output's receiver rejected `count` events for good (HTTP 4xx); they were kept
        /// in the dead-letter `file` and later events flow. Missing at the receiver: a loss.
        case deadLettered(output: String, count: Int, reason: String, file: String)
        /// An output's receiver refuses its credentials (HTTP 401/403): nothing reaches it
        /// until an operator acts; its events stay in the spool.
        case outputFailing(output: String, reason: String)
        /// An output that was refused its credentials delivers again.
        case outputRecovered(output: String)
        /// A baseline cannot be used (corrupt, of an unknown version, unreadable, missing):
        /// `consequence` says what the agent does instead (e.g. its programs judged in
        /// monitor mode, or the copy loaded before a reload kept).
        case baselineUnusable(profile: String, file: String, reason: String, consequence: String)
        /// Files of the models directory were added, changed or removed while the agent
        /// ran, not by the agent: an edit (review, merge) or tampering. Nothing changes in
        /// what is enforced until a reload or restart.
        case modelsChanged(directory: String, added: [String], changed: [String], removed: [String])
        /// A kernel map that holds profiles or processes is full (`capacity` entries, as
        /// sized at start): `consequence` says what is not held from now on and how to get
        /// room. Reported the first time per map; the count goes on in the metrics.
        case capacityReached(map: String, capacity: Int, consequence: String)
    }

    public var kind: Kind
    /// When, in nanoseconds since the epoch.
    public var timeNanos: UInt64

    public init(_ kind: Kind, timeNanos: UInt64) {
        self.kind = kind
        self.timeNanos = timeNanos
    }
}

extension OCSFEncoder {
    /// Encodes agent lifecycle as Application Lifecycle (6002) and loss as Application
    /// Error (6008): SIEMs alert on errors, and lost events are a gap in coverage.
    public func encode(_ a: AgentEvent) -> EncodedEvent {
        let cls: OCSF.Class
        let activityID: Int
        let activityName: String
        let severity: OCSF.Severity
        let message: String
        switch a.kind {
        case .started(let mode):
            (cls, activityID, activityName, severity, message) = (.applicationLifecycle, 3, "Start", .informational, "Vigil started (\(mode))")
        case .stopped(let reason):
            (cls, activityID, activityName, severity, message) = (.applicationLifecycle, 4, "Stop", .informational, "Vigil stopped (\(reason))")
        case .reloaded(let detail):
            (cls, activityID, activityName, severity, message) = (.applicationLifecycle, 99, "Reload", .informational, "Vigil reloaded: \(detail)")
        case .reloadRefused(let reason):
            (cls, activityID, activityName, severity, message) = (.applicationError, 1, "General Error", .medium, "reload refused, the running configuration stays: \(reason)")
        case .modeChanged(let profile, let from, let to, let reason):
            (cls, activityID, activityName, severity, message) = (.applicationLifecycle, 99, "Mode Change", .informational,
                                                                  "profile \(profile): \(from.map { "\($0) -> " } ?? "")\(to) (\(reason))")
        case .workloadModeChanged(let workload, let to, let reason):
            (cls, activityID, activityName, severity, message) = (.applicationLifecycle, 99, "Mode Change", to == "enforce" ? .informational : .high,
                                                                  "workload \(workload): now \(to) (\(reason))")
        case .suppressed(let counts):
            let total = counts.values.reduce(0, +)
            (cls, activityID, activityName, severity, message) = (.applicationLifecycle, 99, "Throttle", .informational, "\(total) repeated findings suppressed")
        case .loss(let source, let count):
            (cls, activityID, activityName, severity, message) = (.applicationError, 1, "General Error", .medium, "\(count) events lost at \(source)")
        case .deadLettered(let output, let count, let reason, let file):
            (cls, activityID, activityName, severity, message) = (.applicationError, 1, "General Error", .medium,
                                                                  "\(count) events rejected by output \(output) (\(reason)); kept in \(file.isEmpty ? "no file (lost)" : file)")
        case .outputFailing(let output, let reason):
            (cls, activityID, activityName, severity, message) = (.applicationError, 1, "General Error", .high,
                                                                  "output \(output) is failing: \(reason); its events stay spooled until its credentials are fixed")
        case .outputRecovered(let output):
            (cls, activityID, activityName, severity, message) = (.applicationLifecycle, 99, "Output Recovered", .informational, "output \(output) delivers again")
        case .baselineUnusable(let profile, let file, let reason, let consequence):
            (cls, activityID, activityName, severity, message) = (.applicationError, 1, "General Error", .high,
                                                                  "baseline \(profile) (\(file)) cannot be used: \(reason); \(consequence)")
        case .capacityReached(let map, let capacity, let consequence):
            (cls, activityID, activityName, severity, message) = (.applicationError, 1, "General Error", .high,
                                                                  "kernel map \(map) is full (\(capacity) entries): \(consequence)")
        case .modelsChanged(let directory, let added, let changed, let removed):
            let parts = [("added", added), ("changed", changed), ("removed", removed)].filter { !$0.1.isEmpty }
                .map { "\($0.0) \($0.1.joined(separator: ", "))" }
            (cls, activityID, activityName, severity, message) = (.applicationError, 1, "General Error", .medium,
                                                                  "models directory \(directory) changed while Vigil runs, not by Vigil: "
                                                                  + parts.joined(separator: "; ") + "; in force only after a reload (SIGHUP) or restart")
        }
        var w = JSONWriter()
        w.object { w in
            header(&w, cls, activityID: activityID, activityName: activityName, severity: severity, timeNanos: a.timeNanos)
            w.field("status_id", cls == .applicationError ? 2 : 1)
            w.field("status", cls == .applicationError ? "Failure" : "Success")
            w.field("message", message)
            switch a.kind {
            case .loss(_, let count), .deadLettered(_, let count, _, _): w.field("count", count)
            default: break
            }
            metadata(&w, profiles: cls == .applicationLifecycle ? ["host"] : [])
            if cls == .applicationLifecycle {
                device(&w)
                w.object("app") { w in
                    w.field("name", Self.productName)
                    w.field("vendor_name", Self.vendorName)
                    w.field("version", productVersion)
                }
            }
            switch a.kind {
            case .loss(let source, let count):
                w.object("unmapped") { w in w.field("loss_source", source); w.field("lost_events", count) }
            case .modeChanged(let profile, let from, let to, let reason):
                w.object("unmapped") { w in
                    w.field("profile", profile)
                    if let from { w.field("from_mode", from) }
                    w.field("to_mode", to)
                    w.field("reason", reason)
                }
            case .deadLettered(let output, let count, let reason, let file):
                w.object("unmapped") { w in
                    w.field("output", output)
                    w.field("rejected_events", count)
                    w.field("reason", reason)
                    if !file.isEmpty { w.field("dead_letter_file", file) }
                }
            case .outputFailing(let output, let reason):
                w.object("unmapped") { w in w.field("output", output); w.field("reason", reason) }
            case .outputRecovered(let output):
                w.object("unmapped") { w in w.field("output", output) }
            case .capacityReached(let map, let capacity, let consequence):
                w.object("unmapped") { w in
                    w.field("map", map)
                    w.field("capacity", capacity)
                    w.field("consequence", consequence)
                }
            case .baselineUnusable(let profile, let file, let reason, let consequence):
                w.object("unmapped") { w in
                    w.field("profile", profile)
                    w.field("file", file)
                    w.field("reason", reason)
                    w.field("consequence", consequence)
                }
            case .modelsChanged(let directory, let added, let changed, let removed):
                w.object("unmapped") { w in
                    w.field("directory", directory)
                    w.array("added") { w in for f in added { w.string(f) } }
                    w.array("changed") { w in for f in changed { w.string(f) } }
                    w.array("removed") { w in for f in removed { w.string(f) } }
                }
            case .workloadModeChanged(let workload, let to, let reason):
                w.object("unmapped") { w in
                    w.field("workload", workload)
                    w.field("to_mode", to)
                    w.field("reason", reason)
                }
            case .suppressed(let counts):
                w.object("unmapped") { w in
                    w.object("suppressed_findings") { w in
                        for (profile, n) in counts.sorted(by: { $0.key < $1.key }) { w.field(profile, n) }
                    }
                }
            default: break
            }
        }
        return EncodedEvent(bytes: w.bytes, classUID: cls.rawValue)
    }
}

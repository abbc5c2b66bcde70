extension OCSFEncoder {
    /// Encodes a finding as Detection Finding (2004), activity Create.
    ///
    /// The explanation is written twice, for two kinds of reader: `anomaly_analyses` holds
    /// each deviation next to what the baseline expected in OCSF's own terms (for SIEM
    /// queries), and `evidences` carries the process with its whole ancestry plus one entry
    /// per reason with the score it added (for the analyst reading one finding).
    ///
    /// - Parameter suppressedCount: findings of the same kind that throttling held back since
    ///   the last one emitted; written as `count` (this one plus those).
    public func encode(_ f: FindingReport, suppressedCount: Int = 0) -> EncodedEvent {
        let cls = OCSF.Class.detectionFinding
        let level = f.riskLevel
        let severity: OCSF.Severity = switch level.id {
        case 1: .low
        case 2: .medium
        case 3: .high
        default: .critical
        }
        var w = JSONWriter(reservingCapacity: 2048)
        w.object { w in
            header(&w, cls, activityID: 1, activityName: "Create", severity: severity, timeNanos: f.timeNanos)
            w.field("status_id", 1)
            w.field("status", "New")
            w.field("message", "\(f.title): \(displayName(f.process)) (pid \(f.process.pid)), risk \(f.riskScore), \(f.action.step.name) \(f.action.outcome.rawValue)")
            if suppressedCount > 0 { w.field("count", suppressedCount + 1) }
            w.field("is_alert", true)
            w.field("risk_score", Int64(f.riskScore))
            w.field("risk_level_id", level.id)
            w.field("risk_level", level.name)
            let (actionID, actionName, dispositionID, dispositionName) = Self.response(f.action)
            w.field("action_id", actionID)
            w.field("action", actionName)
            w.field("disposition_id", dispositionID)
            w.field("disposition", dispositionName)
            if let detail = f.action.detail { w.field("status_detail", "\(f.action.step.name): \(detail)") }
            metadata(&w, profiles: ["host", "security_control"])
            device(&w)
            w.object("finding_info") { w in
                w.field("uid", f.uid)
                w.field("title", f.title)
                w.array("types") { w in for t in f.types { w.string(t) } }
                w.field("created_time", Int64(f.timeNanos / 1_000_000))
                w.field("desc", f.reasons.map { "\($0.kind): observed \($0.observed); baseline has \($0.expected.isEmpty ? "nothing" : $0.expected.joined(separator: ", "))" }.joined(separator: "; "))
            }
            w.object("actor") { w in
                w.object("process") { w in processObject(&w, f.process, parents: f.ancestry, ancestryDepth: 64) }
            }
            w.array("anomaly_analyses") { w in
                w.object { w in
                    w.array("analysis_targets") { w in
                        w.object { w in w.field("name", f.profile); w.field("type", "Vigil Profile") }
                    }
                    w.array("anomalies") { w in
                        for r in f.reasons {
                            w.object { w in
                                w.field("observation_parameter", r.kind)
                                w.field("observation_type", "Behavior")
                                w.array("observations") { w in w.object { w in w.field("value", r.observed) } }
                            }
                        }
                    }
                    w.array("baselines") { w in
                        for r in f.reasons {
                            w.object { w in
                                w.field("observation_parameter", r.kind)
                                w.field("observation_type", "Behavior")
                                w.array("observations") { w in
                                    for e in r.expected { w.object { w in w.field("value", e) } }
                                }
                            }
                        }
                    }
                }
            }
            w.array("evidences") { w in
                w.object { w in
                    w.field("name", "process")
                    w.object("process") { w in processObject(&w, f.process, parents: f.ancestry, ancestryDepth: 64) }
                }
                for r in f.reasons {
                    w.object { w in
                        w.field("name", r.kind)
                        w.object("data") { w in
                            w.field("observed", r.observed)
                            w.array("baseline_expected") { w in for e in r.expected { w.string(e) } }
                            w.field("score_delta", r.scoreDelta)
                        }
                    }
                }
            }
            w.object("unmapped") { w in
                w.field("vigil_profile", f.profile)
                if let d = f.decision {
                    w.object("vigil_decision") { w in
                        w.field("acts", d.acts)
                        w.field("rule", d.rule)
                        w.field("scope", d.scope)
                        if let workload = d.workload { w.field("workload", workload) }
                    }
                }
            }
        }
        return EncodedEvent(bytes: w.bytes, classUID: cls.rawValue)
    }

    /// The OCSF `action_id`, `action`, `disposition_id` and `disposition` for a response
    /// step and its outcome: the one table from the core's vocabulary to OCSF's. The
    /// disposition says what happened to the process, so every finding on which nothing
    /// was done to the process (an alert, any monitor-mode step) reads Observed / Alert,
    /// whatever rung was decided; `outcome` and `status_detail` say why.
    static func response(_ a: FindingReport.Action) -> (Int, String, Int, String) {
        switch (a.outcome, a.step) {
        case (.failed, _): (0, "Unknown", 27, "Error")
        case (.pending, _): (0, "Unknown", 0, "Unknown")
        case (_, .none): (3, "Observed", 16, "No Action")
        case (.wouldHaveActed, _), (.notNeeded, _), (.succeeded, .alert): (3, "Observed", 19, "Alert")
        case (.succeeded, .denyNetwork): (2, "Denied", 2, "Blocked")
        // OCSF has no disposition for a stopped or killed process: Other, named plainly.
        case (.succeeded, .suspend): (2, "Denied", 99, "Process Suspended")
        case (.succeeded, .kill): (2, "Denied", 99, "Process Killed")
        }
    }
}

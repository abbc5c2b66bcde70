import Foundation
import Testing
import VigilTestSupport
import VigilCore
@testable import VigilOutput

struct PrometheusTextTests {
    @Test func rendersHelpTypeAndSamplesExactly() {
        let families = [
            MetricFamily(name: "demo_requests", help: "Requests served.", kind: .counter, samples: [
                MetricSample([("code", "200"), ("path", "/a")], value: 3),
                MetricSample([("code", "500"), ("path", "/a")], value: 1),
            ]),
            MetricFamily(name: "demo_temperature_celsius", help: "Now.", kind: .gauge, samples: [MetricSample(value: -1.5)]),
            MetricFamily(name: "demo_empty", help: "No samples yet.", kind: .gauge, samples: []),
        ]
        #expect(PrometheusText.render(families) == """
        # HELP demo_requests_total Requests served.
        # TYPE demo_requests_total counter
        demo_requests_total{code="200",path="/a"} 3
        demo_requests_total{code="500",path="/a"} 1
        # HELP demo_temperature_celsius Now.
        # TYPE demo_temperature_celsius gauge
        demo_temperature_celsius -1.5
        # HELP demo_empty No samples yet.
        # TYPE demo_empty gauge

        """)
    }

    @Test func escapesLabelValuesAndHelpAndSanitizesNames() {
        let family = MetricFamily(name: "9bad-name.x", help: "line one\nback\\slash", kind: .gauge, samples: [
            MetricSample([("sink", "file:/var/log/\"q\"\\n\nx"), ("bad-label", "v")], value: 1),
        ])
        #expect(PrometheusText.render([family]) == """
        # HELP _9bad_name_x line one\\nback\\\\slash
        # TYPE _9bad_name_x gauge
        _9bad_name_x{sink="file:/var/log/\\"q\\"\\\\n\\nx",bad_label="v"} 1

        """)
    }

    @Test func specialValuesRender() {
        let family = MetricFamily(name: "v", help: "", kind: .gauge, samples: [
            MetricSample(value: .nan), MetricSample(value: .infinity), MetricSample(value: -.infinity),
            MetricSample(value: 0.25), MetricSample(value: 1e20), MetricSample(value: 12_345_678_901),
        ])
        let lines = PrometheusText.render([family]).split(separator: "\n").dropFirst(2).map(String.init)
        #expect(lines == ["v NaN", "v +Inf", "v -Inf", "v 0.25", "v 1e+20", "v 12345678901"])
    }

    @Test func parseReadsBackWhatRenderWrote() throws {
        var m = AgentMetrics()
        m.eventsByKind = ["exec": 5, "connect": 2]
        m.sinks = [SinkStats(name: "syslog+tcp://h:514 \"x\"\n\\", delivered: 9, queued: 1, down: true)]
        m.programs = [ProgramStats(name: "vg_sys_enter", runTimeNanos: 1_500, runCount: 10)]
        m.mode = "enforce"
        m.version = "0.1.0"
        let parsed = try PrometheusText.parse(PrometheusText.render(m.families()))
        let rendered = m.families().flatMap { f in
            f.samples.map { s in
                ParsedSample(name: f.kind == .counter && !f.name.hasSuffix("_total") ? f.name + "_total" : f.name,
                             labels: Dictionary(uniqueKeysWithValues: s.labels.map { ($0.name, $0.value) }), value: s.value)
            }
        }
        #expect(parsed == rendered)
        #expect(parsed.contains(ParsedSample(name: "vigil_sink_up", labels: ["sink": "syslog+tcp://h:514 \"x\"\n\\"], value: 0)))
        #expect(parsed.contains(ParsedSample(name: "vigil_bpf_program_run_seconds_total", labels: ["program": "vg_sys_enter"], value: 1.5e-6)))
    }

    @Test func parseAcceptsTimestampsCommentsAndSpecialValues() throws {
        let text = "# a comment\n\nup 1 1700000000000\nx{a=\"b\",} +Inf\r\ny NaN\nz{} -3e2\n"
        let parsed = try PrometheusText.parse(text)
        #expect(parsed.count == 4)
        #expect(parsed[0] == ParsedSample(name: "up", labels: [:], value: 1))
        #expect(parsed[1] == ParsedSample(name: "x", labels: ["a": "b"], value: .infinity))
        #expect(parsed[2].value.isNaN)
        #expect(parsed[3] == ParsedSample(name: "z", labels: [:], value: -300))
    }

    @Test(arguments: [
        ("ok 1\nbad{a=\"b\" 1\n", 2, "expected ',' or '}'"),
        ("ok 1\nok 2\nno_value\n", 3, "has no value"),
        ("x{a=\"unclosed} 1\n", 1, "not closed"),
        ("x{a=\"\\t\"} 1\n", 1, "unknown escape"),
        ("x 12abc\n", 1, "is not a number"),
        ("x{a=\"1\",a=\"2\"} 1\n", 1, "appears twice"),
        ("# fine\n{a=\"b\"} 1\n", 2, "expected a metric name"),
        ("x 1 soon\n", 1, "is not a timestamp"),
        ("x{1a=\"b\"} 1\n", 1, "expected a label name"),
        ("x 0x10\n", 1, "is not a number"),
    ])
    func parseErrorsNameTheLine(text: String, line: Int, fragment: String) {
        do {
            _ = try PrometheusText.parse(text)
            Issue.record("parsed \(text.debugDescription) without error")
        } catch {
            #expect(error.line == line)
            #expect(error.message.contains(fragment), "\(error)")
            #expect(error.description.contains("line \(line)"))
        }
    }
}

struct AgentMetricsTests {
    static func sample() -> AgentMetrics {
        var m = AgentMetrics()
        m.mode = "enforce"
        m.version = "0.1.0"
        m.uptimeSeconds = 12.5
        m.processesTracked = 42
        m.eventsByKind = ["fork": 7, "exec": 10]
        m.kernelDropsByKind = ["syscall": 3]
        m.kernelKnownByKind = ["connect": 41, "listen": 0]
        m.kernelFailuresBySite = ["argv-read": 2, "known-files-full": 0]
        m.profilesWithoutKernelSlot = 1
        m.profileSlots = 66_535
        m.execSlotKeys = 4
        m.execSlotNames = ["agreed": 9]
        m.kernelMapCapacity = ["vg_slot_modes": 66_536, "vg_procs": 75_000]
        m.spoolLost = ["file:/b": 4]
        m.findingsByKind = ["syscall": 2, "exec": 1]
        m.findingsSuppressed = ["web": 5]
        m.sequencesBelowThreshold = 12
        m.workloads = [AgentMetrics.WorkloadFigures(name: "web", members: 3, mode: "monitor (circuit breaker)", acts: 21)]
        m.actions = [AgentMetrics.ActionKey(action: "kill", outcome: "done"): 1,
                     AgentMetrics.ActionKey(action: "alert", outcome: "done"): 3]
        m.profiles = [AgentMetrics.ProfileStateKey(mode: "learn", state: "learning"): 2,
                      AgentMetrics.ProfileStateKey(mode: "enforce", state: "stable"): 4]
        m.promotions = [AgentMetrics.PromotionKey(from: "learn", to: "enforce"): 1]
        m.reloads = ["refused": 1, "ok": 2]
        m.lastReloadSucceeded = false
        m.unusableBaselines = 1
        m.ringBufferUsedBytes = 4096
        m.ringBufferSizeBytes = 16_777_216
        m.runTimeStatsEnabled = true
        m.programs = [ProgramStats(name: "vg_sys_exit", runTimeNanos: 2_000_000_000, runCount: 40),
                      ProgramStats(name: "vg_exec", runTimeNanos: 250_000_000, runCount: 5)]
        m.sinks = [SinkStats(name: "file:/b", delivered: 8, spoolPendingBytes: 100, queued: 2, deadLettered: 2, down: true, unauthorized: "answered 401"),
                   SinkStats(name: "file:/a", delivered: 9)]
        return m
    }

    @Test func rendersEveryFamilyDeterministically() {
        let text = PrometheusText.render(Self.sample().families())
        #expect(text == """
        # HELP vigil_info Always 1; the agent's mode and version as labels.
        # TYPE vigil_info gauge
        vigil_info{mode="enforce",version="0.1.0"} 1
        # HELP vigil_uptime_seconds Seconds since the agent started.
        # TYPE vigil_uptime_seconds gauge
        vigil_uptime_seconds 12.5
        # HELP vigil_processes Processes the agent tracks now.
        # TYPE vigil_processes gauge
        vigil_processes 42
        # HELP vigil_events_total Records the kernel submitted to the ring buffer, by kind.
        # TYPE vigil_events_total counter
        vigil_events_total{kind="exec"} 10
        vigil_events_total{kind="fork"} 7
        # HELP vigil_kernel_drops_total Records the kernel dropped because the ring buffer was full, by kind.
        # TYPE vigil_kernel_drops_total counter
        vigil_kernel_drops_total{kind="syscall"} 3
        # HELP vigil_kernel_known_total Calls of a judged profile its profile already knows (a learned destination or port), counted in the kernel instead of submitted, by kind.
        # TYPE vigil_kernel_known_total counter
        vigil_kernel_known_total{kind="connect"} 41
        vigil_kernel_known_total{kind="listen"} 0
        # HELP vigil_kernel_failures_total Failures in the kernel side that cost detail or learning, by the site that failed.
        # TYPE vigil_kernel_failures_total counter
        vigil_kernel_failures_total{site="argv-read"} 2
        vigil_kernel_failures_total{site="known-files-full"} 0
        # HELP vigil_profiles_without_kernel_slot Profiles with no kernel slot (more profiles than the slots sized at start): their processes are judged in user space only.
        # TYPE vigil_profiles_without_kernel_slot gauge
        vigil_profiles_without_kernel_slot 1
        # HELP vigil_kernel_profile_slots Profile slots the kernel holds, sized at start for the profiles loaded plus room to grow.
        # TYPE vigil_kernel_profile_slots gauge
        vigil_kernel_profile_slots 66535
        # HELP vigil_exec_slot_keys Executables whose profile slot the kernel names at exec itself, so their processes are judged from their first syscall.
        # TYPE vigil_exec_slot_keys gauge
        vigil_exec_slot_keys 4
        # HELP vigil_exec_slot_names_total Execs the kernel named a profile slot for, by whether the agent's answer from the exec record agreed or overrode it.
        # TYPE vigil_exec_slot_names_total counter
        vigil_exec_slot_names_total{outcome="agreed"} 9
        vigil_exec_slot_names_total{outcome="overridden"} 0
        # HELP vigil_exec_slot_publish_failures_total Executables the kernel's vg_exec_slots map could not take (full): their processes are pending at exec until the agent names them.
        # TYPE vigil_exec_slot_publish_failures_total counter
        vigil_exec_slot_publish_failures_total 0
        # HELP vigil_kernel_map_capacity_entries Size (max_entries) of each kernel map that holds profiles or processes, as loaded.
        # TYPE vigil_kernel_map_capacity_entries gauge
        vigil_kernel_map_capacity_entries{map="vg_procs"} 75000
        vigil_kernel_map_capacity_entries{map="vg_slot_modes"} 66536
        # HELP vigil_findings_total Findings reported, by deviation kind.
        # TYPE vigil_findings_total counter
        vigil_findings_total{kind="exec"} 1
        vigil_findings_total{kind="syscall"} 2
        # HELP vigil_findings_suppressed_total Findings held back by the repeat throttle, by workload (-: none).
        # TYPE vigil_findings_suppressed_total counter
        vigil_findings_suppressed_total{workload="web"} 5
        # HELP vigil_sequences_below_threshold_total New syscall sequences no more surprising than their profile's calibrated threshold: expected noise, not reported.
        # TYPE vigil_sequences_below_threshold_total counter
        vigil_sequences_below_threshold_total 12
        # HELP vigil_workload_members Live processes of each declared workload, with the mode it is judged in.
        # TYPE vigil_workload_members gauge
        vigil_workload_members{workload="web",mode="monitor (circuit breaker)"} 3
        # HELP vigil_workload_actions_total Response steps carried out on members of each workload.
        # TYPE vigil_workload_actions_total counter
        vigil_workload_actions_total{workload="web"} 21
        # HELP vigil_actions_total Response steps, by action and outcome.
        # TYPE vigil_actions_total counter
        vigil_actions_total{action="alert",outcome="done"} 3
        vigil_actions_total{action="kill",outcome="done"} 1
        # HELP vigil_profiles Profiles now, by mode and learning state.
        # TYPE vigil_profiles gauge
        vigil_profiles{mode="enforce",state="stable"} 4
        vigil_profiles{mode="learn",state="learning"} 2
        # HELP vigil_promotions_total Profile mode changes, by previous and new mode.
        # TYPE vigil_promotions_total counter
        vigil_promotions_total{from="learn",to="enforce"} 1
        # HELP vigil_reloads_total Configuration reloads, by result.
        # TYPE vigil_reloads_total counter
        vigil_reloads_total{result="ok"} 2
        vigil_reloads_total{result="refused"} 1
        # HELP vigil_baselines_unusable Baselines that cannot be used (corrupt, unknown version, unreadable, missing).
        # TYPE vigil_baselines_unusable gauge
        vigil_baselines_unusable 1
        # HELP vigil_last_reload_success 1 when the last configuration reload took effect, 0 when it was refused.
        # TYPE vigil_last_reload_success gauge
        vigil_last_reload_success 0
        # HELP vigil_ringbuf_used_bytes Bytes of the kernel ring buffer written and not yet read.
        # TYPE vigil_ringbuf_used_bytes gauge
        vigil_ringbuf_used_bytes 4096
        # HELP vigil_ringbuf_size_bytes Size of the kernel ring buffer in bytes.
        # TYPE vigil_ringbuf_size_bytes gauge
        vigil_ringbuf_size_bytes 16777216
        # HELP vigil_bpf_run_time_stats_enabled 1 when the kernel counts BPF program run time (the bpf_program metrics).
        # TYPE vigil_bpf_run_time_stats_enabled gauge
        vigil_bpf_run_time_stats_enabled 1
        # HELP vigil_bpf_program_run_seconds_total Time spent running each BPF program.
        # TYPE vigil_bpf_program_run_seconds_total counter
        vigil_bpf_program_run_seconds_total{program="vg_exec"} 0.25
        vigil_bpf_program_run_seconds_total{program="vg_sys_exit"} 2
        # HELP vigil_bpf_program_runs_total Runs of each BPF program.
        # TYPE vigil_bpf_program_runs_total counter
        vigil_bpf_program_runs_total{program="vg_exec"} 5
        vigil_bpf_program_runs_total{program="vg_sys_exit"} 40
        # HELP vigil_sink_up 1 while an output delivers, 0 while it is failing (its events go to the spool).
        # TYPE vigil_sink_up gauge
        vigil_sink_up{sink="file:/a"} 1
        vigil_sink_up{sink="file:/b"} 0
        # HELP vigil_sink_queued_events Events waiting in an output's memory queue.
        # TYPE vigil_sink_queued_events gauge
        vigil_sink_queued_events{sink="file:/a"} 0
        vigil_sink_queued_events{sink="file:/b"} 2
        # HELP vigil_sink_spool_bytes Bytes waiting in an output's disk spool.
        # TYPE vigil_sink_spool_bytes gauge
        vigil_sink_spool_bytes{sink="file:/a"} 0
        vigil_sink_spool_bytes{sink="file:/b"} 100
        # HELP vigil_sink_delivered_events_total Events an output delivered.
        # TYPE vigil_sink_delivered_events_total counter
        vigil_sink_delivered_events_total{sink="file:/a"} 9
        vigil_sink_delivered_events_total{sink="file:/b"} 8
        # HELP vigil_sink_lost_events_total Events an output lost (memory queue and spool both full, a rejection with no room in the dead-letter file, or refused by the receiver without being named).
        # TYPE vigil_sink_lost_events_total counter
        vigil_sink_lost_events_total{sink="file:/a"} 0
        vigil_sink_lost_events_total{sink="file:/b"} 4
        # HELP vigil_sink_dead_lettered_events_total Events an output's receiver rejected for good (HTTP 4xx), kept in its dead-letter file.
        # TYPE vigil_sink_dead_lettered_events_total counter
        vigil_sink_dead_lettered_events_total{sink="file:/a"} 0
        vigil_sink_dead_lettered_events_total{sink="file:/b"} 2
        # HELP vigil_sink_unauthorized 1 while an output's receiver refuses its credentials (HTTP 401/403).
        # TYPE vigil_sink_unauthorized gauge
        vigil_sink_unauthorized{sink="file:/a"} 0
        vigil_sink_unauthorized{sink="file:/b"} 1

        """)
        // The same snapshot always renders the same text (dictionary order does not leak).
        for _ in 0..<5 { #expect(PrometheusText.render(Self.sample().families()) == text) }
    }

    @Test func lostEventsComeFromSpoolLostOrElseTheSinksOwnCount() {
        var m = AgentMetrics()
        m.sinks = [SinkStats(name: "a", lost: 2), SinkStats(name: "b", lost: 5)]
        m.spoolLost = ["b": 7, "gone": 1]
        let lost = m.families().first { $0.name == "vigil_sink_lost_events_total" }?.samples ?? []
        #expect(lost == [MetricSample([("sink", "a")], 2), MetricSample([("sink", "b")], 7), MetricSample([("sink", "gone")], 1)])
    }

    @Test func lastReloadIsOmittedBeforeAnyReload() {
        var m = AgentMetrics()
        m.lastReloadSucceeded = nil
        #expect(!m.families().contains { $0.name == "vigil_last_reload_success" })
        m.lastReloadSucceeded = true
        #expect(m.families().first { $0.name == "vigil_last_reload_success" }?.samples.first?.value == 1)
    }
}

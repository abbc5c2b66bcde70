import Foundation
import Testing
import VigilCore
import VigilOutput
import VigilSensor

/// As root: the sensor's figures for metrics (BPF program run time, ring-buffer fill) from
/// the real kernel, served over HTTP and read back by `vigil status`.
@Suite(.serialized, .enabled(if: BPFTestGate.shouldRun), .timeLimit(.minutes(2)))
struct MetricsEndToEndTests {
    static let ringBytes: UInt32 = 4 << 20

    func makeSensor() throws -> Sensor {
        // Detect mode, as `vigil run` loads it: the generic sys_enter program is attached
        // (trace mode without --syscalls no longer runs one on every syscall).
        var options = SensorOptions()
        options.mode = .detect
        options.ringBufferBytes = Self.ringBytes
        return try Sensor(options: options)
    }

    @Test func runTimeStatsCountTheSysEnterProgram() throws {
        try BPFTestGate.check()
        let sensor = try makeSensor()
        #expect(!sensor.runTimeStatsEnabled)
        try sensor.enableRunTimeStats()
        try sensor.enableRunTimeStats()  // idempotent
        #expect(sensor.runTimeStatsEnabled)
        for _ in 0..<5 { try runProgram("/bin/true", []) }
        let stats = sensor.programStats()
        #expect(stats.map(\.name).contains("vg_exec"), "\(stats.map(\.name))")
        let sysEnter = try #require(stats.first { $0.name == "vg_sys_enter" }, "no stats for vg_sys_enter: \(stats.map(\.name))")
        #expect(sysEnter.runCount > 0)
        #expect(sysEnter.runTimeNanos > 0)
        // Counts only grow.
        for _ in 0..<3 { try runProgram("/bin/true", []) }
        let later = try #require(sensor.programStats().first { $0.name == "vg_sys_enter" })
        #expect(later.runCount > sysEnter.runCount)
    }

    @Test func ringBufferFillReportsTheConfiguredSizeAndUnreadRecords() throws {
        try BPFTestGate.check()
        let sensor = try makeSensor()
        #expect(sensor.ringBufferFill.size == Int(Self.ringBytes))
        // Not polling: the exec and exit records of these programs stay in the ring.
        for _ in 0..<3 { try runProgram("/bin/echo", ["fill"]) }
        let full = sensor.ringBufferFill
        #expect(full.used > 0)
        #expect(full.used <= full.size)
        try sensor.drain { _ in }
        // Other processes on the host keep writing, but far less than what was drained.
        #expect(sensor.ringBufferFill.used < Int(Self.ringBytes))
    }

    @Test func sensorFiguresAreScrapedOverHTTPAndShownByStatus() throws {
        try BPFTestGate.check()
        let sensor = try makeSensor()
        try sensor.enableRunTimeStats()
        for _ in 0..<3 { try runProgram("/bin/true", []) }
        var events: [String: UInt64] = [:]
        try sensor.drain { events[$0.kind.rawValue, default: 0] += 1 }

        var m = AgentMetrics()
        m.mode = "monitor"
        m.version = "test"
        m.eventsByKind = events
        m.programs = sensor.programStats()
        m.runTimeStatsEnabled = sensor.runTimeStatsEnabled
        (m.ringBufferUsedBytes, m.ringBufferSizeBytes) = sensor.ringBufferFill
        m.kernelDropsByKind = ["syscall": 7]
        let server = try MetricsServer(listen: "127.0.0.1:0")
        defer { server.stop() }
        server.update(m.families())

        let samples = try PrometheusText.parse(MetricsClient.fetch("127.0.0.1:\(server.port)"))
        let runs = try #require(samples.first { $0.name == "vigil_bpf_program_runs_total" && $0.labels["program"] == "vg_sys_enter" })
        #expect(runs.value > 0)
        #expect(samples.contains { $0.name == "vigil_ringbuf_size_bytes" && $0.value == Double(Self.ringBytes) })
        #expect(samples.contains { $0.name == "vigil_events_total" && $0.labels["kind"] == "exec" && $0.value >= 3 })

        let (out, err, status) = try runVigil(["status", "--metrics", "127.0.0.1:\(server.port)"])
        #expect(status == 0, "\(err)")
        #expect(out.contains("mode monitor"))
        #expect(out.contains("vg_sys_enter:"))
        #expect(out.contains("ns/run"))
        #expect(out.contains("KERNEL DROPS"))
        #expect(out.contains("% full"))
    }
}

/// `vigil status` needs no root and no eBPF.
struct StatusCommandTests {
    @Test func nothingListeningIsAClearRuntimeFailure() throws {
        // A port nobody listens on: bind one, note it, close it.
        let server = try MetricsServer(listen: "127.0.0.1:0")
        let port = server.port
        server.stop()
        let (_, err, status) = try runVigil(["status", "--metrics", "127.0.0.1:\(port)"])
        #expect(status == 1)
        #expect(err.contains("127.0.0.1:\(port)"))
        #expect(err.contains("is `vigil run` running with metrics enabled"))
        #expect(err.contains("metrics.listen") && err.contains("`vigil monitor`/`enforce` with --metrics"), "\(err)")
    }

    @Test func anEndpointWithoutVigilsMetricsIsNamed() throws {
        let server = try MetricsServer(listen: "127.0.0.1:0")
        defer { server.stop() }
        server.update([MetricFamily(name: "other_up", help: "", kind: .gauge, samples: [MetricSample(value: 1)])])
        let (_, err, status) = try runVigil(["status", "--metrics", "127.0.0.1:\(server.port)"])
        #expect(status == 1)
        #expect(err.contains("not Vigil's"))
    }

    /// What the kernel kept back as known is shown beside what it submitted: the total, and
    /// per second between two reads while submissions stand still.
    @Test func knownCallsKeptInTheKernelAreShown() throws {
        func families(known: UInt64) -> [MetricFamily] {
            var m = AgentMetrics()
            m.mode = "monitor"
            m.version = "test"
            m.eventsByKind = ["connect": 3, "exec": 5]
            m.kernelKnownByKind = ["connect": known, "listen": 0]
            return m.families()
        }
        let server = try MetricsServer(listen: "127.0.0.1:0")
        defer { server.stop() }
        server.update(families(known: 400))
        let later = families(known: 500)
        let bump = Thread { Thread.sleep(forTimeInterval: 0.5); server.update(later) }
        bump.start()
        let r = try runVigil(["status", "--metrics", "127.0.0.1:\(server.port)", "--rate-seconds", "2"])
        #expect(r.2 == 0, "\(r.1)")
        let line = try #require(r.0.split(separator: "\n").first { $0.hasPrefix("kernel records") }, "\(r.0)")
        #expect(line.hasPrefix("kernel records 0/s submitted, "), "nothing more submitted: \(line)")
        #expect(line.contains("/s known and kept in the kernel (connect "), "\(line)")
        let total = try #require(r.0.split(separator: "\n").first { $0.hasPrefix("known calls") }, "\(r.0)")
        #expect(total.contains("500 (connect 500)"), "the total, zeros left out: \(total)")
    }

    /// Records per second from two reads: what the kernel submits now, 0/s in a steady state.
    @Test func recordsPerSecondComeFromTwoReads() throws {
        func families(novelty: UInt64) -> [MetricFamily] {
            var m = AgentMetrics()
            m.mode = "enforce"
            m.version = "test"
            m.eventsByKind = ["novelty": novelty, "exec": 5]
            return m.families()
        }
        let server = try MetricsServer(listen: "127.0.0.1:0")
        defer { server.stop() }
        server.update(families(novelty: 100))
        let steady = try runVigil(["status", "--metrics", "127.0.0.1:\(server.port)", "--rate-seconds", "0.5"])
        #expect(steady.2 == 0, "\(steady.1)")
        #expect(steady.0.contains("kernel records 0/s submitted, 0/s dropped"), "\(steady.0)")

        // 50 more novelty records while status waits between its reads.
        let later = families(novelty: 150)
        let bump = Thread { Thread.sleep(forTimeInterval: 0.5); server.update(later) }
        bump.start()
        let moving = try runVigil(["status", "--metrics", "127.0.0.1:\(server.port)", "--rate-seconds", "2"])
        #expect(moving.2 == 0, "\(moving.1)")
        let line = try #require(moving.0.split(separator: "\n").first { $0.hasPrefix("kernel records") })
        #expect(line.contains("(novelty "), "\(line)")
        let rate = Double(line.split(separator: " ")[2].prefix { $0 != "/" }) ?? -1
        #expect(rate > 20 && rate <= 25, "50 records over about 2 s: \(line)")

        let once = try runVigil(["status", "--metrics", "127.0.0.1:\(server.port)", "--rate-seconds", "0"])
        #expect(!once.0.contains("kernel records"))
        let bad = try runVigil(["status", "--metrics", "127.0.0.1:\(server.port)", "--rate-seconds", "-1"])
        #expect(bad.2 == 2)
        #expect(bad.1.contains("--rate-seconds"))
    }

    /// The kernel's naming of slots at exec: how many executables, how many execs, and the
    /// agent overriding it flagged (it should not happen).
    @Test func execNamingIsShownAndAnOverrideFlagged() throws {
        func families(overridden: UInt64) -> [MetricFamily] {
            var m = AgentMetrics()
            m.mode = "enforce"
            m.version = "test"
            m.execSlotKeys = 3
            m.execSlotNames = ["agreed": 40, "overridden": overridden]
            return m.families()
        }
        let server = try MetricsServer(listen: "127.0.0.1:0")
        defer { server.stop() }
        server.update(families(overridden: 0))
        let clean = try runVigil(["status", "--metrics", "127.0.0.1:\(server.port)", "--rate-seconds", "0"])
        #expect(clean.2 == 0, "\(clean.1)")
        #expect(clean.0.contains("exec naming    3 executables named by the kernel at exec; 40 execs named there\n"), "\(clean.0)")
        server.update(families(overridden: 2))
        let flagged = try runVigil(["status", "--metrics", "127.0.0.1:\(server.port)", "--rate-seconds", "0"])
        #expect(flagged.0.contains("42 execs named there, !! 2 of them overridden by the agent"), "\(flagged.0)")
    }

    @Test func aMalformedAddressIsBadUsage() throws {
        let (_, err, status) = try runVigil(["status", "--metrics", "localhost"])
        #expect(status == 2)
        #expect(err.contains("'localhost'"))
    }

    @Test func helpTeachesWithAnExample() throws {
        let (out, _, status) = try runVigil(["status", "--help"])
        #expect(status == 0)
        #expect(out.contains("vigil status --metrics 127.0.0.1:9464"))
    }
}

import Foundation
import Testing
import VigilTestSupport
@testable import VigilOutput

/// `process_*`: this test process's own figures, read from /proc/self, rendered and parsed
/// back as a scraper would.
@Suite struct ProcessSelfMetricsTests {
    @Test func theTestProcessesOwnFiguresAreRenderedAndPlausible() throws {
        let m = ProcessSelfMetrics.read()
        #expect(m.problems.isEmpty, "\(m.problems)")
        var agent = AgentMetrics()
        agent.process = m
        let samples = try PrometheusText.parse(PrometheusText.render(agent.families()))
        func value(_ name: String) throws -> Double {
            try #require(samples.first { $0.name == name }?.value, "\(name) missing")
        }
        let now = Date().timeIntervalSince1970
        let fds = try value("process_open_fds"), maxFDs = try value("process_max_fds")
        let rss = try value("process_resident_memory_bytes"), vsize = try value("process_virtual_memory_bytes")
        let start = try value("process_start_time_seconds"), cpu = try value("process_cpu_seconds_total")
        #expect(fds >= 3, "stdin, stdout, stderr at least")
        #expect(maxFDs >= fds)
        #expect(rss > 1_048_576, "a Swift test process holds more than 1 MiB")
        #expect(vsize >= rss)
        #expect(start <= now + 1, "started in the past")
        #expect(start > now - 86_400, "and not before yesterday: ticks and boot time combined right")
        #expect(cpu > 0 && cpu < (now - start) * Double(ProcessInfo.processInfo.activeProcessorCount) + 1)
        // (Other tests open and close descriptors in this process meanwhile: no exact count.)
        #expect(maxFDs == Double(try Self.softLimit()), "the soft RLIMIT_NOFILE")
    }

    static func softLimit() throws -> UInt64 {
        var r = rlimit()
        try #require(getrlimit(Int32(RLIMIT_NOFILE.rawValue), &r) == 0)
        return UInt64(r.rlim_cur)
    }

    @Test func aCommandNameWithSpacesAndParenthesesParses() throws {
        let line = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 500 0 0 0 150 50 0 0 20 0 4 0 98765 123456789 2048 18446744073709551615 1 2 3\n"
        let f = try #require(ProcessSelfMetrics.StatFields.parse(line))
        #expect(f == .init(utime: 150, stime: 50, startTicks: 98765, vsize: 123_456_789, rssPages: 2048))
        #expect(ProcessSelfMetrics.StatFields.parse("4242 (truncated) S 1 2") == nil)
        #expect(ProcessSelfMetrics.bootTime("cpu 1 2 3\nbtime 1700000000\nprocesses 5\n") == 1_700_000_000)
        #expect(ProcessSelfMetrics.softOpenFiles("Max open files            1024                 524288               files\n") == 1024)
        #expect(ProcessSelfMetrics.softOpenFiles("Max open files            unlimited            unlimited            files\n") == .infinity)
    }

    @Test func anUnreadableProcLeavesTheFiguresOutAndSaysWhy() throws {
        let dir = try makeTempDirectory("vigil-proc")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let m = ProcessSelfMetrics.read(proc: dir)
        #expect(m.families().isEmpty, "no zeros pretending to be figures")
        #expect(m.problems.count == 3)
        #expect(m.problems.contains { $0.hasPrefix(dir + "/self/stat: ") && $0.contains("No such file") }, "\(m.problems)")
        #expect(m.problems.contains { $0.hasPrefix(dir + "/self/fd: ") })
        #expect(m.problems.contains { $0.hasPrefix(dir + "/self/limits: ") })

        // A stat that does not parse, and a /proc/stat without btime: named as such; the
        // figures that could be read stay.
        try FileManager.default.createDirectory(atPath: dir + "/self/fd", withIntermediateDirectories: true)
        try writeFile("garbage", to: dir + "/self/stat")
        try writeFile("Max open files 64 128 files\n", to: dir + "/self/limits")
        let partial = ProcessSelfMetrics.read(proc: dir)
        #expect(partial.problems == [dir + "/self/stat: unexpected format"])
        #expect(partial.maxFDs == 64 && partial.openFDs == 0)
        #expect(partial.families().map(\.name) == ["process_open_fds", "process_max_fds"])
        try writeFile("1 (x) S 1 1 1 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 100 4096 1\n", to: dir + "/self/stat")
        try writeFile("cpu 0\n", to: dir + "/stat")
        let noBoot = ProcessSelfMetrics.read(proc: dir)
        #expect(noBoot.problems == [dir + "/stat: no btime line"])
        #expect(noBoot.startTimeSeconds == nil && noBoot.virtualBytes == 4096)
    }
}

import Foundation
import Testing
@testable import VigilAgent
import VigilCore
import VigilOutput
import VigilSensor
import VigilTestSupport

/// Event storms (issue 19 item 4): what the responder keeps per process or per action is
/// bounded however long the daemon runs and however many processes come and go.
@Suite struct BoundedStateTests {
    @Test func theExitedListIsBoundedThroughAForkStorm() throws {
        let rig = try Rig(.enforce, workloads: ["exe:/opt/vigil-test/svc"])
        let storm = 2 * RecentSet<Int32>.capacity + 20_000
        var peak = 0, tablePeak = 0
        let start = Date()
        for i in 0..<storm {
            let pid = Int32(100_000 + i)
            rig.agent.handle(Events.fork(1, pid))
            rig.agent.handle(Events.ev(pid, .exit(.init(status: 0))))
            if i % 4096 == 0 {
                peak = max(peak, rig.agent.responder.exitedCount)
                tablePeak = max(tablePeak, rig.agent.table.exitedCount)
            }
        }
        peak = max(peak, rig.agent.responder.exitedCount)
        let seconds = Date().timeIntervalSince(start)
        rig.agent.stop(reason: "test")
        #expect(tablePeak <= ProcessTable.exitedCapacity + 1, "the process table's exited list too: \(tablePeak)")
        // Each exit costs amortised O(1): a pass over every recent exit at each one took
        // minutes here (186 s for these 151,072 forks and exits), now about a second.
        #expect(seconds < 30, "\(storm) forks and exits took \(seconds) s")
        #expect(peak <= 2 * RecentSet<Int32>.capacity, "at most two generations of exited pids: \(peak) after \(storm) exits")
        #expect(peak >= RecentSet<Int32>.capacity, "and the recent ones are kept: \(peak)")
    }

    @Test func recentExitsAreRememberedForAGenerationAndThenForgotten() {
        var s = RecentSet<Int32>()
        s.age(now: 1)
        s.insert(7, now: 1)
        s.age(now: 1 + s.generationNanos)          // 7 moves to the older generation
        #expect(s.contains(7))
        s.age(now: 1 + 2 * s.generationNanos)      // and is retired
        #expect(!s.contains(7))
        s.insert(8, now: 10)
        s.remove(8)                                // a pid reused by a new exec
        #expect(!s.contains(8))
    }

    @Test func latenciesKeepTheirCountAndMaxButOnlyTheLastSamples() {
        var l = LatencyStats()
        for i in 1...(3 * LatencyStats.capacity) { l.add(UInt64(i)) }
        #expect(l.count == UInt64(3 * LatencyStats.capacity))
        #expect(l.max == UInt64(3 * LatencyStats.capacity))
        #expect(l.samples.count == LatencyStats.capacity)
        // The median of the last `capacity` samples (2c+1 ... 3c).
        #expect(l.median == UInt64(2 * LatencyStats.capacity + LatencyStats.capacity / 2 + 1))
    }

    @Test func dropsAreReportedPerKindAsTheyHappen() throws {
        let rig = try Rig(.enforce, workloads: ["exe:/opt/vigil-test/svc"])
        rig.kernel.statsValue.kernelDrops = [.exec: 5, .connect: 3]
        rig.agent.noteDrops(8)
        rig.kernel.statsValue.kernelDrops = [.exec: 7, .connect: 3]
        rig.agent.noteDrops(1)   // counted before the per-kind counters were read: they say 2
        rig.agent.noteDrops(1)   // already reported
        rig.agent.stop(reason: "test")
        let losses = try FailSafeBaselineTests.events(rig).compactMap { e -> String? in
            guard let u = e["unmapped"] as? [String: Any], let src = u["loss_source"] as? String, let n = u["lost_events"] as? Int else { return nil }
            return "\(src) \(n)"
        }
        #expect(losses == ["kernel-ringbuf:exec 5", "kernel-ringbuf:connect 3", "kernel-ringbuf:exec 2"])
    }
}

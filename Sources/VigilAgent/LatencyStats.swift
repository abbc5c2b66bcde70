import Foundation
import VigilCore
import VigilOutput
import VigilSensor

/// Latencies in nanoseconds: how many, the largest, and the last `capacity` samples (for
/// the median). Memory is fixed however long the daemon runs.
struct LatencyStats {
    static let capacity = 4096
    private(set) var count: UInt64 = 0
    private(set) var max: UInt64 = 0
    private(set) var samples: [UInt64] = []
    private var next = 0

    mutating func add(_ ns: UInt64) {
        count += 1
        max = Swift.max(max, ns)
        if samples.count < Self.capacity {
            samples.append(ns)
        } else {
            samples[next] = ns
            next = (next + 1) % Self.capacity
        }
    }

    /// The median of the samples kept (0 with none).
    var median: UInt64 {
        guard !samples.isEmpty else { return 0 }
        return samples.sorted()[samples.count / 2]
    }
}

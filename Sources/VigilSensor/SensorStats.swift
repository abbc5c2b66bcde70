import CVigilWire
import Foundation
public import VigilCore

/// Known behaviour of one profile as counted in the kernel.
public struct KernelCounts: Sendable {
    public var syscalls: [(nr: UInt32, count: UInt64, lastSeen: UInt64)] = []
    public var ngrams: [(hash: UInt64, count: UInt64, lastSeen: UInt64)] = []
    public init() {}
}

/// Counts a reader must report: records the kernel could not deliver, and records that
/// arrived but could not be decoded.
public struct SensorStats: Sendable, Equatable {
    public init() {}
    /// Records the kernel dropped because the ring buffer was full, per kind.
    public var kernelDrops: [Event.Kind: UInt64] = [:]
    /// Records the kernel submitted, per kind.
    public var kernelEmitted: [Event.Kind: UInt64] = [:]
    /// argv or sockaddr reads from user memory that failed (events still delivered, with less detail).
    public var readFailures: UInt64 = 0
    /// Network events lost because the entry/exit pairing map was full.
    public var pendingLost: UInt64 = 0
    /// New n-grams reported but not stored because a known-behaviour map was full.
    public var knownMapFull: UInt64 = 0
    /// Syscalls not learned because per-thread history storage could not be had.
    public var historyFailures: UInt64 = 0
    public var decoder = RecordDecoder.Counters()

    public var totalKernelDrops: UInt64 { kernelDrops.values.reduce(0, +) }
}

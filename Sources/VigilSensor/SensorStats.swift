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
    /// Calls of a judged profile slot that its profile already knows (a connect to a learned
    /// destination, a bind or listen on a learned port), counted in the kernel instead of
    /// submitted, per kind (``SensorOptions/filterKnown``).
    public var kernelKnown: [Event.Kind: UInt64] = [:]
    /// argv or sockaddr reads from user memory that failed (events still delivered, with less detail).
    public var readFailures: UInt64 = 0
    /// Network events lost because the entry/exit pairing map was full.
    public var pendingLost: UInt64 = 0
    /// New n-grams reported but not stored because a known-behaviour map was full.
    public var knownMapFull: UInt64 = 0
    /// Syscalls not learned because per-thread history storage could not be had.
    public var historyFailures: UInt64 = 0
    public var decoder = RecordDecoder.Counters()
    /// Each place in the kernel side that can fail, with how often it did (nonzero only);
    /// the fields above are their sums by consequence.
    public var failures: [KernelFailureSite: UInt64] = [:]

    public var totalKernelDrops: UInt64 { kernelDrops.values.reduce(0, +) }
}

/// A place in the kernel side that can fail without stopping it: each has its own counter
/// (`enum vg_counter` in `vigil_wire.h`), so a count says what was lost and where.
public enum KernelFailureSite: String, Sendable, Hashable, CaseIterable {
    /// An exec's argv could not be read from user memory.
    case argvRead = "argv-read"
    /// A sockaddr's family or address could not be read from user memory.
    case sockaddrRead = "sockaddr-read"
    /// A unix socket's path could not be read from user memory.
    case unixPathRead = "unix-path-read"
    /// The entry/exit pairing map was full: a network event was lost.
    case pendingFull = "pending-full"
    /// vg_known_ngrams was full: a new n-gram reported, not stored.
    case knownNgramsFull = "known-ngrams-full"
    /// vg_known_syscalls was full: a new syscall reported, not stored.
    case knownSyscallsFull = "known-syscalls-full"
    /// vg_known_files was full: a file reported, not remembered.
    case knownFilesFull = "known-files-full"
    /// No per-thread history storage: a syscall was not learned.
    case historyStorage = "history-storage"
    /// An opened or mapped file's path was cut short.
    case filePathTruncated = "file-path-truncated"
    /// A renamed, linked or unlinked name's directory was cut short.
    case namedPathTruncated = "named-path-truncated"
    /// vg_procs or vg_marks was full: a new process is not tracked by the kernel.
    case procsFull = "procs-full"

    /// For a site that is a full map: the map, and what is not held once it is full (said
    /// when the agent reports it, with how to get room).
    public var fullMap: (map: String, consequence: String)? {
        let restart = "restart the agent to size the kernel maps for what it holds now"
        return switch self {
        case .pendingFull: ("vg_pending_net", "network calls in flight beyond it are not reported (connect, bind, listen)")
        case .knownNgramsFull: ("vg_known_ngrams", "new n-grams are reported but not learned in the kernel, so they are reported again; " + restart)
        case .knownSyscallsFull: ("vg_known_syscalls", "new syscalls are reported but not learned in the kernel; " + restart)
        case .knownFilesFull: ("vg_known_files", "file events are reported but not remembered, so they are reported again; " + restart)
        case .procsFull: ("vg_procs", "new processes are not tracked by the kernel: no profile slot, no responses, no workload membership; " + restart)
        default: nil
        }
    }
}

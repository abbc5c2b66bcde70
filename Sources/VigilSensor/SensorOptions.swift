import CVigilWire
import Foundation
public import VigilCore

/// Which probes the sensor runs. What the kernel does with a profile's new n-grams is set
/// per profile slot with ``Sensor/setSlotMode(_:_:)``.
public enum SensorMode: Sendable, CaseIterable {
    /// Report events only (`vigil trace`).
    case trace
    /// Profiles, no responses and no self-protection hooks (`vigil learn`).
    case learn
    /// Profiles, responses and self-protection (`vigil monitor`, `enforce`, `run`).
    case detect

    /// The kernel side's `vg_mode` (`enum vg_mode` in `vigil_wire.h`).
    var wireValue: UInt32 {
        switch self {
        case .trace: VG_MODE_TRACE.rawValue
        case .learn: VG_MODE_LEARN.rawValue
        case .detect: VG_MODE_DETECT.rawValue
        }
    }
}

/// What the sensor should watch.
public struct SensorOptions: Sendable {
    /// Sizes the kernel's profile and process maps for preloading `profiles` and for the
    /// `processes` running now (``sizing``).
    public mutating func sizeKnownMaps(for profiles: some Sequence<Profile>, processes: Int = 0) {
        sizing = MapSizing()
        sizing.add(profiles)
        sizing.addProcesses(processes)
    }

    public var mode: SensorMode = .trace
    /// Also report every syscall entry (many events). Off by default, and then the kernel
    /// side drops the code path altogether (a load-time constant).
    public var syscalls = false
    /// Only this process (thread-group id).
    public var pid: Int32?
    /// Only tasks with this command name (at most 15 bytes, as the kernel keeps it).
    public var comm: String?
    /// Ring buffer size in bytes (a power of two, a multiple of the page size).
    public var ringBufferBytes: UInt32 = 16 * 1024 * 1024
    /// What the start puts in each profile and process map: each is sized to hold it plus
    /// its built-in size as room to grow (``MapSizing``).
    public var sizing = MapSizing()
    /// Known syscalls and n-grams the caller will preload (all profiles together): the
    /// kernel's maps are sized to hold them plus room to learn (the built-in sizes, 65,536
    /// syscall and 262,144 n-gram entries, are the headroom).
    public var preloadSyscalls: Int {
        get { sizing.preload["vg_known_syscalls"] ?? 0 }
        set { sizing.preload["vg_known_syscalls"] = newValue }
    }
    public var preloadNgrams: Int {
        get { sizing.preload["vg_known_ngrams"] ?? 0 }
        set { sizing.preload["vg_known_ngrams"] = newValue }
    }
    /// The compiled BPF object; found automatically when nil.
    public var objectPath: String?
    /// Detect mode: a process marked deviating (by user space, or by the kernel the moment a
    /// process of a slot in ``ProfileMode/enforce`` does something its profile does not hold)
    /// that execs a program no baseline knows is killed before it runs (`vigil enforce`).
    public var execGuard = false
    /// Detect mode: the kernel may act on every process not marked
    /// ``Sensor/Membership/protected`` (`--all-processes`). Otherwise it acts only on
    /// processes marked ``Sensor/Membership/guarded`` (see ``Sensor/setMembership(pid:_:)``);
    /// responses set for any other process are inert.
    public var guardAllProcesses = false
    /// Detect mode: a connect, bind or listen of a process whose profile slot is judged
    /// (monitor, enforce) that its profile already knows (the destinations and ports given
    /// with ``Sensor/setEgress(slot:_:)`` and ``Sensor/setListens(slot:_:)``) sends no record:
    /// the kernel counts it (``SensorStats/kernelKnown``). Off: every call is reported, as a
    /// full event stream (`--events`) needs.
    public var filterKnown = false
    /// How much must be pending in the ring buffer before a record wakes the reader; nil:
    /// by mode (0 in detect mode, where responses wait on the records: a record wakes an
    /// idle reader; ``Sensor/wakeupBatchBytes`` in trace and learn, whose reader also
    /// collects on its poll timeout). For benchmarks that compare the two.
    public var wakeupBatchBytes: UInt32?
    /// Trace mode: report file writes, executable mappings and sensitive reads
    /// (`vigil trace --files`). Learn and detect modes always capture them.
    public var files = false
    /// The sensitive set (``FileRules/defaultSensitive``): the kernel resolves a read-only
    /// open only when the file's or its directory's name is one of these patterns'.
    public var sensitiveFiles: [String] = FileRules.defaultSensitive
    /// Detect mode: pin every link in this bpffs directory (e.g. `/sys/fs/bpf/vigil`), so the
    /// kernel side stays attached and enforcing if the agent dies; links an earlier agent
    /// left there are replaced once this sensor's are attached. nil: nothing is pinned.
    public var pinDirectory: String?
    /// Benchmarks only: load nothing but the programs named here (BPF/bench.bpf.c's, e.g.
    /// `vg_bench_floor`, the overhead floor), and those of the agent whose section starts
    /// with one of `benchmarkSectionPrefixes`. Empty: the agent's programs, never bench.bpf.c's.
    public var benchmarkPrograms: Set<String> = []
    /// Benchmarks only, with ``benchmarkPrograms``: also load the agent's programs whose ELF
    /// section starts with one of these (e.g. `tracepoint/syscalls/`), to measure what
    /// having them attached costs other syscalls.
    public var benchmarkSectionPrefixes: [String] = []
    /// Benchmarks only: load nothing but the empty sys_enter program (the overhead floor).
    public var benchmarkFloorOnly: Bool {
        get { benchmarkPrograms == ["vg_bench_floor"] }
        set { benchmarkPrograms = newValue ? ["vg_bench_floor"] : [] }
    }

    public init() {}
}

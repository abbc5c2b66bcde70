import CLibbpf
import Glibc

/// The kernel's run-time accounting of BPF programs (run time and run count per program),
/// on while an instance lives: the kernel counts as long as any holder keeps its descriptor
/// open, and the counts are cumulative from the moment accounting was on.
public final class BPFRunTimeStats {
    private let fd: Int32

    /// Turns accounting on (`bpf_enable_stats(BPF_STATS_RUN_TIME)`; needs CAP_SYS_ADMIN).
    public init() throws(BPFError) {
        let rc = vigil_enable_run_time_stats()
        guard rc >= 0 else { throw BPFError("enabling BPF run-time statistics", errno: -rc) }
        fd = rc
    }

    deinit { _ = Glibc.close(fd) }
}

extension BPFProgram {
    /// The program's cumulative run time (ns) and run count, as the kernel reports them
    /// (`bpf_obj_get_info_by_fd`); nil when it is not loaded. Zero unless run-time
    /// accounting was on while it ran (`BPFRunTimeStats`).
    public var runStats: (runTimeNanos: UInt64, runCount: UInt64)? {
        let progFD = fd
        guard progFD >= 0 else { return nil }
        var ns: UInt64 = 0, count: UInt64 = 0
        guard vigil_prog_run_stats(progFD, &ns, &count) == 0 else { return nil }
        return (ns, count)
    }
}

/// How full a BPF ring buffer is, read from its position pages without consuming anything.
///
/// A ring buffer map exposes two pages to `mmap`: the consumer position at offset 0 and the
/// producer position one page further. Both are mapped read-only, once; a reading is the
/// producer position minus the consumer position (records written, including any still
/// being filled, and not yet consumed).
public final class RingBufferGauge {
    private let base: UnsafeMutableRawPointer
    private let length: Int
    private let pageSize: Int
    /// The ring's data size in bytes (the map's `max_entries`).
    public let size: Int

    /// Maps the position pages of a loaded ring buffer map.
    public init(map: BPFMap) throws(BPFError) {
        pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        length = 2 * pageSize
        size = Int(map.maxEntries)
        guard let p = mmap(nil, length, PROT_READ, MAP_SHARED, map.fd, 0), p != MAP_FAILED else {
            throw BPFError("mapping the positions of ring buffer \(map.name)", errno: errno)
        }
        base = p
    }

    deinit { munmap(base, length) }

    /// Bytes written and not yet consumed (0...size), and the ring's size.
    public var fill: (used: Int, size: Int) {
        let consumer = vigil_load_acquire_u64(base)
        let producer = vigil_load_acquire_u64(base + pageSize)
        let used = producer >= consumer ? producer - consumer : 0
        return (Int(min(used, UInt64(size))), size)
    }
}

import Foundation

/// Clock conversions.
public enum Clock {
    /// CLOCK_REALTIME minus CLOCK_MONOTONIC, in nanoseconds: added to the kernel's
    /// bpf_ktime_get_ns() stamps to give wall-clock time.
    public static func monotonicToRealtimeOffset() -> Int64 {
        var mono = timespec(), real = timespec()
        clock_gettime(CLOCK_MONOTONIC, &mono)
        clock_gettime(CLOCK_REALTIME, &real)
        return (Int64(real.tv_sec) - Int64(mono.tv_sec)) * 1_000_000_000 + (Int64(real.tv_nsec) - Int64(mono.tv_nsec))
    }

    public static func nowNanos() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_REALTIME, &t)
        return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
    }
}

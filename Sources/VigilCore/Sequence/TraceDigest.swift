/// A 64-bit fingerprint of a trace's calls, fed incrementally, so identical traces can be
/// found while they stream (``Evaluation`` uses it to find traces that copy a training trace).
///
/// FNV-1a over the 32-bit calls, then the length mixed in. Two different traces share a
/// digest with chance about 2^-64 per pair: negligible for corpora of thousands of traces.
public struct TraceDigest: Sendable, Hashable {
    private var state: UInt64 = 0xcbf2_9ce4_8422_2325
    private var count: UInt64 = 0

    public init() {}

    public init(_ calls: [UInt32]) {
        calls.withUnsafeBufferPointer { feed($0) }
    }

    public mutating func feed(_ calls: UnsafeBufferPointer<UInt32>) {
        var h = state
        for c in calls { h = (h ^ UInt64(c)) &* 0x0000_0100_0000_01b3 }
        state = h
        count &+= UInt64(calls.count)
    }

    /// The fingerprint of everything fed so far.
    public var value: UInt64 {
        var h = state ^ (count &* 0x9e37_79b9_7f4a_7c15)
        h ^= h >> 33
        return h &* 0xff51_afd7_ed55_8ccd
    }
}

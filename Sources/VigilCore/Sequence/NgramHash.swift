/// The 64-bit hash of an n-gram of syscall numbers that both the Swift model and the kernel
/// side use as a key ("Vigil n-gram hash, version 1").
///
/// Definition, for an n-gram `s[0] ... s[n-1]` (oldest first) of 32-bit syscall numbers:
///
///     state = 0xcbf29ce484222325                      // FNV-1a 64-bit offset basis
///     for k in n-1 down to 0:                          // newest call first
///         state = (state ^ s[k]) * 0x100000001b3       // FNV-1a step over a 32-bit word, mod 2^64
///     h = state ^ (n << 56)                            // the length is part of the key
///     h = (h ^ (h >> 33)) * 0xff51afd7ed558ccd         // MurmurHash3 fmix64 finaliser
///     h = (h ^ (h >> 33)) * 0xc4ceb9fe1a85ec53
///     h =  h ^ (h >> 33)
///     if h == 0 { h = 1 }                              // 0 marks an empty slot in flat tables
///
/// Only fixed-width integer xor, shift and wrapping multiply: a BPF program reproduces it
/// with a bounded loop over its per-task ring of recent calls. Folding the newest call first
/// lets a scanner extend the hash of the length-`n` suffix to length `n+1` with one step,
/// so every n-gram length ending at a position costs one step and one finalisation.
/// Positions before a process's first call hold ``NgramHash/startSymbol``.
public enum NgramHash {
    /// The FNV-1a 64-bit offset basis: the state of the empty n-gram.
    public static let seed: UInt64 = 0xcbf2_9ce4_8422_2325
    /// The FNV 64-bit prime.
    public static let prime: UInt64 = 0x0000_0100_0000_01b3
    /// The symbol that stands for "before the process's first call" (never a real number:
    /// trace readers reject it).
    public static let startSymbol: UInt32 = 0xFFFF_FFFF

    /// Folds one more (older) call into an unfinished state.
    @inline(__always)
    public static func step(_ state: UInt64, _ symbol: UInt32) -> UInt64 {
        (state ^ UInt64(symbol)) &* prime
    }

    /// Turns the state of a length-`length` n-gram into its key.
    @inline(__always)
    public static func finalize(_ state: UInt64, length: Int) -> UInt64 {
        var h = state ^ (UInt64(truncatingIfNeeded: length) << 56)
        h = (h ^ (h >> 33)) &* 0xff51_afd7_ed55_8ccd
        h = (h ^ (h >> 33)) &* 0xc4ce_b9fe_1a85_ec53
        h ^= h >> 33
        return h == 0 ? 1 : h
    }

    /// The key of an n-gram given oldest call first, as the kernel computes it.
    public static func hash(_ gram: some BidirectionalCollection<UInt32>) -> UInt64 {
        var state = seed
        for symbol in gram.reversed() { state = step(state, symbol) }
        return finalize(state, length: gram.count)
    }
}

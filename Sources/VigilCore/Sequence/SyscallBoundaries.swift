/// The request-boundary syscalls: blocking calls after which a thread starts a new piece of
/// work, where n-gram histories restart (the kernel's novelty filter, ``SequenceTrainer``
/// and ``SequenceScanner`` alike).
///
/// The definition, with its reasons, is `Sources/CVigilWire/include/vigil_boundary.h`,
/// which the kernel side compiles. VigilCore is pure Swift, so it keeps the same names here;
/// `BoundaryAgreementTests` (VigilSensorTests, which sees the C header) checks that the two
/// lists agree entry for entry and that the header's x86_64 numbers are ``SyscallTable``'s.
///
/// How a history restarts: the n-gram ending at the boundary call is formed from the calls
/// before it; then the history holds the boundary call alone, with
/// ``NgramHash/startSymbol`` before it. No n-gram spans the wait, and the first n-grams of
/// each piece of work still say what started it (`^ ^ ^ ^ accept read`).
public enum SyscallBoundaries {
    /// The boundary syscalls by name, in the header's order.
    public static let names = [
        "accept", "accept4",
        "epoll_wait", "epoll_pwait", "epoll_pwait2",
        "poll", "ppoll",
        "select", "pselect6",
    ]

    /// The boundary syscall numbers of the architecture ``SyscallTable`` describes (the one
    /// Vigil watches, and the numbering of Linux corpora recorded on it), ascending. Names
    /// the table lacks are left out.
    public static var linuxNumbers: [UInt32] {
        names.compactMap { SyscallTable.number($0).map(UInt32.init) }.sorted()
    }
}

/// Membership in a small set of syscall numbers, for the scanner's hot loop: one compare for
/// numbers above the largest member, one word test otherwise.
struct BoundarySet {
    private let words: [UInt64]
    let limit: UInt32

    init(_ numbers: [UInt32]) {
        let real = numbers.filter { $0 < 1 << 16 }  // syscall numbers; bounds the bitmap
        let top = real.max().map { Int($0) + 1 } ?? 0
        var w = [UInt64](repeating: 0, count: (top + 63) / 64)
        for n in real { w[Int(n) >> 6] |= 1 << (UInt64(n) & 63) }
        words = w
        limit = UInt32(top)
    }

    var isEmpty: Bool { limit == 0 }

    @inline(__always)
    func contains(_ n: UInt32) -> Bool {
        n < limit && words[Int(n >> 6)] & (1 << (UInt64(n) & 63)) != 0
    }
}

/// The syscalls n-grams look through: calls whose place among a thread's others is set by
/// thread timing (`futex`, `sched_yield`), so they never enter an n-gram history (the
/// kernel's novelty filter, ``SequenceTrainer`` and ``SequenceScanner`` alike). Whether a
/// process makes them at all is still learned and judged, as a syscall.
///
/// The definition, with its reasons, is `Sources/CVigilWire/include/vigil_transparent.h`,
/// which the kernel side compiles. VigilCore is pure Swift, so it keeps the same names here;
/// `BoundaryAgreementTests` (VigilSensorTests, which sees the C header) checks that the two
/// lists agree entry for entry and that the header's x86_64 numbers are ``SyscallTable``'s.
public enum SyscallTransparency {
    /// The transparent syscalls by name, in the header's order.
    public static let names = [
        "futex", "futex_waitv", "futex_wake", "futex_wait", "futex_requeue",
        "sched_yield",
    ]

    /// The transparent syscall numbers of the architecture ``SyscallTable`` describes,
    /// ascending. Names the table lacks are left out.
    public static var linuxNumbers: [UInt32] {
        names.compactMap { SyscallTable.number($0).map(UInt32.init) }.sorted()
    }
}
extension Profile {
    /// How many of the profile's n-grams hold a transparent call (``SyscallTransparency``).
    /// The kernel has formed none such since n-grams look through those calls, so a profile
    /// holding some was learned before: its n-grams spanning `futex` never match again, and
    /// the futex-free ones its work now forms are missing from it, so work it knew can read
    /// as `new-sequence` until it is learned again.
    public var ngramsHoldingTransparentCalls: Int {
        let transparent = BoundarySet(SyscallTransparency.linuxNumbers)
        return ngrams.values.reduce(0) { $0 + ($1.calls.contains(where: transparent.contains) ? 1 : 0) }
    }
}

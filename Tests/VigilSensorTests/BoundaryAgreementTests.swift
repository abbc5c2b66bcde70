import CVigilWire
import Testing
import VigilCore

/// The kernel's request boundaries (vigil_boundary.h, compiled into the BPF object) and
/// VigilCore's (SyscallBoundaries, used by the trainer and scanner) are one list; so are the
/// transparent calls (vigil_transparent.h, SyscallTransparency).
@Suite struct BoundaryAgreementTests {
    /// A header's list, entry by entry.
    static func entries(_ count: UInt32, _ at: (UInt32) -> vg_syscall_entry) -> [(name: String, x86_64: UInt32, arm64: UInt32)] {
        (0..<count).map { i in
            let e = at(i)
            return (String(cString: e.name), e.x86_64, e.arm64)
        }
    }

    static var header: [(name: String, x86_64: UInt32, arm64: UInt32)] { entries(vg_boundary_count(), vg_boundary_at) }

    @Test func headerAndSwiftListTheSameNamesInTheSameOrder() {
        #expect(Self.header.map(\.name) == SyscallBoundaries.names)
    }

    @Test func headerNumbersAreSyscallTablesAndTheKernelTestMatches() {
        for e in Self.header {
            #expect(SyscallTable.number(e.name).map(UInt32.init) == e.x86_64, "\(e.name)")
        }
        let swift = Set(SyscallBoundaries.linuxNumbers)
        for nr in UInt32(0)..<1024 {
            #expect((vg_is_boundary_x86_64(nr) != 0) == swift.contains(nr), "x86_64 \(nr)")
        }
        #expect(vg_is_boundary_x86_64(0xffff_ffff) == 0)
    }

    @Test func arm64HasOnlyTheAtAndPForms() {
        // arm64's generic table has no epoll_wait, poll or select: their p-forms stand in.
        let missing = Self.header.filter { $0.arm64 == VG_BOUNDARY_NONE }.map(\.name)
        #expect(missing == ["epoll_wait", "poll", "select"])
        let arm = Dictionary(uniqueKeysWithValues: Self.header.map { ($0.name, $0.arm64) })
        #expect(arm["accept"] == 202 && arm["accept4"] == 242 && arm["epoll_pwait"] == 22 && arm["ppoll"] == 73 && arm["pselect6"] == 72)
        #expect(vg_is_boundary_arm64(VG_BOUNDARY_NONE) == 0)
        #expect(vg_is_boundary_arm64(202) != 0 && vg_is_boundary_arm64(43) == 0)
    }

    static var transparentHeader: [(name: String, x86_64: UInt32, arm64: UInt32)] {
        entries(vg_transparent_count(), vg_transparent_at)
    }

    @Test func transparentCallsAreOneListWithDistinctCacheBits() {
        #expect(Self.transparentHeader.map(\.name) == SyscallTransparency.names)
        for e in Self.transparentHeader {
            #expect(SyscallTable.number(e.name).map(UInt32.init) == e.x86_64, "\(e.name)")
        }
        let swift = Set(SyscallTransparency.linuxNumbers)
        var bits: UInt32 = 0
        for nr in UInt32(0)..<1024 {
            let bit = vg_transparent_bit_x86_64(nr)
            #expect((bit != 0) == swift.contains(nr), "x86_64 \(nr)")
            #expect(bit & bits == 0, "x86_64 \(nr) shares a cache bit")
            #expect(bit.nonzeroBitCount <= 1)
            bits |= bit
        }
        #expect(bits.nonzeroBitCount == Self.transparentHeader.count)
        #expect(vg_transparent_bit_x86_64(0xffff_ffff) == 0)
        // arm64's generic table: futex 98, sched_yield 124; the newer futex calls share numbers.
        let arm = Dictionary(uniqueKeysWithValues: Self.transparentHeader.map { ($0.name, $0.arm64) })
        #expect(arm["futex"] == 98 && arm["sched_yield"] == 124 && arm["futex_waitv"] == 449)
        #expect(vg_transparent_bit_arm64(98) != 0 && vg_transparent_bit_arm64(202) == 0)
        // Never a boundary: a call cannot both restart the history and stay out of it.
        #expect(Self.transparentHeader.allSatisfy { vg_is_boundary_x86_64($0.x86_64) == 0 && vg_is_boundary_arm64($0.arm64) == 0 })
    }
}

import CVigilWire
import Testing
import VigilCore

/// The kernel's request boundaries (vigil_boundary.h, compiled into the BPF object) and
/// VigilCore's (SyscallBoundaries, used by the trainer and scanner) are one list.
@Suite struct BoundaryAgreementTests {
    static var header: [(name: String, x86_64: UInt32, arm64: UInt32)] {
        (0..<vg_boundary_count()).map { i in
            let e = vg_boundary_at(i)
            return (String(cString: e.name), e.x86_64, e.arm64)
        }
    }

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
}

import CVigilWire
import Testing

/// The C side pins these sizes with _Static_assert (for the host compiler and for
/// -target bpf); these pin what Swift imported, so both sides agree byte for byte.
@Suite struct WireLayoutTests {
    @Test func recordSizesMatchTheHeader() {
        #expect(MemoryLayout<vg_header>.size == 48)
        #expect(MemoryLayout<vg_exec>.size == 48 + 40 + Int(VG_PATH_MAX) + Int(VG_ARGS_MAX))
        #expect(MemoryLayout<vg_fork>.size == 64)
        #expect(MemoryLayout<vg_exit>.size == 56)
        #expect(MemoryLayout<vg_syscall>.size == 56)
        #expect(MemoryLayout<vg_sockaddr>.size == 24 + Int(VG_UNIX_PATH_MAX))
        #expect(MemoryLayout<vg_net>.size == 48 + 16 + 2 * (24 + Int(VG_UNIX_PATH_MAX)))
        #expect(MemoryLayout<vg_novelty>.size == 48 + 24 + 4 * Int(VG_NGRAM_MAX))
        #expect(MemoryLayout<vg_action>.size == 48 + 8 + 24 + Int(VG_UNIX_PATH_MAX) + 4 + Int(VG_PATH_MAX))
        #expect(MemoryLayout<vg_tamper>.size == 56)
        #expect(MemoryLayout<vg_file>.size == 48 + 32 + Int(VG_PATH_MAX))
        #expect(MemoryLayout<vg_file>.offset(of: \.profile) == 48)
        #expect(MemoryLayout<vg_file>.offset(of: \.path_len) == 60)
        #expect(MemoryLayout<vg_file>.offset(of: \.dir_hash) == 64)
        #expect(MemoryLayout<vg_file>.offset(of: \.path_hash) == 72)
        #expect(MemoryLayout<vg_file>.offset(of: \.path) == 80)
        #expect(MemoryLayout<vg_file_key>.size == 16)
        #expect(MemoryLayout<vg_proc>.size == 16)
        #expect(MemoryLayout<vg_marks>.size == 8)
        #expect(MemoryLayout<vg_syscall_key>.size == 8)
        #expect(MemoryLayout<vg_ngram_key>.size == 16)
        #expect(MemoryLayout<vg_seen>.size == 16)
    }

    @Test func headerFieldOffsets() {
        #expect(MemoryLayout<vg_header>.offset(of: \.kind) == 0)
        #expect(MemoryLayout<vg_header>.offset(of: \.size) == 2)
        #expect(MemoryLayout<vg_header>.offset(of: \.cpu) == 4)
        #expect(MemoryLayout<vg_header>.offset(of: \.ktime_ns) == 8)
        #expect(MemoryLayout<vg_header>.offset(of: \.pid) == 16)
        #expect(MemoryLayout<vg_header>.offset(of: \.tid) == 20)
        #expect(MemoryLayout<vg_header>.offset(of: \.cgroup_id) == 24)
        #expect(MemoryLayout<vg_header>.offset(of: \.comm) == 32)
    }

    @Test func payloadFieldOffsets() {
        #expect(MemoryLayout<vg_exec>.offset(of: \.ppid) == 48)
        #expect(MemoryLayout<vg_exec>.offset(of: \.path_len) == 72)
        #expect(MemoryLayout<vg_exec>.offset(of: \.slot) == 80)
        #expect(MemoryLayout<vg_exec>.offset(of: \.path) == 88)
        #expect(MemoryLayout<vg_exec>.offset(of: \.args) == 88 + Int(VG_PATH_MAX))
        #expect(MemoryLayout<vg_net>.offset(of: \.result) == 48)
        #expect(MemoryLayout<vg_net>.offset(of: \.fd) == 56)
        #expect(MemoryLayout<vg_net>.offset(of: \.sock_type) == 60)
        #expect(MemoryLayout<vg_net>.offset(of: \.local) == 64)
        #expect(MemoryLayout<vg_sockaddr>.offset(of: \.addr) == 8)
        #expect(MemoryLayout<vg_sockaddr>.offset(of: \.path) == 24)
    }

    @Test func kindNumbersAreStable() {
        // Append-only: a renumbering would make old recordings decode as the wrong kind.
        #expect(VG_KIND_EXEC.rawValue == 1)
        #expect(VG_KIND_FORK.rawValue == 2)
        #expect(VG_KIND_EXIT.rawValue == 3)
        #expect(VG_KIND_SYSCALL.rawValue == 4)
        #expect(VG_KIND_CONNECT.rawValue == 5)
        #expect(VG_KIND_BIND.rawValue == 6)
        #expect(VG_KIND_LISTEN.rawValue == 7)
        #expect(VG_KIND_ACCEPT.rawValue == 8)
        #expect(VG_KIND_NOVELTY.rawValue == 9)
        #expect(VG_KIND_ACTION.rawValue == 10)
        #expect(VG_KIND_TAMPER.rawValue == 11)
    }
}

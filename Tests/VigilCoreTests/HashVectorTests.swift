import Testing
@testable import VigilCore

/// Golden vectors for the two hashes the kernel computes too (n-gram keys of
/// `vg_known_ngrams`, path keys of `vg_known_exec`), so the Swift and BPF sides stay pinned
/// to one definition without root.
///
/// The expected values are literals computed once by `python3 scripts/hash_vectors.py`, an
/// independent transcription of the definitions written in `BPF/learn.bpf.c` and
/// `BPF/response.bpf.c` — never by the code under test. Changing either hash changes every
/// baseline's kernel keys: that needs a new hash version, not new literals here.
@Suite struct HashVectorTests {
    static let start = NgramHash.startSymbol

    @Test(arguments: [
        ([0], 0xD608_AF8C_7BAB_D999),
        ([3], 0x96B9_8560_4278_81FE),
        ([1, 2, 3], 0x5EB8_11A6_DD51_8EA9),
        ([1, 2], 0x8ADC_1434_0D71_E10D),
        ([2, 1], 0x9B68_CEC3_5E05_8CA9),
        ([start, 3], 0xBDC3_9FC7_90F6_6E99),
        ([start, start, start, start, 59], 0xF3F5_8CFA_7521_FD7F),
        // The longest n-gram the kernel tracks (VG_NGRAM_MAX = 8), execve first.
        ([59, 0, 1, 3, 257, 262, 9, 231], 0xF480_B7C5_C1AE_D396),
        ([0xFFFF_FFFE], 0xF5EE_676B_87C1_4C02),
    ] as [([UInt32], UInt64)])
    func ngramHash(calls: [UInt32], expected: UInt64) {
        #expect(NgramHash.hash(calls) == expected)
        // The scanner's incremental form (newest first, one step per older call) agrees.
        var state = NgramHash.seed
        for c in calls.reversed() { state = NgramHash.step(state, c) }
        #expect(NgramHash.finalize(state, length: calls.count) == expected)
    }

    @Test(arguments: [
        ("", 0xCBF2_9CE4_8422_2325),
        ("/", 0xAF63_A24C_8601_89FE),
        ("/bin/sh", 0x837D_255D_3643_653F),
        ("/usr/sbin/nginx", 0xE23B_DDCF_3041_5A78),
        ("/usr/bin/redis-server", 0x4A43_2411_788C_8C0A),
        ("/opt/caf\u{e9}/bin/x", 0x9A60_9B55_54BB_EABF),  // UTF-8 bytes, as the kernel reads them
    ] as [(String, UInt64)])
    func pathHash(path: String, expected: UInt64) {
        #expect(PathHash.hash(path) == expected)
    }

    /// The kernel reads at most 255 bytes of an exec path (256 with the NUL) and hashes what
    /// it read: a longer path must hash as its first 255 bytes, or a known long path would
    /// look unknown to the exec guard.
    @Test func longPathsHashAsTheKernelsTruncatedCopy() {
        let long = "/" + String(repeating: "a", count: 299)
        #expect(PathHash.hash(long) == 0x4638_1AB0_DD7C_CA08)
        #expect(PathHash.hash(long) == PathHash.hash(String(long.utf8.prefix(255))!))
    }
}

/// The kernel's key for an executable path: FNV-1a 64 over the path's UTF-8 bytes, at most
/// the first 255 (`vg_exec.path` holds 256 bytes with the NUL, and the kernel hashes what it
/// read). Shared with `BPF/response.bpf.c`; pinned by `HashVectorTests`.
public enum PathHash {
    /// Bytes of a path the kernel hashes: `VG_PATH_MAX - 1`.
    public static let maxBytes = 255

    public static func hash(_ path: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in path.utf8.prefix(maxBytes) { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        return h
    }
}

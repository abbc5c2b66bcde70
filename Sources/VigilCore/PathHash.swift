/// The kernel's key for an executable path: FNV-1a 64 over the path's UTF-8 bytes (at most
/// 256, as the kernel reads them). Shared with `BPF/response.bpf.c`.
public enum PathHash {
    public static func hash(_ path: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in path.utf8.prefix(256) { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        return h
    }
}

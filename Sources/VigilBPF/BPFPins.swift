import CLibbpf
import Glibc

/// A directory of pinned BPF links in bpffs: what keeps the kernel side attached (and
/// enforcing) while the agent is down, and what the next agent replaces.
public enum BPFPins {
    /// bpffs's magic number (linux/magic.h BPF_FS_MAGIC).
    static let bpffsMagic: Int = 0xcafe_4a11

    /// Whether `path` lies on a bpf filesystem.
    public static func isOnBPFFS(_ path: String) -> Bool {
        vigil_fs_type(path) == bpffsMagic
    }

    /// Makes `directory` (owner-only) on bpffs, mounting bpffs at /sys/fs/bpf first when
    /// the directory lies there and nothing is mounted (as systemd does at boot).
    /// Returns whether it mounted.
    @discardableResult
    public static func prepare(_ directory: String) throws(BPFError) -> Bool {
        var mounted = false
        let root = "/sys/fs/bpf"
        if directory.hasPrefix(root + "/"), !isOnBPFFS(root) {
            guard mount("bpf", root, "bpf", 0, nil) == 0 else { throw BPFError("mounting bpffs at \(root)", errno: errno) }
            mounted = true
        }
        var path = ""
        for part in directory.split(separator: "/") {
            path += "/" + part
            if mkdir(path, 0o700) != 0, errno != EEXIST { throw BPFError("creating pin directory \(path)", errno: errno) }
        }
        guard isOnBPFFS(directory) else {
            throw BPFError("pin directory \(directory) is not on a bpf filesystem", errno: EINVAL,
                           detail: "use a directory under /sys/fs/bpf (bpffs)")
        }
        return mounted
    }

    /// The pins in `directory` (names), sorted.
    public static func entries(_ directory: String) -> [String] {
        guard let d = opendir(directory) else { return [] }
        defer { closedir(d) }
        var out: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { out.append(name) }
        }
        return out.sorted()
    }

    /// Removes the pins of `directory`: each link no process holds is detached. Returns
    /// how many were removed.
    @discardableResult
    public static func removeAll(in directory: String, except keep: Set<String> = []) -> Int {
        var n = 0
        for name in entries(directory) where !keep.contains(name) {
            if unlink(directory + "/" + name) == 0 { n += 1 }
        }
        return n
    }
}

extension BPFLink {
    /// Pins the link at `path` (bpffs): it stays attached after this process ends.
    public func pin(_ path: String) throws(BPFError) {
        let rc = bpf_link__pin(handle, path)
        if rc != 0 { throw BPFError("pinning a link at \(path)", errno: -rc) }
    }

    /// Removes the link's pin, if it has one.
    public func unpin() {
        if bpf_link__pin_path(handle) != nil { _ = bpf_link__unpin(handle) }
    }
}

import CVigilWire
import Foundation
public import VigilCore

/// The key of the kernel's `vg_exec_slots` (struct vg_exec_key in vigil_wire.h, looked up
/// by `vg_exec_published_slot` in BPF/process.bpf.c): the file an exec runs as the kernel
/// sees it at `sched_process_exec` (`bprm->file->f_inode`: its superblock's `s_dev`, `i_ino`
/// and `i_size`) and the command name the exec gave the process (`comm`). An exec that finds
/// its key there has its profile slot named by the kernel, so it is judged from its first
/// syscall instead of pending until the agent reads its exec record.
///
/// Built from `stat(2)` of the profile's executable (``of(executable:comm:)``); which
/// profiles may have one is ``ProfileIdentity/execComm``'s rule.
public struct ExecSlotKey: Sendable, Hashable, CustomStringConvertible {
    /// The device in the kernel's own encoding (``kernelDevice(_:)``).
    public var device: UInt32
    public var inode: UInt64
    /// The file's size: a freed inode number reused by another file rarely comes back with
    /// the same size, so a stale key seldom names the wrong program (and when it does, the
    /// agent's own answer on the exec record replaces it).
    public var size: Int64
    /// The command name, at most 15 bytes (the kernel's comm without its NUL).
    public var comm: [UInt8]

    public init(device: UInt32, inode: UInt64, size: Int64, comm: [UInt8]) {
        self.device = device
        self.inode = inode
        self.size = size
        self.comm = Array(comm.prefix(ProfileIdentity.commLength))
    }

    /// The key of an exec of `executable` under command name `comm`, from `stat(2)` of the
    /// file; nil when it cannot be stat'd, is not a regular file, has more than one link
    /// (the kernel never looks those up: another link is another path, so possibly another
    /// profile), or is not its own resolved path (a symlink, or a path through one: the
    /// identity rule names the resolved file, so a key for the link would name the wrong
    /// path's profile).
    public static func of(executable: String, comm: String, resolve: ExecutablePath = .live) -> ExecSlotKey? {
        guard resolve.realpath(executable) == executable, let st = ExecutableFileID.regularFile(at: executable),
              st.st_nlink == 1 else { return nil }
        let file = ExecutableFileID(st)
        return ExecSlotKey(device: file.device, inode: file.inode, size: file.size, comm: Array(comm.utf8))
    }

    /// A `st_dev` (glibc's encoding: 12 bits of major and 20 of minor, split across the
    /// word) as the kernel's `s_dev` holds it: `major << 20 | minor` (MKDEV in
    /// linux/kdev_t.h). The kernel's dev_t is 32 bits; a major or minor beyond its range
    /// (none exists) is cut.
    public static func kernelDevice(_ dev: UInt64) -> UInt32 {
        let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & ~UInt64(0xfff))
        let minor = (dev & 0xff) | ((dev >> 12) & ~UInt64(0xff))
        return UInt32(truncatingIfNeeded: (major & 0xfff) << 20 | (minor & 0xfffff))
    }

    /// The key as the kernel map holds it: comm NUL-padded to 16 bytes, padding zero.
    var wire: vg_exec_key {
        var k = vg_exec_key()
        k.dev = device
        k._pad0 = 0
        k.ino = inode
        k.size = size
        withUnsafeMutableBytes(of: &k.comm) { raw in
            for (i, b) in comm.prefix(Int(VG_COMM_LEN) - 1).enumerated() { raw[i] = b }
        }
        return k
    }

    public var description: String {
        "\(device >> 20):\(device & 0xfffff) inode \(inode) size \(size) comm \(String(decoding: comm, as: UTF8.self))"
    }
}

/// The key of the kernel's `vg_known_exec_files` (struct vg_file_id in vigil_wire.h, looked
/// up by `vg_kill_unknown_exec` in BPF/response.bpf.c): a file as the kernel sees it at exec,
/// device, inode number and size.
struct ExecutableFileID: Hashable {
    var device: UInt32
    var inode: UInt64
    var size: Int64

    /// The file `path` names now, symlinks followed; nil unless it is a regular file.
    init?(fileAt path: String) {
        guard let st = Self.regularFile(at: path) else { return nil }
        self.init(st)
    }

    /// The file `st` describes (`stat(2)` of a regular file).
    init(_ st: stat) {
        device = ExecSlotKey.kernelDevice(UInt64(st.st_dev))
        inode = UInt64(st.st_ino)
        size = Int64(st.st_size)
    }

    /// `stat(2)` of `path`, symlinks followed; nil unless it names a regular file.
    static func regularFile(at path: String) -> stat? {
        var st = stat()
        guard stat(path, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { return nil }
        return st
    }

    var wire: vg_file_id { vg_file_id(dev: device, _pad0: 0, ino: inode, size: size) }
}

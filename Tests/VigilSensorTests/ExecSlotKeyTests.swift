import CVigilWire
import Foundation
import Testing
import VigilCore
@testable import VigilSensor
import VigilTestSupport

/// vg_exec_slots' key as user space builds it: the same bytes the kernel builds at exec
/// (BPF/process.bpf.c, vg_exec_published_slot).
@Suite struct ExecSlotKeyTests {
    @Test func theKeysLayoutIsTheHeaders() {
        #expect(MemoryLayout<vg_exec_key>.size == 40)
        #expect(MemoryLayout<vg_exec_key>.offset(of: \.dev) == 0)
        #expect(MemoryLayout<vg_exec_key>.offset(of: \.ino) == 8)
        #expect(MemoryLayout<vg_exec_key>.offset(of: \.size) == 16)
        #expect(MemoryLayout<vg_exec_key>.offset(of: \.comm) == 24)
        // The exec record carries the slot the kernel named, before the path.
        #expect(MemoryLayout<vg_exec>.offset(of: \.exec_seq) == 76)
        #expect(MemoryLayout<vg_exec>.offset(of: \.slot) == 80)
        #expect(MemoryLayout<vg_exec>.offset(of: \.path) == 88)
    }

    @Test func glibcDeviceNumbersBecomeTheKernelsEncoding() {
        // glibc: minor's low 8 bits, major's 12 bits at 8, minor's next 12 at 20, then the
        // high bits of major at 32 and of minor at 44 (sys/sysmacros.h); the kernel: major << 20 | minor.
        func glibc(_ major: UInt64, _ minor: UInt64) -> UInt64 {
            (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12) | ((major & ~0xfff) << 32)
        }
        #expect(ExecSlotKey.kernelDevice(glibc(8, 1)) == 8 << 20 | 1)
        #expect(ExecSlotKey.kernelDevice(glibc(254, 0)) == 254 << 20)
        #expect(ExecSlotKey.kernelDevice(glibc(259, 3)) == 259 << 20 | 3)
        #expect(ExecSlotKey.kernelDevice(glibc(0, 300)) == 300, "an anonymous device (tmpfs, overlay) past minor 255")
        #expect(ExecSlotKey.kernelDevice(glibc(4095, 0xfffff)) == 0xffff_ffff)
    }

    /// The device of the mount holding `path`, as the kernel names it in /proc/self/mountinfo
    /// (`major:minor` of the superblock's s_dev): the longest mount point that is a prefix.
    static func mountDevice(of path: String) throws -> (major: UInt32, minor: UInt32) {
        let text = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        var best: (point: String, dev: (UInt32, UInt32))?
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ")
            guard f.count > 4 else { continue }
            let point = String(f[4]), dev = f[2].split(separator: ":").compactMap { UInt32($0) }
            guard dev.count == 2, path == point || path.hasPrefix(point == "/" ? "/" : point + "/") else { continue }
            if best == nil || point.count >= best!.point.count { best = (point, (dev[0], dev[1])) }
        }
        return try #require(best).dev
    }

    @Test func aFilesKeyIsItsStatInTheKernelsTerms() throws {
        let dir = try #require(ExecutablePath.live.realpath(try makeTempDirectory("vigil-exec-key")))
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/svc"
        try Data(repeating: 7, count: 1234).write(to: URL(fileURLWithPath: file))
        let key = try #require(ExecSlotKey.of(executable: file, comm: "svc"))
        let attrs = try FileManager.default.attributesOfItem(atPath: file)
        #expect(key.inode == (attrs[.systemFileNumber] as? UInt64) ?? UInt64((attrs[.systemFileNumber] as? Int) ?? -1))
        #expect(key.size == 1234)
        #expect(key.comm == Array("svc".utf8))
        // The device as the kernel itself writes it for this mount (ext4, overlay, tmpfs alike).
        let dev = try Self.mountDevice(of: file)
        #expect(key.device >> 20 == dev.major && key.device & 0xfffff == dev.minor, "\(key) against mountinfo \(dev)")
        // /dev/shm is tmpfs here: an anonymous device, minor numbers from 0 up.
        if FileManager.default.fileExists(atPath: "/dev/shm"), access("/dev/shm", W_OK) == 0 {
            let shm = "/dev/shm/vigil-exec-key-\(getpid())"
            try Data([1]).write(to: URL(fileURLWithPath: shm))
            defer { unlink(shm) }
            let k = try #require(ExecSlotKey.of(executable: shm, comm: "x"))
            let d = try Self.mountDevice(of: shm)
            #expect(k.device >> 20 == d.major && k.device & 0xfffff == d.minor, "\(k) against mountinfo \(d)")
        }
    }

    @Test func theWireKeyIsNulPaddedAndTheCommCutAt15Bytes() throws {
        let k = ExecSlotKey(device: 1 << 20 | 2, inode: 99, size: 5, comm: Array("abcdefghijklmnopq".utf8))
        #expect(k.comm.count == 15)
        let w = k.wire
        #expect(w.dev == 1 << 20 | 2 && w.ino == 99 && w.size == 5 && w._pad0 == 0)
        let bytes = withUnsafeBytes(of: w.comm) { Array($0) }
        #expect(bytes == Array("abcdefghijklmno".utf8) + [0])
        let short = withUnsafeBytes(of: ExecSlotKey(device: 0, inode: 0, size: 0, comm: Array("sh".utf8)).wire.comm) { Array($0) }
        #expect(short == Array("sh".utf8) + Array(repeating: 0, count: 14))
    }

    @Test func filesTheKernelCouldNotTellApartHaveNoKey() throws {
        let dir = try #require(ExecutablePath.live.realpath(try makeTempDirectory("vigil-exec-key")))
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/svc"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: file))
        #expect(ExecSlotKey.of(executable: dir + "/missing", comm: "missing") == nil, "a stat failure leaves the key out")
        #expect(ExecSlotKey.of(executable: dir, comm: "x") == nil, "a directory")
        try FileManager.default.createSymbolicLink(atPath: dir + "/link", withDestinationPath: file)
        #expect(ExecSlotKey.of(executable: dir + "/link", comm: "link") == nil, "a symlink: the identity names the file it leads to")
        #expect(ExecSlotKey.of(executable: file, comm: "svc") != nil)
        #expect(link(file, dir + "/hard") == 0)
        #expect(ExecSlotKey.of(executable: file, comm: "svc") == nil, "two links: the other path may be another profile")
        #expect(ExecSlotKey.of(executable: dir + "/hard", comm: "hard") == nil)
        unlink(dir + "/hard")
        #expect(ExecSlotKey.of(executable: file, comm: "svc") != nil, "one link again")
    }
}

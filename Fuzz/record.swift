// Fuzz target: ring-buffer records -> RecordDecoder -> ProcessTable and the OCSF encoder,
// the path every record the kernel (or a corrupted ring) delivers takes in the agent.
//
// The first byte picks the mode:
//   even: the remaining bytes are one record, as the ring would deliver it (any size);
//   odd:  a valid record of kind (byte >> 1) % 13 (0 and 12 are not kinds), full size,
//         with the remaining bytes laid over it from offset 4 (so its kind and size stay
//         valid and the fuzzer reaches the per-kind decoding), then cut to a length chosen
//         by the last byte when the fuzzer asks for a truncated record (bit 7 of byte 0).
// Every record is decoded from a heap buffer of exactly its size, so address sanitizer
// reports any read past it. The decoder must account for every record it is given.
//
// VIGIL_FUZZ_WRITE_SEEDS=DIR: write a valid record of every kind (both modes) to DIR, exit.
import CVigilWire
import Foundation
import VigilCore
import VigilOutput
import VigilSensor

let encoder = OCSFEncoder(hostname: "fuzz", productVersion: "0", forks: .launch)

/// A valid record of `kind` (full struct size, header filled) as bytes.
func template(kind: UInt16) -> [UInt8] {
    func bytes<T>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value) { Array($0) } }
    func header(_ size: Int) -> vg_header {
        var h = vg_header()
        h.kind = kind
        h.size = UInt16(size)
        h.cpu = 1
        h.ktime_ns = 123_456_789
        h.pid = 4242
        h.tid = 4243
        h.cgroup_id = 77
        withUnsafeMutableBytes(of: &h.comm) { c in for (i, b) in "fuzzcomm".utf8.enumerated() { c[i] = b } }
        return h
    }
    func sockaddr(family: UInt16) -> vg_sockaddr {
        var a = vg_sockaddr()
        a.family = family
        a.port = 8080
        withUnsafeMutableBytes(of: &a.addr) { $0[0] = 127; $0[3] = 1 }
        if family == 1 { withUnsafeMutableBytes(of: &a.path) { p in for (i, b) in "/run/x.sock".utf8.enumerated() { p[i] = b } } }
        return a
    }
    switch UInt32(kind) {
    case VG_KIND_EXEC.rawValue:
        var e = vg_exec()
        e.hdr = header(MemoryLayout<vg_exec>.size)
        e.ppid = 1; e.uid = 1000; e.euid = 1000; e.gid = 1000; e.old_pid = 4242
        let path = Array("/usr/bin/true".utf8), args = Array("true\0--flag\0".utf8)
        e.path_len = UInt16(path.count); e.args_len = UInt16(args.count)
        withUnsafeMutableBytes(of: &e.path) { p in for (i, b) in path.enumerated() { p[i] = b } }
        withUnsafeMutableBytes(of: &e.args) { p in for (i, b) in args.enumerated() { p[i] = b } }
        return bytes(e)
    case VG_KIND_FORK.rawValue:
        var f = vg_fork(); f.hdr = header(MemoryLayout<vg_fork>.size); f.child_pid = 4300; f.child_tid = 4300
        return bytes(f)
    case VG_KIND_EXIT.rawValue:
        var x = vg_exit(); x.hdr = header(MemoryLayout<vg_exit>.size); x.exit_code = 9
        return bytes(x)
    case VG_KIND_SYSCALL.rawValue:
        var s = vg_syscall(); s.hdr = header(MemoryLayout<vg_syscall>.size); s.nr = 257
        return bytes(s)
    case VG_KIND_CONNECT.rawValue, VG_KIND_BIND.rawValue, VG_KIND_LISTEN.rawValue, VG_KIND_ACCEPT.rawValue:
        var n = vg_net(); n.hdr = header(MemoryLayout<vg_net>.size); n.fd = 3; n.sock_type = 1
        n.local = sockaddr(family: kind == 5 ? 0 : 2)
        n.remote = sockaddr(family: kind == 8 ? 10 : (kind == 5 ? 1 : 0))
        return bytes(n)
    case VG_KIND_NOVELTY.rawValue:
        var n = vg_novelty(); n.hdr = header(MemoryLayout<vg_novelty>.size); n.profile = 3; n.length = 4; n.hash = 0xfeed
        withUnsafeMutableBytes(of: &n.calls) { c in for i in 0..<4 { c.storeBytes(of: UInt32(i), toByteOffset: 4 * i, as: UInt32.self) } }
        return bytes(n)
    case VG_KIND_ACTION.rawValue:
        var a = vg_action(); a.hdr = header(MemoryLayout<vg_action>.size); a.action = 3; a.remote = sockaddr(family: 2)
        withUnsafeMutableBytes(of: &a.path) { p in for (i, b) in "/tmp/evil".utf8.enumerated() { p[i] = b } }
        return bytes(a)
    case VG_KIND_TAMPER.rawValue:
        var t = vg_tamper(); t.hdr = header(MemoryLayout<vg_tamper>.size); t.what = 1; t.detail = 15
        return bytes(t)
    case VG_KIND_FILE.rawValue:
        var f = vg_file(); f.hdr = header(MemoryLayout<vg_file>.size); f.profile = 2; f.op = 2; f.flags = 1
        let path = Array("/tmp/mod.so".utf8)
        f.path_len = UInt16(path.count); f.dir_hash = 0x1234; f.path_hash = 0x5678
        withUnsafeMutableBytes(of: &f.path) { p in for (i, b) in path.enumerated() { p[i] = b } }
        return bytes(f)
    default:
        return bytes(header(MemoryLayout<vg_header>.size))
    }
}

let templates = (0..<14).map { template(kind: UInt16($0)) }

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    if let dir = ProcessInfo.processInfo.environment["VIGIL_FUZZ_WRITE_SEEDS"] {
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for kind in 1...12 {
            FileManager.default.createFile(atPath: "\(dir)/raw-kind\(kind)", contents: Data([0] + templates[kind]))
            FileManager.default.createFile(atPath: "\(dir)/template-kind\(kind)", contents: Data([UInt8(kind << 1 | 1)] + templates[kind][4..<48]))
        }
        exit(0)
    }
    return 0
}

func decode(_ record: [UInt8]) {
    // An exact-size heap copy: ASan sees any read past the record's end.
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: record.count, alignment: 1)
    defer { buffer.deallocate() }
    buffer.copyMemory(from: UnsafeRawBufferPointer(start: record, count: record.count))
    var decoder = RecordDecoder(monotonicToRealtimeNanos: Int64.max / 2)
    let event = decoder.decode(UnsafeRawBufferPointer(buffer))
    let c = decoder.counters
    guard c.records == 1, c.decoded + c.undecodable == 1, (event != nil) == (c.decoded == 1) else {
        fatalError("record not accounted for: \(c), event \(String(describing: event))")
    }
    guard let event else { return }
    var table = ProcessTable()
    let process = table.apply(event)
    _ = encoder.encode(event, process: process, ancestry: table.ancestry(of: event.pid))
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let input = UnsafeBufferPointer(start: data, count: size)
    let mode = input[0]
    if mode & 1 == 0 {
        decode(Array(input.dropFirst()))
        return 0
    }
    var record = templates[Int(mode >> 1) % templates.count]
    for (i, b) in input.dropFirst().enumerated() where 4 + i < record.count { record[4 + i] = b }
    if mode & 0x80 != 0, let cut = input.last { record = Array(record.prefix(Int(cut) * record.count / 256)) }
    decode(record)
    return 0
}

import CVigilWire
import Testing
import VigilCore
@testable import VigilSensor

/// Little-endian byte builders for hand-written golden records: they state the wire
/// layout independently of the C structs.
private extension Array where Element == UInt8 {
    mutating func u16(_ v: UInt16) { append(contentsOf: [UInt8(v & 0xff), UInt8(v >> 8)]) }
    mutating func u32(_ v: UInt32) { for i in 0..<4 { append(UInt8(v >> (8 * UInt32(i)) & 0xff)) } }
    mutating func u64(_ v: UInt64) { for i in 0..<8 { append(UInt8(v >> (8 * UInt64(i)) & 0xff)) } }
    mutating func fixed(_ s: String, _ n: Int) {
        let b = Array(s.utf8.prefix(n))
        append(contentsOf: b)
        append(contentsOf: [UInt8](repeating: 0, count: n - b.count))
    }
    mutating func header(kind: UInt16, size: UInt16, pid: UInt32, comm: String, ktime: UInt64 = 1_000) {
        u16(kind); u16(size); u32(1); u64(ktime); u32(pid); u32(pid); u64(77); fixed(comm, 16)
    }
}

private func decode(_ bytes: [UInt8], offset: Int64 = 0, decoder: inout RecordDecoder) -> Event? {
    bytes.withUnsafeBytes { decoder.decode($0) }
}

@Suite struct RecordDecoderTests {
    @Test func decodesAGoldenForkRecord() throws {
        var b: [UInt8] = []
        b.header(kind: 2, size: 64, pid: 100, comm: "bash", ktime: 5_000_000_000)
        b.u32(4242); b.u32(4242); b.u32(0); b.u32(0)
        var d = RecordDecoder(monotonicToRealtimeNanos: 1_700_000_000_000_000_000)
        let e = try #require(decode(b, decoder: &d))
        #expect(e.pid == 100)
        #expect(e.comm == "bash")
        #expect(e.cgroupID == 77)
        #expect(e.timeNanos == 1_700_000_005_000_000_000)
        #expect(e.payload == .fork(.init(childPid: 4242)))
        #expect(d.counters.decoded == 1)
    }

    @Test func decodesAGoldenExecRecordWithArgv() throws {
        var b: [UInt8] = []
        b.header(kind: 1, size: 856, pid: 321, comm: "echo")
        b.u32(300); b.u32(1000); b.u32(0); b.u32(1000); b.u32(321); b.u32(0)
        let args = "/bin/echo\0hello world\0"
        b.u16(9); b.u16(UInt16(args.utf8.count)); b.u32(2)
        b.u32(5); b.u32(0) // the slot the kernel named at exec, padding
        b.fixed("/bin/echo", 256)
        b.fixed(args, 512)
        #expect(b.count == 856)
        var d = RecordDecoder(monotonicToRealtimeNanos: 0)
        let e = try #require(decode(b, decoder: &d))
        guard case .exec(let x) = e.payload else { Issue.record("not an exec: \(e)"); return }
        #expect(x.path == "/bin/echo")
        #expect(x.argv == ["/bin/echo", "hello world"])
        #expect(x.ppid == 300)
        #expect(x.uid == 1000 && x.euid == 0 && x.gid == 1000)
        #expect(!x.argvTruncated)
        #expect(x.execSeq == 2 && x.kernelSlot == 5)
    }

    /// Exec paths are resolved while decoding: a relative path against the process's
    /// working directory, a symlink to the file it runs, by the decoder's ExecutablePath.
    @Test func execPathsAreResolvedInsideDecoding() throws {
        var b: [UInt8] = []
        b.header(kind: 1, size: 856, pid: 321, comm: "svc")
        b.u32(300); b.u32(0); b.u32(0); b.u32(0); b.u32(321); b.u32(0)
        let args = "./svc\0"
        b.u16(5); b.u16(UInt16(args.utf8.count)); b.u32(0); b.u32(0); b.u32(0)
        b.fixed("./svc", 256)
        b.fixed(args, 512)
        let fs = ExecutablePath(realpath: { $0 == "/srv/app/svc" ? "/opt/app/bin/svc-real" : nil }, head: { _ in nil },
                                procLink: { pid, link in pid == 321 && link == "cwd" ? "/srv/app" : nil })
        var d = RecordDecoder(monotonicToRealtimeNanos: 0, executables: fs)
        let e = try #require(decode(b, decoder: &d))
        guard case .exec(let x) = e.payload else { Issue.record("not an exec: \(e)"); return }
        #expect(x.path == "/srv/app/svc", "made absolute against the working directory")
        #expect(x.executable == "/opt/app/bin/svc-real", "the file it runs")
        // Without a resolver the kernel's path stays as it came.
        var raw = RecordDecoder(monotonicToRealtimeNanos: 0)
        guard case .exec(let y)? = decode(b, decoder: &raw)?.payload else { Issue.record("not an exec"); return }
        #expect(y.path == "./svc")
    }

    @Test func decodesAGoldenFileRecordAndRefusesAnUnknownOperation() throws {
        func record(op: UInt32, pathLen: UInt16) -> [UInt8] {
            var b: [UInt8] = []
            b.header(kind: 12, size: 336, pid: 55, comm: "redis-server")
            b.u32(7); b.u32(op); b.u32(2); b.u16(pathLen); b.u16(0)
            b.u64(0xd1); b.u64(0xf1)
            b.fixed("/tmp/mod.so", 256)
            return b
        }
        var d = RecordDecoder(monotonicToRealtimeNanos: 0)
        let e = try #require(decode(record(op: 2, pathLen: 11), decoder: &d))
        #expect(e.payload == .file(.init(operation: .mapExec, path: "/tmp/mod.so", profileSlot: 7, truncated: false, viaMprotect: true)))
        // A length past the buffer is clamped; an op this build does not know is counted.
        let long = try #require(decode(record(op: 1, pathLen: 4000), decoder: &d))
        guard case .file(let f) = long.payload else { Issue.record("not a file event"); return }
        #expect(f.operation == .write && f.path == "/tmp/mod.so")
        #expect(decode(record(op: 9, pathLen: 11), decoder: &d) == nil)
        #expect(d.counters.unknownKind == 1)
        #expect(decode(Array(record(op: 1, pathLen: 11).prefix(100)), decoder: &d) == nil, "a truncated record is refused")
    }

    @Test func aNamedWriteCarriesItsCallAndHasItsDotsFolded() throws {
        func record(flags: UInt32, _ path: String) -> [UInt8] {
            var b: [UInt8] = []
            b.header(kind: 12, size: 336, pid: 55, comm: "redis-server")
            b.u32(7); b.u32(UInt32(VG_FILE_WRITE.rawValue)); b.u32(flags); b.u16(UInt16(path.utf8.count)); b.u16(0)
            b.u64(0xd1); b.u64(0xf1)
            b.fixed(path, 256)
            return b
        }
        var d = RecordDecoder(monotonicToRealtimeNanos: 0)
        let named = UInt32(VG_FILE_AS_NAMED)
        let cases: [(UInt32, String, Event.FileAccess.Via, String)] = [
            (UInt32(VG_FILE_VIA_RENAME) | named, "/var/lib/redis/./x/../dump.rdb", .rename, "/var/lib/redis/dump.rdb"),
            (UInt32(VG_FILE_VIA_LINK) | named, "/srv//a/b", .link, "/srv/a/b"),
            (UInt32(VG_FILE_VIA_UNLINK) | named, "/../../etc/cron.d/x", .unlink, "/etc/cron.d/x"),
            (UInt32(VG_FILE_CHMOD_EXEC) | named, "/tmp/t/../run", .chmodExec, "/tmp/run"),
            // fchmod: the opened file's own path, taken as it is (no AS_NAMED).
            (UInt32(VG_FILE_CHMOD_EXEC), "/tmp/a/./b", .chmodExec, "/tmp/a/./b"),
            (0, "/var/lib/redis/temp-1.rdb", .open, "/var/lib/redis/temp-1.rdb"),
        ]
        for (flags, raw, via, path) in cases {
            let e = try #require(decode(record(flags: flags, raw), decoder: &d))
            guard case .file(let f) = e.payload else { Issue.record("not a file event"); continue }
            #expect(f.operation == .write && f.via == via && f.path == path, "\(raw): \(f)")
        }
    }

    @Test func execArgvLengthIsClampedToTheBuffer() throws {
        var b: [UInt8] = []
        b.header(kind: 1, size: 856, pid: 1, comm: "x")
        b.u32(0); b.u32(0); b.u32(0); b.u32(0); b.u32(1); b.u32(UInt32(VG_EXEC_ARGS_TRUNCATED))
        b.u16(60000); b.u16(60000); b.u32(0); b.u32(0); b.u32(0) // lengths beyond the arrays: must not read past them
        b.fixed("/x", 256)
        b.fixed("a\0b", 512)
        var d = RecordDecoder(monotonicToRealtimeNanos: 0)
        let e = try #require(decode(b, decoder: &d))
        guard case .exec(let x) = e.payload else { Issue.record("not an exec"); return }
        #expect(x.path == "/x")
        #expect(x.argv.prefix(2) == ["a", "b"])
        #expect(x.argvTruncated)
    }

    @Test func decodesAGoldenIPv4ConnectRecord() throws {
        var b: [UInt8] = []
        b.header(kind: 5, size: 328, pid: 55, comm: "curl")
        b.u64(UInt64(bitPattern: -111)) // ECONNREFUSED
        b.u32(3); b.u16(1); b.u16(0)
        // local: empty
        b.append(contentsOf: [UInt8](repeating: 0, count: 132))
        // remote: AF_INET 127.0.0.1:8080
        b.u16(2); b.u16(8080); b.u32(0); b.append(contentsOf: [127, 0, 0, 1] + [UInt8](repeating: 0, count: 12)); b.fixed("", 108)
        #expect(b.count == 328)
        var d = RecordDecoder(monotonicToRealtimeNanos: 0)
        let e = try #require(decode(b, decoder: &d))
        guard case .network(let n) = e.payload else { Issue.record("not network"); return }
        #expect(n.operation == .connect)
        #expect(n.result == -111)
        #expect(!n.succeeded)
        #expect(n.transport == .tcp)
        #expect(n.local == nil)
        #expect(n.remote == .ipv4(IPv4Address(127, 0, 0, 1), port: 8080))
        #expect(e.kind == .connect)
    }

    @Test func decodesIPv6AndUnixAddresses() throws {
        var b: [UInt8] = []
        b.header(kind: 8, size: 328, pid: 9, comm: "srv")
        b.u64(7); b.u32(7); b.u16(1); b.u16(0)
        b.u16(10); b.u16(443); b.u32(0); b.append(contentsOf: [UInt8](repeating: 0, count: 15) + [1]); b.fixed("", 108)
        b.u16(1); b.u16(0); b.u32(0); b.append(contentsOf: [UInt8](repeating: 0, count: 16)); b.fixed("\0hidden", 108)
        var d = RecordDecoder(monotonicToRealtimeNanos: 0)
        let e = try #require(decode(b, decoder: &d))
        guard case .network(let n) = e.payload else { Issue.record("not network"); return }
        #expect(n.operation == .accept)
        #expect(n.local?.addressText == "::1")
        #expect(n.local?.port == 443)
        #expect(n.remote == .unix(path: "@hidden"))
    }

    @Test func truncatedRecordsAreCountedNotDecoded() {
        var d = RecordDecoder(monotonicToRealtimeNanos: 0)
        // Shorter than a header.
        #expect(decode([1, 0, 64, 0], decoder: &d) == nil)
        // A full header claiming an exec, but only the header delivered.
        var b: [UInt8] = []
        b.header(kind: 1, size: 48, pid: 1, comm: "x")
        #expect(decode(b, decoder: &d) == nil)
        #expect(d.counters.truncated == 2)
        #expect(d.counters.decoded == 0)
        #expect(d.counters.records == 2)
    }

    @Test func aSizeLargerThanTheBytesIsCounted() {
        var b: [UInt8] = []
        b.header(kind: 2, size: 4000, pid: 1, comm: "x")
        b.append(contentsOf: [UInt8](repeating: 0, count: 16))
        var d = RecordDecoder(monotonicToRealtimeNanos: 0)
        #expect(decode(b, decoder: &d) == nil)
        #expect(d.counters.badSize == 1)
    }

    @Test func unknownKindsAreCountedNotDecoded() {
        var b: [UInt8] = []
        b.header(kind: 999, size: 64, pid: 1, comm: "x")
        b.append(contentsOf: [UInt8](repeating: 0, count: 16))
        var d = RecordDecoder(monotonicToRealtimeNanos: 0)
        #expect(decode(b, decoder: &d) == nil)
        #expect(d.counters.unknownKind == 1)
        #expect(d.counters.undecodable == 1)
    }

    @Test func randomBytesNeverCrashTheDecoder() {
        var rng = SystemRandomNumberGenerator()
        var d = RecordDecoder(monotonicToRealtimeNanos: 0)
        for _ in 0..<2_000 {
            let n = Int.random(in: 0..<900, using: &rng)
            var b = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if b.count >= 4 { b[0] = UInt8.random(in: 0...9, using: &rng); b[1] = 0 }
            _ = decode(b, decoder: &d)
        }
        #expect(d.counters.records == 2_000)
        #expect(d.counters.decoded + d.counters.undecodable == 2_000)
    }

    @Test func exitStatusSplitsCodeAndSignal() {
        #expect(Event.Exit(status: 3 << 8).code == 3)
        #expect(Event.Exit(status: 3 << 8).signal == nil)
        #expect(Event.Exit(status: 9).signal == 9)
        #expect(Event.Exit(status: 9).code == nil)
    }
}

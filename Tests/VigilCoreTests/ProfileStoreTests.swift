import Foundation
import Testing
import VigilTestSupport
@testable import VigilCore

@Suite struct ProfileStoreTests {
    typealias S = ProfileTestSupport

    func tempDir() throws -> String { try makeTempDirectory("vigil-store") }

    /// The golden profile: a small service learned from a fixed synthetic stream.
    static func golden() -> Profile {
        let policy = StabilityPolicy(bucketSeconds: 2, windowBuckets: 3, maxNewPerMinute: 1, minObservedSeconds: 4, minObservations: 5)
        let l = Learner(hostID: "staging-1", policy: policy, now: S.t0, binaryHash: S.hashes)
        l.seed([ProcessRecord(pid: 1, ppid: 0, path: "/usr/lib/systemd/systemd", argv: ["/sbin/init"])], now: S.t0)
        var t = S.at(1)
        func ev(_ pid: Int32, _ p: Event.Payload) { l.apply(S.ev(pid, p, at: t), process: nil, now: t) }
        ev(1, .fork(.init(childPid: 40)))
        ev(40, .exec(.init(ppid: 1, uid: 33, euid: 33, gid: 33, path: "/usr/bin/python3.11", argv: ["python3", "/opt/shop/api.py"])))
        ev(40, .network(.init(operation: .listen, result: 0, fd: 3, transport: .tcp, local: .ipv4(IPv4Address(0, 0, 0, 0), port: 8080), remote: nil)))
        for host in 1...5 as ClosedRange<UInt8> {
            ev(40, .network(.init(operation: .connect, result: 0, fd: 4, transport: .tcp, local: nil, remote: .ipv4(IPv4Address(10, 0, 5, host), port: 5432))))
        }
        ev(40, .network(.init(operation: .connect, result: 0, fd: 5, transport: .udp, local: nil,
                              remote: .ipv6(IPv6Address(bytes: [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [0x35]), port: 53))))
        ev(40, .network(.init(operation: .connect, result: 0, fd: 6, transport: .unix, local: nil, remote: .unix(path: "/run/nscd/socket"))))
        let slot = l.profileSlot(for: "usr-bin-python3.11--opt-shop-api.py")
        for calls: [UInt32] in [[NgramHash.startSymbol, NgramHash.startSymbol, 59, 12, 9, 257], [12, 9, 257, 0, 3, 232]] {
            ev(40, .novelty(.init(profileSlot: slot, calls: calls, hash: NgramHash.hash(calls), newSyscall: true)))
        }
        t = S.at(3)
        ev(40, .fork(.init(childPid: 41)))
        ev(41, .exec(.init(ppid: 40, uid: 33, euid: 33, gid: 33, path: "/bin/sh", argv: ["sh", "-c", "gzip /tmp/x"])))
        l.absorbKernelCounts(slot: slot, syscalls: [(nr: 0, count: 500, lastSeen: S.at(9))], ngrams: [], now: S.at(10))
        l.tick(S.at(20))
        return l.profiles["usr-bin-python3.11--opt-shop-api.py"]!
    }

    var fixture: URL {
        get throws { try #require(Bundle.module.url(forResource: "Fixtures/profiles/usr-bin-python3.11--opt-shop-api.py", withExtension: "json")) }
    }

    @Test func goldenFileMatchesTheEncoderAndRoundTrips() throws {
        let bytes = ProfileCodec.encode(Self.golden())
        if ProcessInfo.processInfo.environment["VIGIL_UPDATE_GOLDEN"] == "1" {
            let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/profiles/usr-bin-python3.11--opt-shop-api.py.json")
            try Data(bytes).write(to: path)
        }
        let golden = try Array(Data(contentsOf: fixture))
        #expect(String(decoding: bytes, as: UTF8.self) == String(decoding: golden, as: UTF8.self))
        let decoded = try ProfileCodec.decode(golden, file: "golden")
        #expect(ProfileCodec.encode(decoded) == golden)
        #expect(decoded.destinations.keys.map(\.address).sorted() == ["/run/nscd/socket", "10.0.5.0/24", "2001:db8::35"])
        #expect(decoded.listens.keys.map(\.port) == [8080])
        #expect(decoded.executes.keys.sorted() == ["/bin/sh"])
        #expect(decoded.parents.keys.sorted() == ["/usr/lib/systemd/systemd"])
        #expect(decoded.users.keys.sorted() == [33])
        #expect(decoded.stability().state == .stable)
    }

    @Test func saveWritesOnlyChangesAndCountsRevisions() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = ProfileStore(directory: dir)
        var p = Self.golden()
        p.revision = 0
        #expect(try store.save(&p))
        #expect(p.revision == 1)
        #expect(try store.save(&p) == false, "nothing changed")
        #expect(p.revision == 1)
        p.users[0] = Sighting(host: "staging-1", at: S.at(50))
        #expect(try store.save(&p))
        #expect(p.revision == 2)
        let (loaded, errors) = store.loadAll()
        #expect(errors.isEmpty)
        #expect(loaded.map(\.revision) == [2])
        #expect(loaded.first?.users.keys.sorted() == [0, 33])
    }

    /// A baseline others can write could have been planted: it is refused, the rest load.
    @Test func aProfileOthersCanWriteIsRefused() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = ProfileStore(directory: dir)
        var p = Self.golden()
        try store.save(&p)
        let file = store.path(for: p.id)
        #expect(store.loadAll().errors.isEmpty)
        chmod(file, 0o664)
        let (loaded, errors) = store.loadAll()
        #expect(loaded.isEmpty)
        #expect(errors.count == 1)
        #expect(errors.first?.file == file)
        #expect(errors.first?.reason.contains("writable by users other than its owner (mode 664)") == true, "\(errors)")
        #expect(errors.first?.reason.contains("chmod go-w \(file)") == true)
        chmod(file, 0o644)
        #expect(store.loadAll().profiles.count == 1)
    }

    @Test func anInterruptedSaveLeavesTheOldFile() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = ProfileStore(directory: dir)
        var p = Self.golden()
        try store.save(&p)
        let before = try Data(contentsOf: URL(fileURLWithPath: store.path(for: p.id)))
        for point in [ProfileStore.CrashPoint.afterTempWrite, .afterTempSync] {
            var changed = p
            changed.syscalls[400] = Sighting(host: "x", at: S.at(99))
            _ = try store.save(&changed, force: false, crash: point)
            #expect(try Data(contentsOf: URL(fileURLWithPath: store.path(for: p.id))) == before)
        }
        // The leftover temporary files are not profiles.
        let names = try FileManager.default.contentsOfDirectory(atPath: dir)
        #expect(names.filter { $0.hasPrefix(".") }.count == 2)
        let (loaded, errors) = store.loadAll()
        #expect(errors.isEmpty)
        #expect(loaded.count == 1)
        #expect(loaded.first?.syscalls[400] == nil)
    }

    @Test func readersNeverSeeAPartialFile() async throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = ProfileStore(directory: dir)
        var p = Self.golden()
        try store.save(&p)
        let path = store.path(for: p.id)
        let reader = Task.detached { () -> [String] in
            var bad: [String] = []
            for _ in 0..<300 {
                do { _ = try ProfileStore.load(file: path) } catch { bad.append("\(error)") }
            }
            return bad
        }
        for i in 0..<150 {
            // Alternate between a large and a small profile so a torn write would show.
            if i % 2 == 0 { for k in 0..<200 as Range<UInt32> { p.syscalls[k] = Sighting(host: "h", at: S.at(Double(i))) } }
            else { p.syscalls = [0: Sighting(host: "h", at: S.at(Double(i)))] }
            try store.save(&p)
        }
        // Each failure keeps its reason: a torn file would read as truncated.
        let failures = await reader.value
        #expect(failures.isEmpty, "\(failures.count) of 300 loads failed; first: \(failures.first ?? "none")")
    }

    @Test func badFilesAreRefusedWithFileFieldAndReasonAndOthersStillLoad() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = ProfileStore(directory: dir)
        var good = Self.golden()
        try store.save(&good)
        let text = String(decoding: ProfileCodec.encode(good), as: UTF8.self)
        func write(_ name: String, _ s: String) throws { try Data(s.utf8).write(to: URL(fileURLWithPath: dir + "/" + name)) }
        let idLine = "\"id\": \"\(good.id)\""
        try write("truncated.json", String(text.prefix(text.count / 2)))
        try write("corrupt.json", "{\"format_version\": 1, ]")
        try write("empty.json", "")
        try write("future.json", text.replacingOccurrences(of: "\"format_version\": 2", with: "\"format_version\": 3"))
        try write("badcount.json", text.replacingOccurrences(of: "\"count\": 1, \"first_seen\"", with: "\"count\": 7, \"first_seen\"")
            .replacingOccurrences(of: idLine, with: idLine))
        try write("badname.json", text.replacingOccurrences(of: "\"name\": \"read\"", with: "\"name\": \"reed\""))
        try write("badtime.json", text.replacingOccurrences(of: "\"revision\": 1", with: "\"revision\": \"one\""))
        try write("misnamed.json", text)
        let (profiles, errors) = store.loadAll()
        #expect(profiles.map(\.id) == [good.id])
        let byFile = Dictionary(uniqueKeysWithValues: errors.map { (($0.file as NSString).lastPathComponent, $0) })
        #expect(byFile["truncated.json"]?.field == "(document)")
        #expect(byFile["truncated.json"]?.reason.contains("truncated") == true)
        #expect(byFile["corrupt.json"]?.field == "(document)")
        #expect(byFile["empty.json"]?.reason.contains("empty") == true)
        #expect(byFile["future.json"]?.field == "format_version")
        #expect(byFile["future.json"]?.reason.contains("unsupported format version 3") == true)
        #expect(byFile["badname.json"]?.field.hasPrefix("syscalls[") == true)
        #expect(byFile["badname.json"]?.field.hasSuffix("].name") == true)
        #expect(byFile["badname.json"]?.reason.contains("reed") == true)
        #expect(byFile["badtime.json"]?.field == "revision")
        #expect(byFile["misnamed.json"]?.field == "id")
        #expect(byFile["badcount.json"]?.field.hasSuffix(".count") == true)
        #expect(byFile["badcount.json"]?.description.contains("badcount.json: field ") == true)
        #expect(errors.count == 8)
    }

    @Test func aFileThatDoesNotLoadIsNotOverwrittenWithoutForce() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = ProfileStore(directory: dir)
        var p = Self.golden()
        try Data("{broken".utf8).write(to: URL(fileURLWithPath: store.path(for: p.id)))
        #expect(throws: ProfileStore.SaveError.self) { try store.save(&p) }
        #expect(try String(contentsOfFile: store.path(for: p.id), encoding: .utf8) == "{broken")
        #expect(try store.save(&p, force: true))
        #expect(store.loadAll().errors.isEmpty)
    }
}

/// Format 2 is format 1 plus optional fields: old files load, new fields round-trip.
@Suite struct ProfileFormatCompatibilityTests {
    @Test func aFormatOneFileLoadsAndIsWrittenAsFormatTwo() throws {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/profiles-v1/usr-bin-python3.11--opt-shop-api.py", withExtension: "json"))
        let v1 = try Array(Data(contentsOf: url))
        #expect(ProfileCodec.version(of: v1) == 1)
        let p = try ProfileCodec.decode(v1, file: "v1")
        #expect(p.identity == ProfileIdentity(executable: "/usr/bin/python3.11", kind: .script, target: "/opt/shop/api.py"))
        #expect(p.invokedAs.isEmpty)
        let v2 = ProfileCodec.encode(p)
        #expect(ProfileCodec.version(of: v2) == 2)
        // Only the version line differs: nothing else about an old profile changes.
        let changed = zip(String(decoding: v1, as: UTF8.self).split(separator: "\n"), String(decoding: v2, as: UTF8.self).split(separator: "\n")).filter { $0 != $1 }
        #expect(changed.map { String($0.1) } == ["  \"format_version\": 2,"])
    }

    @Test func nameAndInvokedPathsRoundTrip() throws {
        var p = Profile(identity: ProfileIdentity(executable: "/usr/bin/redis-check-rdb", name: "redis-server"))
        p.invokedAs["/usr/bin/redis-server"] = Sighting(host: "h", at: 1_700_000_000_000_000_000)
        let bytes = ProfileCodec.encode(p)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains("\"name\": \"redis-server\""))
        #expect(text.contains("\"invoked_as\""))
        let back = try ProfileCodec.decode(bytes, file: "x")
        #expect(back == p)
        #expect(back.knownPaths == ["/usr/bin/redis-check-rdb", "/usr/bin/redis-server"])
        let bad = text.replacingOccurrences(of: "\"name\": \"redis-server\"", with: "\"name\": \"a/b\"")
        #expect(throws: ProfileLoadError.self) { try ProfileCodec.decode(Array(bad.utf8), file: "x") }
        // An id that leaves the name out does not match the identity: an older vigil refuses
        // such a file rather than take it for plain redis-check-rdb.
        let wrongID = text.replacingOccurrences(of: p.id, with: ProfileIdentity(executable: "/usr/bin/redis-check-rdb").id)
        #expect(throws: ProfileLoadError.self) { try ProfileCodec.decode(Array(wrongID.utf8), file: "x") }
    }
}

@Suite struct AbandonedWriteTests {
    @Test func temporaryFilesOfDeadWritersAreSweptAndLiveOnesKept() throws {
        let dir = try makeTempDirectory("vigil-sweep")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // A pid that cannot be running: beyond the kernel's pid limit.
        let dead = dir + "/.p.json.tmp-4194999-17", live = dir + "/.q.json.tmp-1-5", profile = dir + "/p.json"
        for f in [dead, live, profile] { #expect(FileManager.default.createFile(atPath: f, contents: Data("x".utf8))) }
        #expect(ProfileStore(directory: dir).sweepAbandonedWrites() == 1)
        #expect(!FileManager.default.fileExists(atPath: dead))
        #expect(FileManager.default.fileExists(atPath: live), "a writer still running (pid 1) keeps its file")
        #expect(FileManager.default.fileExists(atPath: profile))
    }
}

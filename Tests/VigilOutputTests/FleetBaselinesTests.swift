import Foundation
import Testing
import VigilCore
import VigilTestSupport
@testable import VigilOutput
#if canImport(Glibc)
import Glibc
#endif

/// `vigil profile push/pull` against a real nats-server: JetStream key-value entries per
/// profile and host, chunked, ed25519-signed, merged on pull.
@Suite(.serialized) struct FleetBaselinesTests {
    static var available: Bool { NATSTestServer.binary != nil || Tools.required }
    static let t0: UInt64 = 1_767_225_600_000_000_000

    /// A profile of /usr/sbin/api as `host` learned it: `syscalls` seen `count` times each,
    /// and `ngrams` distinct n-grams (to make it large).
    static func api(host: String, syscalls: [UInt32], count: UInt64, ngrams: Range<UInt32>, port: UInt16) -> Profile {
        var p = Profile(identity: ProfileIdentity(executable: "/usr/sbin/api"))
        for s in syscalls { p.syscalls[s] = Sighting(host: host, at: t0 + UInt64(s), count: count) }
        for g in ngrams {
            let calls: [UInt32] = [g % 300, 1, 2, 3, 4, g / 300]
            p.ngrams[NgramHash.hash(calls)] = NgramItem(calls: calls, seen: Sighting(host: host, at: t0, count: 2))
        }
        p.destinations[NetworkDestination(transport: .tcp, address: "10.0.0.1", port: port)] = Sighting(host: host, at: t0, count: count)
        p.users[33] = Sighting(host: host, at: t0, count: 1)
        p.learning[host] = LearningHistory(policy: .standard)
        return p
    }

    struct Fleet {
        let dir: String
        let server: NATSTestServer
        let url: FleetURL
        let trusted: String
        func key(_ host: String) throws -> Ed25519Key {
            let k = try Ed25519Key.loadOrCreate(privateKeyAt: "\(dir)/keys-\(host)/host.key")
            try? FileManager.default.removeItem(atPath: "\(trusted)/\(host).pub")
            try FileManager.default.copyItem(atPath: "\(dir)/keys-\(host)/host.key.pub", toPath: "\(trusted)/\(host).pub")
            return k
        }
        func models(_ name: String, _ profiles: [Profile]) throws -> ProfileStore {
            let store = ProfileStore(directory: "\(dir)/models-\(name)")
            for var p in profiles { try store.save(&p) }
            return store
        }
        func manifestKey(_ id: String, _ host: String) -> String { FleetBaselines.keyToken(id) + "." + FleetBaselines.keyToken(host) + ".m" }
        func kv() throws -> (NATSConnection, NATSKeyValue) {
            let c = try NATSConnection(url.settings)
            return (c, try c.keyValue(bucket: url.bucket, create: false))
        }
    }

    static func fleet() throws -> Fleet {
        #expect(NATSTestServer.binary != nil, "VIGIL_REQUIRE_TOOLS=1 but nats-server is missing (apt-get install -y nats-server)")
        let dir = try makeTempDirectory()
        // A small payload limit, so a profile of a few hundred n-grams needs several chunks.
        let server = try NATSTestServer(directory: dir, maxPayload: 16 * 1024)
        try FileManager.default.createDirectory(atPath: dir + "/trusted", withIntermediateDirectories: true)
        return Fleet(dir: dir, server: server, url: try FleetURL.parse(server.url + "/fleet-test"), trusted: dir + "/trusted")
    }

    @Test func parsesFleetURLs() throws {
        let u = try FleetURL.parse("nats://nats.internal?creds=/etc/vigil/h.creds&tls=true")
        #expect(u.bucket == FleetURL.defaultBucket && u.settings.port == 4222 && u.settings.credsFile == "/etc/vigil/h.creds" && u.settings.tls)
        #expect(try FleetURL.parse("nats://10.1.1.1:4223/baselines").bucket == "baselines")
        for (bad, says) in [("http://x:4222", "must start with nats://"), ("nats://x/a.b", "not a bucket name"),
                            ("nats://x/b?stream=S", "option 'stream' does not apply"), ("nats://:4222/b", "missing host")] {
            do { _ = try FleetURL.parse(bad); Issue.record("\(bad) parsed") } catch {
                #expect(error.description.contains(says) && error.description.contains(bad), "\(error)")
            }
        }
    }

    @Test func signingKeysAreCreatedPrivateAndVerify() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let k = try Ed25519Key.loadOrCreate(privateKeyAt: dir + "/fleet/host.key")
        var st = stat()
        #expect(stat(dir + "/fleet/host.key", &st) == 0 && st.st_mode & 0o777 == 0o600)
        let again = try Ed25519Key.loadOrCreate(privateKeyAt: dir + "/fleet/host.key")
        #expect(again.rawPublicKey == k.rawPublicKey && k.rawPublicKey.count == 32, "the key is kept, not made anew")
        let pub = try Ed25519Key.loadPublic(dir + "/fleet/host.key.pub")
        let sig = try k.sign(Array("hello".utf8))
        #expect(sig.count == 64)
        #expect(pub.verify(sig, of: Array("hello".utf8)))
        #expect(!pub.verify(sig, of: Array("hellO".utf8)))
        chmod(dir + "/fleet/host.key", 0o644)
        #expect(throws: HostKeyError.self) { try Ed25519Key.loadOrCreate(privateKeyAt: dir + "/fleet/host.key") }
        #expect(throws: HostKeyError.self) { try Ed25519Key.loadPublic(dir + "/nothing.pub") }
    }

    @Test(.enabled(if: available, "needs nats-server"))
    func pushFromTwoHostsAndPullIntoAThirdGivesTheMergedBaseline() throws {
        let f = try Self.fleet()
        defer { try? FileManager.default.removeItem(atPath: f.dir) }
        let a = Self.api(host: "a", syscalls: [0, 1, 2], count: 3, ngrams: 0..<400, port: 443)
        let b = Self.api(host: "b", syscalls: [1, 2, 60], count: 5, ngrams: 200..<500, port: 8443)
        var onlyA = Profile(identity: ProfileIdentity(executable: "/usr/bin/only-a"))
        onlyA.syscalls[7] = Sighting(host: "a", at: Self.t0, count: 1)
        let storeA = try f.models("a", [a, onlyA])
        let storeB = try f.models("b", [b])
        let ka = try f.key("a"), kb = try f.key("b")

        let pushedA = try FleetBaselines.push(storeA.loadAll().profiles, host: "a", key: ka, to: f.url)
        #expect(pushedA.pushed.count == 2 && pushedA.skipped.isEmpty)
        #expect(pushedA.pushed.first { $0.profile == a.id }!.chunks > 1, "larger than the 16 KiB payload limit: chunked")
        _ = try FleetBaselines.push(storeB.loadAll().profiles, host: "b", key: kb, to: f.url)
        // A host pushing again replaces its entry: it still counts once.
        let again = try FleetBaselines.push(storeA.loadAll().profiles, host: "a", key: ka, to: f.url)
        #expect(again.pushed.allSatisfy { !$0.changed })

        let storeC = ProfileStore(directory: f.dir + "/models-c")
        let summary = try FleetBaselines.pull(from: f.url, trusted: .init(directory: f.trusted), into: storeC)
        #expect(summary.refused.isEmpty, "\(summary.refused)")
        #expect(summary.hosts == ["a", "b"] && summary.profiles == 2 && summary.written == 2)
        let merged = try storeC.load(file: storeC.path(for: a.id))
        var expected = ProfileMerge.merge([a, b])
        expected.revision = merged.revision
        #expect(ProfileCodec.encode(merged) == ProfileCodec.encode(expected), "the pulled baseline is the merge of both hosts'")
        #expect(merged.syscalls[1]?.hosts == ["a": 3, "b": 5])
        #expect(merged.syscalls[60]?.hosts == ["b": 5])
        #expect(merged.ngrams.count == 500)
        #expect(try storeC.load(file: storeC.path(for: onlyA.id)).syscalls[7]?.hosts == ["a": 1])
        // Pulling again, or pulling into a host's own directory, changes nothing twice.
        #expect(try FleetBaselines.pull(from: f.url, trusted: .init(directory: f.trusted), into: storeC).written == 0)
        let intoA = try FleetBaselines.pull(from: f.url, trusted: .init(directory: f.trusted), into: storeA)
        #expect(try storeA.load(file: storeA.path(for: a.id)).syscalls[1]?.hosts == ["a": 3, "b": 5])
        #expect(intoA.written == 1, "only the profile b also learned changed")
        // ...and pushing that merged directory back as host a still carries only a's counts.
        _ = try FleetBaselines.push(storeA.loadAll().profiles, host: "a", key: ka, to: f.url)
        let storeD = ProfileStore(directory: f.dir + "/models-d")
        _ = try FleetBaselines.pull(from: f.url, trusted: .init(directory: f.trusted), into: storeD)
        #expect(try storeD.load(file: storeD.path(for: a.id)).syscalls[1]?.hosts == ["a": 3, "b": 5])
    }

    @Test(.enabled(if: available, "needs nats-server"))
    func tamperedUnsignedAndUntrustedEntriesAreRefused() throws {
        let f = try Self.fleet()
        defer { try? FileManager.default.removeItem(atPath: f.dir) }
        let a = Self.api(host: "a", syscalls: [0, 1], count: 3, ngrams: 0..<10, port: 443)
        var b = Self.api(host: "b", syscalls: [1, 59], count: 5, ngrams: 0..<10, port: 8443)
        // Host b claims counts of host a too: only b's own may come from b's entry.
        b.syscalls[59]!.hosts["a"] = 1000
        let ka = try f.key("a"), kb = try f.key("b")
        _ = try FleetBaselines.push([a], host: "a", key: ka, to: f.url)
        _ = try FleetBaselines.push([b], host: "b", key: kb, to: f.url)
        let (conn, kv) = try f.kv()
        defer { conn.close() }
        let pull = { (name: String) throws -> (FleetBaselines.PullSummary, ProfileStore) in
            let s = ProfileStore(directory: f.dir + "/models-" + name)
            return (try FleetBaselines.pull(from: f.url, trusted: .init(directory: f.trusted), into: s), s)
        }
        let (clean, cleanStore) = try pull("clean")
        #expect(clean.refused.isEmpty)
        #expect(try cleanStore.load(file: cleanStore.path(for: a.id)).syscalls[59]?.hosts == ["b": 5], "a's counts claimed by b are not taken")

        // Tampered: b's manifest now claims a different profile digest under b's signature.
        let keyB = f.manifestKey(b.id, "b")
        let original = try #require(try kv.get(keyB))
        var m = try Manifest.decode(original, key: keyB)
        var forged = m
        forged.bytes += 1
        try kv.put(keyB, forged.encoded())
        let (t1, s1) = try pull("tampered")
        #expect(t1.refused.count == 1)
        #expect(t1.refused.first?.contains("host b") == true && t1.refused.first?.contains("\(f.trusted)/b.pub") == true
                && t1.refused.first?.contains("does not verify") == true && t1.refused.first?.contains(kb.fingerprint) == true, "\(t1.refused)")
        #expect(try s1.load(file: s1.path(for: a.id)).syscalls[59] == nil, "nothing of the refused entry is merged")
        #expect(t1.hosts == ["a"])

        // Signed by another key (a's), under b's name.
        m.signature = try ka.sign(FleetBaselines.signedMessage(profile: m.profile, host: "b", sha256: m.sha256, bytes: m.bytes, chunks: m.chunks))
        m.publicKey = ka.rawPublicKey
        try kv.put(keyB, m.encoded())
        let (t2, _) = try pull("wrong-key")
        #expect(t2.refused.first?.contains("does not verify") == true && t2.refused.first?.contains(ka.fingerprint) == true, "names the key the entry claims: \(t2.refused)")

        // Unsigned.
        m.signature = nil
        try kv.put(keyB, m.encoded())
        let (t3, _) = try pull("unsigned")
        #expect(t3.refused.first?.contains("unsigned") == true && t3.refused.first?.contains("host b") == true, "\(t3.refused)")

        // A chunk changed after signing.
        try kv.put(keyB, original)
        let good = try Manifest.decode(original, key: keyB)
        var chunk = try #require(try kv.get("\(good.chunkPrefix).0"))
        chunk[chunk.count / 2] ^= 0x01
        try kv.put("\(good.chunkPrefix).0", chunk)
        let (t4, _) = try pull("chunk")
        #expect(t4.refused.first?.contains("do not match the signed size and SHA-256") == true, "\(t4.refused)")

        // A host nobody trusts.
        let kc = try Ed25519Key.loadOrCreate(privateKeyAt: f.dir + "/keys-c/host.key")
        _ = try FleetBaselines.push([Self.api(host: "c", syscalls: [3], count: 1, ngrams: 0..<1, port: 80)], host: "c", key: kc, to: f.url)
        let (t5, _) = try pull("untrusted")
        #expect(t5.refused.contains { $0.contains("host c has no trusted key") && $0.contains("\(f.trusted)/c.pub") }, "\(t5.refused)")
    }

    @Test func unreachableServerIsAClearError() throws {
        let port = try freeLoopbackPort()
        let url = try FleetURL.parse("nats://127.0.0.1:\(port)")
        do { _ = try FleetBaselines.fetch(from: url, trusted: .init(directory: "/nonexistent")); Issue.record("fetched") } catch {
            #expect(error.description.contains("nats://127.0.0.1:\(port)") && error.description.contains("nats-server running"), "\(error)")
        }
    }
}

import Foundation
import Testing
import VigilCore
import VigilTestSupport

/// `vigil profile push` from two model directories and `vigil profile pull` into a third,
/// through a real nats-server (no eBPF needed).
@Suite(.serialized, .timeLimit(.minutes(2)))
struct ProfileFleetCommandTests {
    static func profile(host: String, syscalls: [UInt32], count: UInt64) -> Profile {
        var p = Profile(identity: ProfileIdentity(executable: "/usr/sbin/fleet-api"))
        for s in syscalls { p.syscalls[s] = Sighting(host: host, at: 1_767_225_600_000_000_000, count: count) }
        p.learning[host] = LearningHistory(policy: .standard)
        return p
    }

    @Test(.enabled(if: NATSTestServer.binary != nil || Tools.required, "needs nats-server (apt-get install -y nats-server)"))
    func pushFromTwoHostsPullIntoAThirdAndAnImpostorIsRefused() throws {
        #expect(NATSTestServer.binary != nil, "VIGIL_REQUIRE_TOOLS=1 but nats-server is missing")
        let dir = try makeTempDirectory("vigil-fleet-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try NATSTestServer(directory: dir)
        let a = Self.profile(host: "web-1", syscalls: [0, 1], count: 3)
        let b = Self.profile(host: "web-2", syscalls: [1, 60], count: 5)
        for (name, p) in [("a", a), ("b", b)] {
            var p = p
            try ProfileStore(directory: "\(dir)/\(name)").save(&p)
        }
        let trusted = dir + "/trusted"
        try FileManager.default.createDirectory(atPath: trusted, withIntermediateDirectories: true)
        for (name, host) in [("a", "web-1"), ("b", "web-2")] {
            let r = try runVigil(["profile", "push", "--nats", server.url, "--models", "\(dir)/\(name)", "--key", "\(dir)/keys-\(name)/host.key", "--host", host])
            #expect(r.status == 0, "\(r.err)")
            #expect(r.out.contains("\(a.id): pushed"), "\(r.out)")
            #expect(r.err.contains("as host \(host)") && r.err.contains("keys-\(name)/host.key.pub"), "\(r.err)")
            var st = stat()
            #expect(stat("\(dir)/keys-\(name)/host.key", &st) == 0 && st.st_mode & 0o777 == 0o600, "the key is the host's alone")
            try FileManager.default.copyItem(atPath: "\(dir)/keys-\(name)/host.key.pub", toPath: "\(trusted)/\(host).pub")
        }
        let pull = try runVigil(["profile", "pull", "--nats", server.url, "--models", "\(dir)/c", "--trusted", trusted])
        #expect(pull.status == 0, "\(pull.err)")
        #expect(pull.err.contains("merged 1 profiles from 2 hosts (web-1, web-2)"), "\(pull.err)")
        let c = ProfileStore(directory: "\(dir)/c")
        let merged = try c.load(file: c.path(for: a.id))
        #expect(merged.syscalls[1]?.hosts == ["web-1": 3, "web-2": 5])
        #expect(merged.syscalls[0]?.hosts == ["web-1": 3] && merged.syscalls[60]?.hosts == ["web-2": 5])

        // An impostor pushes as web-2 with a key of its own: the pull refuses that entry,
        // names the host and the key, merges the rest and exits 2.
        var evil = Self.profile(host: "web-2", syscalls: [59], count: 1)
        try ProfileStore(directory: "\(dir)/evil").save(&evil)
        let impostor = try runVigil(["profile", "push", "--nats", server.url, "--models", "\(dir)/evil", "--key", "\(dir)/keys-evil/host.key", "--host", "web-2"])
        #expect(impostor.status == 0)
        let refused = try runVigil(["profile", "pull", "--nats", server.url, "--models", "\(dir)/d", "--trusted", trusted])
        #expect(refused.status == 2)
        #expect(refused.err.contains("host web-2") && refused.err.contains("\(trusted)/web-2.pub") && refused.err.contains("does not verify"), "\(refused.err)")
        let d = ProfileStore(directory: "\(dir)/d")
        let onlyTrusted = try d.load(file: d.path(for: a.id))
        #expect(onlyTrusted.syscalls[59] == nil && onlyTrusted.syscalls[1]?.hosts == ["web-1": 3], "nothing of the refused entry is merged")

        let badURL = try runVigil(["profile", "pull", "--nats", "http://127.0.0.1:4222", "--models", "\(dir)/e", "--trusted", trusted])
        #expect(badURL.status == 2 && badURL.err.contains("must start with nats://"), "\(badURL.err)")
        let port = try freeLoopbackPort()
        let down = try runVigil(["profile", "pull", "--nats", "nats://127.0.0.1:\(port)", "--models", "\(dir)/e", "--trusted", trusted])
        #expect(down.status == 1 && down.err.contains("nats://127.0.0.1:\(port)") && down.err.contains("No server available"), "\(down.err)")
        let creds = try runVigil(["profile", "push", "--nats", "\(server.url)?creds=\(dir)/none.creds", "--models", "\(dir)/a", "--key", "\(dir)/keys-a/host.key"])
        #expect(creds.status == 1 && creds.err.contains("\(dir)/none.creds"), "\(creds.err)")
    }
}

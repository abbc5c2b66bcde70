import Foundation
import Testing
import VigilCore

/// `vigil learn` as users run it: a TCP service started after learning began serves
/// requests; its profile holds accept, openat and its listening port, and becomes stable.
@Suite(.serialized, .enabled(if: BPFTestGate.shouldRun), .timeLimit(.minutes(2)))
struct LearnCommandTests {
    @Test func learnsAServiceStartedAfterLearningBegan() throws {
        try BPFTestGate.check()
        let models = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-models-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: models) }
        // The service runs from its own copy of the binary, so that its profile is its own
        // (other tests run vigil too, and every vigil process shares the vigil profile).
        let serviceBinary = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-svc-\(UUID().uuidString)").path
        try FileManager.default.copyItem(atPath: try vigilExecutable().path, toPath: serviceBinary)
        defer { try? FileManager.default.removeItem(atPath: serviceBinary) }
        var port: UInt16 = 0
        var servicePid: Int32 = 0
        // Short buckets so that stability is reachable in a test: 2 s buckets, 3 of them level.
        // --only the service: learning the whole host queues every running program's binary
        // (swift-package, the test runner, whatever else the host runs: hundreds of MB) on the
        // one hashing queue ahead of the service's, and on a busy host its hash then arrived
        // at the final save, a new item inside the window: the profile stayed "learning".
        let r = try runVigil(["learn", "--models", models, "--duration", "16", "--bucket", "2", "--window", "3",
                              "--min-observed", "6", "--save-interval", "3", "--only", serviceBinary]) {
            let service: Process
            (service, port) = try startDemoService(serviceBinary)
            servicePid = service.processIdentifier
            let end = Date().addingTimeInterval(12)
            while Date() < end {
                try runProgram("/bin/bash", ["-c", "exec 3<>/dev/tcp/127.0.0.1/\(port); echo 'GET hostname' >&3; head -c 100 <&3 >/dev/null"])
                Thread.sleep(forTimeInterval: 0.15)
            }
            service.terminate()
            service.waitUntilExit()
        }
        #expect(r.status == 0, "stderr: \(r.err)")
        #expect(port != 0 && servicePid != 0)
        #expect(r.err.contains("0 events dropped in the kernel"), "stderr: \(r.err)")

        let id = ProfileIdentity.resolve(path: serviceBinary, argv: [serviceBinary, "demo-service"]).id
        // As users name it: by the service's executable path.
        let show = try runVigil(["profile", "show", serviceBinary, "--models", models, "--json"])
        let byID = try runVigil(["profile", "show", id, "--models", models, "--json"])
        #expect(byID.out == show.out, "the id and the executable path name the same profile")
        #expect(show.status == 0, "stderr: \(show.err)")
        let profile = try #require(try JSONSerialization.jsonObject(with: Data(show.out.utf8)) as? [String: Any])
        let syscalls = profile["syscalls"] as? [String] ?? []
        #expect(syscalls.contains("accept") || syscalls.contains("accept4"), "learned syscalls: \(syscalls)")
        #expect(syscalls.contains("openat"))
        #expect(syscalls.contains("listen"))
        let listens = profile["listens"] as? [[String: Any]] ?? []
        // The service asked for port 0: the kernel picked its port, learned as that (port 0), not the number.
        #expect(listens.contains { ($0["port"] as? Int) == Int(ListeningSocket.pickedPort) && ($0["protocol"] as? String) == "tcp" }, "listens: \(listens)")
        #expect(!listens.contains { ($0["port"] as? Int) == Int(port) }, "listens: \(listens)")
        #expect((profile["ngram_count"] as? Int ?? 0) > 20)
        #expect(profile["state"] as? String == "stable", "reason: \(profile["reason"] ?? "")")
        #expect((profile["current_sha256"] as? String)?.count == 64)

        // Files are complete JSON, written atomically: no temporary files left behind.
        let files = try FileManager.default.contentsOfDirectory(atPath: models)
        #expect(!files.contains { $0.hasPrefix(".") })
    }

    @Test func learningContinuesFromWhatTheDirectoryHolds() throws {
        try BPFTestGate.check()
        let models = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-models-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: models) }
        for _ in 0..<2 {
            let r = try runVigil(["learn", "--models", models, "--duration", "3", "--only", "/usr/bin/sleep"]) {
                try runProgram("/usr/bin/sleep", ["0.01"])
            }
            #expect(r.status == 0, "stderr: \(r.err)")
        }
        let list = try runVigil(["profile", "list", "--models", models, "--json"])
        let profiles = try #require(try JSONSerialization.jsonObject(with: Data(list.out.utf8)) as? [[String: Any]])
        #expect(profiles.count == 1, "--only keeps other programs out: \(profiles.map { $0["id"] ?? "" })")
        let sleep = try #require(profiles.first)
        #expect(sleep["executable"] as? String == "/usr/bin/sleep")
        #expect((sleep["revision"] as? Int ?? 0) >= 2, "the second run saved a new revision of the same file")
    }

    /// Identity rule 2 end to end: a program run through a symlink of another name has one
    /// profile (the resolved file, run as the symlink's name), whether it was running before
    /// `vigil learn` started (found in /proc) or exec'd while it runs; `--only` and
    /// `profile show` take the symlink's path or the file's.
    @Test func aProgramStartedThroughASymlinkBeforeAndAfterLearningBeganHasOneProfile() throws {
        try BPFTestGate.check()
        let models = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-models-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: models) }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-link-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let link = dir + "/vigil-napper"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "/usr/bin/sleep")
        let target = try #require(realpath("/usr/bin/sleep", nil).map { p in defer { free(p) }; return String(cString: p) })

        // Running before learning begins, as another user (so the profile's users say which
        // processes it holds): setpriv execs the symlink, argv[0] the symlink's path.
        let early = Process()
        early.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        early.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", link, "60"]
        try early.run()
        defer { kill(early.processIdentifier, SIGKILL); early.waitUntilExit() }
        let exe = "/proc/\(early.processIdentifier)/exe"
        for _ in 0..<200 where (try? FileManager.default.destinationOfSymbolicLink(atPath: exe)) != target { usleep(10_000) }
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: exe)) == target)

        let r = try runVigil(["learn", "--models", models, "--duration", "4", "--save-interval", "2", "--only", link]) {
            // Exec'd while learning, as root.
            try runProgram(link, ["0.2"])
        }
        #expect(r.status == 0, "stderr: \(r.err)")
        #expect(r.err.contains("1 running processes attached"), "the process started before learning matched --only the symlink; stderr: \(r.err)")

        let list = try runVigil(["profile", "list", "--models", models, "--json"])
        let profiles = try #require(try JSONSerialization.jsonObject(with: Data(list.out.utf8)) as? [[String: Any]])
        #expect(profiles.count == 1, "one profile for both: \(profiles.map { $0["id"] ?? "" })")
        let id = ProfileIdentity(executable: target, name: "vigil-napper").id
        #expect(profiles.first?["id"] as? String == id)

        let show = try runVigil(["profile", "show", link, "--models", models, "--json"])
        #expect(show.status == 0, "stderr: \(show.err)")
        let p = try #require(try JSONSerialization.jsonObject(with: Data(show.out.utf8)) as? [String: Any])
        #expect(p["id"] as? String == id)
        #expect(p["executable"] as? String == target)
        #expect(p["name"] as? String == "vigil-napper")
        #expect((p["invoked_as"] as? [String])?.contains(link) == true, "invoked_as: \(p["invoked_as"] ?? "")")
        let users = Set(p["users"] as? [Int] ?? [])
        #expect(users.isSuperset(of: [0, 65534]), "the running process (uid 65534) and the exec'd one (uid 0) share the profile: users \(users)")
        let byTarget = try runVigil(["profile", "show", target, "--models", models, "--json"])
        #expect(byTarget.status == 0 && byTarget.out == show.out, "the resolved path names it too; stderr: \(byTarget.err)")
    }

    @Test func aWorldWritableModelsDirectoryIsRefused() throws {
        let models = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-models-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: models, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o777])
        defer { try? FileManager.default.removeItem(atPath: models) }
        let r = try runVigil(["learn", "--models", models, "--duration", "1"])
        #expect(r.status == 2)
        #expect(r.err.contains("writable by every user"))
    }
}

import Foundation
import Testing
import VigilTestSupport

/// Issue 18's "must show": two `vigil trace` agents publish to one real nats-server
/// (JetStream); the server restarts while they run; a subscriber receives every event of
/// both exactly once.
@Suite(.serialized, .enabled(if: BPFTestGate.shouldRun), .timeLimit(.minutes(2)))
struct NATSTraceTests {
    @Test(.enabled(if: NATSTestServer.binary != nil || Tools.required, "needs nats-server (apt-get install -y nats-server)"))
    func twoTraceAgentsThroughAServerRestartEveryEventOnce() throws {
        try BPFTestGate.check()
        #expect(NATSTestServer.binary != nil, "VIGIL_REQUIRE_TOOLS=1 but nats-server is missing")
        let dir = try makeTempDirectory("vigil-nats-e2e")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try NATSTestServer(directory: dir)
        // A program of our own name, so --comm keeps the agents to this test's processes.
        let marker = dir + "/vgnatsmark"
        try FileManager.default.copyItem(atPath: "/bin/true", toPath: marker)

        var agents: [Process] = []
        for name in ["a", "b"] {
            let p = Process()
            p.executableURL = try vigilExecutable()
            p.arguments = ["trace", "--duration", "9", "--comm", "vgnatsmark", "--spool", "\(dir)/spool-\(name)",
                           "--output", "nats://127.0.0.1:\(server.port)/vigil.events",
                           "--output", "file:\(dir)/\(name).jsonl"]
            p.standardOutput = FileHandle.nullDevice
            #expect(FileManager.default.createFile(atPath: "\(dir)/\(name).err", contents: nil))
            p.standardError = FileHandle(forWritingAtPath: "\(dir)/\(name).err")
            try p.run()
            agents.append(p)
        }
        defer { for p in agents where p.isRunning { kill(p.processIdentifier, SIGTERM) } }
        Thread.sleep(forTimeInterval: 2)
        func burst() throws { for _ in 0..<25 { try runProgram(marker, []); usleep(20_000) } }
        try burst()
        server.stop()
        try burst()  // published while the server is down: spooled
        try server.start()
        try burst()
        for p in agents { p.waitUntilExit() }
        for (i, p) in agents.enumerated() {
            let err = (try? String(contentsOfFile: "\(dir)/\(["a", "b"][i]).err", encoding: .utf8)) ?? ""
            #expect(p.terminationStatus == 0, "agent \(i): \(err.suffix(800))")
        }

        // What each agent emitted (its file output), by metadata.uid.
        var emitted: [String] = []
        var launches = 0
        for name in ["a", "b"] {
            let lines = jsonLines(try String(contentsOfFile: "\(dir)/\(name).jsonl", encoding: .utf8))
            emitted += lines.compactMap { dig($0, "metadata.uid") as? String }
            launches += lines.filter { ($0["class_uid"] as? Int) == 1007 && ($0["activity_id"] as? Int) == 1 }.count
            #expect(lines.count == lines.compactMap { dig($0, "metadata.uid") as? String }.count, "every event has an id")
        }
        #expect(launches >= 2 * 60, "both agents saw the marker programs start (\(launches) launches)")
        #expect(Set(emitted).count == emitted.count, "the two agents' ids never collide")

        let got = try server.readAll(stream: "VIGIL_EVENTS", subject: "vigil.events")
        let ids = got.compactMap(\.msgID)
        #expect(ids.count == got.count, "every message carries its Nats-Msg-Id")
        #expect(Set(ids) == Set(emitted), "every event of both agents reached the stream (missing \(Set(emitted).subtracting(ids).count))")
        #expect(ids.count == emitted.count, "each exactly once: \(ids.count) messages for \(emitted.count) events")
        // The message is the event as the agent wrote it.
        let byID = Dictionary(got.map { ($0.msgID ?? "", $0.data) }, uniquingKeysWith: { a, _ in a })
        for name in ["a", "b"] {
            for line in try String(contentsOfFile: "\(dir)/\(name).jsonl", encoding: .utf8).split(separator: "\n").prefix(5) {
                let uid = dig(jsonLines(String(line))[0], "metadata.uid") as? String ?? ""
                #expect(byID[uid] == String(line))
            }
        }
    }
}

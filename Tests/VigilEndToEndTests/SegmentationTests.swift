import Foundation
import Testing
import VigilTestSupport
import VigilCore

/// `vigil enforce --segment`: a learned service reaches its backend and nothing else, and
/// listens and uses unix sockets only where it learned to. `--segment-ingress`: only the peers it learned reach it.
@Suite(.serialized, .enabled(if: BPFTestGate.shouldRun), .timeLimit(.minutes(3)))
struct SegmentationTests {
    /// One request line to the demo service; its one-line answer.
    func ask(_ port: UInt16, _ line: String) throws -> String {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(s) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let r = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard r == 0 else { throw POSIXError(.ECONNREFUSED) }
        _ = (line + "\n").utf8CString.withUnsafeBufferPointer { write(s, $0.baseAddress, $0.count - 1) }
        var buffer = [UInt8](repeating: 0, count: 512)
        let n = read(s, &buffer, buffer.count)
        return n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : ""
    }

    /// A listening unix socket at `path`; its descriptor.
    func unixListener(_ path: String) throws -> Int32 {
        let s = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
        let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } } == 0
        guard ok, listen(s, 16) == 0 else { close(s); throw POSIXError(.EADDRINUSE) }
        // Accepts and closes, so a service that connects again and again never waits on a full backlog.
        Thread.detachNewThread {
            while true {
                let c = accept(s, nil, nil)
                if c < 0 { if errno == EINTR { continue }; return }
                close(c)
            }
        }
        return s
    }

    /// Deletes the kernel's record that `tgid` bound `port` (proto 6 TCP, 17 UDP) in
    /// vg_own_ports (struct vg_own_port_key: tgid, port, proto, pad; little-endian), as LRU
    /// eviction would; whether there was one.
    func forgetOwnPort(tgid: Int32, port: UInt16, proto: UInt8) throws -> Bool {
        let bytes = withUnsafeBytes(of: UInt32(bitPattern: tgid).littleEndian, Array.init)
            + withUnsafeBytes(of: port.littleEndian, Array.init) + [proto, 0]
        let key = bytes.map { String(format: "%02x", $0) }
        return try PinnedKernelTests.runCapturing("/usr/sbin/bpftool", ["map", "delete", "name", "vg_own_ports", "key", "hex"] + key).status == 0
    }

    @Test func aSegmentedServiceReachesItsBackendAndNothingElse() throws {
        try BPFTestGate.check()
        let backend = try LoopbackListener()
        let elsewhere = try LoopbackListener()
        let base = try makeTempDirectory("vigil-segment")
        defer { try? FileManager.default.removeItem(atPath: base) }
        // Local IPC: the socket it learned to use, and one it never used (a docker.sock).
        let ipc = base + "/ipc.sock", docker = base + "/docker.sock"
        let ipcFD = try unixListener(ipc), dockerFD = try unixListener(docker)
        defer { for fd in [ipcFD, dockerFD] { shutdown(fd, Int32(SHUT_RDWR)); close(fd) } }
        let binary = base + "/svc"
        try FileManager.default.copyItem(atPath: try vigilExecutable().path, toPath: binary)
        let models = base + "/models"
        var service: Process?
        var port: UInt16 = 0
        // Two ports nothing else here uses: the service listens on the first while learning.
        let learnedPort = try stablePorts(2), otherPort = learnedPort + 1
        let learned = try runVigil(["learn", "--models", models, "--duration", "8", "--only", binary,
                                    "--bucket", "2", "--window", "2", "--min-observed", "4", "--save-interval", "3"]) {
            (service, port) = try startDemoService(binary)
            let end = Date().addingTimeInterval(4.5)
            while Date() < end {
                _ = try ask(port, "CONNECT \(backend.port)")
                _ = try ask(port, "LISTEN \(learnedPort)")
                _ = try ask(port, "CONNECT-UNIX \(ipc)")
                // Self-pipes, at new ports each time, as Foundation's CFSocket builds one (UDP)
                // and over a listener on a port the kernel picks (TCP).
                _ = try ask(port, "SELF-UDP")
                _ = try ask(port, "SELF-TCP")
                _ = try ask(port, "SELF-KEPT NEW")
                _ = try ask(port, "SELF-KEPT")
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
        let svc = try #require(service)
        defer { kill(svc.processIdentifier, SIGKILL); svc.waitUntilExit() }
        #expect(learned.status == 0, "\(learned.err)")
        let id = ProfileIdentity.resolve(path: binary, argv: [binary, "demo-service"]).id
        let store = ProfileStore(directory: models)
        let profile = try store.load(file: store.path(for: id))
        #expect(!profile.destinations.keys.contains { $0.transport == .udp },
                "its own sockets are not destinations: \(profile.destinations.keys.map(\.description))")
        #expect(profile.destinations.keys.contains { $0.port == backend.port })
        // The listeners on ports the kernel picked (the service's own, the self-pipe's) are one entry.
        #expect(profile.listens.keys.filter { $0.transport == .tcp }.map(\.port).sorted() == [ListeningSocket.pickedPort, learnedPort],
                "\(profile.listens.keys.map(\.description))")
        try "enforce-learning: [\(id)]\n".write(toFile: base + "/policy.yaml", atomically: false, encoding: .utf8)
        let findings = base + "/findings.jsonl"
        var toBackend = "", toElsewhere = "", backendAccepted = 0, listenLearned = "", listenOther = "", toIPC = "", toDocker = ""
        var selfUDP = "", selfTCP = "", keptBefore = "", keptAfter = "", forgotten: [Bool] = []
        let r = try runVigil(["enforce", "--segment", "--models", models, "--workload", "exe:" + binary, "--policy", base + "/policy.yaml",
                              "--control-socket", "none", "--duration", "5", "--output", "file:" + findings]) {
            let before = backend.accepted
            toBackend = try ask(port, "CONNECT \(backend.port)")
            toElsewhere = try ask(port, "CONNECT \(elsewhere.port)")
            listenLearned = try ask(port, "LISTEN \(learnedPort)")
            listenOther = try ask(port, "LISTEN \(otherPort)")
            toIPC = try ask(port, "CONNECT-UNIX \(ipc)")
            toDocker = try ask(port, "CONNECT-UNIX \(docker)")
            selfUDP = try ask(port, "SELF-UDP")
            selfTCP = try ask(port, "SELF-TCP")
            // A self-pipe bound a while ago whose vg_own_ports entries are gone, as LRU eviction
            // takes them on a host that binds many ports: still its own socket.
            keptBefore = try ask(port, "SELF-KEPT NEW")
            let ports = keptBefore.split(separator: " ").dropFirst(2).compactMap { UInt16($0) }
            if ports.count == 2 {
                forgotten = try [(ports[0], 6), (ports[1], 17)].map { try forgetOwnPort(tgid: svc.processIdentifier, port: $0, proto: $1) }
            }
            keptAfter = try ask(port, "SELF-KEPT")
            Thread.sleep(forTimeInterval: 0.3)
            backendAccepted = backend.accepted - before
        }
        #expect(r.status == 0, "\(r.err)")
        #expect(toBackend == "OK connected", "the learned flow goes through")
        #expect(backendAccepted == 1)
        #expect(toElsewhere == "ERR connect: Operation not permitted", "an unlearned destination is refused in the kernel")
        #expect(elsewhere.accepted == 0)
        #expect(listenLearned == "OK listening", "the port it learned to listen on still opens")
        #expect(listenOther == "ERR bind: Operation not permitted", "a port it never listened on does not (no bind shell)")
        #expect(toIPC == "OK connected", "the unix socket it learned still answers")
        #expect(toDocker == "ERR connect: Operation not permitted", "an unlearned unix socket is refused in the kernel")
        #expect(selfUDP == "OK self", "a self-pipe at ports never learned still works (the process's own sockets)")
        #expect(selfTCP == "OK self", "and so does a connection to its own listener")
        #expect(keptBefore.hasPrefix("OK self ") && forgotten == [true, true],
                "the kept self-pipe's two vg_own_ports entries existed and were deleted: \(keptBefore) \(forgotten)")
        #expect(keptAfter == keptBefore, "without them its own sockets are still its own: \(keptAfter)")
        let lines = jsonLines((try? String(contentsOfFile: findings, encoding: .utf8)) ?? "").filter { $0["class_uid"] as? Int == 2004 }
        let refused = lines.first { String(describing: $0).contains("port \(elsewhere.port) (refused: segmentation)") }
        #expect(refused != nil, "a finding names the refused destination: \(lines.map { dig($0, "finding_info.title") ?? "" })")
        #expect(lines.contains { String(describing: $0).contains("port \(otherPort) (refused: segmentation)") }, "and the refused listener")
        #expect(lines.contains { String(describing: $0).contains("unix \(docker) (refused: segmentation)") }, "and the refused unix socket")
        let refusals = lines.map { String(describing: $0) }.filter { $0.contains("(refused: segmentation)") }
        let expectedRefusals = ["port \(elsewhere.port) (refused", "port \(otherPort) (refused", "unix \(docker) (refused"]
        #expect(refusals.allSatisfy { r in expectedRefusals.contains { r.contains($0) } },
                "no refusal but the three (none for the self-pipes): \(lines.map { dig($0, "finding_info.title") ?? "" })")
        #expect(!lines.contains { String(describing: $0).contains("udp 127.0.0.1 port") }, "the self-pipes are no new destination")
        #expect(svc.isRunning, "refusing a connection is all it takes: \(lines.map { dig($0, "finding_info.title") ?? "" })")
    }

    /// Whether a TCP connection from `source` (a loopback address) to 127.0.0.1:`port` is
    /// established within `timeout` seconds.
    func connects(from source: String, to port: UInt16, timeout: Double = 1.5) -> Bool {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        defer { close(s) }
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        local.sin_addr.s_addr = inet_addr(source)
        var remote = sockaddr_in()
        remote.sin_family = sa_family_t(AF_INET)
        remote.sin_port = port.bigEndian
        remote.sin_addr.s_addr = inet_addr("127.0.0.1")
        let size = socklen_t(MemoryLayout<sockaddr_in>.size)
        guard withUnsafePointer(to: &local, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, size) } }) == 0 else { return false }
        let r = withUnsafePointer(to: &remote) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(s, $0, size) } }
        if r == 0 { return true }
        guard errno == EINPROGRESS else { return false }
        var p = pollfd(fd: s, events: Int16(POLLOUT), revents: 0)
        guard poll(&p, 1, Int32(timeout * 1000)) == 1 else { return false }
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len)
        return err == 0
    }

    @Test func anIngressSegmentedServiceIsReachedByItsLearnedPeerOnly() throws {
        try BPFTestGate.check()
        let bystander = try LoopbackListener()
        let base = try makeTempDirectory("vigil-ingress")
        defer { try? FileManager.default.removeItem(atPath: base) }
        let binary = base + "/svc"
        try FileManager.default.copyItem(atPath: try vigilExecutable().path, toPath: binary)
        let models = base + "/models"
        var service: Process?
        var port: UInt16 = 0
        // Learned: requests from 127.0.0.1 only. The service listens from before enforce starts,
        // so the agent must name the owner of a listener it did not see bound.
        let learned = try runVigil(["learn", "--models", models, "--duration", "6", "--only", binary,
                                    "--bucket", "2", "--window", "2", "--min-observed", "4", "--save-interval", "3"]) {
            (service, port) = try startDemoService(binary)
            let end = Date().addingTimeInterval(3.5)
            while Date() < end {
                _ = try ask(port, "GET hostname")
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
        let svc = try #require(service)
        defer { kill(svc.processIdentifier, SIGKILL); svc.waitUntilExit() }
        #expect(learned.status == 0, "\(learned.err)")
        let id = ProfileIdentity.resolve(path: binary, argv: [binary, "demo-service"]).id
        let profile = try String(contentsOfFile: models + "/\(id).json", encoding: .utf8)
        #expect(profile.contains("\"peers\""), "the profile learned its peers")
        try "enforce-learning: [\(id)]\n".write(toFile: base + "/policy.yaml", atomically: false, encoding: .utf8)
        let findings = base + "/findings.jsonl"
        var learnedPeer = "", unlearnedPeer = true, bystanderReached = false
        let r = try runVigil(["enforce", "--segment-ingress", "--models", models, "--workload", "exe:" + binary, "--policy", base + "/policy.yaml",
                              "--control-socket", "none", "--duration", "5", "--output", "file:" + findings]) {
            learnedPeer = try ask(port, "GET hostname")
            unlearnedPeer = connects(from: "127.0.0.2", to: port)
            bystanderReached = connects(from: "127.0.0.2", to: bystander.port)
            Thread.sleep(forTimeInterval: 0.3)
        }
        #expect(r.status == 0, "\(r.err)")
        #expect(!learnedPeer.isEmpty && !learnedPeer.hasPrefix("ERR"), "the learned peer is served: \(learnedPeer)")
        #expect(!unlearnedPeer, "a connection from an unlearned peer is dropped in the kernel")
        #expect(bystanderReached, "a listener outside the workload is never touched")
        #expect(connects(from: "127.0.0.2", to: port), "with the agent gone the service takes the same peer again")
        let lines = jsonLines((try? String(contentsOfFile: findings, encoding: .utf8)) ?? "").filter { $0["class_uid"] as? Int == 2004 }
        #expect(lines.contains { String(describing: $0).contains("tcp from 127.0.0.2 to port \(port) (dropped: segmentation)") },
                "a new-peer finding names the dropped peer: \(lines.map { dig($0, "finding_info.title") ?? "" })")
        #expect(svc.isRunning)
    }
}

import Foundation
import Testing
import VigilCore
import VigilSensor
import VigilTestSupport

/// A judged profile's connects to destinations it learned stay in the kernel: counted there
/// (`vg_counters`, known per kind), never submitted to the ring buffer; a connect to a port it
/// never used still arrives. Learning slots are never filtered.
@Suite(.serialized, .enabled(if: BPFTestGate.shouldRun), .timeLimit(.minutes(3)))
struct KnownNetworkKernelTests {
    /// A bash that, for each line on stdin, connects (in its own process, no fork) `n` times to
    /// 127.0.0.1:PORT for a line `PORT n`, then prints `done`.
    final class Connector {
        private let shell: ScriptedProcess
        var pid: Int32 { shell.pid }

        init() throws {
            shell = try ScriptedProcess("/bin/bash", ["-c", "while read port n; do for ((i = 0; i < n; i++)); do exec 3<>/dev/tcp/127.0.0.1/$port; exec 3<&-; done; echo done; done"])
        }

        /// Connects `n` times to `port`; returns once the shell says it has.
        func connect(_ port: UInt16, times n: Int) {
            shell.send("\(port) \(n)")
            _ = shell.line()
        }

        func stop() { shell.stop() }
    }

    func drain(_ sensor: Sensor) throws -> [Event] {
        var events: [Event] = []
        try sensor.drain { events.append($0) }
        return events
    }

    @Test func aJudgedSlotsKnownConnectsAreCountedNotSubmitted() throws {
        try BPFTestGate.check()
        let backend = try LoopbackListener(), elsewhere = try LoopbackListener()
        let shell = try Connector()
        defer { shell.stop() }
        var o = SensorOptions()
        o.mode = .detect
        o.pid = shell.pid  // this shell only: the host's own connects do not count
        o.filterKnown = true
        let sensor = try Sensor(options: o)
        let slot: UInt32 = 23
        try sensor.setSlotMode(slot, .monitor)
        try sensor.assignProfile(pid: shell.pid, slot: slot)
        try sensor.setEgress(slot: slot, [NetworkDestination(transport: .tcp, address: "127.0.0.1", port: backend.port)])
        func counts() -> (submitted: UInt64, known: UInt64) {
            let s = sensor.stats
            return (s.kernelEmitted[.connect] ?? 0, s.kernelKnown[.connect] ?? 0)
        }
        _ = try drain(sensor)
        let before = counts()
        shell.connect(backend.port, times: 50)
        let steady = counts()
        let steadyRecords = try drain(sensor).filter { $0.kind == .connect }
        #expect(steady.submitted - before.submitted == 0, "known connects put nothing on the ring buffer")
        #expect(steady.known - before.known == 50, "each is counted as known in the kernel: \(steady.known - before.known)")
        #expect(steadyRecords.isEmpty)

        shell.connect(elsewhere.port, times: 1)
        let fresh = try drain(sensor).compactMap { e -> Event.Network? in
            if case .network(let n) = e.payload, n.operation == .connect { return n } else { return nil }
        }
        #expect(counts().submitted - steady.submitted == 1 && counts().known == steady.known)
        #expect(fresh.count == 1 && fresh.first?.remote?.port == elsewhere.port, "a new port still arrives: \(fresh)")

        // A learning slot counts every connect: none is kept back.
        try sensor.setSlotMode(slot, .learn)
        shell.connect(backend.port, times: 5)
        #expect(counts().submitted - steady.submitted == 6 && counts().known == steady.known)
        #expect(sensor.stats.totalKernelDrops == 0)
    }

    /// An exec of a child the judged profile knows still arrives (it creates the process and
    /// names its profile) but is flagged and counted as known; another program is not.
    @Test func anExecOfAKnownChildIsFlaggedAndCounted() throws {
        try BPFTestGate.check()
        var o = SensorOptions()
        o.mode = .detect
        o.filterKnown = true
        let sensor = try Sensor(options: o)
        try sensor.setSlotMode(25, .monitor)
        try sensor.setKnownChildren(slot: 25, ["/bin/true"])
        func exec(_ program: String) throws -> Event.Exec? {
            // The shell execs in its own process, so the slot it was given is the old image's.
            let shell = Process()
            shell.executableURL = URL(fileURLWithPath: "/bin/sh")
            shell.arguments = ["-c", "read x; exec \(program)"]
            let input = Pipe()
            shell.standardInput = input
            try shell.run()
            defer { if shell.isRunning { kill(shell.processIdentifier, SIGKILL) }; shell.waitUntilExit() }
            func next(_ path: String) throws -> Event.Exec? {
                let deadline = Date().addingTimeInterval(2)
                var found: Event.Exec?
                while found == nil && Date() < deadline {
                    try sensor.poll(timeoutMillis: 20) { e in
                        if e.pid == shell.processIdentifier, case .exec(let x) = e.payload, x.path == path { found = x }
                    }
                }
                return found
            }
            // Named for the shell's own exec, as the agent names a program it saw start.
            let started = try #require(try next("/bin/sh"), "the shell's exec")
            try sensor.assignProfile(pid: shell.processIdentifier, slot: 25, execSeq: started.execSeq)
            input.fileHandleForWriting.write(Data("\n".utf8))
            shell.waitUntilExit()
            return try next(program)
        }
        let before = sensor.stats.kernelKnown[.exec] ?? 0
        let known = try #require(try exec("/bin/true"), "the exec record still arrives")
        #expect(known.knownChild)
        #expect((sensor.stats.kernelKnown[.exec] ?? 0) - before == 1)
        let other = try #require(try exec("/bin/false"))
        #expect(!other.knownChild)
        #expect((sensor.stats.kernelKnown[.exec] ?? 0) - before == 1, "an unknown program is not counted")
    }

    /// A bind and listen on a learned port stay in the kernel; on another port both arrive.
    @Test func aJudgedSlotsKnownBindAndListenAreCountedNotSubmitted() throws {
        try BPFTestGate.check()
        let python = "/usr/bin/python3"
        try #require(FileManager.default.isExecutableFile(atPath: python), "this test binds from \(python)")
        // For each line `PORT n` on stdin: binds and listens on 127.0.0.1:PORT n times, then says so.
        let script = """
            import socket, sys
            print("ready", flush=True)
            for line in sys.stdin:
                port, n = map(int, line.split())
                for _ in range(n):
                    s = socket.socket()
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind(("127.0.0.1", port))
                    s.listen(4)
                    s.close()
                print("done", flush=True)
            """
        let server = try ScriptedProcess(python, ["-c", script])
        defer { server.stop() }
        #expect(server.line() == "ready", "the interpreter runs (its exec is behind it)")
        var o = SensorOptions()
        o.mode = .detect
        o.pid = server.pid
        o.filterKnown = true
        let sensor = try Sensor(options: o)
        try sensor.setSlotMode(26, .monitor)
        try sensor.assignProfile(pid: server.pid, slot: 26)
        let learned = try stablePorts(2), other = learned + 1
        try sensor.setListens(slot: 26, [ListeningSocket(transport: .tcp, address: "127.0.0.1", port: learned)])
        func counts(_ kind: Event.Kind) -> (UInt64, UInt64) { (sensor.stats.kernelEmitted[kind] ?? 0, sensor.stats.kernelKnown[kind] ?? 0) }
        let bind0 = counts(.bind), listen0 = counts(.listen)
        server.send("\(learned) 20")
        #expect(server.line() == "done")
        let bind1 = counts(.bind), listen1 = counts(.listen)
        #expect(bind1.0 == bind0.0 && listen1.0 == listen0.0, "nothing submitted for the learned port")
        #expect(bind1.1 - bind0.1 == 20 && listen1.1 - listen0.1 == 20, "each counted as known: bind \(bind1.1 - bind0.1), listen \(listen1.1 - listen0.1)")
        server.send("\(other) 1")
        #expect(server.line() == "done")
        #expect(counts(.bind).0 - bind1.0 == 1 && counts(.listen).0 - listen1.0 == 1, "another port arrives")
        #expect(counts(.bind).1 == bind1.1 && counts(.listen).1 == listen1.1)
    }

    /// A judged profile's connects to a unix socket it learned, and to its own sockets (a
    /// loopback self-pipe), stay in the kernel; a unix socket it never used arrives. And a
    /// picked-port listener is known by the profile's port-0 entry.
    @Test func knownUnixConnectsAndSelfPipesStayInTheKernel() throws {
        try BPFTestGate.check()
        let python = "/usr/bin/python3"
        try #require(FileManager.default.isExecutableFile(atPath: python), "this test connects from \(python)")
        let dir = try makeTempDirectory("vigil-unix-known")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let known = dir + "/known.sock", other = dir + "/other.sock"
        // For each line `WHAT n` on stdin: n connects to the unix socket WHAT (known, other),
        // or n UDP self-pipes (self), or n listeners on a port the kernel picks (picked); or
        // `freed 0`: binds a UDP port, closes it and prints it; `udp PORT`: connects there.
        let script = """
            import socket, sys
            servers = {}
            for name, path in (("known", "\(known)"), ("other", "\(other)")):
                s = socket.socket(socket.AF_UNIX)
                s.bind(path)
                s.listen(64)
                servers[name] = (path, s)
            print("ready", flush=True)
            for line in sys.stdin:
                what, n = line.split()
                if what == "freed":
                    f = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); f.bind(("127.0.0.1", 0))
                    port = f.getsockname()[1]; f.close()
                    print(port, flush=True)
                    continue
                if what == "udp":
                    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.connect(("127.0.0.1", int(n))); u.close()
                    print("done", flush=True)
                    continue
                for _ in range(int(n)):
                    if what == "self":
                        a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); a.bind(("127.0.0.1", 0))
                        b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); b.bind(("127.0.0.1", 0))
                        a.connect(b.getsockname()); b.connect(a.getsockname())
                        a.close(); b.close()
                    elif what == "picked":
                        l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(1); l.close()
                    else:
                        path, server = servers[what]
                        c = socket.socket(socket.AF_UNIX); c.connect(path)
                        server.accept()[0].close(); c.close()
                print("done", flush=True)
            """
        let client = try ScriptedProcess(python, ["-c", script])
        defer { client.stop() }
        #expect(client.line() == "ready")
        var o = SensorOptions()
        o.mode = .detect
        o.pid = client.pid
        o.filterKnown = true
        let sensor = try Sensor(options: o)
        try sensor.setSlotMode(27, .monitor)
        try sensor.assignProfile(pid: client.pid, slot: 27)
        try sensor.setEgress(slot: 27, [NetworkDestination(transport: .unix, address: known, port: 0)])
        try sensor.setListens(slot: 27, [ListeningSocket(transport: .tcp, address: "127.0.0.1", port: ListeningSocket.pickedPort)])
        func counts(_ kind: Event.Kind = .connect) -> (submitted: UInt64, known: UInt64) {
            (sensor.stats.kernelEmitted[kind] ?? 0, sensor.stats.kernelKnown[kind] ?? 0)
        }
        func run(_ what: String, _ n: Int) {
            client.send("\(what) \(n)")
            #expect(client.line() == "done", "\(what)")
        }
        let start = counts()
        run("known", 30)
        let afterKnown = counts()
        #expect(afterKnown.submitted == start.submitted, "a learned unix socket puts nothing on the ring buffer")
        #expect(afterKnown.known - start.known == 30, "each counted as known: \(afterKnown.known - start.known)")
        run("self", 10)
        let afterSelf = counts()
        #expect(afterSelf.submitted == afterKnown.submitted, "nor do its own sockets")
        #expect(afterSelf.known - afterKnown.known == 20, "two connects a self-pipe: \(afterSelf.known - afterKnown.known)")
        let listens = counts(.listen)
        run("picked", 5)
        #expect(counts(.listen).submitted == listens.submitted && counts(.listen).known - listens.known == 5,
                "a listener on a port the kernel picks is known by the port-0 entry")
        _ = try drain(sensor)
        run("other", 1)
        let fresh = try drain(sensor).compactMap { e -> Event.Network? in
            if case .network(let n) = e.payload, n.operation == .connect { return n } else { return nil }
        }
        #expect(fresh.count == 1 && fresh.first?.remote?.addressText == other, "an unlearned unix socket arrives: \(fresh)")

        // A port it bound once and closed, held now by someone else (this test): not its own.
        client.send("freed 0")
        let freed = try #require(UInt16(client.line()))
        let holder = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(holder) }
        var addr = loopbackAddress(port: freed)
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(holder, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        try #require(bound == 0, "the test takes the freed port \(freed)")
        run("udp", Int(freed))
        let toFreed = try drain(sensor).compactMap { e -> Event.Network? in
            if case .network(let n) = e.payload, n.operation == .connect, n.remote?.port == freed { return n } else { return nil }
        }
        #expect(toFreed.count == 1 && toFreed.first?.ownSocket == false, "a port it no longer holds is a destination like any other: \(toFreed)")
        #expect(sensor.stats.totalKernelDrops == 0)
    }

    @Test func withoutFilteringEveryConnectArrives() throws {
        try BPFTestGate.check()
        let backend = try LoopbackListener()
        let shell = try Connector()
        defer { shell.stop() }
        var o = SensorOptions()
        o.mode = .detect
        o.pid = shell.pid
        o.filterKnown = false  // --events: the full stream
        let sensor = try Sensor(options: o)
        try sensor.setSlotMode(24, .monitor)
        try sensor.assignProfile(pid: shell.pid, slot: 24)
        try sensor.setEgress(slot: 24, [NetworkDestination(transport: .tcp, address: "127.0.0.1", port: backend.port)])
        shell.connect(backend.port, times: 10)
        #expect(sensor.stats.kernelEmitted[.connect] == 10 && sensor.stats.kernelKnown[.connect] == nil)
    }

    /// `vigil monitor` scoped to a learned service (its own copy of the binary): its calls to
    /// the backend it learned are kept in the kernel and raise nothing; a call to a port it
    /// never used arrives and is a new-destination finding.
    @Test func underMonitorALearnedBackendIsKeptInTheKernelAndANewPortIsAFinding() throws {
        try BPFTestGate.check()
        let backend = try LoopbackListener(), elsewhere = try LoopbackListener()
        let base = try makeTempDirectory("vigil-known-net")
        defer { try? FileManager.default.removeItem(atPath: base) }
        let binary = base + "/svc"
        try FileManager.default.copyItem(atPath: try vigilExecutable().path, toPath: binary)
        let models = base + "/models"
        var service: Process?
        var port: UInt16 = 0
        let ask = SegmentationTests().ask
        let learned = try runVigil(["learn", "--models", models, "--duration", "6", "--only", binary,
                                    "--bucket", "2", "--window", "2", "--min-observed", "4", "--save-interval", "3"]) {
            (service, port) = try startDemoService(binary)
            let end = Date().addingTimeInterval(3.5)
            while Date() < end {
                _ = try ask(port, "CONNECT \(backend.port)")
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
        let svc = try #require(service)
        defer { kill(svc.processIdentifier, SIGKILL); svc.waitUntilExit() }
        #expect(learned.status == 0, "\(learned.err)")
        let findings = base + "/findings.jsonl"
        var replies: [String] = []
        let r = try runVigil(["monitor", "--models", models, "--workload", "exe:" + binary, "--duration", "6", "--output", "file:" + findings]) {
            Thread.sleep(forTimeInterval: 1.5)
            for _ in 0..<30 { replies.append(try ask(port, "CONNECT \(backend.port)")) }
            Thread.sleep(forTimeInterval: 0.5)
            replies.append(try ask(port, "CONNECT \(elsewhere.port)"))
        }
        #expect(r.status == 0, "\(r.err)")
        #expect(replies.allSatisfy { $0 == "OK connected" }, "\(replies)")
        let summary = try #require(r.err.split(separator: "\n").last { $0.contains("records from the kernel") }, "\(r.err)")
        let kept = try #require(summary.firstMatch(of: /known to their profile and kept in the kernel \(([^)]*)\)/)?.1, "\(summary)")
        let connects = kept.split(separator: ", ").first { $0.hasPrefix("connect=") }.flatMap { Int($0.dropFirst(8)) } ?? 0
        #expect(connects >= 30, "the learned backend's connects were counted in the kernel: \(summary)")
        let text = (try? String(contentsOfFile: findings, encoding: .utf8)) ?? ""
        // The service's findings, as written (one OCSF object a line).
        let mine = text.split(separator: "\n").filter { $0.contains("\"class_uid\":2004") && $0.contains("\"pid\":\(svc.processIdentifier),") }
        #expect(mine.contains { $0.contains("\"observed\":\"tcp 127.0.0.1 port \(elsewhere.port)\"") }, "the new port is a finding: \(mine)")
        #expect(!mine.contains { $0.contains("\"observed\":\"tcp 127.0.0.1 port \(backend.port)\"") }, "the learned backend is not: \(mine)")
    }
}

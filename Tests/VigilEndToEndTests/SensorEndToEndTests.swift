import Foundation
import Testing
import VigilTestSupport
import VigilCore
import VigilSensor

/// As root: the real probes, the real kernel. Serialized: each test loads its own sensor.
@Suite(.serialized, .enabled(if: BPFTestGate.shouldRun), .timeLimit(.minutes(2)))
struct SensorEndToEndTests {
    /// Polls until `found` returns true for an event, or the deadline passes.
    func collect(_ sensor: Sensor, seconds: Double = 5, until found: (Event) -> Bool) throws -> [Event] {
        var events: [Event] = []
        var done = false
        let deadline = Date().addingTimeInterval(seconds)
        while !done, Date() < deadline {
            try sensor.poll(timeoutMillis: 50) { e in
                events.append(e)
                if found(e) { done = true }
            }
        }
        try sensor.drain { events.append($0) }
        return events
    }

    @Test func execOfEchoArrivesWithPidPathAndCommandLine() throws {
        try BPFTestGate.check()
        let sensor = try Sensor()
        #expect(sensor.attachedHooks.contains("tp_btf/sched_process_exec"))
        let marker = "vigil-marker-\(UInt32.random(in: 0...UInt32.max))"
        let (pid, status) = try runProgram("/bin/echo", [marker])
        #expect(status == 0)
        let events = try collect(sensor) { e in
            if case .exit = e.payload, e.pid == pid { return true }
            return false
        }
        let execs = events.compactMap { e -> (Event, Event.Exec)? in
            if case .exec(let x) = e.payload, x.argv.contains(marker) { return (e, x) }
            return nil
        }
        let (event, exec) = try #require(execs.first, "no exec event carried the marker")
        #expect(event.pid == pid)
        #expect(exec.path == "/bin/echo")
        #expect(exec.argv == ["/bin/echo", marker])
        #expect(exec.ppid == getpid())
        #expect(event.comm == "echo")
        // The exit of the same process follows, with code 0.
        let exit = events.first { if case .exit = $0.payload { return $0.pid == pid } else { return false } }
        if case .exit(let x)? = exit?.payload { #expect(x.code == 0) } else { Issue.record("no exit event for \(pid)") }
        #expect(sensor.stats.totalKernelDrops == 0)
        #expect(sensor.stats.decoder.undecodable == 0)
    }

    @Test func connectToALocalListenerArrivesWithPidAddressAndPort() throws {
        try BPFTestGate.check()
        let listener = try LoopbackListener()
        let sensor = try Sensor()
        // Vigil never reports itself, so the connect comes from a child: bash's /dev/tcp.
        let (pid, status) = try runProgram("/bin/bash", ["-c", "exec 3<>/dev/tcp/127.0.0.1/\(listener.port)"])
        #expect(status == 0)
        // Only the TCP connect counts: hosts running nscd see bash connect to its unix
        // socket first (a user lookup), which is a real connect but not this test's.
        let events = try collect(sensor) { e in isInetConnect(e, of: pid) }
        let connect = try #require(events.first { isInetConnect($0, of: pid) })
        guard case .network(let n) = connect.payload else { return }
        #expect(n.remote == .ipv4(IPv4Address(127, 0, 0, 1), port: listener.port))
        #expect(n.result == 0)
        #expect(n.transport == .tcp)
        #expect(n.local?.addressText == "127.0.0.1")
        #expect(n.local?.port != 0)
        #expect(connect.comm == "bash")
    }

    @Test func failedConnectCarriesTheError() throws {
        try BPFTestGate.check()
        let sensor = try Sensor()
        // Port 1 on loopback: nothing listens, the kernel answers ECONNREFUSED.
        let (pid, _) = try runProgram("/bin/bash", ["-c", "exec 3<>/dev/tcp/127.0.0.1/1"])
        let events = try collect(sensor) { e in isInetConnect(e, of: pid) }
        let n = events.compactMap { e -> Event.Network? in
            if case .network(let n) = e.payload, isInetConnect(e, of: pid) { return n }
            return nil
        }.first
        #expect(n?.result == -111)
        #expect(n?.remote?.port == 1)
    }

    @Test func listenAndAcceptOfAChildServer() throws {
        try BPFTestGate.check()
        let sensor = try Sensor()
        // A tiny server in a child process: python3 listens on an ephemeral port, prints it,
        // accepts one connection from itself.
        let script = """
        import socket
        s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
        c = socket.create_connection(s.getsockname()); a, _ = s.accept(); print(s.getsockname()[1])
        """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        p.waitUntilExit()
        let port = UInt16(String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines))
        let pid = p.processIdentifier
        let events = try collect(sensor) { e in
            if case .network(let n) = e.payload, n.operation == .accept, e.pid == pid { return true }
            return false
        }
        let ops = events.filter { $0.pid == pid }.compactMap { e -> Event.Network? in
            if case .network(let n) = e.payload { return n }
            return nil
        }
        let listen = ops.first { $0.operation == .listen }
        #expect(listen?.local?.port == port)
        let accepted = ops.first { $0.operation == .accept }
        #expect(accepted?.local?.port == port)
        #expect(accepted?.remote?.addressText == "127.0.0.1")
        #expect((accepted?.result ?? -1) >= 0)
        #expect(ops.contains { $0.operation == .bind && $0.local?.port == 0 })
    }

    @Test func forkAndSyscallsOfAFilteredProcess() throws {
        try BPFTestGate.check()
        var options = SensorOptions()
        options.syscalls = true
        options.comm = "sleep"
        let sensor = try Sensor(options: options)
        #expect(sensor.attachedHooks.contains("tp_btf/sys_enter"))
        let (pid, _) = try runProgram("/bin/sleep", ["0.05"])
        let events = try collect(sensor) { e in
            if case .exit = e.payload, e.pid == pid { return true }
            return false
        }
        #expect(!events.isEmpty)
        #expect(events.allSatisfy { $0.comm == "sleep" }, "the comm filter lets only sleep through")
        let syscalls = events.filter { $0.kind == .syscall && $0.pid == pid }
        #expect(syscalls.count > 10)
        // nanosleep (35) or clock_nanosleep (230) on x86_64.
        #expect(syscalls.contains { if case .syscall(let s) = $0.payload { return s.number == 35 || s.number == 230 } else { return false } })
    }

    @Test func learnAndDetectTakeEveryCallsEntryInSysEnterAndAttachNoEnterTracepoint() throws {
        try BPFTestGate.check()
        for mode in [SensorMode.learn, .detect] {
            var options = SensorOptions()
            options.mode = mode
            let sensor = try Sensor(options: options)
            // While any syscalls:sys_enter_* tracepoint is attached the kernel tests every
            // syscall against them: sys_enter, loaded anyway, takes their work.
            #expect(sensor.attachedHooks.contains("tp_btf/sys_enter"))
            let enters = sensor.attachedHooks.filter { $0.hasPrefix("tracepoint/syscalls/sys_enter_") }
            #expect(enters.isEmpty, "\(mode): \(enters)")
            #expect(sensor.attachedHooks.contains("tracepoint/syscalls/sys_exit_openat"))
            #expect(sensor.attachedHooks.contains("tracepoint/syscalls/sys_exit_renameat2"))
        }
        // Without sys_enter (trace --files), the file calls keep their own enter tracepoints.
        var trace = SensorOptions()
        trace.files = true
        let sensor = try Sensor(options: trace)
        #expect(!sensor.attachedHooks.contains("tp_btf/sys_enter"))
        #expect(sensor.attachedHooks.contains("tracepoint/syscalls/sys_enter_mmap"))
        #expect(sensor.attachedHooks.contains("tracepoint/syscalls/sys_enter_renameat2"))
    }

    @Test func withoutSyscallsNoSyscallEventsArrive() throws {
        try BPFTestGate.check()
        let sensor = try Sensor()
        // Without the syscall stream nothing runs on every syscall: network calls have
        // their own tracepoints.
        #expect(!sensor.attachedHooks.contains("tp_btf/sys_enter"))
        #expect(!sensor.attachedHooks.contains("tp_btf/sys_exit"))
        #expect(sensor.attachedHooks.contains("tracepoint/syscalls/sys_exit_connect"))
        let (pid, _) = try runProgram("/bin/true", [])
        let events = try collect(sensor) { e in
            if case .exit = e.payload, e.pid == pid { return true }
            return false
        }
        #expect(events.contains { $0.pid == pid })
        #expect(!events.contains { $0.kind == .syscall })
        #expect(sensor.stats.kernelEmitted[.syscall] == nil)
    }

    @Test func aDamagedOrForeignObjectIsRefusedWithAClearMessage() throws {
        try BPFTestGate.check()
        var o = SensorOptions()
        o.objectPath = "/etc/hostname"
        do {
            _ = try Sensor(options: o)
            Issue.record("a file that is not a BPF object was accepted")
        } catch {
            #expect(error.problem.contains("cannot open the BPF object"))
            #expect(!error.remedy.isEmpty)
        }
        o.objectPath = "/nonexistent/vigil.bpf.o"
        #expect(throws: SensorError.self) { try Sensor(options: o) }
    }
}

/// A connect by `pid` to an IPv4 or IPv6 address (not a unix socket).
private func isInetConnect(_ e: Event, of pid: Int32) -> Bool {
    guard e.pid == pid, case .network(let n) = e.payload, n.operation == .connect else { return false }
    switch n.remote {
    case .ipv4?, .ipv6?: return true
    default: return false
    }
}

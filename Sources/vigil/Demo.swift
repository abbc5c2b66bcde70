import ArgumentParser
import Foundation
import VigilCore
import VigilSensor

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show Vigil at work on a built-in workload (needs root).",
        discussion: """
        Starts the sensor, runs a small built-in TCP service and a client against it, \
        and shows what the kernel reported about them: the programs started, the \
        listening port, the connection, each with its process. Nothing on the host is changed.
        """
    )

    @Flag(help: "Print the events as OCSF JSON lines instead of the readable summary.")
    var json = false

    func run() throws {
        let sensor: Sensor
        do {
            sensor = try Sensor()
        } catch {
            Diagnostics.error(error.description)
            throw ExitCode.failure
        }
        for note in sensor.notices { Diagnostics.warning(note) }
        var table = ProcessTable(seed: ProcScanner.snapshot(nowNanos: Clock.nowNanos()))
        var events: [Event] = []
        let poll = { (ms: Int32) throws in _ = try sensor.poll(timeoutMillis: ms) { e in table.apply(e); events.append(e) } }

        say("Vigil demo: the sensor is attached (\(sensor.attachedHooks.count) probes). Running a built-in workload...")
        let workload = try DemoWorkload.start()
        defer { workload.stop() }
        try workload.request("GET hostname")
        try workload.request("GET os-release")
        let echo = try DemoWorkload.spawn("/bin/echo", ["vigil-demo-marker"])
        echo.waitUntilExit()
        let deadline = Date().addingTimeInterval(1.0)
        while Date() < deadline { try poll(50) }
        try sensor.drain { e in table.apply(e); events.append(e) }

        let mine = Set(workload.pids + [echo.processIdentifier])
        let relevant = events.filter { mine.contains($0.pid) || isChild(of: mine, $0, table) }
        let formatter = EventFormatter(format: json ? .json : .text)
        say("")
        say("What the kernel reported about the workload (\(relevant.count) of \(events.count) events on this host):")
        for e in relevant where e.kind != .fork {
            if let line = formatter.format(e, process: table[e.pid], table: table) { say("  " + line) }
        }
        let stats = sensor.stats
        say("")
        say("Dropped in the kernel: \(stats.totalKernelDrops). Undecodable records: \(stats.decoder.undecodable).")
        say("Next: `vigil trace --duration 10` streams every process on this host as OCSF JSON lines.")
    }

    private func isChild(of pids: Set<Int32>, _ e: Event, _ table: ProcessTable) -> Bool {
        table.ancestry(of: e.pid, limit: 4).contains { pids.contains($0.pid) }
    }

    private func say(_ s: String) { Console.line(s) }
}

/// The demo's workload: `vigil demo-service` on a loopback port, and clients that talk to
/// it through bash's /dev/tcp (separate processes, so the sensor sees them; Vigil never
/// reports its own process).
final class DemoWorkload {
    let service: Process
    let port: UInt16
    private(set) var pids: [Int32]

    private init(service: Process, port: UInt16) {
        self.service = service
        self.port = port
        pids = [service.processIdentifier]
    }

    static func start(vulnerable: Bool = false) throws -> DemoWorkload {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        p.arguments = ["demo-service"] + (vulnerable ? ["--vulnerable"] : [])
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        // The service prints its port on its first line.
        var line = Data()
        while !line.contains(0x0A) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        guard let port = UInt16(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            p.terminate()
            throw ServiceError("the demo service did not start")
        }
        return DemoWorkload(service: p, port: port)
    }

    /// Sends one request line from a separate client process and waits for it.
    @discardableResult
    func request(_ line: String) throws -> Int32 {
        let client = try Self.spawn("/bin/bash", ["-c", "exec 3<>/dev/tcp/127.0.0.1/\(port); printf '%s\\n' \"$1\" >&3; head -c 200 <&3 >/dev/null", "client", line])
        client.waitUntilExit()
        pids.append(client.processIdentifier)
        return client.terminationStatus
    }

    static func spawn(_ path: String, _ args: [String]) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }

    func stop() {
        if service.isRunning {
            service.terminate()
            service.waitUntilExit()
        }
    }
}

import ArgumentParser
import Foundation
import VigilAgent
import VigilCore
import VigilSensor

/// The demo's workload: `acme-notes` on a loopback port, and clients that talk to
/// it through bash's /dev/tcp (separate processes, so the sensor sees them; Vigil never
/// reports its own process).
final class DemoWorkload {
    let service: Process
    let port: UInt16

    private init(service: Process, port: UInt16) {
        self.service = service
        self.port = port
    }

    /// The service program: `acme-notes`, built beside `vigil`; `vigil demo-service` when it
    /// is missing (a vigil installed without it).
    static let program: (path: String, arguments: [String]) = {
        let vigil = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let acme = vigil.deletingLastPathComponent().appendingPathComponent("acme-notes").path
        return FileManager.default.isExecutableFile(atPath: acme) ? (acme, []) : (vigil.path, ["demo-service"])
    }()

    static func start(vulnerable: Bool = false) throws -> DemoWorkload {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: program.path)
        p.arguments = program.arguments + (vulnerable ? ["--vulnerable"] : [])
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

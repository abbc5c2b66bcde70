import Foundation
import Testing

/// Decides whether tests that load eBPF programs run. Without root or kernel BTF they are
/// skipped, unless VIGIL_REQUIRE_BPF=1 (as in CI), where they run and fail loudly instead.
enum BPFTestGate {
    static var required: Bool { ProcessInfo.processInfo.environment["VIGIL_REQUIRE_BPF"] == "1" }
    static var available: Bool { geteuid() == 0 && FileManager.default.fileExists(atPath: "/sys/kernel/btf/vmlinux") }
    static var shouldRun: Bool { available || required }

    /// Call first in every eBPF test: records a failure when eBPF is required but missing.
    static func check() throws {
        if !available {
            Issue.record("eBPF is required (VIGIL_REQUIRE_BPF=1) but unavailable: need root and /sys/kernel/btf/vmlinux (euid \(geteuid()))")
            throw CancellationError()
        }
    }
}

/// Runs a program and waits for it; returns its pid and exit status.
@discardableResult
func runProgram(_ path: String, _ args: [String]) throws -> (pid: Int32, status: Int32) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    try p.run()
    let pid = p.processIdentifier
    p.waitUntilExit()
    return (pid, p.terminationStatus)
}


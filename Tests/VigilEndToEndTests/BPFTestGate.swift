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

/// A TCP listener on 127.0.0.1 with a kernel-chosen port, accepting in the background.
final class LoopbackListener: @unchecked Sendable {
    let fd: Int32
    let port: UInt16
    private let counter = Counter()

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var n = 0
        func add() { lock.lock(); n += 1; lock.unlock() }
        var value: Int { lock.lock(); defer { lock.unlock() }; return n }
    }

    /// Connections accepted so far.
    var accepted: Int { counter.value }

    init() throws {
        let sock = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        fd = sock
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(sock, $0, len) == 0 && listen(sock, 16) == 0 && getsockname(sock, $0, &len) == 0
            }
        }
        guard ok else { throw POSIXError(.EADDRNOTAVAIL) }
        port = UInt16(bigEndian: addr.sin_port)
        let counter = self.counter
        Thread.detachNewThread {
            while true {
                let c = accept(sock, nil, nil)
                if c < 0 { return }
                counter.add()
                close(c)
            }
        }
    }

    deinit { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }
}

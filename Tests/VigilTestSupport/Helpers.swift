public import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Polls `condition` until it holds or `seconds` pass (for threads the test does not own).
public func waitFor(_ seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        usleep(10_000)
    }
    return try condition()
}

/// A fresh temporary directory (`PREFIX-UUID`), removed by the caller.
public func makeTempDirectory(_ prefix: String = "vigil-test") throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// 127.0.0.1:`port` as an IPv4 socket address (port 0: the kernel picks a free one at bind).
public func loopbackAddress(port: UInt16 = 0) -> sockaddr_in {
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = port.bigEndian
    addr.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
    return addr
}

/// Writes `text` to `path` (mode 0600 by default: test files are nobody else's business).
public func writeFile(_ text: String, to path: String, mode: mode_t = 0o600) throws {
    try text.write(toFile: path, atomically: false, encoding: .utf8)
    chmod(path, mode)
}

/// A loopback port nothing listens on now (bound, read, released).
public func freeLoopbackPort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = loopbackAddress(port: 0)
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
    }
    guard ok else { throw POSIXError(.EADDRNOTAVAIL) }
    return UInt16(bigEndian: addr.sin_port)
}

/// The first of `count` consecutive TCP ports a test's service may bind on any address for
/// the test's length: each free now (bound on 0.0.0.0 and released), and all below the
/// kernel's ephemeral range (`ip_local_port_range`), so no connection's local port can take
/// one meanwhile (a port picked inside that range once met a client socket in TIME_WAIT).
/// Where the search starts depends on the process id, so concurrent runs pick apart.
public func stablePorts(_ count: Int) throws -> UInt16 {
    let range = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
    let ephemeralLow = range.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first.flatMap { Int($0) } ?? 32_768
    let low = 20_000, high = ephemeralLow - count  // candidates: low ..< high
    guard high > low else { throw POSIXError(.EADDRNOTAVAIL) }
    func bindable(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = loopbackAddress(port: UInt16(port))
        addr.sin_addr.s_addr = 0  // INADDR_ANY: clashes with a socket on any address
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
    let start = Int(getpid()) % (high - low)
    for i in 0..<(high - low) {
        let first = low + (start + i) % (high - low)
        if (first..<(first + count)).allSatisfy(bindable) { return UInt16(first) }
    }
    throw POSIXError(.EADDRNOTAVAIL)
}

/// A fresh temporary file holding `text` (`vigil-UUID.EXT`), removed by the caller.
public func makeTempFile(_ text: String, extension ext: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-\(UUID().uuidString).\(ext)").path
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    return path
}

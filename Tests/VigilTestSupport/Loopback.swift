import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A TCP listener on 127.0.0.1 with a kernel-chosen port, accepting in the background.
public final class LoopbackListener: @unchecked Sendable {
    public let fd: Int32
    public let port: UInt16
    private let counter = Counter()

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var n = 0
        func add() { lock.lock(); n += 1; lock.unlock() }
        var value: Int { lock.lock(); defer { lock.unlock() }; return n }
    }

    /// Connections accepted so far.
    public var accepted: Int { counter.value }

    public init() throws {
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
        let counter = self.counter, exited = self.exited
        Thread.detachNewThread {
            defer { exited.signal() }
            while true {
                let c = accept(sock, nil, nil)
                if c < 0 { return }
                counter.add()
                close(c)
            }
        }
    }

    /// Signalled when the accept thread is done with `fd`.
    private let exited = DispatchSemaphore(value: 0)

    // Shut down to wake the accept thread, and close only once it is done: closed while it
    // still accepted, the number could be another test's socket by its next accept.
    deinit { shutdown(fd, Int32(SHUT_RDWR)); exited.wait(); close(fd) }
}

/// A raw TCP client on loopback (e.g. for the metrics endpoint): sends exactly the given bytes.
public final class RawClient {
    public let fd: Int32

    public init(port: UInt16) throws {
        // The socket is `fd` only once connected: were it stored first, a failed connect
        // would close it here and `deinit` would close the same number again, perhaps by
        // then another test's file (tests share the process).
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = loopbackAddress(port: port)
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else { close(s); throw POSIXError(.ECONNREFUSED) }
        fd = s
    }

    deinit { close(fd) }

    public func send(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Whether anything (or the end of the stream) has arrived, without waiting.
    public var hasData: Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, 0) == 1
    }

    /// Everything until the server closes (or 5 s pass).
    public func readAll() -> String {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            out += buf[..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func exchange(port: UInt16, _ request: String) throws -> String {
        let c = try RawClient(port: port)
        c.send(request)
        return c.readAll()
    }
}

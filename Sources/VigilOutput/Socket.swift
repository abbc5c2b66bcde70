#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed system call, with its errno.
struct SystemError: Error, CustomStringConvertible {
    var call: String
    var code: Int32
    var description: String { "\(call): \(String(cString: strerror(code))) (errno \(code))" }
}

/// A byte stream to a receiver: plain TCP, or TLS over TCP.
protocol ByteStream: AnyObject {
    /// Writes all of `bytes` or throws.
    func write(_ bytes: [UInt8]) throws
    /// Reads what is available, at most `max` bytes; empty at end of stream.
    func read(max: Int) throws -> [UInt8]
    /// True when the peer has closed or reset the connection (checked without blocking).
    /// Sending into a connection the peer already closed "succeeds" into the kernel buffer
    /// and is then lost, so sinks without acknowledgements check this before each batch.
    func peerHasClosed() -> Bool
    func close()
}

/// A connected, blocking socket with send and receive timeouts. Owned by one sink thread.
final class Socket: ByteStream {
    private(set) var fd: Int32

    private init(fd: Int32) { self.fd = fd }
    deinit { close() }

    /// Connects to `host:port` (TCP or UDP), trying each address the name resolves to.
    static func connect(host: String, port: UInt16, udp: Bool = false, timeoutSeconds: Int = 5) throws -> Socket {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(udp ? SOCK_DGRAM.rawValue : SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = udp ? SOCK_DGRAM : SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            throw SystemError(call: "getaddrinfo(\(host)): \(String(cString: gai_strerror(rc)))", code: 0)
        }
        defer { freeaddrinfo(first) }
        var lastError = SystemError(call: "connect(\(host):\(port))", code: ECONNREFUSED)
        var ai: UnsafeMutablePointer<addrinfo>? = first
        while let a = ai {
            ai = a.pointee.ai_next
            let fd = socket(a.pointee.ai_family, a.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), a.pointee.ai_protocol)
            guard fd >= 0 else { lastError = SystemError(call: "socket", code: errno); continue }
            let s = Socket(fd: fd)
            // Non-blocking connect so a black-holed receiver costs a bounded wait, not the
            // kernel's minutes of SYN retries.
            let flags = fcntl(fd, F_GETFL)
            _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
            var r = Glibc.connect(fd, a.pointee.ai_addr, a.pointee.ai_addrlen)
            if r != 0 && errno == EINPROGRESS {
                var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                r = poll(&p, 1, Int32(timeoutSeconds * 1000))
                if r == 1 {
                    var err: Int32 = 0
                    var len = socklen_t(MemoryLayout<Int32>.size)
                    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
                    r = err == 0 ? 0 : -1
                    if err != 0 { errno = err }
                } else {
                    if r == 0 { errno = ETIMEDOUT }
                    r = -1
                }
            }
            guard r == 0 else { lastError = SystemError(call: "connect(\(host):\(port))", code: errno); continue }
            _ = fcntl(fd, F_SETFL, flags)
            var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            var one: Int32 = 1
            if !udp { setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size)) }
            return s
        }
        throw lastError
    }

    func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { buf in
            var off = 0
            while off < buf.count {
                let n = send(fd, buf.baseAddress! + off, buf.count - off, Int32(MSG_NOSIGNAL))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw SystemError(call: "send", code: errno)
                }
                off += n
            }
        }
    }

    /// Sends one datagram (UDP): all or nothing.
    func sendDatagram(_ bytes: [UInt8]) throws {
        let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if n < 0 { throw SystemError(call: "send", code: errno) }
    }

    func read(max: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: max)
        while true {
            let n = out.withUnsafeMutableBytes { recv(fd, $0.baseAddress, max, 0) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError(call: "recv", code: errno)
            }
            out.removeLast(max - n)
            return out
        }
    }

    func peerHasClosed() -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, 0) == 1 else { return false }
        if p.revents & Int16(POLLERR | POLLHUP) != 0 { return true }
        var b: UInt8 = 0
        let n = recv(fd, &b, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        // Readable with 0 bytes is an orderly close; an error other than "would block" is a reset.
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    }

    /// Bytes written that the peer's TCP has not acknowledged yet (SIOCOUTQ); nil if unknown.
    var unsentBytes: Int? {
        var n: Int32 = 0
        return ioctl(fd, UInt(TIOCOUTQ), &n) == 0 ? Int(n) : nil
    }

    func close() {
        if fd >= 0 {
            _ = Glibc.close(fd)
            fd = -1
        }
    }
}

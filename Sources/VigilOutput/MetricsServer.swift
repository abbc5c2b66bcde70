import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Why the metrics endpoint cannot listen (or be reached), naming the address.
public struct MetricsServerError: Error, CustomStringConvertible, Sendable {
    /// The address as the configuration gave it.
    public var address: String
    public var reason: String

    public init(address: String, reason: String) {
        self.address = address
        self.reason = reason
    }

    public var description: String { "metrics address '\(address)': \(reason)" }
}

/// A `HOST:PORT` as the metrics settings take it: `127.0.0.1:9464`, `[::1]:9464`,
/// `localhost:9464`, or `:9464` for every interface.
struct MetricsAddress: Equatable {
    /// nil: every interface (listening) or loopback (connecting).
    var host: String?
    var port: UInt16

    static let usage = "expected HOST:PORT, [IPV6]:PORT or :PORT (every interface), e.g. 127.0.0.1:9464"

    static func parse(_ text: String) throws(MetricsServerError) -> MetricsAddress {
        let t = text.trimmingSpaces
        var host: String
        var portText: String
        if t.hasPrefix("[") {
            guard let close = t.firstIndex(of: "]") else {
                throw MetricsServerError(address: text, reason: "the IPv6 address has no closing ']'; \(usage)")
            }
            host = String(t[t.index(after: t.startIndex)..<close])
            let rest = t[t.index(after: close)...]
            guard rest.hasPrefix(":") else { throw MetricsServerError(address: text, reason: "no port after the IPv6 address; \(usage)") }
            portText = String(rest.dropFirst())
            guard !host.isEmpty else { throw MetricsServerError(address: text, reason: "empty IPv6 address in brackets; \(usage)") }
        } else {
            guard let colon = t.lastIndex(of: ":") else { throw MetricsServerError(address: text, reason: "no port; \(usage)") }
            host = String(t[..<colon])
            portText = String(t[t.index(after: colon)...])
            if host.contains(":") {
                throw MetricsServerError(address: text, reason: "an IPv6 address needs brackets; \(usage)")
            }
        }
        guard !portText.isEmpty, portText.allSatisfy({ $0.isASCII && $0.isNumber }), let port = UInt16(portText) else {
            throw MetricsServerError(address: text, reason: "'\(portText)' is not a port (0-65535); \(usage)")
        }
        if host.contains(where: { $0 == " " || $0 == "/" }) {
            throw MetricsServerError(address: text, reason: "'\(host)' is not a host name or address; \(usage)")
        }
        return MetricsAddress(host: host.isEmpty ? nil : host, port: port)
    }
}

/// The Prometheus endpoint: serves the latest metrics over HTTP/1.1 from a background
/// thread.
///
/// - `GET /metrics` (or `HEAD`): 200, the text of the last `update`, `Content-Type:
///   text/plain; version=0.0.4; charset=utf-8`.
/// - `GET /healthz` (or `HEAD`): 200 with a small JSON body while the agent loop runs and
///   its outputs deliver, 503 with the reason otherwise (``ServiceHealth``), judged when asked.
/// - `GET /`: a one-line pointer to `/metrics`. Other paths: 404. Other methods: 405.
/// - A malformed request, or headers over 8 KiB: 400. A client that has not sent its whole
///   request within 2 s: 408. Every response closes the connection.
///
/// Each connection is served on its own short-lived thread (at most 8 at once; more are
/// closed at once), so a stalled client delays nobody: neither other scrapers nor the
/// agent calling `update`, which only swaps the rendered text under a lock that is never
/// held during I/O. Writes never raise SIGPIPE.
///
/// Listen addresses: `127.0.0.1:9464`, `[::1]:9464`, `localhost:9464` (the first address
/// the name resolves to, IPv4 preferred), or `:9464`, which means *every interface*, IPv4 and
/// IPv6: expose it only on a trusted network, since metrics reveal what runs on the host.
/// Port 0 lets the kernel pick one; `port` tells which.
public final class MetricsServer: @unchecked Sendable {
    /// The address as given.
    public let address: String
    /// The port actually listened on.
    public let port: UInt16
    /// Where to read it: the address with the port listened on (`:0` in ``address``
    /// becomes the port the kernel picked), e.g. `127.0.0.1:9464`, `[::1]:9464`, `:9464`.
    public let boundAddress: String

    /// Throws, naming what is wrong, unless `text` is an address ``init(listen:clock:)`` takes.
    public static func validate(_ text: String) throws(MetricsServerError) { _ = try MetricsAddress.parse(text) }

    static let maxHeaderBytes = 8 * 1024
    static let requestTimeoutMillis: Int32 = 2000
    static let maxConnections = 8

    private let shared: Shared
    private let clock: any OutputClock
    private let listenFD: Int32
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let finished = DispatchSemaphore(value: 0)
    private let stopLock = NSLock()
    private var stopped = false

    /// What the accept thread and connection threads share with `update`.
    final class Shared: @unchecked Sendable {
        let lock = NSLock()
        var body: [UInt8] = []
        var active = 0
        var health: ServiceHealth
        init(startedNanos: UInt64) { health = ServiceHealth(startedNanos: startedNanos) }
    }

    /// Starts listening and serving. Throws when the address is malformed, cannot be
    /// resolved, or cannot be bound (in use, not local, privileged port).
    /// Connections being served now (tests wait on it instead of sleeping).
    var activeConnections: Int { shared.lock.withLock { shared.active } }

    /// - Parameter clock: measures the 2 s request timeout (a test clock makes it exact).
    public init(listen: String, clock: any OutputClock = SystemOutputClock.shared) throws(MetricsServerError) {
        address = listen
        self.clock = clock
        shared = Shared(startedNanos: clock.monotonicNanos())
        let parsed = try MetricsAddress.parse(listen)
        let fd = try Self.bindListener(parsed, text: listen)
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        let family = Int32(storage.ss_family)
        let bound: UInt16 = withUnsafePointer(to: &storage) { p in
            if family == AF_INET6 {
                return p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) }
            }
            return p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
        }
        port = bound
        let host = parsed.host.map { $0.contains(":") ? "[\($0)]" : $0 } ?? ""
        boundAddress = "\(host):\(bound)"
        var pipeFDs: [Int32] = [-1, -1]
        guard pipe(&pipeFDs) == 0 else {
            let e = errno
            _ = Glibc.close(fd)
            throw MetricsServerError(address: listen, reason: "cannot create the wake-up pipe: \(String(cString: strerror(e)))")
        }
        for p in pipeFDs { _ = fcntl(p, F_SETFD, FD_CLOEXEC) }
        listenFD = fd
        wakeRead = pipeFDs[0]
        wakeWrite = pipeFDs[1]
        let thread = Thread { [shared, listenFD, wakeRead, finished] in
            Self.acceptLoop(listenFD: listenFD, wakeFD: wakeRead, shared: shared, clock: clock)
            finished.signal()
        }
        thread.name = "vigil-metrics"
        thread.start()
    }

    deinit { stop() }

    /// Replaces what `GET /metrics` serves. Renders before taking the lock; never waits
    /// for a client.
    public func update(_ families: [MetricFamily]) {
        let text = Array(PrometheusText.render(families).utf8)
        shared.lock.lock()
        shared.body = text
        shared.lock.unlock()
    }

    /// The agent loop passed now, with these outputs failing: what `/healthz` judges.
    public func noteLoop(failingOutputs: [String]) {
        let now = clock.monotonicNanos()
        shared.lock.withLock { shared.health.noteLoop(atNanos: now, failingOutputs: failingOutputs) }
    }

    /// Stops listening and waits for the accept thread. Connections being served finish on
    /// their own (within their 2 s timeouts). Safe to call more than once.
    public func stop() {
        stopLock.lock()
        defer { stopLock.unlock() }
        guard !stopped else { return }
        stopped = true
        var b: UInt8 = 1
        _ = Glibc.write(wakeWrite, &b, 1)
        finished.wait()
        _ = Glibc.close(listenFD)
        _ = Glibc.close(wakeRead)
        _ = Glibc.close(wakeWrite)
    }

    // MARK: Listening

    private static func bindListener(_ a: MetricsAddress, text: String) throws(MetricsServerError) -> Int32 {
        var candidates: [(family: Int32, addr: [UInt8])] = []
        if let host = a.host {
            var hints = addrinfo()
            hints.ai_family = AF_UNSPEC
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
            var list: UnsafeMutablePointer<addrinfo>?
            let rc = getaddrinfo(host, String(a.port), &hints, &list)
            guard rc == 0, let first = list else {
                throw MetricsServerError(address: text, reason: "cannot resolve '\(host)': \(String(cString: gai_strerror(rc)))")
            }
            defer { freeaddrinfo(first) }
            var ai: UnsafeMutablePointer<addrinfo>? = first
            while let p = ai {
                ai = p.pointee.ai_next
                let bytes = Array(UnsafeRawBufferPointer(start: p.pointee.ai_addr, count: Int(p.pointee.ai_addrlen)))
                candidates.append((p.pointee.ai_family, bytes))
            }
            // IPv4 first: `vigil status` and most scrapers try 127.0.0.1 for "localhost".
            candidates.sort { $0.family == AF_INET && $1.family != AF_INET }
        } else {
            var six = sockaddr_in6()
            six.sin6_family = sa_family_t(AF_INET6)
            six.sin6_port = a.port.bigEndian
            six.sin6_addr = in6addr_any
            candidates.append((AF_INET6, withUnsafeBytes(of: &six) { Array($0) }))
            var four = sockaddr_in()
            four.sin_family = sa_family_t(AF_INET)
            four.sin_port = a.port.bigEndian
            four.sin_addr.s_addr = INADDR_ANY
            candidates.append((AF_INET, withUnsafeBytes(of: &four) { Array($0) }))
        }
        var lastErrno: Int32 = EADDRNOTAVAIL
        for c in candidates {
            let fd = socket(c.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            if fd < 0 { lastErrno = errno; continue }
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            if c.family == AF_INET6 && a.host == nil {
                var zero: Int32 = 0  // dual stack: IPv4 clients too
                setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &zero, socklen_t(MemoryLayout<Int32>.size))
            }
            let ok = c.addr.withUnsafeBytes { buf in
                bind(fd, buf.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(buf.count)) == 0
            } && listen(fd, 16) == 0
            if ok { return fd }
            lastErrno = errno
            _ = Glibc.close(fd)
            // Every interface and dual stack refused (IPv6 disabled): the IPv4 wildcard is next.
        }
        let reason = switch lastErrno {
        case EADDRINUSE: "port \(a.port) is already in use (another vigil or exporter listens there); stop it or choose another port for metrics.listen"
        case EADDRNOTAVAIL: "not an address of this host; use 127.0.0.1, ::1, or one of this host's addresses"
        case EACCES: "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
        default: "cannot listen: \(String(cString: strerror(lastErrno))) (errno \(lastErrno))"
        }
        throw MetricsServerError(address: text, reason: reason)
    }

    private static func acceptLoop(listenFD: Int32, wakeFD: Int32, shared: Shared, clock: any OutputClock) {
        while true {
            var fds = [pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)]
            let r = poll(&fds, 2, -1)
            if r < 0 {
                if errno == EINTR { continue }
                return
            }
            if fds[1].revents != 0 { return }
            guard fds[0].revents & Int16(POLLIN) != 0 else { continue }
            let c = accept(listenFD, nil, nil)
            if c >= 0 {
                // Not inherited from the listener: blocking I/O (with timeouts), no leaks into children.
                _ = fcntl(c, F_SETFD, FD_CLOEXEC)
                _ = fcntl(c, F_SETFL, fcntl(c, F_GETFL) & ~O_NONBLOCK)
            }
            if c < 0 {
                // Out of descriptors: back off rather than spin; anything else (a peer that
                // reset before accept) is the next poll's business.
                if errno == EMFILE || errno == ENFILE { usleep(100_000) }
                continue
            }
            // The request must arrive within the timeout of being accepted.
            let deadline = clock.deadline(after: Double(requestTimeoutMillis) / 1000)
            shared.lock.lock()
            let admit = shared.active < maxConnections
            if admit { shared.active += 1 }
            shared.lock.unlock()
            guard admit else { _ = Glibc.close(c); continue }
            Thread.detachNewThread {
                serve(c, shared: shared, clock: clock, deadline: deadline)
                _ = Glibc.close(c)
                shared.lock.lock()
                shared.active -= 1
                shared.lock.unlock()
            }
        }
    }

    // MARK: One connection

    /// What a request asks for, or the error status it earns.
    enum Route: Equatable {
        case metrics(headOnly: Bool)
        case health(headOnly: Bool)
        case index(headOnly: Bool)
        case error(status: Int, message: String)
    }

    /// Routes a request head (everything before the blank line).
    static func route(_ head: [UInt8]) -> Route {
        let lineEnd = head.firstIndex(of: 0x0A) ?? head.count
        var lineBytes = head[..<lineEnd]
        if lineBytes.last == 0x0D { lineBytes = lineBytes.dropLast() }
        guard lineBytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else {
            return .error(status: 400, message: "the request line is not printable ASCII")
        }
        let parts = String(decoding: lineBytes, as: UTF8.self).split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, parts[0].allSatisfy({ $0.isUppercase && $0.isASCII }),
              parts[1].hasPrefix("/"), parts[2].hasPrefix("HTTP/1.") else {
            return .error(status: 400, message: "expected a request line like 'GET /metrics HTTP/1.1'")
        }
        let method = parts[0]
        let path = parts[1].split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0]
        let isGet = method == "GET" || method == "HEAD"
        switch path {
        case "/metrics": return isGet ? .metrics(headOnly: method == "HEAD") : .error(status: 405, message: "only GET and HEAD are allowed")
        case "/healthz": return isGet ? .health(headOnly: method == "HEAD") : .error(status: 405, message: "only GET and HEAD are allowed")
        case "/": return isGet ? .index(headOnly: method == "HEAD") : .error(status: 405, message: "only GET and HEAD are allowed")
        default: return .error(status: 404, message: "not found; metrics are at /metrics, health at /healthz")
        }
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 400: "Bad Request"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 503: "Service Unavailable"
        default: "Error"
        }
    }

    static func response(status: Int, contentType: String, body: [UInt8], headOnly: Bool) -> [UInt8] {
        var head = "HTTP/1.1 \(status) \(reason(status))\r\n"
        head += "Content-Type: \(contentType)\r\n"
        head += "Content-Length: \(body.count)\r\n"
        if status == 405 { head += "Allow: GET, HEAD\r\n" }
        head += "Connection: close\r\n\r\n"
        return Array(head.utf8) + (headOnly ? [] : body)
    }

    private static func serve(_ fd: Int32, shared: Shared, clock: any OutputClock, deadline: UInt64) {
        var tv = timeval(tv_sec: Int(requestTimeoutMillis / 1000), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let reply: [UInt8]
        switch readHead(fd, clock: clock, deadline: deadline) {
        case .closed:
            return
        case .timedOut:
            reply = response(status: 408, contentType: "text/plain; charset=utf-8", body: Array("request not received within 2 s\n".utf8), headOnly: false)
        case .tooLarge:
            reply = response(status: 400, contentType: "text/plain; charset=utf-8", body: Array("request headers exceed 8 KiB\n".utf8), headOnly: false)
        case .head(let head):
            switch route(head) {
            case .metrics(let headOnly):
                shared.lock.lock()
                let body = shared.body  // copy-on-write: no bytes copied under the lock
                shared.lock.unlock()
                reply = response(status: 200, contentType: PrometheusText.contentType, body: body, headOnly: headOnly)
            case .health(let headOnly):
                let health = shared.lock.withLock { shared.health }
                let (status, body) = health.response(now: clock.monotonicNanos())
                reply = response(status: status, contentType: "application/json", body: body, headOnly: headOnly)
            case .index(let headOnly):
                reply = response(status: 200, contentType: "text/plain; charset=utf-8",
                                 body: Array("Vigil: Prometheus metrics are at /metrics, health at /healthz\n".utf8), headOnly: headOnly)
            case .error(let status, let message):
                reply = response(status: status, contentType: "text/plain; charset=utf-8", body: Array((message + "\n").utf8), headOnly: false)
            }
        }
        sendAll(fd, reply)
        // Half-close and read what the client still sends, briefly, so that closing does not
        // reset the connection (and destroy the answer) while its request is unread.
        shutdown(fd, Int32(SHUT_WR))
        var scratch = [UInt8](repeating: 0, count: 4096)
        var drained = 0
        while drained < 64 * 1024 {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 200) == 1 else { break }
            let n = scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n <= 0 { break }
            drained += n
        }
    }

    enum HeadResult { case head([UInt8]), closed, timedOut, tooLarge }

    /// Reads up to the blank line ending the request head, by `deadline` on `clock`.
    private static func readHead(_ fd: Int32, clock: any OutputClock, deadline: UInt64) -> HeadResult {
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 2048)
        while true {
            if let end = headEnd(buffer) {
                return end > maxHeaderBytes ? .tooLarge : .head(Array(buffer[..<end]))
            }
            if buffer.count > maxHeaderBytes { return .tooLarge }
            guard clock.monotonicNanos() < deadline else { return .timedOut }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let r = poll(&p, 1, clock.pollSliceMillis(until: deadline))
            if r < 0 { if errno == EINTR { continue }; return .closed }
            if r == 0 { continue }  // the clock decides whether time is up
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK { continue }
                return .closed
            }
            if n == 0 { return buffer.isEmpty ? .closed : .head(buffer) }
            buffer += chunk[..<n]
        }
    }

    /// Where the head ends (the index of its blank line), accepting bare LF line ends.
    static func headEnd(_ b: [UInt8]) -> Int? {
        var i = 0
        while i + 1 < b.count {
            if b[i] == 0x0A {
                if b[i + 1] == 0x0A { return i }
                if b[i + 1] == 0x0D, i + 2 < b.count, b[i + 2] == 0x0A { return i }
            }
            i += 1
        }
        return nil
    }

    private static func sendAll(_ fd: Int32, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { buf in
            var off = 0
            while off < buf.count {
                let n = send(fd, buf.baseAddress! + off, buf.count - off, Int32(MSG_NOSIGNAL))
                if n < 0 {
                    if errno == EINTR { continue }
                    return  // peer gone or too slow (SO_SNDTIMEO): nothing to do but close
                }
                off += n
            }
        }
    }
}

/// Why scraping a metrics endpoint failed.
public struct MetricsClientError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable { case badAddress, unreachable, badResponse }
    public var kind: Kind
    public var message: String
    public var description: String { message }
}

/// Fetches `/metrics` from a Vigil metrics endpoint (for `vigil status` and tests).
public enum MetricsClient {
    /// GETs `http://ADDRESS/metrics` and returns the body. `:PORT` means 127.0.0.1.
    /// Connecting, and each read, wait at most `timeoutSeconds`.
    public static func fetch(_ address: String, path: String = "/metrics", timeoutSeconds: Int = 3,
                             clock: any OutputClock = SystemOutputClock.shared) throws(MetricsClientError) -> String {
        let a: MetricsAddress
        do { a = try MetricsAddress.parse(address) } catch {
            throw MetricsClientError(kind: .badAddress, message: error.description)
        }
        let host = a.host ?? "127.0.0.1"
        let socket: Socket
        do {
            socket = try Socket.connect(host: host, port: a.port, timeoutSeconds: timeoutSeconds)
        } catch {
            throw MetricsClientError(kind: .unreachable, message: "cannot connect to \(address): \(error)")
        }
        defer { socket.close() }
        let hostHeader = host.contains(":") ? "[\(host)]:\(a.port)" : "\(host):\(a.port)"
        let request = "GET \(path) HTTP/1.1\r\nHost: \(hostHeader)\r\nUser-Agent: vigil-status\r\nAccept: text/plain\r\nConnection: close\r\n\r\n"
        var received: [UInt8] = []
        let deadline = clock.deadline(after: Double(timeoutSeconds) * 3)
        do {
            try socket.write(Array(request.utf8))
            while true {
                let more = try socket.read(max: 65_536)
                if more.isEmpty { break }
                received += more
                if received.count > 64 << 20 { throw MetricsClientError(kind: .badResponse, message: "\(address) sent more than 64 MiB") }
                if clock.monotonicNanos() > deadline { throw MetricsClientError(kind: .badResponse, message: "\(address) took too long to answer") }
            }
        } catch let e as MetricsClientError {
            throw e
        } catch {
            throw MetricsClientError(kind: .unreachable, message: "reading from \(address): \(error)")
        }
        guard let end = HTTPSink.find(received, [13, 10, 13, 10]) else {
            throw MetricsClientError(kind: .badResponse, message: "\(address) did not answer with HTTP (no complete header)")
        }
        let head = String(decoding: received[..<end], as: UTF8.self)
        let statusLine = head.split(separator: "\r\n", maxSplits: 1).first.map(String.init) ?? ""
        let fields = statusLine.split(separator: " ", maxSplits: 2)
        guard fields.count >= 2, fields[0].hasPrefix("HTTP/"), let status = Int(fields[1]) else {
            throw MetricsClientError(kind: .badResponse, message: "\(address) did not answer with HTTP ('\(statusLine.prefix(80))')")
        }
        var body = Array(received[(end + 4)...])
        for line in head.split(separator: "\r\n").dropFirst() {
            let (k, v) = String(line).splitOnce(":")
            if k.lowercased() == "content-length", let n = Int((v ?? "").trimmingSpaces), n >= 0, n <= body.count {
                body = Array(body[..<n])
            }
        }
        let text = String(decoding: body, as: UTF8.self)
        guard status == 200 else {
            throw MetricsClientError(kind: .badResponse, message: "\(address)\(path) answered \(statusLine.dropFirst(9)): \(text.prefix(200))")
        }
        return text
    }
}

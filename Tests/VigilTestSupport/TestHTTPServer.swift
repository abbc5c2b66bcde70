import Foundation
import CZlib
#if canImport(Glibc)
import Glibc
#endif

/// A minimal HTTP/1.1 receiver on 127.0.0.1 for tests: records each POST body, answers 200
/// (or `status`, or what `handler` says), keeps connections alive. gzip bodies
/// (`Content-Encoding: gzip`) are decoded before they are recorded. `stop()` closes
/// everything like a crashed receiver; `start()` listens again on the same port.
public final class TestHTTPServer: @unchecked Sendable {
    public struct Request: Sendable {
        public var path: String
        public var headers: [String: String]
        /// The body as sent, decoded when it was gzip.
        public var body: [UInt8]
        /// The body's size on the wire.
        public var wireBytes: Int
        /// What the server answered.
        public var status: Int
    }

    /// An answer chosen by `handler`.
    public struct Reply: Sendable {
        public var status: Int
        public var headers: [(String, String)]
        public var body: String
        public init(status: Int, headers: [(String, String)] = [], body: String = #"{"ok":true}"#) {
            self.status = status
            self.headers = headers
            self.body = body
        }
    }

    /// Decides each answer (nil: `status` with `{"ok":true}`). Runs on a connection thread.
    public var handler: (@Sendable (Request) -> Reply)? {
        get { lock.withLock { _handler } }
        set { lock.withLock { _handler = newValue } }
    }
    private var _handler: (@Sendable (Request) -> Reply)?
    private var _all: [Request] = []
    /// Every request received, whatever the answer.
    public var allRequests: [Request] { lock.withLock { _all } }

    private let lock = NSLock()
    private var _requests: [Request] = []
    private var listenFD: Int32 = -1
    private var connections: Set<Int32> = []
    public private(set) var port: UInt16 = 0
    /// Signalled when the current listener's accept thread is done with it.
    private var acceptDone: DispatchSemaphore?
    /// The status to answer with (e.g. 503 to simulate an overloaded receiver).
    public var status: Int {
        get { lock.withLock { _status } }
        set { lock.withLock { _status = newValue } }
    }
    private var _status = 200

    /// How responses are framed, to exercise the client's HTTP/1.1 parsing.
    public enum ReplyStyle: Sendable { case contentLength, chunked, closeDelimited }
    public var replyStyle: ReplyStyle {
        get { lock.withLock { _replyStyle } }
        set { lock.withLock { _replyStyle = newValue } }
    }
    private var _replyStyle = ReplyStyle.contentLength

    /// The requests answered 2xx (what the receiver stored).
    public var requests: [Request] { lock.withLock { _requests } }

    /// All NDJSON lines received so far, in arrival order.
    public var lines: [String] {
        requests.flatMap { String(decoding: $0.body, as: UTF8.self).split(separator: "\n").map(String.init) }
    }

    public init() throws { try start() }
    deinit { stop() }

    public func start() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = loopbackAddress(port: port)
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0, listen(fd, 16) == 0 else { close(fd); throw POSIXError(.EADDRINUSE) }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        port = UInt16(bigEndian: addr.sin_port)
        let done = DispatchSemaphore(value: 0)
        lock.withLock {
            listenFD = fd
            acceptDone = done
        }
        let t = Thread { [self] in acceptLoop(fd); done.signal() }
        t.start()
    }

    /// Closes the listener and ends every connection. A number is shut down or closed only
    /// while it is still this server's: tests share the process, so a stale one could be
    /// another test's socket or file by then.
    public func stop() {
        lock.lock()
        let l = listenFD
        let done = acceptDone
        listenFD = -1
        acceptDone = nil
        // Under the lock: a connection's thread closes it under the same lock (`serve`).
        for c in connections { shutdown(c, Int32(SHUT_RDWR)) }
        connections = []
        lock.unlock()
        guard l >= 0 else { return }
        shutdown(l, Int32(SHUT_RDWR))  // wakes the accept thread; closed once it is done
        done?.wait()
        close(l)
    }

    private func acceptLoop(_ l: Int32) {
        while true {
            let c = accept(l, nil, nil)
            guard c >= 0 else { return }
            let registered: Bool = lock.withLock {
                guard listenFD == l else { return false }
                connections.insert(c)
                return true
            }
            guard registered else { close(c); return }
            let t = Thread { [self] in serve(c) }
            t.start()
        }
    }

    private func serve(_ c: Int32) {
        defer {
            lock.withLock {
                _ = connections.remove(c)
                close(c)
            }
        }
        var buf: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        func fill() -> Bool {
            let n = recv(c, &chunk, chunk.count, 0)
            guard n > 0 else { return false }
            buf += chunk[..<n]
            return true
        }
        while true {
            var end: Int?
            while end == nil {
                end = Self.find(buf, [13, 10, 13, 10])
                if end == nil, !fill() { return }
            }
            let head = String(decoding: buf[..<end!], as: UTF8.self).split(separator: "\r\n").map(String.init)
            buf.removeFirst(end! + 4)
            var headers: [String: String] = [:]
            for h in head.dropFirst() {
                if let i = h.firstIndex(of: ":") {
                    headers[h[..<i].lowercased()] = h[h.index(after: i)...].trimmingCharacters(in: .whitespaces)
                }
            }
            let length = Int(headers["content-length"] ?? "0") ?? 0
            while buf.count < length { if !fill() { return } }
            var body = Array(buf[..<length])
            buf.removeFirst(length)
            if headers["content-encoding"] == "gzip" { body = Self.gunzip(body) ?? Array("<bad gzip>".utf8) }
            let path = head.first?.split(separator: " ").dropFirst().first.map(String.init) ?? ""
            var request = Request(path: path, headers: headers, body: body, wireBytes: length, status: 0)
            let answer = handler?(request) ?? Reply(status: self.status)
            request.status = answer.status
            lock.withLock {
                _all.append(request)
                // Record only what was acknowledged: a receiver that answers 503 has not stored it.
                if (200..<300).contains(answer.status) { _requests.append(request) }
            }
            let status = answer.status
            let extra = answer.headers.map { "\($0.0): \($0.1)\r\n" }.joined()
            let reply: [UInt8]
            switch replyStyle {
            case .contentLength:
                reply = Array("HTTP/1.1 \(status) X\r\n\(extra)Content-Length: \(answer.body.utf8.count)\r\nContent-Type: application/json\r\n\r\n\(answer.body)".utf8)
            case .chunked:
                reply = Array("HTTP/1.1 \(status) X\r\n\(extra)Transfer-Encoding: chunked\r\n\r\n4;ext=1\r\n{\"ok\r\n7\r\n\":true}\r\n0\r\n\r\n".utf8)
            case .closeDelimited:
                reply = Array("HTTP/1.0 \(status) X\r\n\(extra)\r\n{\"ok\":true}".utf8)
            }
            guard send(c, reply, reply.count, Int32(MSG_NOSIGNAL)) == reply.count else { return }
            if replyStyle == .closeDelimited { return }
        }
    }

    static func find(_ hay: [UInt8], _ needle: [UInt8]) -> Int? {
        guard hay.count >= needle.count else { return nil }
        for i in 0...(hay.count - needle.count) where hay[i..<(i + needle.count)].elementsEqual(needle) { return i }
        return nil
    }

    /// A gzip member decoded with zlib; nil when it is not valid gzip.
    public static func gunzip(_ data: [UInt8]) -> [UInt8]? {
        var strm = z_stream()
        guard vigil_inflate_init_gzip(&strm) == Z_OK else { return nil }
        defer { inflateEnd(&strm) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        var input = data
        var rc: Int32 = Z_OK
        input.withUnsafeMutableBufferPointer { inBuf in
            strm.next_in = inBuf.baseAddress
            strm.avail_in = uInt(inBuf.count)
            repeat {
                let produced: Int = chunk.withUnsafeMutableBufferPointer { outBuf in
                    strm.next_out = outBuf.baseAddress
                    strm.avail_out = uInt(outBuf.count)
                    rc = inflate(&strm, Z_NO_FLUSH)
                    return outBuf.count - Int(strm.avail_out)
                }
                out += chunk[..<produced]
            } while rc == Z_OK
        }
        return rc == Z_STREAM_END ? out : nil
    }
}


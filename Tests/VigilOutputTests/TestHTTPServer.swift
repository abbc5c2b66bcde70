import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A minimal HTTP/1.1 receiver on 127.0.0.1 for tests: records each POST body, answers 200
/// (or `status`), keeps connections alive. `stop()` closes everything like a crashed
/// receiver; `start()` listens again on the same port.
final class TestHTTPServer: @unchecked Sendable {
    struct Request { var path: String; var headers: [String: String]; var body: [UInt8] }

    private let lock = NSLock()
    private var _requests: [Request] = []
    private var listenFD: Int32 = -1
    private var connections: Set<Int32> = []
    private(set) var port: UInt16 = 0
    private var generation = 0
    /// The status to answer with (e.g. 503 to simulate an overloaded receiver).
    var status: Int {
        get { lock.withLock { _status } }
        set { lock.withLock { _status = newValue } }
    }
    private var _status = 200

    /// How responses are framed, to exercise the client's HTTP/1.1 parsing.
    enum ReplyStyle { case contentLength, chunked, closeDelimited }
    var replyStyle: ReplyStyle {
        get { lock.withLock { _replyStyle } }
        set { lock.withLock { _replyStyle = newValue } }
    }
    private var _replyStyle = ReplyStyle.contentLength

    var requests: [Request] { lock.withLock { _requests } }

    /// All NDJSON lines received so far, in arrival order.
    var lines: [String] {
        requests.flatMap { String(decoding: $0.body, as: UTF8.self).split(separator: "\n").map(String.init) }
    }

    init() throws { try start() }
    deinit { stop() }

    func start() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = loopbackAddress(port: port)
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0, listen(fd, 16) == 0 else { close(fd); throw POSIXError(.EADDRINUSE) }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        port = UInt16(bigEndian: addr.sin_port)
        lock.withLock {
            listenFD = fd
            generation += 1
        }
        let t = Thread { [self] in acceptLoop(fd) }
        t.start()
    }

    func stop() {
        lock.lock()
        let fds = connections
        let l = listenFD
        connections = []
        listenFD = -1
        lock.unlock()
        if l >= 0 { shutdown(l, Int32(SHUT_RDWR)); close(l) }
        for c in fds { shutdown(c, Int32(SHUT_RDWR)) }
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
            lock.withLock { _ = connections.remove(c) }
            close(c)
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
            let body = Array(buf[..<length])
            buf.removeFirst(length)
            let path = head.first?.split(separator: " ").dropFirst().first.map(String.init) ?? ""
            let status = self.status
            // Record only what was acknowledged: a receiver that answers 503 has not stored it.
            if (200..<300).contains(status) {
                lock.withLock { _requests.append(Request(path: path, headers: headers, body: body)) }
            }
            let reply: [UInt8]
            switch replyStyle {
            case .contentLength:
                reply = Array("HTTP/1.1 \(status) X\r\nContent-Length: 11\r\nContent-Type: application/json\r\n\r\n{\"ok\":true}".utf8)
            case .chunked:
                reply = Array("HTTP/1.1 \(status) X\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\n{\"ok\r\n7\r\n\":true}\r\n0\r\n\r\n".utf8)
            case .closeDelimited:
                reply = Array("HTTP/1.0 \(status) X\r\n\r\n{\"ok\":true}".utf8)
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
}

/// Polls `condition` until it holds or `seconds` pass (for threads the test does not own).
func waitFor(_ seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}

/// A fresh temporary directory, removed by the caller.
func makeTempDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "vigil-test-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// A numbered test line in the shape of an OCSF event (the sinks never look inside).
func testLine(_ i: Int, classUID: Int = 1007) -> [UInt8] {
    Array(#"{"time":\#(1_767_225_600_000 + i),"class_uid":\#(classUID),"seq":\#(i)}"#.utf8)
}

/// The `seq` of a test line.
func seq(_ line: some StringProtocol) -> Int? {
    guard let r = line.range(of: #""seq":"#) else { return nil }
    return Int(line[r.upperBound...].prefix { $0.isNumber })
}

/// 127.0.0.1:`port` as an IPv4 socket address (port 0: the kernel picks a free one at bind).
func loopbackAddress(port: UInt16 = 0) -> sockaddr_in {
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = port.bigEndian
    addr.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
    return addr
}

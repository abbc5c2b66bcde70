// vigil-bench-sinks: events per second through each output, with zero loss checked.
//
// Usage: swift run -c release vigil-bench-sinks [EVENTS]
//
// Every receiver is in this process on 127.0.0.1 and counts what it gets; a figure is
// printed only as "ok" when every event arrived. Prints figures; asserts nothing else.
import Foundation
import VigilCore
import VigilOutput
#if canImport(Glibc)
import Glibc
#endif

let count = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 100_000
let encoder = OCSFEncoder(hostname: "bench-host", productVersion: "bench")
let parent = ProcessRecord(pid: 812, ppid: 1, uid: 33, path: "/usr/sbin/nginx", argv: ["nginx: worker process"], comm: "nginx", startNanos: 1)
func event(_ i: Int) -> Event {
    Event(timeNanos: 1_767_225_600_000_000_000 + UInt64(i) * 1000, pid: Int32(10_000 + i % 50_000), tid: 1, comm: "sh",
          payload: .exec(.init(ppid: 812, uid: 33, euid: 33, gid: 33, path: "/usr/bin/dash", argv: ["sh", "-c", "echo \(i)"])))
}

// Encoding, measured on its own.
var encoded: [EncodedEvent] = []
encoded.reserveCapacity(count)
let encStart = Date()
for i in 0..<count {
    let e = event(i)
    var p = ProcessRecord(pid: e.pid, ppid: 812, uid: 33, path: "/usr/bin/dash", argv: ["sh", "-c", "echo \(i)"], comm: "sh")
    p.startNanos = e.timeNanos
    encoded.append(encoder.encode(e, process: p, ancestry: [parent])!)
}
let encSeconds = Date().timeIntervalSince(encStart)
let meanBytes = encoded.reduce(0) { $0 + $1.bytes.count } / count
print("events: \(count), mean line \(meanBytes) bytes")
/// The label padded to a column.
func column(_ s: String) -> String { s + String(repeating: " ", count: max(1, 46 - s.count)) }
print(column("OCSF encode (exec, with parent)") + String(format: "%10.0f events/s", Double(count) / encSeconds))

/// A loopback listener that counts received events with `parse` (called with all bytes so far,
/// returns how many it consumed and how many events they held).
final class Receiver: @unchecked Sendable {
    let port: UInt16
    private let lock = NSLock()
    private var _events = 0
    var events: Int { lock.withLock { _events } }

    init(udp: Bool = false, reply: [UInt8]? = nil, parse: @escaping @Sendable ([UInt8]) -> (consumed: Int, events: Int)) {
        let fd = socket(AF_INET, Int32((udp ? SOCK_DGRAM : SOCK_STREAM).rawValue), 0)
        var size: Int32 = 32 << 20
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, 4)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len); return getsockname(fd, $0, &len) } }
        port = UInt16(bigEndian: addr.sin_port)
        if udp {
            Thread { [self] in
                var buf = [UInt8](repeating: 0, count: 65_536)
                while recv(fd, &buf, buf.count, 0) > 0 { lock.withLock { _events += 1 } }
            }.start()
            return
        }
        listen(fd, 8)
        Thread { [self] in
            while case let c = accept(fd, nil, nil), c >= 0 {
                Thread { [self] in
                    var pending: [UInt8] = []
                    var buf = [UInt8](repeating: 0, count: 1 << 20)
                    while case let n = recv(c, &buf, buf.count, 0), n > 0 {
                        pending += buf[..<n]
                        let (used, got) = parse(pending)
                        if used > 0 { pending.removeFirst(used) }
                        if got > 0 {
                            lock.withLock { _events += got }
                            if let reply { _ = send(c, reply, reply.count, Int32(MSG_NOSIGNAL)) }
                        }
                    }
                    close(c)
                }.start()
            }
        }.start()
    }
}

/// Octet-counted syslog frames: `LEN SP MSG`.
let syslogFrames: @Sendable ([UInt8]) -> (Int, Int) = { b in
    var i = 0, n = 0
    while let sp = b[i...].firstIndex(of: 0x20), let len = Int(String(decoding: b[i..<sp], as: UTF8.self)), sp + 1 + len <= b.count {
        i = sp + 1 + len
        n += 1
    }
    return (i, n)
}

/// Whole HTTP requests with Content-Length; events are the body's lines.
let httpRequests: @Sendable ([UInt8]) -> (Int, Int) = { b in
    let sep: [UInt8] = [13, 10, 13, 10]
    guard b.count >= 4, let end = (0...(b.count - 4)).first(where: { b[$0..<($0 + 4)].elementsEqual(sep) }) else { return (0, 0) }
    let head = String(decoding: b[..<end], as: UTF8.self).lowercased()
    guard let r = head.range(of: "content-length: ") else { return (0, 0) }
    let length = Int(head[r.upperBound...].prefix { $0.isNumber }) ?? 0
    guard b.count >= end + 4 + length else { return (0, 0) }
    return (end + 4 + length, b[(end + 4)..<(end + 4 + length)].filter { $0 == 0x0a }.count)
}
let ok200 = Array("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".utf8)

let tmp = NSTemporaryDirectory() + "vigil-bench-\(getpid())"
try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: tmp) }

/// Runs every event through one output. Unless the spec sets `queue`, the memory queue holds
/// the whole burst, so the figure is the sink's own rate, not the spool's.
@MainActor func run(_ label: String, _ spec: String, delivered: () -> Int) throws {
    let full = spec.contains("queue=") ? spec : spec + (spec.contains("?") ? "&" : "?") + "queue=\(count)"
    let router = try OutputRouter(specs: [try OutputSpec.parse(full)], spoolDirectory: "\(tmp)/spool")
    let start = Date()
    for e in encoded { router.publish(e) }
    let publishSeconds = Date().timeIntervalSince(start)
    router.close()  // returns once a healthy output has delivered everything
    let deadline = Date().addingTimeInterval(30)
    while delivered() < count && Date() < deadline { usleep(5000) }
    let seconds = Date().timeIntervalSince(start)
    let got = delivered(), s = router.stats[0]
    let verdict = got == count && s.lost == 0 ? "ok, zero loss" : "LOSS: \(got) of \(count) arrived, \(s.lost) counted lost"
    print(column(label) + String(format: "%10.0f events/s  (publish %8.0f/s, spooled %6d)  ", Double(count) / seconds,
                                 Double(count) / publishSeconds, s.spooled) + verdict)
}

func lines(in path: String) -> Int {
    guard let data = try? Data(contentsOf: URL(fileURLWithPath: path)) else { return 0 }
    return data.withUnsafeBytes { $0.reduce(0) { $1 == 0x0a ? $0 + 1 : $0 } }
}

try run("file (fdatasync per 256-line batch)", "file:\(tmp)/a.jsonl?max-bytes=1073741824") { lines(in: "\(tmp)/a.jsonl") }
try run("file (no fsync)", "file:\(tmp)/b.jsonl?max-bytes=1073741824&fsync=false") { lines(in: "\(tmp)/b.jsonl") }
let tcp = Receiver(parse: syslogFrames)
try run("syslog+tcp (RFC 5424, octet counting)", "syslog+tcp://127.0.0.1:\(tcp.port)") { tcp.events }
let udp = Receiver(udp: true, parse: { _ in (0, 0) })
try run("syslog+udp (no flow control: loss possible)", "syslog+udp://127.0.0.1:\(udp.port)") { udp.events }
let http = Receiver(reply: ok200, parse: httpRequests)
try run("http ndjson (256 per request)", "http://127.0.0.1:\(http.port)/in?batch=256") { http.events }
let http2 = Receiver(reply: ok200, parse: httpRequests)
try run("http ndjson (1000 per request)", "http://127.0.0.1:\(http2.port)/in?batch=1000") { http2.events }
let hec = Receiver(reply: ok200, parse: httpRequests)
try run("http hec (256 per request)", "http://127.0.0.1:\(hec.port)/services/collector/event?format=hec") { hec.events }
// A queue of one line: every event takes the disk spool (append, fsync, read back).
let lateReceiver = Receiver(reply: ok200, parse: httpRequests)
try run("http ndjson via spool (queue=1)", "http://127.0.0.1:\(lateReceiver.port)/in?queue=1") { lateReceiver.events }
let tcp2 = Receiver(parse: syslogFrames)
try run("syslog+tcp via spool (queue=1)", "syslog+tcp://127.0.0.1:\(tcp2.port)?queue=1") { tcp2.events }

// NATS JetStream: a real nats-server with a file store, started here when installed. Each
// event is one publish that waits for the stream's acknowledgement (Nats-Msg-Id = its
// metadata.uid, so these lines carry one); "delivered" is what the stream acknowledged.
if let natsServer = ["/usr/bin/nats-server", "/usr/sbin/nats-server", "/usr/local/bin/nats-server"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) {
    // A free port: bound to 0, read back, released for the server.
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len); return getsockname(fd, $0, &len) } }
    let port = UInt16(bigEndian: addr.sin_port)
    close(fd)
    let server = Process()
    server.executableURL = URL(fileURLWithPath: natsServer)
    server.arguments = ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", "\(tmp)/nats"]
    server.standardOutput = FileHandle.nullDevice
    server.standardError = FileHandle.nullDevice
    try server.run()
    defer { kill(server.processIdentifier, SIGTERM); server.waitUntilExit() }
    usleep(1_000_000)
    var withIDs = encoder
    withIDs.identity = EventIdentity()
    let lines = (0..<count).map { i -> EncodedEvent in
        let e = event(i)
        var p = ProcessRecord(pid: e.pid, ppid: 812, uid: 33, path: "/usr/bin/dash", argv: ["sh", "-c", "echo \(i)"], comm: "sh")
        p.startNanos = e.timeNanos
        return withIDs.encode(e, process: p, ancestry: [parent])!
    }
    var options = OutputRouter.Options()
    options.drainTimeoutSeconds = 600
    let router = try OutputRouter(specs: [try OutputSpec.parse("nats://127.0.0.1:\(port)/bench.events?queue=\(count)")],
                                  spoolDirectory: "\(tmp)/spool-nats", options: options)
    let start = Date()
    for e in lines { router.publish(e) }
    let publishSeconds = Date().timeIntervalSince(start)
    router.close()
    let seconds = Date().timeIntervalSince(start)
    let s = router.stats[0]
    let verdict = s.delivered == count && s.lost == 0 ? "ok, zero loss" : "LOSS: \(s.delivered) of \(count) acknowledged, \(s.lost) counted lost"
    print(column("nats JetStream (publish + ack per event)") + String(format: "%10.0f events/s  (publish %8.0f/s, spooled %6d)  ", Double(count) / seconds,
                                 Double(count) / publishSeconds, s.spooled) + verdict)
} else {
    print(column("nats JetStream") + "skipped: nats-server is not installed")
}

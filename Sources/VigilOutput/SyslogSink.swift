#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VigilCore

/// Sends each line as an RFC 5424 syslog message over UDP, TCP or TLS.
///
/// TCP and TLS use octet-counting framing (RFC 6587 §3.4.1 / RFC 5425): `LEN SP MSG`, so
/// a message may contain any byte and receivers never split or join lines. UDP sends one
/// datagram per message.
///
/// Syslog has no acknowledgements: a batch written into a connection that the receiver (or a
/// proxy or load balancer in front of it) closes or resets a moment later "succeeds" into the
/// kernel's buffers and is gone. So on TCP and TLS every batch stays in a **replay window**:
/// it is let go only once the peer's TCP has acknowledged it (`SIOCOUTQ`) and the connection
/// has then stayed open for `replaySeconds` (30 s, `replay-seconds=N`; checked before each
/// batch and at close), longer than a receiver or proxy is likely to sit on acknowledged data
/// it has not processed. A
/// connection found closed is replaced and the window is written again first. Delivery is
/// then at least once across receiver restarts and dropped connections (a replayed event has
/// the same `metadata.uid`, so a SIEM can drop the copy). What can still be lost: a batch a
/// receiver or proxy held unprocessed for longer than the window before dropping it, and the
/// window itself if the agent crashes. The window is also bounded in bytes
/// (`replayMaxBytes`, 32 MiB): at rates above that per window it covers the last 32 MiB.
final class SyslogSink: Sink {
    let name: String
    let transport: OutputSpec.SyslogTransport
    let host: String
    let port: UInt16
    let tls: TLSSettings?
    /// local0: the facility for site-defined security sources.
    let facility = 16
    private var stream: (any ByteStream)?
    private var udp: Socket?
    /// Messages skipped because they cannot fit in a UDP datagram.
    private(set) var oversized = 0
    private let hostname: String
    private let procID: String

    private let clock: any OutputClock

    /// How long a batch must have been acknowledged on an open connection before it counts
    /// as received.
    let replaySeconds: Double
    /// Most bytes kept for replay.
    let replayMaxBytes: Int
    /// A batch written and not yet confirmed: its framed bytes, where it ends in the bytes
    /// written on the current connection, and when the peer's TCP was first seen to hold it.
    private struct Pending { var bytes: [UInt8]; var end: Int; var ackedAt: UInt64? }
    private var window: [Pending] = []
    private var windowBytes = 0
    /// Bytes written on the current connection (the offsets `Pending.end` count in).
    private var written = 0
    /// The plain socket under `stream` (TLS included), for its send queue.
    private var socket: Socket?
    /// Batches written again after a connection was found closed (for stats and tests).
    private(set) var replayedBatches = 0

    init(transport: OutputSpec.SyslogTransport, host: String, port: UInt16, tls: TLSSettings?,
         clock: any OutputClock = SystemOutputClock.shared, replaySeconds: Double = 30, replayMaxBytes: Int = 32 << 20) {
        self.clock = clock
        self.replaySeconds = replaySeconds
        self.replayMaxBytes = replayMaxBytes
        self.name = "syslog+\(transport.rawValue)://\(host):\(port)"
        self.transport = transport
        self.host = host
        self.port = port
        self.tls = tls
        self.hostname = SyslogSink.localHostname()
        self.procID = String(getpid())
    }

    deinit { close() }

    func deliver(_ lines: ArraySlice<OutputLine>) throws {
        if transport == .udp {
            if udp == nil { udp = try Socket.connect(host: host, port: port, udp: true) }
            do {
                for l in lines {
                    let m = message(l)
                    // Larger than any UDP datagram: unsendable, and retrying would wedge the
                    // output, so it is skipped (UDP outputs are lossy by nature; use TCP).
                    guard m.count <= 65_000 else { oversized += 1; continue }
                    try udp!.sendDatagram(m)
                }
            } catch {
                udp = nil
                throw error
            }
            return
        }
        try ensureConnection()
        var buf: [UInt8] = []
        for l in lines {
            let m = message(l)
            buf += Array(String(m.count).utf8)
            buf.append(0x20)
            buf += m
        }
        try write(buf)
        window.append(Pending(bytes: buf, end: written, ackedAt: nil))
        windowBytes += buf.count
        // Bounded: at high rates the window is the last `replayMaxBytes`, not the last seconds.
        while windowBytes > replayMaxBytes, window.count > 1 {
            windowBytes -= window.removeFirst().bytes.count
        }
    }

    /// A live connection with the replay window written on it: a connection the peer closed
    /// is replaced and the window written again; on one still open, what the peer's TCP
    /// acknowledged at least `replaySeconds` ago is confirmed and let go.
    private func ensureConnection() throws {
        if let s = stream, s.peerHasClosed() { dropConnection() }
        if stream != nil {
            noteAcknowledged()
            let before = clock.monotonicNanos() &- UInt64(replaySeconds * 1e9)
            let confirmed = window.prefix { ($0.ackedAt ?? .max) <= before }.count
            if confirmed > 0 {
                windowBytes -= window[..<confirmed].reduce(0) { $0 + $1.bytes.count }
                window.removeFirst(confirmed)
            }
            return
        }
        let socket = try Socket.connect(host: host, port: port)
        if transport == .tls, let tls {
            stream = try TLSStream(socket: socket, serverName: host, settings: tls)
        } else {
            stream = socket
        }
        self.socket = socket
        written = 0
        guard !window.isEmpty else { return }
        for i in window.indices {
            try write(window[i].bytes)
            window[i].end = written
            window[i].ackedAt = nil
        }
        replayedBatches += window.count
    }

    /// Stamps the batches the peer's TCP now holds. On TLS the record overhead makes byte
    /// offsets inexact, so only an empty send queue acknowledges there.
    private func noteAcknowledged() {
        guard let queued = socket?.unsentBytes else { return }
        let acked = queued == 0 ? Int.max : (transport == .tls ? -1 : written - queued)
        let now = clock.monotonicNanos()
        for i in window.indices where window[i].ackedAt == nil {
            guard window[i].end <= acked else { break }
            window[i].ackedAt = now
        }
    }

    private func write(_ buf: [UInt8]) throws {
        do {
            try stream!.write(buf)
            written += buf.count
        } catch {
            dropConnection()
            throw error
        }
    }

    private func dropConnection() {
        stream?.close()
        stream = nil
        socket = nil
    }

    /// At close: waits (at most the window) while the open connection takes what it holds,
    /// writing the window again once if the receiver closed it meanwhile. Best effort:
    /// there is no later batch to carry a retry.
    private func settle() {
        guard !window.isEmpty, stream != nil else { return }
        let deadline = clock.monotonicNanos() &+ UInt64(replaySeconds * 1e9)
        while clock.monotonicNanos() < deadline {
            if stream?.peerHasClosed() != false {
                dropConnection()
                try? ensureConnection()
                return
            }
            if socket?.unsentBytes ?? 0 == 0 { return }
            usleep(20_000)
        }
    }

    /// One RFC 5424 message: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG`.
    func message(_ l: OutputLine) -> [UInt8] {
        // Findings are warnings (4) so syslog-only pipelines can route them; the rest informational (6).
        let severity = l.classUID == OCSF.Class.detectionFinding.rawValue ? 4
            : l.classUID == OCSF.Class.applicationError.rawValue ? 3 : 6
        var m = Array("<\(facility * 8 + severity)>1 \(SyslogSink.timestamp(clock.wallNanos())) \(hostname) vigil \(procID) ocsf-\(l.classUID) - ".utf8)
        m += l.bytes
        return m
    }

    /// A wall time as UTC RFC 3339 with milliseconds, as RFC 5424 requires.
    static func timestamp(_ nanos: UInt64) -> String { RFC3339.formatMillis(nanos) }

    static func localHostname() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        guard gethostname(&buf, buf.count - 1) == 0 else { return "-" }
        let name = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        // RFC 5424 HOSTNAME is printable ASCII without spaces.
        return name.isEmpty || !name.utf8.allSatisfy({ $0 > 32 && $0 < 127 }) ? "-" : name
    }

    func close() {
        settle()
        stream?.close()
        stream = nil
        udp?.close()
        udp = nil
    }
}

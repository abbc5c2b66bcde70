#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Sends each line as an RFC 5424 syslog message over UDP, TCP or TLS.
///
/// TCP and TLS use octet-counting framing (RFC 6587 §3.4.1 / RFC 5425): `LEN SP MSG`, so
/// a message may contain any byte and receivers never split or join lines. UDP sends one
/// datagram per message. Syslog has no acknowledgements: before each batch the sink checks
/// that the receiver has not closed the connection, which catches an orderly restart, but
/// a batch written just before a receiver crashes can be lost in the kernel's buffers.
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

    init(transport: OutputSpec.SyslogTransport, host: String, port: UInt16, tls: TLSSettings?,
         clock: any OutputClock = SystemOutputClock.shared) {
        self.clock = clock
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
        if let s = stream, s.peerHasClosed() { s.close(); stream = nil }
        if stream == nil {
            let socket = try Socket.connect(host: host, port: port)
            if transport == .tls, let tls {
                stream = try TLSStream(socket: socket, serverName: host, settings: tls)
            } else {
                stream = socket
            }
        }
        var buf: [UInt8] = []
        for l in lines {
            let m = message(l)
            buf += Array(String(m.count).utf8)
            buf.append(0x20)
            buf += m
        }
        do {
            try stream!.write(buf)
        } catch {
            stream?.close()
            stream = nil
            throw error
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
    static func timestamp(_ nanos: UInt64) -> String {
        var t = time_t(nanos / 1_000_000_000)
        let millis = Int32(nanos / 1_000_000 % 1000)
        var tm = tm()
        gmtime_r(&t, &tm)
        func pad(_ v: Int32, _ w: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        return "\(pad(tm.tm_year + 1900, 4))-\(pad(tm.tm_mon + 1, 2))-\(pad(tm.tm_mday, 2))T\(pad(tm.tm_hour, 2)):\(pad(tm.tm_min, 2)):\(pad(tm.tm_sec, 2)).\(pad(millis, 3))Z"
    }

    static func localHostname() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        guard gethostname(&buf, buf.count - 1) == 0 else { return "-" }
        let name = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        // RFC 5424 HOSTNAME is printable ASCII without spaces.
        return name.isEmpty || !name.utf8.allSatisfy({ $0 > 32 && $0 < 127 }) ? "-" : name
    }

    func close() {
        stream?.close()
        stream = nil
        udp?.close()
        udp = nil
    }
}

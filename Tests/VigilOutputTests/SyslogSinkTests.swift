import Foundation
import Testing
import VigilTestSupport
@testable import VigilOutput
#if canImport(Glibc)
import Glibc
#endif

/// A real rsyslogd in the foreground on a loopback port, writing what it receives to a file.
final class RsyslogReceiver {
    let dir: String
    let port: UInt16
    let output: String
    private let process = Process()

    /// - Parameter tls: (certificate, key) PEM files to serve TLS with GnuTLS, or nil for plain TCP.
    init(rsyslogd: String, tls: (cert: String, key: String)? = nil, udp: Bool = false) throws {
        dir = try makeTempDirectory()
        port = try freePort()
        output = "\(dir)/received.log"
        var conf = #"global(workDirectory="\#(dir)" maxMessageSize="64k""#
        if let tls {
            conf += #" defaultNetstreamDriverCAFile="\#(tls.cert)" defaultNetstreamDriverCertFile="\#(tls.cert)" defaultNetstreamDriverKeyFile="\#(tls.key)""#
        }
        conf += ")\n"
        if udp {
            conf += #"module(load="imudp")"# + "\n"
            conf += #"input(type="imudp" address="127.0.0.1" port="\#(port)")"# + "\n"
        } else {
            conf += tls == nil
                ? #"module(load="imtcp")"# + "\n"
                : #"module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")"# + "\n"
            conf += #"input(type="imtcp" address="127.0.0.1" port="\#(port)")"# + "\n"
        }
        // Severity, app and msgid first, then the message untouched: the test checks all of them.
        conf += #"template(name="vigil" type="string" string="%syslogseverity% %app-name% %msgid% %msg%\n")"# + "\n"
        conf += #"*.* action(type="omfile" file="\#(output)" template="vigil")"# + "\n"
        try conf.write(toFile: "\(dir)/rsyslog.conf", atomically: false, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: rsyslogd)
        process.arguments = ["-n", "-f", "\(dir)/rsyslog.conf", "-i", "\(dir)/rsyslog.pid"]
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        let log = FileManager.default.createFile(atPath: "\(dir)/stderr", contents: nil) ? FileHandle(forWritingAtPath: "\(dir)/stderr") : nil
        process.standardError = log
        try process.run()
        // UDP has no connection to wait for: the pid file comes after the inputs are set up.
        let ready = udp ? { FileManager.default.fileExists(atPath: "\(self.dir)/rsyslog.pid") }
                        : { (try? Socket.connect(host: "127.0.0.1", port: self.port, timeoutSeconds: 1)) != nil }
        guard waitFor(10, ready) else {
            stop()
            throw ReceiverFailed(log: (try? String(contentsOfFile: "\(dir)/stderr", encoding: .utf8)) ?? "")
        }
    }

    struct ReceiverFailed: Error, CustomStringConvertible {
        var log: String
        var description: String { "rsyslogd did not start listening: \(log)" }
    }

    var lines: [String] {
        ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    func stop() {
        if process.isRunning {
            // SIGKILL, not SIGTERM: rsyslogd inherits the test runner's blocked-signal mask
            // and never unblocks SIGTERM. Its output file is written per message, and tests
            // wait for the lines before stopping it, so nothing is cut short.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: dir)
    }
}

/// A loopback port nothing listens on right now.
func freePort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = loopbackAddress()
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let rc = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p -> Int32 in
            guard bind(fd, p, len) == 0 else { return -1 }
            return getsockname(fd, p, &len)
        }
    }
    guard rc == 0 else { throw POSIXError(.EADDRNOTAVAIL) }
    return UInt16(bigEndian: addr.sin_port)
}

@Suite(.serialized) struct SyslogSinkTests {
    static let rsyslogMissing: Comment = "needs rsyslogd (apt-get install -y rsyslog)"

    @Test func formatsRFC5424() {
        let clock = ManualOutputClock(wallNanos: 1_767_225_600_123_456_789)
        let sink = SyslogSink(transport: .tcp, host: "127.0.0.1", port: 1, tls: nil, clock: clock)
        let m = String(decoding: sink.message(OutputLine(bytes: Array(#"{"a":1}"#.utf8), classUID: 2004)), as: UTF8.self)
        let parts = m.split(separator: " ", maxSplits: 7)
        #expect(parts[0] == "<132>1", "local0 (16) * 8 + warning (4)")
        #expect(parts[1] == "2026-01-01T00:00:00.123Z", "RFC 3339 UTC with milliseconds, from the clock")
        #expect(parts[3] == "vigil")
        #expect(parts[5] == "ocsf-2004")
        #expect(parts[6] == "-")
        #expect(parts[7] == #"{"a":1}"#)
    }

    @Test(.enabled(if: Tools.rsyslogd != nil || Tools.required, rsyslogMissing))
    func rsyslogReceivesEveryEventKindOverTCP() throws {
        let rsyslogd = try #require(Tools.rsyslogd, "VIGIL_REQUIRE_TOOLS=1 but rsyslogd is missing (apt-get install -y rsyslog)")
        let receiver = try RsyslogReceiver(rsyslogd: rsyslogd)
        try deliverAllSamples(to: "syslog+tcp://127.0.0.1:\(receiver.port)?batch=7", receiver: receiver)
    }

    @Test(.enabled(if: Tools.rsyslogd != nil || Tools.required, rsyslogMissing))
    func rsyslogReceivesEventsOverUDP() throws {
        let rsyslogd = try #require(Tools.rsyslogd, "VIGIL_REQUIRE_TOOLS=1 but rsyslogd is missing (apt-get install -y rsyslog)")
        let receiver = try RsyslogReceiver(rsyslogd: rsyslogd, udp: true)
        // Datagrams sent before rsyslog reads its socket would be dropped: probe until one lands.
        let probe = try OutputRouter(specs: [try OutputSpec.parse("syslog+udp://127.0.0.1:\(receiver.port)")], spoolDirectory: nil)
        #expect(waitFor(10) { probe.publish(testLine(-1), classUID: 1007); return !receiver.lines.isEmpty })
        probe.close()
        // Probes still in flight may land later: they are told apart by their seq of -1.
        func received() -> [String] { receiver.lines.filter { !$0.contains(#""seq":-1"#) } }
        let before = received().count
        let router = try OutputRouter(specs: [try OutputSpec.parse("syslog+udp://127.0.0.1:\(receiver.port)")], spoolDirectory: nil)
        let events = Samples.all.map(\.1)
        for e in events { router.publish(e) }
        router.close()
        #expect(waitFor(10) { received().count >= before + events.count })
        #expect(Array(received().dropFirst(before)).map { $0.split(separator: " ", maxSplits: 3).last.map(String.init) } == events.map(\.text))
    }

    @Test(.enabled(if: (Tools.rsyslogd != nil && Tools.rsyslogGnuTLS && Tools.openssl != nil) || Tools.required,
                   "needs rsyslogd with GnuTLS and openssl (apt-get install -y rsyslog rsyslog-gnutls openssl)"))
    func rsyslogReceivesEventsOverTLS() throws {
        let rsyslogd = try #require(Tools.rsyslogd, "VIGIL_REQUIRE_TOOLS=1 but rsyslogd is missing (apt-get install -y rsyslog)")
        try #require(Tools.rsyslogGnuTLS, "VIGIL_REQUIRE_TOOLS=1 but rsyslog-gnutls is missing")
        let openssl = try #require(Tools.openssl, "VIGIL_REQUIRE_TOOLS=1 but openssl is missing")
        let certDir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: certDir) }
        let (cert, key) = ("\(certDir)/cert.pem", "\(certDir)/key.pem")
        let gen = try Tools.run(openssl, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
                                          "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        try #require(gen.status == 0, "\(gen.output)")
        let receiver = try RsyslogReceiver(rsyslogd: rsyslogd, tls: (cert, key))
        try deliverAllSamples(to: "syslog+tls://127.0.0.1:\(receiver.port)?ca=\(cert)", receiver: receiver)

        // The certificate is checked: a CA that did not sign it is refused.
        let otherCert = "\(certDir)/other.pem"
        _ = try Tools.run(openssl, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(certDir)/other.key", "-out", otherCert,
                                    "-days", "1", "-subj", "/CN=other"])
        let router = try OutputRouter(specs: [try OutputSpec.parse("syslog+tls://127.0.0.1:\(receiver.port)?ca=\(otherCert)")], spoolDirectory: nil,
                                      options: { var o = OutputRouter.Options(clock: ManualOutputClock()); o.drainTimeoutSeconds = 0; return o }())
        router.publish(testLine(1), classUID: 1007)
        #expect(waitFor(5) { router.stats[0].failures > 0 })
        #expect(router.stats[0].lastError?.contains("certificate") == true, "\(router.stats[0].lastError ?? "")")
        router.close()
    }

    /// Sends one of every event kind and checks rsyslog stored each message whole, in order,
    /// with the severity, app name and msgid the sink set.
    func deliverAllSamples(to spec: String, receiver: RsyslogReceiver) throws {
        let router = try OutputRouter(specs: [try OutputSpec.parse(spec)], spoolDirectory: nil)
        let events = Samples.all.map(\.1)
        for e in events { router.publish(e) }
        router.close()
        #expect(router.stats[0].delivered == events.count, "\(router.stats[0])")
        #expect(waitFor(10) { receiver.lines.count >= events.count }, "received \(receiver.lines.count) of \(events.count)")
        let lines = receiver.lines
        #expect(lines.count == events.count)
        for (line, e) in zip(lines, events) {
            let severity = e.classUID == 2004 ? "4" : e.classUID == 6008 ? "3" : "6"
            #expect(line == "\(severity) vigil ocsf-\(e.classUID) \(e.text)")
        }
    }
}

/// The replay window: syslog has no acknowledgements, so batches stay until the connection
/// has held them for the window; a connection the receiver drops has its window written
/// again on the next one.
@Suite struct SyslogReplayTests {
    /// A loopback receiver that takes connections one at a time and keeps each one's bytes;
    /// `drop()` closes the current connection, as a restarting receiver or a proxy does.
    final class DroppingReceiver: @unchecked Sendable {
        let port: UInt16
        private let listener: Int32
        private let lock = NSLock()
        private var current: Int32 = -1
        private var received: [[UInt8]] = []

        init() throws {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = loopbackAddress()
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            let ok = withUnsafeMutablePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && listen(fd, 4) == 0 && getsockname(fd, $0, &len) == 0 }
            }
            guard ok else { close(fd); throw POSIXError(.EADDRINUSE) }
            listener = fd
            port = UInt16(bigEndian: addr.sin_port)
            Thread.detachNewThread { [self] in serve() }
        }

        private func serve() {
            while true {
                let fd = accept(listener, nil, nil)
                guard fd >= 0 else { return }
                let index: Int = lock.withLock { current = fd; received.append([]); return received.count - 1 }
                var buf = [UInt8](repeating: 0, count: 65536)
                while true {
                    let n = read(fd, &buf, buf.count)
                    guard n > 0 else { break }
                    lock.withLock { received[index] += buf[..<n] }
                }
            }
        }

        /// The `seq`s each connection received, in order.
        var seqs: [[Int]] {
            lock.withLock { received.map { String(decoding: $0, as: UTF8.self).split(separator: "{").compactMap { seq($0) } } }
        }

        func drop() {
            _ = lock.withLock {
                shutdown(current, Int32(SHUT_RDWR))
            }
        }

        deinit { shutdown(listener, Int32(SHUT_RDWR)); close(listener) }
    }

    func deliver(_ sink: SyslogSink, _ i: Int) throws {
        try sink.deliver([OutputLine(bytes: testLine(i), classUID: 1007)][...])
    }

    @Test func aDroppedConnectionHasItsUnconfirmedBatchesWrittenAgain() throws {
        let receiver = try DroppingReceiver()
        let clock = ManualOutputClock()
        let sink = SyslogSink(transport: .tcp, host: "127.0.0.1", port: receiver.port, tls: nil, clock: clock, replaySeconds: 5)
        try deliver(sink, 1)
        try deliver(sink, 2)                  // the peer's TCP holds 1 now: acknowledged at t
        clock.advance(by: 6)
        try deliver(sink, 3)                  // 1 held for 6 s on an open connection: confirmed
        #expect(waitFor(5) { receiver.seqs.first == [1, 2, 3] })
        receiver.drop()                       // 2 and 3 are not confirmed yet
        try deliver(sink, 4)
        // Had the close not reached the sink yet, 4 went into the dead connection: the next
        // batch finds it closed and replays 2, 3 and 4.
        if !waitFor(2, { receiver.seqs.count == 2 && receiver.seqs[1].contains(4) }) { try deliver(sink, 5) }
        #expect(waitFor(5) { receiver.seqs.count == 2 && receiver.seqs[1].contains(4) }, "a new connection: \(receiver.seqs)")
        #expect(Array(receiver.seqs[1].prefix(3)) == [2, 3, 4] && !receiver.seqs[1].contains(1),
                "the window first, in order, then the new batch; 1 was confirmed: \(receiver.seqs)")
        #expect(sink.replayedBatches >= 2)
        sink.close()
    }

    @Test func theWindowIsBoundedInBytes() throws {
        let receiver = try DroppingReceiver()
        let sink = SyslogSink(transport: .tcp, host: "127.0.0.1", port: receiver.port, tls: nil, clock: ManualOutputClock(),
                              replaySeconds: 5, replayMaxBytes: 300)
        for i in 1...10 { try deliver(sink, i) }
        #expect(waitFor(5) { receiver.seqs.first?.count == 10 })
        receiver.drop()
        try deliver(sink, 11)
        if !waitFor(2, { receiver.seqs.count == 2 && receiver.seqs[1].contains(11) }) { try deliver(sink, 12) }
        #expect(waitFor(5) { receiver.seqs.count == 2 && receiver.seqs[1].contains(11) })
        let replayed = receiver.seqs[1].prefix { $0 <= 11 }
        #expect(replayed.count < 10 && replayed.last == 11 && Array(replayed) == Array((12 - replayed.count)...11),
                "only the last ~300 bytes are replayed, in order: \(replayed)")
        sink.close()
    }
}

import ArgumentParser
import Foundation
import VigilAgent

/// A tiny TCP service for the demo and the end-to-end tests: one line in, one line out.
/// `GET NAME` reads a file under /etc and answers with its first line; `CONNECT PORT` calls
/// a backend on 127.0.0.1:PORT; `CONNECT-UNIX PATH` a unix socket; `LISTEN PORT` opens a listener there for a moment;
/// `SELF-UDP` and `SELF-TCP` build a self-pipe over loopback and pass one byte through it; `SELF-KEPT` reaches a
/// TCP listener and a UDP socket it bound at its first use and keeps (answering with their ports; `SELF-KEPT NEW`
/// binds them afresh first). With `--vulnerable`
/// it also has the bug a demo needs: `RUN CMD` hands CMD to a shell, as a careless service
/// with a command-injection flaw would.
struct DemoService: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo-service",
        abstract: "A small built-in TCP service used by `vigil demo` and the tests.",
        shouldDisplay: false
    )

    @Option(help: "Port on 127.0.0.1 (0: the kernel picks one; the port is printed on stdout).")
    var port: UInt16 = 0

    @Option(help: "Exit after serving this many connections (0: serve forever).")
    var connections: Int = 0

    @Flag(help: "Accept `RUN CMD` requests and run CMD with /bin/sh (the flaw a demo attacks).")
    var vulnerable = false

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard server >= 0 else { throw ServiceError("socket: errno \(errno)") }
        var one: Int32 = 1
        setsockopt(server, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = Self.loopbackAddress(port: port)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(server, $0, len) == 0 && Glibc.listen(server, 64) == 0 && getsockname(server, $0, &len) == 0
            }
        }
        guard bound else { throw ServiceError("cannot listen on 127.0.0.1:\(port): errno \(errno)") }
        Console.line(String(UInt16(bigEndian: addr.sin_port)))

        let kept = KeptSelfPipe()
        var served = 0
        while connections == 0 || served < connections {
            let client = accept(server, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                throw ServiceError("accept: errno \(errno)")
            }
            serve(client, kept: kept)
            close(client)
            served += 1
        }
        close(server)
    }

    private func serve(_ fd: Int32, kept: KeptSelfPipe) {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = read(fd, &buffer, buffer.count)
        guard n > 0 else { return }
        let line = String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        var reply = "ERR unknown request\n"
        if line.hasPrefix("GET ") {
            let name = line.dropFirst(4).filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." }
            if let text = try? String(contentsOfFile: "/etc/\(name)", encoding: .utf8) {
                reply = "OK \(text.split(separator: "\n").first ?? "")\n"
            } else {
                reply = "ERR no such entry\n"
            }
        } else if line.hasPrefix("LISTEN "), let port = UInt16(line.dropFirst(7)) {
            // Opens (and closes again) a listener on 127.0.0.1:PORT.
            reply = Self.listen(port: port)
        } else if line == "SELF-UDP" || line == "SELF-TCP" {
            // A self-pipe over loopback, as runtimes build one (Foundation's CFSocket wake-up pair).
            reply = line == "SELF-UDP" ? Self.selfPipeUDP() : Self.selfPipeTCP()
        } else if line == "SELF-KEPT" || line == "SELF-KEPT NEW" {
            // A self-pipe bound long ago, as a service's wake-up pair is (NEW: bound afresh first).
            reply = kept.use(renew: line.hasSuffix(" NEW"))
        } else if line.hasPrefix("CONNECT-UNIX /") {
            // A local IPC call: a connection to a unix-domain socket.
            reply = Self.connect(unixPath: String(line.dropFirst(13)))
        } else if line.hasPrefix("CONNECT "), let port = UInt16(line.dropFirst(8)) {
            // The service's backend call: a TCP connection to a loopback port.
            reply = Self.connect(port: port)
        } else if line.hasPrefix("RUN "), vulnerable {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", String(line.dropFirst(4))]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            if (try? p.run()) != nil {
                p.waitUntilExit()
                reply = "OK ran, status \(p.terminationStatus)\n"
            } else {
                reply = "ERR cannot run\n"
            }
        }
        _ = reply.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }
    }

    /// Listens on 127.0.0.1:`port`, then closes; the reply says how it went.
    static func listen(port: UInt16) -> String {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard s >= 0 else { return "ERR socket: \(String(cString: strerror(errno)))\n" }
        defer { close(s) }
        var one: Int32 = 1
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = loopbackAddress(port: port)
        let r = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard r == 0 else { return "ERR bind: \(String(cString: strerror(errno)))\n" }
        guard Glibc.listen(s, 4) == 0 else { return "ERR listen: \(String(cString: strerror(errno)))\n" }
        return "OK listening\n"
    }

    /// Connects to the unix socket at `path` (its address length without a trailing NUL, as
    /// many runtimes pass it); the reply says how it went.
    static func connect(unixPath path: String) -> String {
        let s = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard s >= 0 else { return "ERR socket: \(String(cString: strerror(errno)))\n" }
        defer { close(s) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { return "ERR path too long\n" }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in for (i, b) in bytes.enumerated() { raw[i] = b } }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)
        let r = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(s, $0, length) } }
        guard r == 0 else { return "ERR connect: \(String(cString: strerror(errno)))\n" }
        return "OK connected\n"
    }

    /// Connects to 127.0.0.1:`port` and says hello; the reply says how it went.
    static func connect(port: UInt16) -> String {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard s >= 0 else { return "ERR socket: \(String(cString: strerror(errno)))\n" }
        defer { close(s) }
        guard connect(s, loopbackAddress(port: port)) else { return failure }
        _ = "hello\n".utf8CString.withUnsafeBufferPointer { write(s, $0.baseAddress, $0.count - 1) }
        return "OK connected\n"
    }
}

extension DemoService {
    /// 127.0.0.1:`port` (0: a port the kernel picks at bind).
    static func loopbackAddress(port: UInt16) -> sockaddr_in {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        return addr
    }

    /// A UDP socket bound to 127.0.0.1 at a port the kernel picks; its descriptor and address.
    static func loopbackUDP() -> (fd: Int32, addr: sockaddr_in)? {
        let s = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard s >= 0 else { return nil }
        var addr = loopbackAddress(port: 0)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, len) == 0 && getsockname(s, $0, &len) == 0 }
        }
        guard ok else { close(s); return nil }
        return (s, addr)
    }

    static func connect(_ fd: Int32, _ addr: sockaddr_in) -> Bool {
        var a = addr
        return withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } } == 0
    }

    static var failure: String { "ERR connect: \(String(cString: strerror(errno)))\n" }

    /// Two UDP sockets on 127.0.0.1:0 connected to each other, one byte each way; then a
    /// datagram sent from an unbound socket to a third, bound one (sendto, no connect).
    static func selfPipeUDP() -> String {
        guard let a = loopbackUDP() else { return "ERR socket: \(String(cString: strerror(errno)))\n" }
        defer { close(a.fd) }
        guard let b = loopbackUDP() else { return "ERR socket: \(String(cString: strerror(errno)))\n" }
        defer { close(b.fd) }
        guard connect(a.fd, b.addr), connect(b.fd, a.addr) else { return failure }
        var byte: UInt8 = 1
        guard send(a.fd, &byte, 1, 0) == 1, recv(b.fd, &byte, 1, 0) == 1,
              send(b.fd, &byte, 1, 0) == 1, recv(a.fd, &byte, 1, 0) == 1 else { return "ERR send: \(String(cString: strerror(errno)))\n" }
        // A datagram to a socket that is bound but not connected (sendto, no connect).
        guard let d = loopbackUDP() else { return "ERR socket: \(String(cString: strerror(errno)))\n" }
        defer { close(d.fd) }
        let c = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(c) }
        var to = d.addr
        let sent = withUnsafePointer(to: &to) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(c, &byte, 1, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard sent == 1, recv(d.fd, &byte, 1, 0) == 1 else { return "ERR sendto: \(String(cString: strerror(errno)))\n" }
        return "OK self\n"
    }

    /// A TCP listener on 127.0.0.1 at a port the kernel picks; its descriptor and address.
    static func loopbackListener() -> (fd: Int32, addr: sockaddr_in)? {
        let l = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard l >= 0 else { return nil }
        var addr = loopbackAddress(port: 0)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(l, $0, len) == 0 && Glibc.listen(l, 4) == 0 && getsockname(l, $0, &len) == 0 }
        }
        guard ok else { close(l); return nil }
        return (l, addr)
    }

    /// A new connection to `listener`, accepted, one byte through; nil, or the error reply.
    static func passByte(through listener: (fd: Int32, addr: sockaddr_in)) -> String? {
        let c = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(c) }
        guard connect(c, listener.addr) else { return failure }
        let s = accept(listener.fd, nil, nil)
        guard s >= 0 else { return "ERR accept: \(String(cString: strerror(errno)))\n" }
        defer { close(s) }
        var byte: UInt8 = 1
        guard write(c, &byte, 1) == 1, read(s, &byte, 1) == 1 else { return "ERR write: \(String(cString: strerror(errno)))\n" }
        return nil
    }

    /// A TCP listener on 127.0.0.1:0 and a connection to it, one byte through.
    static func selfPipeTCP() -> String {
        guard let l = loopbackListener() else { return "ERR listen: \(String(cString: strerror(errno)))\n" }
        defer { close(l.fd) }
        return passByte(through: l) ?? "OK self\n"
    }
}

/// A TCP listener and a UDP socket on 127.0.0.1 at ports the kernel picks, bound at the
/// first `SELF-KEPT` (or afresh at `SELF-KEPT NEW`) and kept until then; each use reaches
/// both from new sockets.
final class KeptSelfPipe {
    private var listener: (fd: Int32, addr: sockaddr_in)?
    private var udp: (fd: Int32, addr: sockaddr_in)?

    /// One byte to each, the two bound afresh first if `renew`; the reply names their ports
    /// ("OK self TCP UDP").
    func use(renew: Bool) -> String {
        if renew || listener == nil || udp == nil {
            if let l = listener { close(l.fd) }
            if let u = udp { close(u.fd) }
            listener = DemoService.loopbackListener()
            udp = DemoService.loopbackUDP()
        }
        guard let listener, let udp else { return "ERR listen: \(String(cString: strerror(errno)))\n" }
        if let error = DemoService.passByte(through: listener) { return error }
        let d = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(d) }
        var byte: UInt8 = 1
        guard DemoService.connect(d, udp.addr) else { return DemoService.failure }
        guard send(d, &byte, 1, 0) == 1, recv(udp.fd, &byte, 1, 0) == 1 else { return "ERR send: \(String(cString: strerror(errno)))\n" }
        return "OK self \(UInt16(bigEndian: listener.addr.sin_port)) \(UInt16(bigEndian: udp.addr.sin_port))\n"
    }
}

struct ServiceError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

import CNats
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real `nats-server` with JetStream, on a free loopback port with its store in a
/// temporary directory, for tests. `restart()` keeps the port and the store.
public final class NATSTestServer: @unchecked Sendable {
    public let port: UInt16
    public let storeDirectory: String
    public let url: String
    private let binary: String
    private let extraArgs: [String]
    private var process: Process?
    private let logPath: String
    /// Whether a plain client without credentials can talk to it (readiness is checked so).
    private let open: Bool

    public struct Missing: Error, CustomStringConvertible {
        public var description: String { "nats-server is not installed (Debian package nats-server; scripts/setup.sh --tests installs it)" }
    }

    /// The nats-server binary, if installed.
    public static let binary: String? = Tools.which("nats-server")

    /// Starts a server; `maxPayload` lowers the server's message size limit (bytes).
    /// `config` is added to the server's configuration file; with `open: false` (TLS or
    /// authorization in it) readiness is the port accepting connections.
    public init(directory: String, maxPayload: Int? = nil, config: String? = nil, open: Bool = true) throws {
        self.open = open
        guard let binary = Self.binary else { throw Missing() }
        self.binary = binary
        port = try freeLoopbackPort()
        storeDirectory = directory + "/nats-store"
        logPath = directory + "/nats-server.log"
        url = "nats://127.0.0.1:\(port)"
        var args: [String] = []
        let text = (maxPayload.map { "max_payload: \($0)\n" } ?? "") + (config ?? "")
        if !text.isEmpty {
            let path = directory + "/nats-server.conf"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            args += ["-c", path]
        }
        extraArgs = args
        try start()
    }

    deinit { stop() }

    public func start() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", storeDirectory, "-l", logPath] + extraArgs
        p.standardOutput = FileHandle.nullDevice
        _ = FileManager.default.createFile(atPath: logPath + ".stderr", contents: nil)  // the server's stderr, read only in failure messages
        p.standardError = FileHandle(forWritingAtPath: logPath + ".stderr")
        try p.run()
        process = p
        // Ready when JetStream answers a request (the port opens a little earlier).
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            if open ? jetStreamReady() : portAccepts() { if !open { usleep(300_000) }; return }
            guard p.isRunning else { break }
            usleep(50_000)
        }
        let log = ((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "") + ((try? String(contentsOfFile: logPath + ".stderr", encoding: .utf8)) ?? "")
        stop()
        throw NSError(domain: "NATSTestServer", code: 1, userInfo: [NSLocalizedDescriptionKey: "nats-server did not become ready on port \(port): \(log.suffix(2000))"])
    }

    /// Stops the server gracefully (SIGTERM: it flushes its store) and waits for it.
    public func stop() {
        guard let p = process else { return }
        if p.isRunning {
            kill(p.processIdentifier, SIGTERM)
            p.waitUntilExit()
        }
        process = nil
    }

    public func restart() throws {
        stop()
        try start()
    }

    private func portAccepts() -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = loopbackAddress(port: port)
        return withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    private func jetStreamReady() -> Bool {
        var nc: OpaquePointer?
        guard natsConnection_ConnectTo(&nc, url) == NATS_OK, let nc else { return false }
        defer { natsConnection_Destroy(nc) }
        var reply: OpaquePointer?
        let s = natsConnection_RequestString(&reply, nc, "$JS.API.INFO", "", 500)
        if let reply { natsMsg_Destroy(reply) }
        return s == NATS_OK
    }

    /// The JetStream API's answer to `$JS.API.<subject>` (e.g. `STREAM.INFO.NAME`), as JSON.
    public func jetStreamAPI(_ subject: String) throws -> [String: Any] {
        var nc: OpaquePointer?
        guard natsConnection_ConnectTo(&nc, url) == NATS_OK, let nc else { throw NSError(domain: "NATSTestServer", code: 3) }
        defer { natsConnection_Destroy(nc) }
        var reply: OpaquePointer?
        let s = natsConnection_RequestString(&reply, nc, "$JS.API." + subject, "", 2000)
        guard s == NATS_OK, let reply else { throw NSError(domain: "NATSTestServer", code: 6) }
        defer { natsMsg_Destroy(reply) }
        let data = Data(bytes: natsMsg_GetData(reply), count: Int(natsMsg_GetDataLength(reply)))
        return (try JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
    }

    /// Every message stored in `stream`, in order, read by a JetStream consumer that
    /// delivers all of them: (payload, Nats-Msg-Id header).
    public func readAll(stream: String, subject: String, timeoutMillis: Int64 = 2000) throws -> [(data: String, msgID: String?)] {
        var nc: OpaquePointer?
        guard natsConnection_ConnectTo(&nc, url) == NATS_OK, let nc else { throw NSError(domain: "NATSTestServer", code: 3) }
        defer { natsConnection_Destroy(nc) }
        var js: OpaquePointer?
        guard natsConnection_JetStream(&js, nc, nil) == NATS_OK, let js else { throw NSError(domain: "NATSTestServer", code: 4) }
        defer { jsCtx_Destroy(js) }
        var so = jsSubOptions()
        jsSubOptions_Init(&so)
        var code = jsErrCode(rawValue: 0)
        var sub: OpaquePointer?
        let s: natsStatus = stream.withCString { sp in
            so.Stream = sp
            so.Config.DeliverPolicy = js_DeliverAll
            so.Config.AckPolicy = js_AckNone
            return js_SubscribeSync(&sub, js, subject, nil, &so, &code)
        }
        guard s == NATS_OK, let sub else {
            throw NSError(domain: "NATSTestServer", code: 5, userInfo: [NSLocalizedDescriptionKey: "subscribe: \(String(cString: natsStatus_GetText(s)))"])
        }
        defer { natsSubscription_Destroy(sub) }
        var out: [(String, String?)] = []
        while true {
            var msg: OpaquePointer?
            let r = natsSubscription_NextMsg(&msg, sub, timeoutMillis)
            guard r == NATS_OK, let msg else { break }
            let n = Int(natsMsg_GetDataLength(msg))
            let data = natsMsg_GetData(msg).map { String(decoding: UnsafeRawBufferPointer(start: $0, count: n), as: UTF8.self) } ?? ""
            var id: UnsafePointer<CChar>?
            let hasID = natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) == NATS_OK
            out.append((data, hasID ? id.map { String(cString: $0) } : nil))
            natsMsg_Destroy(msg)
        }
        return out
    }
}

import CNats
import Foundation

/// NATS subject and name rules, as the output spec and the fleet commands check them.
enum NATSSubject {
    private static func tokenOK(_ t: Substring) -> Bool {
        !t.isEmpty && t.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b == 0x2d || b == 0x5f
        }
    }

    /// A subject to publish on: dot-separated tokens of letters, digits, `-` and `_` (no wildcards).
    static func isValidPublish(_ s: String) -> Bool {
        !s.isEmpty && s.split(separator: ".", omittingEmptySubsequences: false).allSatisfy(tokenOK)
    }

    /// A stream or bucket name: letters, digits, `-` and `_`.
    static func isValidName(_ s: String) -> Bool { tokenOK(s[...]) }

    /// Whether `pattern` (which may hold `*` for one token and a final `>` for the rest) covers `subject`.
    static func matches(pattern: String, subject: String) -> Bool {
        let p = pattern.split(separator: ".", omittingEmptySubsequences: false)
        let s = subject.split(separator: ".", omittingEmptySubsequences: false)
        for (i, t) in p.enumerated() {
            if t == ">" { return s.count > i }
            guard i < s.count, t == "*" || t == s[i] else { return false }
        }
        return p.count == s.count
    }
}

/// A NATS client failure, with the library's own explanation.
public struct NATSError: Error, Sendable, CustomStringConvertible {
    /// What Vigil was doing, e.g. "connecting to nats://10.0.0.5:4222".
    public var context: String
    /// The library's text (status and last error).
    public var detail: String
    /// True when the server refused our credentials, or the credentials file is unusable.
    public var unauthorized: Bool

    public var description: String { "\(context): \(detail)" }

    init(_ context: String, status: natsStatus, unauthorized: Bool? = nil) {
        self.context = context
        var last = NATS_OK
        let text = nats_GetLastError(&last).map { String(cString: $0) } ?? ""
        let statusText = String(cString: natsStatus_GetText(status))
        // The last error often is the status text again, after the source location.
        detail = text.isEmpty || text.hasSuffix(statusText) ? statusText : "\(statusText) (\(text))"
        if status == NATS_NO_SERVER { detail += "; is nats-server running and reachable there?" }
        if status == NATS_NO_RESPONDERS { detail += "; no JetStream answered (is JetStream enabled on the server, and does a stream take this subject?)" }
        self.unauthorized = unauthorized ?? (status == NATS_CONNECTION_AUTH_FAILED || status == NATS_NOT_PERMITTED)
    }

    init(_ context: String, detail: String, unauthorized: Bool = false) {
        self.context = context
        self.detail = detail
        self.unauthorized = unauthorized
    }
}

/// Where and how to reach a NATS server.
public struct NATSSettings: Sendable, Hashable {
    public var host: String
    public var port: UInt16
    /// A NATS credentials file (user JWT and NKey seed).
    public var credsFile: String?
    public var tls = false
    public var caFile: String?
    public var certFile: String?
    public var keyFile: String?
    public var verifyPeer = true
    /// Connect timeout and JetStream request wait, in milliseconds.
    public var timeoutMillis: Int64 = 5000

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// `nats://HOST:PORT` as users write it (for messages).
    public var url: String { host.contains(":") ? "nats://[\(host)]:\(port)" : "nats://\(host):\(port)" }

    var secure: Bool { tls || caFile != nil || certFile != nil }
}

/// One connection to a NATS server with its JetStream context, owned by one thread.
/// It does not reconnect by itself: a failure closes it and the owner connects again, so
/// nothing is buffered where the spool cannot see it.
final class NATSConnection {
    let settings: NATSSettings
    private var nc: OpaquePointer?
    private(set) var js: OpaquePointer?
    /// Receives the acknowledgements of asynchronous publishes (``publishBatch``).
    private let acks = AckCollector()

    init(_ settings: NATSSettings) throws(NATSError) {
        self.settings = settings
        let url = settings.url
        if let creds = settings.credsFile, !FileManager.default.isReadableFile(atPath: creds) {
            throw NATSError("connecting to \(url)", detail: "credentials file \(creds) cannot be read (expected a NATS .creds file with the user JWT and NKey seed)", unauthorized: true)
        }
        var opts: OpaquePointer?
        guard natsOptions_Create(&opts) == NATS_OK, let opts else { throw NATSError("connecting to \(url)", status: NATS_NO_MEMORY) }
        defer { natsOptions_Destroy(opts) }
        func check(_ s: natsStatus, _ what: String, unauthorized: Bool? = nil) throws(NATSError) {
            guard s == NATS_OK else { throw NATSError("connecting to \(url): \(what)", status: s, unauthorized: unauthorized) }
        }
        try check(natsOptions_SetURL(opts, "nats://\(settings.host.contains(":") ? "[\(settings.host)]" : settings.host):\(settings.port)"), "URL")
        try check(natsOptions_SetTimeout(opts, settings.timeoutMillis), "timeout")
        try check(natsOptions_SetAllowReconnect(opts, false), "reconnect")
        try check(natsOptions_SetName(opts, "vigil"), "name")
        if let creds = settings.credsFile {
            try check(natsOptions_SetUserCredentialsFromFiles(opts, creds, nil), "credentials file \(creds)", unauthorized: true)
        }
        if settings.secure {
            try check(natsOptions_SetSecure(opts, true), "TLS")
            if let ca = settings.caFile { try check(natsOptions_LoadCATrustedCertificates(opts, ca), "CA file \(ca)") }
            if let cert = settings.certFile {
                try check(natsOptions_LoadCertificatesChain(opts, cert, settings.keyFile ?? cert), "client certificate \(cert) and key \(settings.keyFile ?? cert)")
            }
            if !settings.verifyPeer { try check(natsOptions_SkipServerVerification(opts, true), "verify") }
            try check(natsOptions_SetExpectedHostname(opts, settings.host), "expected host name")
        }
        var conn: OpaquePointer?
        let s = natsConnection_Connect(&conn, opts)
        guard s == NATS_OK, let conn else {
            if let conn { natsConnection_Destroy(conn) }
            throw NATSError("connecting to \(url)", status: s)
        }
        nc = conn
        var jo = jsOptions()
        jsOptions_Init(&jo)
        jo.Wait = settings.timeoutMillis
        jo.PublishAsync.AckHandler = natsAckHandler
        jo.PublishAsync.AckHandlerClosure = Unmanaged.passUnretained(acks).toOpaque()
        var ctx: OpaquePointer?
        let js = natsConnection_JetStream(&ctx, conn, &jo)
        guard js == NATS_OK, let ctx else {
            close()
            throw NATSError("opening JetStream on \(url)", status: js)
        }
        self.js = ctx
    }

    deinit { close() }

    func close() {
        if let js { jsCtx_Destroy(js); self.js = nil }
        if let nc { natsConnection_Destroy(nc); self.nc = nil }
    }

    /// The largest message the server takes, in bytes.
    var maxPayload: Int { nc.map { Int(natsConnection_GetMaxPayload($0)) } ?? 0 }

    /// Makes sure a file-backed stream `name` exists and takes `subject`, with a duplicate
    /// window of `duplicateWindowNanos`: creates it if missing, adds the subject if the
    /// stream exists without it.
    func ensureStream(name: String, subject: String, duplicateWindowNanos: Int64) throws(NATSError) {
        var info: UnsafeMutablePointer<jsStreamInfo>?
        var code = jsErrCode(rawValue: 0)
        let s = js_GetStreamInfo(&info, js, name, nil, &code)
        if s == NATS_OK, let info {
            defer { jsStreamInfo_Destroy(info) }
            let cfg = info.pointee.Config!
            var subjects: [String] = []
            for i in 0..<Int(cfg.pointee.SubjectsLen) {
                if let p = cfg.pointee.Subjects[i] { subjects.append(String(cString: p)) }
            }
            if subjects.contains(where: { NATSSubject.matches(pattern: $0, subject: subject) }) { return }
            // Add our subject to the stream's (another host's agents may use others).
            let saved = (cfg.pointee.Subjects, cfg.pointee.SubjectsLen)
            let all = (subjects + [subject]).map { UnsafePointer(strdup($0)!) as UnsafePointer<CChar>? }
            defer { for p in all { free(UnsafeMutablePointer(mutating: p)) } }
            let u: natsStatus = all.withUnsafeBufferPointer { buf in
                cfg.pointee.Subjects = UnsafeMutablePointer(mutating: buf.baseAddress)
                cfg.pointee.SubjectsLen = Int32(all.count)
                var updated: UnsafeMutablePointer<jsStreamInfo>?
                let r = js_UpdateStream(&updated, js, cfg, nil, &code)
                if let updated { jsStreamInfo_Destroy(updated) }
                cfg.pointee.Subjects = saved.0
                cfg.pointee.SubjectsLen = saved.1
                return r
            }
            guard u == NATS_OK else { throw NATSError("adding subject \(subject) to stream \(name) on \(settings.url)", status: u) }
            return
        }
        if let info { jsStreamInfo_Destroy(info) }
        guard s == NATS_NOT_FOUND || code == JSStreamNotFoundErr else {
            throw NATSError("looking up stream \(name) on \(settings.url)", status: s)
        }
        var cfg = jsStreamConfig()
        jsStreamConfig_Init(&cfg)
        cfg.Storage = js_FileStorage
        cfg.Duplicates = duplicateWindowNanos
        let a: natsStatus = name.withCString { namePtr in
            subject.withCString { subjPtr in
                var subjects: [UnsafePointer<CChar>?] = [subjPtr]
                return subjects.withUnsafeMutableBufferPointer { buf in
                    cfg.Name = namePtr
                    cfg.Subjects = buf.baseAddress
                    cfg.SubjectsLen = 1
                    var created: UnsafeMutablePointer<jsStreamInfo>?
                    let r = js_AddStream(&created, js, &cfg, nil, &code)
                    if let created { jsStreamInfo_Destroy(created) }
                    return r
                }
            }
        }
        // Another agent may have created it in the meantime: that is as good.
        if a == NATS_OK || code == JSStreamNameExistErr { return }
        throw NATSError("creating stream \(name) for \(subject) on \(settings.url)", status: a)
    }

    /// What the stream answered to a batch: per message, acknowledged (and whether as a
    /// duplicate) or not, with the first error seen.
    struct BatchResult {
        var acknowledged: [Bool]
        var duplicates = 0
        var error: NATSError?
    }

    /// Publishes every message without waiting in between, then waits (at most the
    /// timeout) for the stream's acknowledgements. Messages are sent in order on one
    /// connection; each carries its id as `Nats-Msg-Id` when it has one.
    func publishBatch(subject: String, _ messages: [(bytes: [UInt8], msgID: String?)], stream: String) -> BatchResult {
        var result = BatchResult(acknowledged: Array(repeating: false, count: messages.count))
        acks.reset()
        var po = jsPubOptions()
        jsPubOptions_Init(&po)
        po.MaxWait = settings.timeoutMillis
        stream.withCString { streamPtr in
            po.ExpectStream = streamPtr
            for (i, m) in messages.enumerated() {
                var msg: OpaquePointer?
                var s = m.bytes.withUnsafeBytes { buf in
                    natsMsg_Create(&msg, subject, nil, buf.baseAddress?.assumingMemoryBound(to: CChar.self), Int32(buf.count))
                }
                if s == NATS_OK, let id = m.msgID { s = natsMsgHeader_Set(msg, "Nats-Msg-Id", id) }
                if s == NATS_OK, let created = msg {
                    acks.expect(created, index: i)
                    // On success the library owns the message and clears the handle.
                    s = js_PublishMsgAsync(js, &msg, &po)
                    if s != NATS_OK { acks.forget(created) }
                }
                if let msg, s != NATS_OK { natsMsg_Destroy(msg) }
                if s != NATS_OK {
                    result.error = NATSError("publishing to \(subject) on \(settings.url)", status: s)
                    break
                }
            }
            let c = js_PublishAsyncComplete(js, &po)
            if c != NATS_OK {
                // Take back what was not acknowledged; late acknowledgements are then dropped.
                var pending = natsMsgList()
                if js_PublishAsyncGetPendingList(&pending, js) == NATS_OK {
                    for i in 0..<Int(pending.Count) { if let m = pending.Msgs[i] { acks.forget(m) } }
                    natsMsgList_Destroy(&pending)
                }
                if result.error == nil { result.error = NATSError("waiting for acknowledgements from stream \(stream) on \(settings.url)", status: c) }
            }
        }
        let (acked, failures, duplicates) = acks.take()
        for i in acked where i < result.acknowledged.count { result.acknowledged[i] = true }
        result.duplicates = duplicates
        if result.error == nil, let f = failures.first {
            result.error = NATSError("publishing to \(subject) on \(settings.url)", detail: f)
        }
        return result
    }

    // MARK: Key-value

    /// Opens bucket `name`, creating it (file-backed, one value per key kept) when missing.
    func keyValue(bucket name: String, create: Bool) throws(NATSError) -> NATSKeyValue {
        var kv: OpaquePointer?
        var s = js_KeyValue(&kv, js, name)
        if s == NATS_NOT_FOUND, create {
            var cfg = kvConfig()
            kvConfig_Init(&cfg)
            cfg.StorageType = js_FileStorage
            cfg.History = 1
            s = name.withCString { p in
                cfg.Bucket = p
                return js_CreateKeyValue(&kv, js, &cfg)
            }
        }
        guard s == NATS_OK, let kv else {
            if s == NATS_NOT_FOUND { throw NATSError("opening key-value bucket \(name) on \(settings.url)", detail: "no such bucket (nothing was pushed there yet?)") }
            throw NATSError("opening key-value bucket \(name) on \(settings.url)", status: s)
        }
        return NATSKeyValue(kv: kv, bucket: name, url: settings.url, timeoutMillis: settings.timeoutMillis)
    }
}

/// A JetStream key-value bucket.
final class NATSKeyValue {
    private let kv: OpaquePointer
    let bucket: String
    private let url: String
    private let timeoutMillis: Int64

    init(kv: OpaquePointer, bucket: String, url: String, timeoutMillis: Int64) {
        self.kv = kv
        self.bucket = bucket
        self.url = url
        self.timeoutMillis = timeoutMillis
    }

    deinit { kvStore_Destroy(kv) }

    func put(_ key: String, _ value: [UInt8]) throws(NATSError) {
        var rev: UInt64 = 0
        let s = value.withUnsafeBytes { kvStore_Put(&rev, kv, key, $0.baseAddress, Int32($0.count)) }
        guard s == NATS_OK else { throw NATSError("writing \(bucket)/\(key) on \(url)", status: s) }
    }

    /// The value of `key`, or nil when it has none (never written, deleted or purged).
    func get(_ key: String) throws(NATSError) -> [UInt8]? {
        var e: OpaquePointer?
        let s = kvStore_Get(&e, kv, key)
        if s == NATS_NOT_FOUND { return nil }
        guard s == NATS_OK, let e else { throw NATSError("reading \(bucket)/\(key) on \(url)", status: s) }
        defer { kvEntry_Destroy(e) }
        let n = Int(kvEntry_ValueLen(e))
        guard n > 0, let p = kvEntry_Value(e) else { return [] }
        return Array(UnsafeRawBufferPointer(start: p, count: n))
    }

    func purge(_ key: String) throws(NATSError) {
        let s = kvStore_Purge(kv, key, nil)
        guard s == NATS_OK else { throw NATSError("purging \(bucket)/\(key) on \(url)", status: s) }
    }

    /// Every key that holds a value.
    func keys() throws(NATSError) -> [String] {
        var list = kvKeysList()
        var wo = kvWatchOptions()
        kvWatchOptions_Init(&wo)
        wo.Timeout = timeoutMillis
        let s = kvStore_Keys(&list, kv, &wo)
        if s == NATS_NOT_FOUND { return [] }
        guard s == NATS_OK else { throw NATSError("listing keys of \(bucket) on \(url)", status: s) }
        defer { kvKeysList_Destroy(&list) }
        var out: [String] = []
        for i in 0..<Int(list.Count) { if let k = list.Keys[i] { out.append(String(cString: k)) } }
        return out
    }
}

/// Collects asynchronous publish acknowledgements, called on the client library's thread.
final class AckCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var index: [OpaquePointer: Int] = [:]
    private var acked: [Int] = []
    private var failures: [String] = []
    private var duplicates = 0

    func reset() {
        lock.withLock { index = [:]; acked = []; failures = []; duplicates = 0 }
    }

    /// Registers a message before it is published (its acknowledgement may come at once).
    func expect(_ msg: OpaquePointer, index i: Int) { lock.withLock { index[msg] = i } }
    func forget(_ msg: OpaquePointer) { _ = lock.withLock { index.removeValue(forKey: msg) } }

    func answered(_ msg: OpaquePointer, ack: UnsafeMutablePointer<jsPubAck>?, error: UnsafeMutablePointer<jsPubAckErr>?) {
        lock.withLock {
            guard let i = index.removeValue(forKey: msg) else { return }
            if let ack {
                acked.append(i)
                if ack.pointee.Duplicate { duplicates += 1 }
            } else {
                var text = error.flatMap { $0.pointee.ErrText }.map { String(cString: $0) } ?? ""
                if text.isEmpty, let e = error?.pointee.Err { text = String(cString: natsStatus_GetText(e)) }
                failures.append(text.isEmpty ? "the stream did not acknowledge" : text)
            }
        }
    }

    func take() -> (acked: [Int], failures: [String], duplicates: Int) {
        lock.withLock { (acked, failures, duplicates) }
    }
}

/// The client library's acknowledgement callback: hands the answer to the collector and
/// destroys the message (the callback owns it).
private let natsAckHandler: jsPubAckHandler = { _, msg, ack, error, closure in
    if let msg, let closure {
        Unmanaged<AckCollector>.fromOpaque(closure).takeUnretainedValue().answered(msg, ack: ack, error: error)
    }
    natsMsg_Destroy(msg)
}

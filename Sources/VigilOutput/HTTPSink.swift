import Foundation

/// POSTs batches of lines over HTTP/1.1 (keep-alive), as NDJSON, Splunk HEC,
/// Elasticsearch `_bulk` or OTLP/HTTP JSON logs, gzip-compressed where the receiver accepts it.
///
/// What an answer means (the worker acts on it; see `DeliveryFailure`):
/// - 2xx: delivered. For `_bulk`, each item is judged on its own: 2xx and 409 (the
///   receiver already holds that `_id`, i.e. a re-send) are delivered; items failing with
///   429 or 5xx are retried alone; other item errors are rejected (dead letter).
/// - 408, 429, 5xx and network errors: retried, after `Retry-After` when given.
/// - 401, 403: the output is failing (credentials); 413: the batch is split.
/// - Any other 4xx: the batch is rejected for good (dead letter); later batches flow.
/// - OTLP 2xx with `partialSuccess.rejectedLogRecords` N: N events are counted lost with the
///   collector's message (it does not say which, and OTLP forbids retrying them); the rest
///   are delivered.
/// - 415 to a gzip body: the receiver does not take gzip; the sink stops compressing and
///   the batch is retried plain.
///
/// Each event's `metadata.uid` is its `_bulk` `_id`, so a batch sent twice (an answer lost,
/// an agent restart) cannot duplicate events in Elasticsearch.
final class HTTPSink: Sink {
    let name: String
    let secure: Bool
    let host: String
    let port: UInt16
    let path: String
    let format: OutputSpec.HTTPFormat
    let token: String?
    let index: String
    let tls: TLSSettings?
    /// Compresses bodies while true; a 415 to a compressed body turns it off.
    private(set) var gzip: Bool
    /// The `host` of HEC envelopes.
    let hostname: String
    let clock: any OutputClock
    private var stream: (any ByteStream)?
    private var pending: [UInt8] = []

    struct Failure: Error, CustomStringConvertible { var description: String }

    init(secure: Bool, host: String, port: UInt16, path: String, format: OutputSpec.HTTPFormat,
         token: String?, index: String, tls: TLSSettings?, gzip: Bool = false,
         hostname: String = SyslogSink.localHostname(), clock: any OutputClock = SystemOutputClock.shared) {
        self.name = "\(format == .otlp ? "otlp+" : "")\(secure ? "https" : "http")://\(host):\(port)\(path)"
        self.secure = secure
        self.host = host
        self.port = port
        self.path = path
        self.format = format
        self.token = token
        self.index = index
        self.tls = tls
        self.gzip = gzip
        self.hostname = hostname
        self.clock = clock
    }

    deinit { close() }

    /// The request body for a batch in the selected format.
    func body(_ lines: ArraySlice<OutputLine>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(lines.reduce(0) { $0 + $1.bytes.count + 64 })
        switch format {
        case .ndjson:
            for l in lines { out += l.bytes; out.append(0x0a) }
        case .hec:
            // HEC takes concatenated envelopes; `time` comes from the event's own `time` when it
            // leads the line (it always does for Vigil's encoder), else HEC stamps arrival time.
            for l in lines {
                var w = JSONWriter(reservingCapacity: l.bytes.count + 120)
                w.object { w in
                    if let ms = Self.leadingTime(l.bytes) { w.key("time"); w.raw(Array("\(ms / 1000).\(Self.pad3(ms % 1000))".utf8)) }
                    w.field("host", hostname)
                    w.field("source", "vigil")
                    w.field("sourcetype", "ocsf:\(l.classUID)")
                    w.key("event"); w.raw(l.bytes)
                }
                out += w.bytes
                out.append(0x0a)
            }
        case .bulk:
            for l in lines {
                var action = JSONWriter()
                action.object { w in
                    w.object("create") { w in
                        w.field("_index", index)
                        if let uid = l.eventUID { w.field("_id", uid) }
                    }
                }
                out += action.bytes; out.append(0x0a); out += l.bytes; out.append(0x0a)
            }
        case .otlp:
            out = OTLPLogs.body(lines, hostname: hostname, serviceVersion: nil, nowNanos: clock.wallNanos())
        }
        return out
    }

    func deliver(_ lines: ArraySlice<OutputLine>) throws {
        let plain = body(lines)
        let compressed = gzip ? try Gzip.compress(plain) : nil
        let payload = compressed ?? plain
        var head = "POST \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nUser-Agent: vigil\r\n"
        head += "Content-Type: \(format == .hec || format == .otlp ? "application/json" : "application/x-ndjson")\r\n"
        if compressed != nil { head += "Content-Encoding: gzip\r\n" }
        head += "Content-Length: \(payload.count)\r\n"
        if let token {
            let scheme = switch format { case .hec: "Splunk"; case .bulk: "ApiKey"; case .ndjson, .otlp: "Bearer" }
            head += "Authorization: \(scheme) \(token)\r\n"
        }
        head += "\r\n"
        let request = Array(head.utf8) + payload
        // A kept-alive connection the server has since closed is retried once on a fresh one
        // before the batch counts as failed.
        for attempt in 0..<2 {
            if let s = stream, s.peerHasClosed() { s.close(); stream = nil; pending = [] }
            let reused = stream != nil
            let answer: Response
            do {
                if stream == nil {
                    let socket = try Socket.connect(host: host, port: port)
                    stream = secure ? try TLSStream(socket: socket, serverName: host, settings: tls ?? TLSSettings(caFile: nil, verifyPeer: true)) : socket
                }
                try stream!.write(request)
                answer = try Self.readResponse(from: stream!, pending: &pending, name: name)
            } catch {
                stream?.close()
                stream = nil
                pending = []
                if attempt == 0 && reused { continue }
                throw error
            }
            if !answer.keepAlive { stream?.close(); stream = nil }
            try judge(answer, lines: lines, compressed: compressed != nil)
            return
        }
    }

    /// Turns an answer into success, or the failure the worker acts on.
    private func judge(_ r: Response, lines: ArraySlice<OutputLine>, compressed: Bool) throws {
        let text = String(decoding: r.body.prefix(300), as: UTF8.self)
        guard (200..<300).contains(r.status) else {
            if r.status == 415 && compressed {
                gzip = false
                throw DeliveryFailure(.transient(retryAfter: 0), "\(name) answered 415 to a gzip body; sending uncompressed from now on", status: 415)
            }
            let retryAfter = r.header("retry-after").flatMap { Self.retryAfterSeconds($0, nowNanos: clock.wallNanos()) }
            let kind = DeliveryFailure.kind(httpStatus: r.status, retryAfter: retryAfter)
            throw DeliveryFailure(kind, "\(name) answered \(r.status): \(text)", status: r.status)
        }
        if format == .bulk, Self.contains(r.body, #""errors":true"#) {
            try judgeBulkItems(r.body, count: lines.count)
        }
        if format == .otlp, let (n, why) = Self.otlpRejected(r.body), n > 0 {
            throw UnattributedRejection(count: min(n, lines.count),
                                        reason: "\(name) rejected \(n) of \(lines.count) log records (partialSuccess)\(why.isEmpty ? "" : ": " + why)")
        }
    }

    /// An OTLP answer's `partialSuccess`: how many log records the collector refused, and
    /// its message (`rejectedLogRecords` is an int64, so a string in proto3 JSON; a number
    /// is taken too). nil when the body says nothing of it.
    static func otlpRejected(_ body: [UInt8]) -> (Int, String)? {
        guard Self.contains(body, "partialSuccess"),
              let json = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
              let partial = json["partialSuccess"] as? [String: Any] else { return nil }
        let raw = partial["rejectedLogRecords"]
        let n = (raw as? String).flatMap { Int($0) } ?? (raw as? NSNumber)?.intValue ?? 0
        return (max(0, n), partial["errorMessage"] as? String ?? "")
    }

    /// `_bulk` answered 200 with `"errors":true`: which items failed, and how.
    private func judgeBulkItems(_ body: [UInt8], count: Int) throws {
        guard let json = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
              let items = json["items"] as? [[String: Any]], items.count == count else {
            throw DeliveryFailure(.transient(retryAfter: nil),
                                  "\(name) _bulk reported errors in an answer Vigil cannot read item by item: \(String(decoding: body.prefix(300), as: UTF8.self))")
        }
        var failed: [Int: DeliveryFailure] = [:]
        for (i, item) in items.enumerated() {
            guard let result = item.values.first as? [String: Any], let status = result["status"] as? Int else {
                failed[i] = DeliveryFailure(.transient(retryAfter: nil), "\(name) _bulk item \(i) has no status")
                continue
            }
            if (200..<300).contains(status) || status == 409 { continue }  // 409: already there (a re-send)
            let error = result["error"] as? [String: Any]
            let why = [error?["type"] as? String, error?["reason"] as? String].compactMap { $0 }.joined(separator: ": ")
            var kind = DeliveryFailure.kind(httpStatus: status, retryAfter: nil)
            if kind == .tooLarge { kind = .rejected }  // one item cannot be split further
            failed[i] = DeliveryFailure(kind, "\(name) _bulk item \(status)\(why.isEmpty ? "" : ": " + why)", status: status)
        }
        guard !failed.isEmpty else { return }
        throw PartialDelivery(failed: failed)
    }

    /// `Retry-After` as seconds from now: delta-seconds or an HTTP-date (RFC 9110 §10.2.3).
    static func retryAfterSeconds(_ value: String, nowNanos: UInt64) -> Double? {
        let v = value.trimmingSpaces
        if let n = Int(v), n >= 0 { return Double(n) }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        guard let date = f.date(from: v) else { return nil }
        return max(0, date.timeIntervalSince1970 - Double(nowNanos) / 1e9)
    }

    // MARK: Response parsing (just enough HTTP/1.1: status, Content-Length, chunked, close)

    struct Response {
        var status: Int
        var headers: [(String, String)]
        var body: [UInt8]
        var keepAlive: Bool
        func header(_ name: String) -> String? { headers.first { $0.0 == name }?.1 }
    }

    /// Reads one response from `stream`. `pending` holds bytes
    /// received but not yet consumed, before and after; `name` names the peer in errors.
    /// Static and stream-agnostic so that it can be fed any bytes (tests, fuzzing).
    static func readResponse(from stream: any ByteStream, pending: inout [UInt8], name: String) throws -> Response {
        func fill() throws {
            let more = try stream.read(max: 16_384)
            guard !more.isEmpty else { throw Failure(description: "\(name) closed the connection before answering") }
            pending += more
        }
        var headerEnd: Int?
        while headerEnd == nil {
            headerEnd = Self.find(pending, [13, 10, 13, 10])
            if headerEnd == nil {
                guard pending.count <= maxHeaderBytes else { throw Failure(description: "\(name) sent more than \(maxHeaderBytes) bytes of headers") }
                try fill()
            }
        }
        let headText = String(decoding: pending[..<headerEnd!], as: UTF8.self)
        pending.removeFirst(headerEnd! + 4)
        let lines = headText.split(separator: "\r\n", omittingEmptySubsequences: false)
        let statusParts = lines.first?.split(separator: " ") ?? []
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else {
            throw Failure(description: "\(name) sent a malformed status line '\(lines.first ?? "")'")
        }
        var length: Int?
        var chunked = false
        var keepAlive = statusParts[0] == "HTTP/1.1"
        var headers: [(String, String)] = []
        for line in lines.dropFirst() {
            let (k, v) = String(line).splitOnce(":")
            let value = (v ?? "").trimmingSpaces
            headers.append((k.lowercased(), value))
            switch k.lowercased() {
            case "content-length":
                // A length that is not a count this sink will hold is refused, not trusted.
                guard let n = Int(value), (0...maxBodyBytes).contains(n) else { throw Failure(description: "\(name) sent a bad Content-Length '\(value)'") }
                length = n
            case "transfer-encoding": chunked = value.lowercased().contains("chunked")
            case "connection": keepAlive = value.lowercased() != "close"
            default: break
            }
        }
        var body: [UInt8] = []
        if chunked {
            while true {
                var lineEnd = Self.find(pending, [13, 10])
                while lineEnd == nil { try fill(); lineEnd = Self.find(pending, [13, 10]) }
                let sizeText = String(decoding: pending[..<lineEnd!], as: UTF8.self).split(separator: ";").first ?? ""
                guard let size = Int(sizeText.trimmingCharacters(), radix: 16), size >= 0, size <= maxBodyBytes - body.count else {
                    throw Failure(description: "\(name): bad chunk size '\(sizeText)'")
                }
                pending.removeFirst(lineEnd! + 2)
                while pending.count < size + 2 { try fill() }
                body += pending[..<size]
                pending.removeFirst(size + 2)
                if size == 0 { break }
            }
        } else if let length {
            while pending.count < length { try fill() }
            body = Array(pending[..<length])
            pending.removeFirst(length)
        } else if status != 204 && status != 304 {
            // No length: the body runs to the end of the connection.
            while let more = try? stream.read(max: 16_384), !more.isEmpty {
                pending += more
                guard pending.count <= maxBodyBytes else { throw Failure(description: "\(name) sent a body of more than \(maxBodyBytes) bytes") }
            }
            body = pending
            pending = []
            keepAlive = false
        }
        return Response(status: status, headers: headers, body: body, keepAlive: keepAlive)
    }

    /// Bounds on what a peer may make the sink hold: a collector's answer is a status and a
    /// little JSON, and anything larger is refused as a failed delivery.
    static let maxHeaderBytes = 64 * 1024
    static let maxBodyBytes = 4 * 1024 * 1024

    static func find(_ hay: [UInt8], _ needle: [UInt8]) -> Int? {
        guard hay.count >= needle.count else { return nil }
        for i in 0...(hay.count - needle.count) where hay[i] == needle[0] {
            if hay[i..<(i + needle.count)].elementsEqual(needle) { return i }
        }
        return nil
    }

    static func contains(_ hay: [UInt8], _ text: String) -> Bool { find(hay, Array(text.utf8)) != nil }

    /// The value of a leading `{"time":N` member, without parsing the whole line.
    static func leadingTime(_ line: [UInt8]) -> Int64? {
        let prefix = Array(#"{"time":"#.utf8)
        guard line.starts(with: prefix) else { return nil }
        var v: Int64 = 0
        var i = prefix.count
        while i < line.count, line[i] >= 0x30, line[i] <= 0x39 { v = v * 10 + Int64(line[i] - 0x30); i += 1 }
        return i > prefix.count ? v : nil
    }

    static func pad3(_ v: Int64) -> String { v < 10 ? "00\(v)" : v < 100 ? "0\(v)" : "\(v)" }

    func close() {
        stream?.close()
        stream = nil
    }
}

extension Substring {
    func trimmingCharacters() -> String { String(self).trimmingSpaces }
}

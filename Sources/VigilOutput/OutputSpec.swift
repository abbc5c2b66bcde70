/// Where one output goes and how, parsed from a `--output` argument.
///
/// Forms:
/// - `stdout`
/// - `file:PATH[?max-bytes=N&keep=N&fsync=true|false]` (rotation when a file would pass `max-bytes`)
/// - `syslog+udp://HOST:PORT`, `syslog+tcp://HOST:PORT`, `syslog+tls://HOST:PORT[?ca=FILE&verify=true|false]`
///   (RFC 5424; TCP and TLS use octet-counting framing)
/// - `http://HOST:PORT/PATH`, `https://...` with `format=ndjson|hec|bulk` (Splunk HEC or
///   Elasticsearch `_bulk`), `token=`, `index=` (bulk), `ca=`, `verify=`
///
/// - `otlp+http://HOST[:PORT][/PATH]`, `otlp+https://...` (OTLP/HTTP JSON logs to an
///   OpenTelemetry collector; port 4318 and path `/v1/logs` unless given) with `token=`
///   (`Authorization: Bearer`), `gzip=` (on by default)
///
/// - `nats://HOST:PORT/SUBJECT` (NATS JetStream: each event published with an acknowledgement
///   and its `metadata.uid` as `Nats-Msg-Id`) with `stream=` (the stream, created if missing),
///   `creds=FILE` (a NATS credentials file), `tls=true|false`, `ca=`, `cert=`, `key=`, `verify=`
///
/// TLS outputs (`syslog+tls`, `https`) also take `cert=FILE&key=FILE` (a PEM client
/// certificate and its key, for receivers that require mutual TLS) and `min-tls=1.2|1.3`.
///
/// Options every output takes: `only=findings,process,network,app,<class_uid>` (which
/// classes it receives), `queue=N` (lines held in memory), `spool-max-bytes=N` (disk spool
/// bound; 0 disables spooling), `batch=N` (most lines per delivery), `batch-bytes=N` (most
/// event bytes per delivery), `batch-wait-ms=N` (how long a batch that is not full waits
/// for more lines; 0, the default, sends at once). HTTP outputs also take `gzip=true|false`
/// (compressed request bodies; on by default for `hec` and `bulk`, whose receivers accept it);
/// TCP and TLS syslog outputs `replay-seconds=N` (``SyslogSink``'s replay window).
public struct OutputSpec: Sendable, Hashable, CustomStringConvertible {
    /// The kind of output and its address.
    public enum Target: Sendable, Hashable {
        case stdout
        case file(path: String, maxBytes: Int, keep: Int, fsync: Bool)
        case syslog(SyslogTransport, host: String, port: UInt16)
        case http(secure: Bool, host: String, port: UInt16, path: String, format: HTTPFormat)
        case nats(host: String, port: UInt16, subject: String)
    }

    /// How syslog messages travel.
    public enum SyslogTransport: String, Sendable, Hashable { case udp, tcp, tls }

    /// The body format of HTTP outputs (`format=`).
    public enum HTTPFormat: String, Sendable, Hashable, CaseIterable {
        /// Newline-delimited OCSF objects, `Content-Type: application/x-ndjson`.
        case ndjson
        /// Splunk HTTP Event Collector: one `{"time":..,"event":{...}}` envelope per event.
        case hec
        /// Elasticsearch/OpenSearch `_bulk`: a `create` action line before each event.
        case bulk
        /// OTLP/HTTP JSON logs (`otlp+http://`): one `ExportLogsServiceRequest` per batch,
        /// each event a `LogRecord` whose body is the OCSF JSON.
        case otlp
    }

    /// Where the output goes.
    public var target: Target
    /// The classes this output receives; nil for all.
    public var classes: Set<Int>?
    /// Lines held in memory before the spool takes over.
    public var queueCapacity = 4096
    /// Bound of the disk spool in bytes; 0 disables it (overflow is then lost and counted).
    public var spoolMaxBytes = 256 << 20
    /// Most lines per delivery (one HTTP request, one write).
    public var batchSize = 256
    /// Most event bytes per delivery (a single larger line still goes, alone).
    public var batchBytes = 1 << 20
    /// How long a batch that is not full waits for more lines, in milliseconds (0: at once).
    public var batchWaitMillis = 0
    /// HTTP: compress request bodies with gzip; nil: on for `hec` and `bulk`, off for `ndjson`.
    public var gzip: Bool?
    /// Syslog over TCP/TLS: seconds a batch stays in the replay window after the receiver's
    /// TCP acknowledged it (see ``SyslogSink``).
    public var replaySeconds = 30
    /// HTTP: credential for `Authorization` (HEC: `Splunk`, bulk: `ApiKey`, ndjson: `Bearer`).
    public var token: String?
    /// HTTP bulk: the index (or data stream) to write to.
    public var index = "vigil-ocsf"
    /// TLS: a PEM file of CA certificates to trust instead of the system's.
    public var caFile: String?
    /// TLS: whether to verify the server certificate and name (only ever false in tests).
    public var verifyPeer = true
    /// TLS: a PEM client certificate (chain) to present (mutual TLS).
    public var certFile: String?
    /// TLS: the PEM private key of `certFile`.
    public var keyFile: String?
    /// TLS: the oldest protocol version accepted.
    public var minTLS: TLSVersion = .v1_2
    /// NATS: the JetStream stream the subject is stored in (created if missing).
    public var natsStream = "VIGIL_EVENTS"
    /// NATS: a credentials file (user JWT and NKey seed), one per host.
    public var natsCreds: String?
    /// NATS: connect with TLS.
    public var natsTLS = false
    /// The text it was parsed from, with any token masked: safe to log.
    public private(set) var redacted: String
    /// What the spec should say differently though it parsed (an option's old spelling);
    /// the CLI prints each as a warning.
    public var warnings: [String] = []

    public var description: String { redacted }

    /// Parses one output specification.
    ///
    /// - Throws: `OutputSpecError` naming the spec and what was wrong with it.
    public static func parse(_ text: String) throws -> OutputSpec {
        func fail(_ why: String) -> OutputSpecError { OutputSpecError(spec: text, reason: why) }
        let trimmed = text.trimmingSpaces
        guard !trimmed.isEmpty else { throw fail("empty output spec; expected stdout, file:PATH, syslog+udp|tcp|tls://HOST:PORT, http(s)://HOST:PORT/PATH or nats://HOST:PORT/SUBJECT") }
        let (base, queryText) = trimmed.splitOnce("?")
        var query: [(String, String)] = []
        if let queryText {
            for pair in queryText.split(separator: "&", omittingEmptySubsequences: true) {
                let (k, v) = String(pair).splitOnce("=")
                guard let v, !k.isEmpty else { throw fail("option '\(pair)' needs the form key=value") }
                query.append((k, percentDecoded(v)))
            }
        }
        var spec: OutputSpec
        var allowed: Set<String> = ["only", "queue", "spool-max-bytes", "batch", "batch-bytes", "batch-wait-ms"]
        if base == "stdout" || base == "-" {
            spec = OutputSpec(target: .stdout, redacted: trimmed)
        } else if base.hasPrefix("file:") {
            var path = String(base.dropFirst(5))
            if path.hasPrefix("//") { path = String(path.dropFirst(2)) }
            guard path.hasPrefix("/") else { throw fail("file output needs an absolute path, e.g. file:/var/log/vigil.jsonl") }
            spec = OutputSpec(target: .file(path: path, maxBytes: 100 << 20, keep: 5, fsync: true), redacted: trimmed)
            allowed.formUnion(["max-bytes", "keep", "fsync"])
        } else if let (scheme, rest) = base.splitScheme() {
            let (authority, pathPart) = rest.splitOnce("/")
            let (host, port) = try parseHostPort(authority, defaultPort: defaultPort(scheme), fail: fail)
            switch scheme {
            case "syslog+udp", "syslog+tcp", "syslog+tls":
                guard pathPart == nil || pathPart == "" else { throw fail("a syslog output takes no path") }
                let transport = SyslogTransport(rawValue: String(scheme.dropFirst(7)))!
                spec = OutputSpec(target: .syslog(transport, host: host, port: port), redacted: trimmed)
                if transport == .tls { allowed.formUnion(tlsOptions) }
                if transport != .udp { allowed.insert("replay-seconds") }
            case "http", "https":
                spec = OutputSpec(target: .http(secure: scheme == "https", host: host, port: port,
                                                path: "/" + (pathPart ?? ""), format: .ndjson), redacted: trimmed)
                allowed.formUnion(["format", "token", "index", "gzip"])
                if scheme == "https" { allowed.formUnion(tlsOptions) }
            case "otlp+http", "otlp+https":
                let secure = scheme == "otlp+https"
                let p = (pathPart ?? "").isEmpty ? "/v1/logs" : "/" + pathPart!
                spec = OutputSpec(target: .http(secure: secure, host: host, port: port, path: p, format: .otlp), redacted: trimmed)
                allowed.formUnion(["token", "gzip"])
                if secure { allowed.formUnion(tlsOptions) }
            case "nats":
                let subject = pathPart ?? ""
                guard NATSSubject.isValidPublish(subject) else {
                    throw fail(subject.isEmpty ? "a nats output needs a subject, e.g. nats://HOST:4222/vigil.events"
                                               : "'\(subject)' is not a NATS subject to publish on (dot-separated tokens of letters, digits, '-' and '_'; no wildcards)")
                }
                spec = OutputSpec(target: .nats(host: host, port: port, subject: subject), redacted: trimmed)
                allowed.formUnion(["stream", "creds", "tls", "ca", "cert", "key", "verify"])
            default:
                throw fail("unknown output scheme '\(scheme)'; expected syslog+udp, syslog+tcp, syslog+tls, http, https, otlp+http, otlp+https or nats")
            }
        } else {
            throw fail("unknown output; expected stdout, file:PATH, syslog+udp|tcp|tls://HOST:PORT, http(s)://HOST:PORT/PATH or nats://HOST:PORT/SUBJECT")
        }
        for (given, v) in query {
            // One casing for every option, as for configuration keys: kebab-case. The
            // snake_case spellings of earlier releases still work, with a warning.
            let k = given.replacingAll(of: "_", with: "-")
            if k != given, allowed.contains(k) {
                spec.warnings.append("option '\(given)' is spelled '\(k)' now; the old spelling still works")
            }
            guard allowed.contains(k) else {
                throw fail("unknown option '\(given)' for this output; it takes \(allowed.sorted().joined(separator: ", "))")
            }
            func int(_ min: Int) throws -> Int {
                guard let n = Int(v), n >= min else { throw fail("option '\(k)' must be a whole number of at least \(min), not '\(v)'") }
                return n
            }
            func bool() throws -> Bool {
                switch v.lowercased() {
                case "1", "true", "yes": return true
                case "0", "false", "no": return false
                default: throw fail("option '\(k)' must be true or false, not '\(v)'")
                }
            }
            switch k {
            case "only":
                var set = Set<Int>()
                for word in v.split(separator: ",") {
                    guard let classes = OCSF.Class.named(word) else {
                        throw fail("option 'only': unknown class '\(word)'; expected findings, process, network, app or a class_uid (\(OCSF.Class.allCases.map { String($0.rawValue) }.joined(separator: ", ")))")
                    }
                    set.formUnion(classes.map(\.rawValue))
                }
                guard !set.isEmpty else { throw fail("option 'only' names no class") }
                spec.classes = set
            case "queue": spec.queueCapacity = try int(1)
            case "spool-max-bytes": spec.spoolMaxBytes = try int(0)
            case "batch": spec.batchSize = try int(1)
            case "batch-bytes": spec.batchBytes = try int(1024)
            case "batch-wait-ms": spec.batchWaitMillis = try int(0)
            case "gzip": spec.gzip = try bool()
            case "replay-seconds": spec.replaySeconds = try int(0)
            case "max-bytes", "keep", "fsync":
                guard case .file(let path, var maxBytes, var keep, var fsync) = spec.target else { break }
                if k == "max-bytes" { maxBytes = try int(4096) }
                if k == "keep" { keep = try int(0) }
                if k == "fsync" { fsync = try bool() }
                spec.target = .file(path: path, maxBytes: maxBytes, keep: keep, fsync: fsync)
            case "format":
                guard case .http(let s, let h, let p, let path, _) = spec.target else { break }
                guard let f = HTTPFormat(rawValue: v.lowercased()) else {
                    throw fail("option 'format' must be one of \(HTTPFormat.allCases.map(\.rawValue).joined(separator: ", ")), not '\(v)'")
                }
                spec.target = .http(secure: s, host: h, port: p, path: path, format: f)
            case "token":
                spec.token = v
                spec.redacted = spec.redacted.replacingAll(of: "token=\(queryValue(queryText, "token") ?? v)", with: "token=***")
            case "index":
                guard !v.isEmpty else { throw fail("option 'index' is empty") }
                spec.index = v
            case "stream":
                guard NATSSubject.isValidName(v) else { throw fail("option 'stream' must be a JetStream stream name (letters, digits, '-' and '_'), not '\(v)'") }
                spec.natsStream = v
            case "creds":
                guard !v.isEmpty else { throw fail("option 'creds' is empty; expected a NATS credentials file") }
                spec.natsCreds = v
            case "tls": spec.natsTLS = try bool()
            case "ca": spec.caFile = v
            case "verify": spec.verifyPeer = try bool()
            case "cert", "key":
                guard !v.isEmpty else { throw fail("option '\(k)' is empty; expected a PEM file") }
                if k == "cert" { spec.certFile = v } else { spec.keyFile = v }
            case "min-tls":
                guard let version = TLSVersion(rawValue: v) else {
                    throw fail("option 'min-tls' must be one of \(TLSVersion.allCases.map(\.rawValue).joined(separator: ", ")), not '\(v)'")
                }
                spec.minTLS = version
            default: break
            }
        }
        if (spec.certFile == nil) != (spec.keyFile == nil) {
            throw fail(spec.certFile == nil ? "option 'key' needs 'cert' (the client certificate it belongs to)"
                                            : "option 'cert' needs 'key' (the client certificate's private key)")
        }
        return spec
    }

    private static let tlsOptions: Set<String> = ["ca", "verify", "cert", "key", "min-tls"]

    init(target: Target, redacted: String) {
        self.target = target
        self.redacted = redacted
    }

    /// The connection settings of a `nats://` output (or a `--nats` URL).
    func natsSettings(host: String, port: UInt16) -> NATSSettings {
        var n = NATSSettings(host: host, port: port)
        n.credsFile = natsCreds
        n.tls = natsTLS
        n.caFile = caFile
        n.certFile = certFile
        n.keyFile = keyFile
        n.verifyPeer = verifyPeer
        return n
    }

    /// Whether this output receives events of that class.
    public func accepts(classUID: Int) -> Bool { classes?.contains(classUID) ?? true }

    private static func defaultPort(_ scheme: String) -> UInt16? {
        switch scheme {
        case "http": 80
        case "https": 443
        case "syslog+tls": 6514
        case "syslog+udp", "syslog+tcp": 514
        case "nats": 4222
        case "otlp+http", "otlp+https": 4318
        default: nil
        }
    }

    private static func parseHostPort(_ authority: String, defaultPort: UInt16?,
                                      fail: (String) -> OutputSpecError) throws -> (String, UInt16) {
        guard !authority.isEmpty else { throw fail("missing host; expected HOST:PORT") }
        var host = authority
        var portText: String?
        if authority.hasPrefix("[") {
            // [IPv6]:port
            guard let close = authority.firstIndex(of: "]") else { throw fail("unclosed '[' in IPv6 address") }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") { portText = String(after.dropFirst()) } else if !after.isEmpty { throw fail("unexpected '\(after)' after IPv6 address") }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            portText = String(authority[authority.index(after: colon)...])
        }
        guard !host.isEmpty else { throw fail("missing host before the port") }
        guard !host.contains("@") else { throw fail("credentials in the URL are not supported; use token=") }
        if let portText {
            guard let p = UInt16(portText), p > 0 else { throw fail("port '\(portText)' is not a number from 1 to 65535") }
            return (host, p)
        }
        guard let defaultPort else { throw fail("missing port; expected HOST:PORT") }
        return (host, defaultPort)
    }

    private static func queryValue(_ query: String?, _ key: String) -> String? {
        query?.split(separator: "&").lazy.map { String($0).splitOnce("=") }.first { $0.0 == key }?.1
    }

    private static func percentDecoded(_ s: String) -> String {
        guard s.contains("%") else { return s }
        var out: [UInt8] = []
        var bytes = Array(s.utf8)[...]
        while let b = bytes.popFirst() {
            if b == UInt8(ascii: "%"), bytes.count >= 2,
               let v = UInt8(String(decoding: bytes.prefix(2), as: UTF8.self), radix: 16) {
                out.append(v)
                bytes = bytes.dropFirst(2)
            } else {
                out.append(b)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// A malformed `--output` spec: says which one and what was wrong (the CLI exits 2).
public struct OutputSpecError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The spec as given.
    public var spec: String
    /// What was wrong with it.
    public var reason: String
    public var description: String { "invalid output '\(spec)': \(reason)" }
}

extension String {
    var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }

    /// Splits at the first `separator`: the part before, and the part after if it occurs.
    func splitOnce(_ separator: Character) -> (String, String?) {
        guard let i = firstIndex(of: separator) else { return (self, nil) }
        return (String(self[..<i]), String(self[index(after: i)...]))
    }

    /// `scheme://rest` → (scheme, rest).
    func splitScheme() -> (String, String)? {
        guard let r = firstRange(of: "://") else { return nil }
        let scheme = self[..<r.lowerBound].lowercased()
        guard !scheme.isEmpty, scheme.allSatisfy({ $0.isLetter || $0 == "+" }) else { return nil }
        return (scheme, String(self[r.upperBound...]))
    }

    func replacingAll(of target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = ""
        var rest = self[...]
        while let r = rest.firstRange(of: target) {
            out += rest[..<r.lowerBound]
            out += replacement
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}

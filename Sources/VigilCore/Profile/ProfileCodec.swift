import Foundation

/// A profile file that was refused: which file, which field, and why.
public struct ProfileLoadError: Error, Sendable, Hashable, CustomStringConvertible {
    public var file: String
    /// The JSON path of the offending field (`syscalls[3].count`), or `(file)` / `(document)`.
    public var field: String
    public var reason: String

    public init(file: String, field: String, reason: String) {
        self.file = file
        self.field = field
        self.reason = reason
    }

    public var description: String { "\(file): field \(field): \(reason)" }
}

/// The Models format, version 2: one profile per JSON file. See Models/README.md and
/// Models/profile.schema.json.
///
/// Version 2 is version 1 plus optional fields (`identity.name`, `invoked_as`, `peers`, `served_on`, `workloads`,
/// and the file fields) and the
/// identity rule 2 (executables resolved, see ``ProfileIdentity/of(executable:argv:comm:)``).
/// Version 1 files still load as they are; `vigil profile upgrade` rewrites them under the
/// new rule. Files are written as version 2.
///
/// Output is deterministic: object keys sorted, item arrays sorted by their key, one item
/// per line, times as RFC 3339 UTC, 64-bit hashes as 16 hex digits, so a re-learned
/// profile diffs as the items that changed.
public enum ProfileCodec {
    public static let formatVersion = 2
    /// Versions this build reads.
    public static let readableVersions: ClosedRange<Int64> = 1...2

    /// The format version of a profile file, without decoding the rest (nil when the file
    /// is not a JSON object with an integer `format_version`).
    public static func version(of data: [UInt8]) -> Int64? {
        guard let root = try? JSONSerialization.jsonObject(with: Data(data)) as? [String: Any],
              let n = root["format_version"] as? NSNumber, n.doubleValue == n.doubleValue.rounded() else { return nil }
        return n.int64Value
    }
    /// The name n-grams use for "before the thread's first call".
    public static let startName = "<start>"

    // MARK: Encoding

    public static func encode(_ p: Profile) -> [UInt8] {
        var top: [(String, JSONValue)] = [
            ("format_version", .int(Int64(formatVersion))),
            ("id", .string(p.id)),
            ("revision", .uint(p.revision)),
        ]
        var identity: [(String, JSONValue)] = [("executable", .string(p.identity.executable)), ("kind", .string(p.identity.kind.rawValue))]
        if let t = p.identity.target { identity.append(("target", .string(t))) }
        if let n = p.identity.name { identity.append(("name", .string(n))) }
        top.append(("identity", .object(identity)))
        if !p.invokedAs.isEmpty {
            top.append(("invoked_as", .array(p.invokedAs.sorted { $0.key < $1.key }.map { item([("path", .string($0.key))], $0.value) })))
        }
        let report = p.stability()
        top.append(("state", .string(report.state.rawValue)))
        if let c = p.currentBinary { top.append(("current_sha256", .string(c))) }
        top.append(("binaries", .array(p.binaries.sorted { $0.key < $1.key }.map { item([("sha256", .string($0.key))], $0.value) })))
        top.append(("syscalls", .array(p.syscalls.sorted { $0.key < $1.key }.map { item([("name", .string(SyscallTable.name(Int($0.key))))], $0.value) })))
        top.append(("ngrams", .array(p.ngrams.sorted { $0.key < $1.key }.map {
            item([("hash", .string(hex16($0.key))), ("calls", .array($0.value.calls.map { .string(callName($0)) }))], $0.value.seen)
        })))
        top.append(("executes", .array(p.executes.sorted { $0.key < $1.key }.map { item([("path", .string($0.key))], $0.value) })))
        top.append(("parents", .array(p.parents.sorted { $0.key < $1.key }.map { item([("path", .string($0.key))], $0.value) })))
        top.append(("destinations", .array(p.destinations.sorted { $0.key < $1.key }.map {
            item([("protocol", .string($0.key.transport.rawValue)), ("address", .string($0.key.address)), ("port", .uint(UInt64($0.key.port)))], $0.value)
        })))
        top.append(("listens", .array(p.listens.sorted { ListeningSocket.byPort($0.key, $1.key) }.map {
            item([("protocol", .string($0.key.transport.rawValue)), ("address", .string($0.key.address)), ("port", .uint(UInt64($0.key.port)))], $0.value)
        })))
        if !p.peers.isEmpty {
            top.append(("peers", .array(p.peers.sorted { $0.key < $1.key }.map {
                item([("protocol", .string($0.key.transport.rawValue)), ("address", .string($0.key.address)), ("port", .uint(UInt64($0.key.port)))], $0.value)
            })))
        }
        if !p.servedOn.isEmpty {
            top.append(("served_on", .array(p.servedOn.sorted { ListeningSocket.byPort($0.key, $1.key) }.map {
                item([("protocol", .string($0.key.transport.rawValue)), ("address", .string($0.key.address)), ("port", .uint(UInt64($0.key.port)))], $0.value)
            })))
        }
        top.append(("users", .array(p.users.sorted { $0.key < $1.key }.map { item([("uid", .uint(UInt64($0.key)))], $0.value) })))
        // Optional (files and libraries): written only when learned, so older readers and
        // profiles without them stay as they were.
        if !p.writes.isEmpty { top.append(("writes", .array(p.writes.sorted { $0.key < $1.key }.map { item([("path", .string($0.key))], $0.value) }))) }
        if !p.maps.isEmpty { top.append(("maps", .array(p.maps.sorted { $0.key < $1.key }.map { item([("path", .string($0.key))], $0.value) }))) }
        if !p.sensitiveReads.isEmpty {
            top.append(("sensitive_reads", .array(p.sensitiveReads.sorted { $0.key < $1.key }.map { item([("path", .string($0.key))], $0.value) })))
        }
        if !p.workloads.isEmpty {
            top.append(("workloads", .array(p.workloads.sorted { $0.key < $1.key }.map { item([("name", .string($0.key))], $0.value) })))
        }
        top.append(("learning", .object(p.learning.map { ($0.key, history($0.value)) })))
        var out = ""
        JSONValue.object(top).write(into: &out, indent: 0, compact: false)
        out += "\n"
        return Array(out.utf8)
    }

    static func encode(history h: LearningHistory) -> String {
        var out = ""
        history(h).write(into: &out, indent: 0, compact: true)
        return out
    }

    static func history(_ h: LearningHistory) -> JSONValue {
            let r = h.policy.evaluate(h, now: h.lastBucketEnd)
            return JSONValue.object([
                ("state", .string(r.state.rawValue)),
                ("reason", .string(r.reason)),
                ("policy", .object([
                    ("bucket_seconds", .uint(h.policy.bucketSeconds)),
                    ("window_buckets", .uint(UInt64(h.policy.windowBuckets))),
                    ("max_new_per_minute", .double(h.policy.maxNewPerMinute)),
                    ("min_observed_seconds", .uint(h.policy.minObservedSeconds)),
                    ("min_observations", .uint(h.policy.minObservations)),
                ])),
                ("observed_buckets", .uint(h.observedBuckets)),
                ("observations", .uint(h.observations)),
                ("new_items", .uint(h.newItems)),
                ("buckets", .array(h.buckets.map {
                    .object([("start", .string(RFC3339.format($0.start))), ("new_items", .uint($0.newItems)),
                             ("observations", .uint($0.observations)), ("drops", .uint($0.drops))])
                })),
            ])
    }

    static func item(_ key: [(String, JSONValue)], _ s: Sighting) -> JSONValue {
        .object(key + [
            ("first_seen", .string(RFC3339.format(s.firstSeen))),
            ("last_seen", .string(RFC3339.format(s.lastSeen))),
            ("count", .uint(s.count)),
            ("hosts", .object(s.hosts.map { ($0.key, .uint($0.value)) })),
        ])
    }

    static func hex16(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    static func callName(_ nr: UInt32) -> String { nr == NgramHash.startSymbol ? startName : SyscallTable.name(Int(nr)) }

    // MARK: Decoding

    /// Reads a profile, checking every field; `file` names the source in errors.
    public static func decode(_ data: [UInt8], file: String) throws(ProfileLoadError) -> Profile {
        func fail(_ field: String, _ reason: String) -> ProfileLoadError { ProfileLoadError(file: file, field: field, reason: reason) }
        if data.isEmpty { throw fail("(document)", "the file is empty (truncated?)") }
        let any: Any
        do { any = try JSONSerialization.jsonObject(with: Data(data)) } catch {
            throw fail("(document)", "not valid JSON (corrupt or truncated)")
        }
        guard let root = any as? [String: Any] else { throw fail("(document)", "expected a JSON object at the top") }
        let r = Reader(root, path: "", file: file)
        let version = try r.int("format_version")
        guard readableVersions.contains(version) else {
            throw fail("format_version", "unsupported format version \(version); this vigil reads versions \(readableVersions.lowerBound) to \(readableVersions.upperBound)")
        }
        let idr = try r.object("identity")
        let exe = try idr.string("executable")
        guard exe.hasPrefix("/") else { throw fail("identity.executable", "expected an absolute path, got \"\(exe)\"") }
        let kindText = try idr.string("kind")
        guard let kind = ProfileIdentity.Kind(rawValue: kindText) else {
            throw fail("identity.kind", "unknown kind \"\(kindText)\"; expected one of \(ProfileIdentity.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let target = try idr.optionalString("target")
        if (kind == .binary || kind == .command) != (target == nil) {
            throw fail("identity.target", kind == .binary || kind == .command ? "must be absent for kind \(kind.rawValue)" : "required for kind \(kind.rawValue)")
        }
        let name = try idr.optionalString("name")
        if let name, name.isEmpty || name.contains("/") || name.contains("\u{0}") {
            throw fail("identity.name", "expected a file name (not empty, no '/'), got \"\(name)\"")
        }
        var p = Profile(identity: ProfileIdentity(executable: exe, kind: kind, target: target, name: name))
        let id = try r.string("id")
        guard id == p.id else { throw fail("id", "\"\(id)\" does not match the identity (expected \"\(p.id)\")") }
        p.revision = try r.uint("revision")
        if let state = try r.optionalString("state"), LearningState(rawValue: state) == nil {
            throw fail("state", "expected \"learning\" or \"stable\", got \"\(state)\"")
        }
        _ = try r.optionalString("current_sha256")

        if r.has("invoked_as") {
            for it in try r.items("invoked_as") { try put(&p.invokedAs, try it.absolutePath("path"), try it.sighting(), it) }
        }
        for it in try r.items("binaries") {
            let h = try it.string("sha256")
            guard h.count == 64, h.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else { throw it.error("sha256", "expected 64 lower-case hex digits") }
            try put(&p.binaries, h, try it.sighting(), it)
        }
        for it in try r.items("syscalls") {
            let name = try it.string("name")
            guard let nr = SyscallTable.number(name), nr <= UInt32.max - 1 else { throw it.error("name", "unknown syscall \"\(name)\"") }
            try put(&p.syscalls, UInt32(nr), try it.sighting(), it)
        }
        for it in try r.items("ngrams") {
            let hashText = try it.string("hash")
            guard hashText.count == 16, let hash = UInt64(hashText, radix: 16) else { throw it.error("hash", "expected 16 hex digits") }
            let names = try it.strings("calls")
            var calls: [UInt32] = []
            for (k, n) in names.enumerated() {
                if n == startName { calls.append(NgramHash.startSymbol); continue }
                guard let nr = SyscallTable.number(n), nr < Int(NgramHash.startSymbol) else { throw it.error("calls[\(k)]", "unknown syscall \"\(n)\"") }
                calls.append(UInt32(nr))
            }
            guard (1...SequenceModel.Parameters.maxNgramLength).contains(calls.count) else { throw it.error("calls", "expected 1 to \(SequenceModel.Parameters.maxNgramLength) calls") }
            guard NgramHash.hash(calls) == hash else { throw it.error("hash", "does not match the calls (expected \(hex16(NgramHash.hash(calls))))") }
            guard p.ngrams[hash] == nil else { throw it.error("hash", "duplicate item") }
            p.ngrams[hash] = NgramItem(calls: calls, seen: try it.sighting())
        }
        for it in try r.items("executes") { try put(&p.executes, try it.absolutePath("path"), try it.sighting(), it) }
        for it in try r.items("parents") { try put(&p.parents, try it.absolutePath("path"), try it.sighting(), it) }
        for it in try r.items("destinations") {
            let (t, a, port) = try it.socket()
            try put(&p.destinations, NetworkDestination(transport: t, address: a, port: port), try it.sighting(), it)
        }
        for it in try r.items("listens") {
            let (t, a, port) = try it.socket()
            try put(&p.listens, ListeningSocket(transport: t, address: a, port: port), try it.sighting(), it)
        }
        if r.has("peers") {
            for it in try r.items("peers") {
                let (t, a, port) = try it.socket()
                guard t != .unix else { throw it.error("protocol", "peers are tcp or udp") }
                try put(&p.peers, NetworkDestination(transport: t, address: a, port: port), try it.sighting(), it)
            }
        }
        if r.has("served_on") {
            for it in try r.items("served_on") {
                let (t, a, port) = try it.socket()
                guard t != .unix else { throw it.error("protocol", "served_on is tcp or udp") }
                try put(&p.servedOn, ListeningSocket(transport: t, address: a, port: port), try it.sighting(), it)
            }
        }
        if r.has("workloads") {
            for it in try r.items("workloads") {
                let name = try it.string("name")
                guard !name.isEmpty else { throw it.error("name", "empty workload name") }
                try put(&p.workloads, name, try it.sighting(), it)
            }
        }
        for it in try r.items("users") {
            let uid = try it.uint("uid")
            guard uid <= UInt64(UInt32.max) else { throw it.error("uid", "out of range") }
            try put(&p.users, UInt32(uid), try it.sighting(), it)
        }
        for (field, keyPath) in [("writes", \Profile.writes), ("maps", \Profile.maps), ("sensitive_reads", \Profile.sensitiveReads)] where r.has(field) {
            for it in try r.items(field) { try put(&p[keyPath: keyPath], try it.absolutePath("path"), try it.sighting(), it) }
        }
        let lr = try r.object("learning")
        for host in lr.keys {
            let hr = try lr.object(host)
            let pr = try hr.object("policy")
            let policy = StabilityPolicy(bucketSeconds: try pr.uint("bucket_seconds"), windowBuckets: Int(try pr.uint("window_buckets")),
                                         maxNewPerMinute: try pr.double("max_new_per_minute"),
                                         minObservedSeconds: try pr.uint("min_observed_seconds"), minObservations: try pr.uint("min_observations"))
            guard policy.bucketSeconds == (try pr.uint("bucket_seconds")), policy.bucketSeconds > 0 else { throw pr.error("bucket_seconds", "must be at least 1") }
            guard policy.windowBuckets == Int(try pr.uint("window_buckets")) else { throw pr.error("window_buckets", "must be at least 1") }
            var h = LearningHistory(policy: policy)
            h.observedBuckets = try hr.uint("observed_buckets")
            h.observations = try hr.uint("observations")
            h.newItems = try hr.uint("new_items")
            if let s = try hr.optionalString("state"), LearningState(rawValue: s) == nil { throw hr.error("state", "expected \"learning\" or \"stable\"") }
            _ = try hr.optionalString("reason")
            var previous: UInt64? = nil
            for b in try hr.items("buckets") {
                let start = try b.time("start")
                guard start % policy.bucketNanos == 0 else { throw b.error("start", "not a multiple of bucket_seconds") }
                if let previous, start <= previous { throw b.error("start", "buckets must be in ascending order") }
                previous = start
                h.buckets.append(.init(start: start, newItems: try b.uint("new_items"), observations: try b.uint("observations"), drops: try b.uint("drops")))
            }
            guard UInt64(h.buckets.count) <= h.observedBuckets else { throw hr.error("observed_buckets", "smaller than the number of buckets listed") }
            p.learning[host] = h
        }
        return p
    }

    private static func put<K: Hashable>(_ set: inout [K: Sighting], _ key: K, _ s: Sighting, _ it: Reader) throws(ProfileLoadError) {
        guard set[key] == nil else { throw it.error("", "duplicate item") }
        set[key] = s
    }
}

/// Walks a decoded JSON object, naming the exact field in every error.
struct Reader {
    let dict: [String: Any]
    let path: String
    let file: String

    init(_ dict: [String: Any], path: String, file: String) {
        self.dict = dict
        self.path = path
        self.file = file
    }

    var keys: [String] { dict.keys.sorted() }

    /// Whether the object holds `key` (and it is not null).
    func has(_ key: String) -> Bool { dict[key] != nil && !(dict[key] is NSNull) }

    func name(_ key: String) -> String { key.isEmpty ? (path.isEmpty ? "(document)" : path) : (path.isEmpty ? key : "\(path).\(key)") }
    func error(_ key: String, _ reason: String) -> ProfileLoadError { ProfileLoadError(file: file, field: name(key), reason: reason) }

    func value(_ key: String) throws(ProfileLoadError) -> Any {
        guard let v = dict[key], !(v is NSNull) else { throw error(key, "missing") }
        return v
    }

    func string(_ key: String) throws(ProfileLoadError) -> String {
        guard let s = try value(key) as? String else { throw error(key, "expected a string") }
        return s
    }

    func optionalString(_ key: String) throws(ProfileLoadError) -> String? {
        guard dict[key] != nil, !(dict[key] is NSNull) else { return nil }
        return try string(key)
    }

    func number(_ key: String) throws(ProfileLoadError) -> NSNumber {
        let v = try value(key)
        guard !String(describing: type(of: v)).contains("Boolean"), !(v is String), let n = v as? NSNumber else { throw error(key, "expected a number") }
        return n
    }

    func uint(_ key: String) throws(ProfileLoadError) -> UInt64 {
        let n = try number(key)
        let d = n.doubleValue
        guard d >= 0, d == d.rounded(), d < 1.9e19 else { throw error(key, "expected a non-negative integer") }
        return n.uint64Value
    }

    func int(_ key: String) throws(ProfileLoadError) -> Int64 {
        let n = try number(key)
        guard n.doubleValue == n.doubleValue.rounded() else { throw error(key, "expected an integer") }
        return n.int64Value
    }

    func double(_ key: String) throws(ProfileLoadError) -> Double {
        let d = try number(key).doubleValue
        guard d.isFinite, d >= 0 else { throw error(key, "expected a finite number >= 0") }
        return d
    }

    func time(_ key: String) throws(ProfileLoadError) -> UInt64 {
        let s = try string(key)
        guard let t = RFC3339.parse(s) else { throw error(key, "expected an RFC 3339 UTC time like 2024-05-01T12:00:00Z, got \"\(s)\"") }
        return t
    }

    func absolutePath(_ key: String) throws(ProfileLoadError) -> String {
        let s = try string(key)
        guard s.hasPrefix("/") else { throw error(key, "expected an absolute path") }
        return s
    }

    func strings(_ key: String) throws(ProfileLoadError) -> [String] {
        guard let a = try value(key) as? [Any] else { throw error(key, "expected an array of strings") }
        var out: [String] = []
        for (i, v) in a.enumerated() {
            guard let s = v as? String else { throw error("\(key)[\(i)]", "expected a string") }
            out.append(s)
        }
        return out
    }

    func object(_ key: String) throws(ProfileLoadError) -> Reader {
        guard let d = try value(key) as? [String: Any] else { throw error(key, "expected an object") }
        return Reader(d, path: name(key), file: file)
    }

    func items(_ key: String) throws(ProfileLoadError) -> [Reader] {
        guard let a = try value(key) as? [Any] else { throw error(key, "expected an array") }
        var out: [Reader] = []
        for (i, v) in a.enumerated() {
            guard let d = v as? [String: Any] else { throw error("\(key)[\(i)]", "expected an object") }
            out.append(Reader(d, path: "\(name(key))[\(i)]", file: file))
        }
        return out
    }

    func sighting() throws(ProfileLoadError) -> Sighting {
        let first = try time("first_seen"), last = try time("last_seen")
        guard first <= last else { throw error("last_seen", "earlier than first_seen") }
        let count = try uint("count")
        let h = try object("hosts")
        var hosts: [String: UInt64] = [:]
        for k in h.keys { hosts[k] = try h.uint(k) }
        guard !hosts.isEmpty else { throw error("hosts", "expected at least one host") }
        guard hosts.values.reduce(0, &+) == count else { throw error("count", "\(count) is not the sum of the per-host counts (\(hosts.values.reduce(0, &+)))") }
        return Sighting(firstSeen: first, lastSeen: last, hosts: hosts)
    }

    func socket() throws(ProfileLoadError) -> (Transport, String, UInt16) {
        let proto = try string("protocol")
        guard let t = Transport(rawValue: proto) else { throw error("protocol", "expected tcp, udp, unix or other, got \"\(proto)\"") }
        let address = try string("address")
        guard !address.isEmpty else { throw error("address", "empty") }
        if t != .unix, t != .other {
            let parts = address.split(separator: "/", omittingEmptySubsequences: false)
            let ipOK = IPv4Address(parts[0]) != nil || IPv6Text.parse(String(parts[0])) != nil
            let prefixOK = parts.count == 1 || (parts.count == 2 && UInt8(parts[1]).map { $0 <= (IPv4Address(parts[0]) != nil ? 32 : 128) } == true)
            guard ipOK, prefixOK else { throw error("address", "expected an IP address or network (CIDR), got \"\(address)\"") }
        }
        let port = try uint("port")
        guard port <= 65535 else { throw error("port", "expected 0 to 65535") }
        return (t, address, UInt16(port))
    }
}

/// A JSON value with ordered keys, written deterministically (see ``ProfileCodec``).
enum JSONValue {
    case object([(String, JSONValue)])
    case array([JSONValue])
    case string(String)
    case int(Int64)
    case uint(UInt64)
    case double(Double)

    func write(into out: inout String, indent: Int, compact: Bool) {
        switch self {
        case .string(let s): Self.quote(s, into: &out)
        case .int(let v): out += String(v)
        case .uint(let v): out += String(v)
        case .double(let v): out += v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v)
        case .array(let a):
            if a.isEmpty { out += "[]"; return }
            let scalars = a.allSatisfy { if case .object = $0 { false } else if case .array = $0 { false } else { true } }
            if compact || scalars {
                out += "["
                for (i, v) in a.enumerated() { if i > 0 { out += ", " }; v.write(into: &out, indent: 0, compact: true) }
                out += "]"
            } else {
                // One item per line: a changed item is a one-line diff.
                out += "[\n"
                for (i, v) in a.enumerated() {
                    out += String(repeating: " ", count: indent + 2)
                    v.write(into: &out, indent: indent + 2, compact: true)
                    out += i == a.count - 1 ? "\n" : ",\n"
                }
                out += String(repeating: " ", count: indent) + "]"
            }
        case .object(let o):
            let sorted = o.sorted { $0.0 < $1.0 }
            if sorted.isEmpty { out += "{}"; return }
            if compact {
                out += "{"
                for (i, (k, v)) in sorted.enumerated() {
                    if i > 0 { out += ", " }
                    Self.quote(k, into: &out); out += ": "; v.write(into: &out, indent: 0, compact: true)
                }
                out += "}"
            } else {
                out += "{\n"
                for (i, (k, v)) in sorted.enumerated() {
                    out += String(repeating: " ", count: indent + 2)
                    Self.quote(k, into: &out); out += ": "
                    v.write(into: &out, indent: indent + 2, compact: false)
                    out += i == sorted.count - 1 ? "\n" : ",\n"
                }
                out += String(repeating: " ", count: indent) + "}"
            }
        }
    }

    static func quote(_ s: String, into out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20:
                let h = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
            default: out.unicodeScalars.append(u)
            }
        }
        out += "\""
    }
}

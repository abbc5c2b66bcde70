public import VigilCore
import Foundation

/// Where fleet baselines live: `nats://HOST[:PORT][/BUCKET][?creds=FILE&tls=true&ca=FILE&cert=FILE&key=FILE]`,
/// a JetStream key-value bucket (default `vigil-profiles`).
public struct FleetURL: Sendable, Hashable, CustomStringConvertible {
    public var settings: NATSSettings
    public var bucket: String
    /// The URL as given.
    public var text: String
    public var description: String { text }

    public static let defaultBucket = "vigil-profiles"

    /// Parses a `--nats` URL (or the run configuration's `fleet.nats`).
    public static func parse(_ text: String) throws(FleetError) -> FleetURL {
        func fail(_ why: String) -> FleetError { FleetError("invalid NATS URL '\(text)': \(why); expected nats://HOST[:PORT][/BUCKET][?creds=FILE&tls=true&ca=FILE]") }
        guard text.lowercased().hasPrefix("nats://") else { throw fail("it must start with nats://") }
        let (base, query) = text.splitOnce("?")
        let rest = base.dropFirst("nats://".count)
        let (_, pathPart) = String(rest).splitOnce("/")
        let bucket = (pathPart ?? "").isEmpty ? defaultBucket : pathPart!
        guard NATSSubject.isValidName(bucket) else { throw fail("'\(bucket)' is not a bucket name (letters, digits, '-' and '_')") }
        let withBucket = "nats://" + String(rest).splitOnce("/").0 + "/" + bucket + (query.map { "?" + $0 } ?? "")
        let spec: OutputSpec
        do { spec = try OutputSpec.parse(withBucket) } catch { throw fail((error as? OutputSpecError)?.reason ?? "\(error)") }
        guard case .nats(let host, let port, _) = spec.target else { throw fail("not a nats URL") }
        let allowed: Set<String> = ["creds", "tls", "ca", "cert", "key", "verify"]
        for pair in (query ?? "").split(separator: "&") {
            let k = String(pair).splitOnce("=").0
            guard allowed.contains(k) else { throw fail("option '\(k)' does not apply here; it takes \(allowed.sorted().joined(separator: ", "))") }
        }
        return FleetURL(settings: spec.natsSettings(host: host, port: port), bucket: bucket, text: text)
    }
}

/// A fleet operation that failed, or an entry refused: the message names what and where.
public struct FleetError: Error, Sendable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// Fleet baselines in a JetStream key-value bucket: every host pushes its own part of each
/// profile, signed with its ed25519 key; a pull verifies each host's entry against the
/// trusted public keys and merges them (`ProfileMerge`) into a models directory.
///
/// Keys (NATS key-value keys allow letters, digits and `-_=./`; other characters of an id or
/// host name are written `=XX`):
/// - `P.H.m`: the manifest of profile P from host H, a JSON object with the profile's size,
///   SHA-256, chunk count and chunk key prefix, the host's public key and its signature;
/// - `P.H.D.N`: chunk N of the profile file (its JSON text), D the first 16 hex digits of its
///   SHA-256, each chunk smaller than the server's payload limit.
///
/// One key per profile and host: a host pushing twice replaces its entry, so it counts once.
/// The chunks of a new push are written before its manifest, and the old push's chunks are
/// purged after it, so a reader sees the old entry or the new one.
public enum FleetBaselines {
    /// The domain string every signature starts with (so it cannot be taken for another).
    static let signaturePrefix = "vigil fleet profile v1\n"

    static func signedMessage(profile: String, host: String, sha256: String, bytes: Int, chunks: Int) -> [UInt8] {
        Array("\(signaturePrefix)\(profile)\n\(host)\n\(sha256)\n\(bytes)\n\(chunks)\n".utf8)
    }

    /// A key token for an id or host name.
    static func keyToken(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            let c = Character(UnicodeScalar(b))
            if (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b == 0x2d || b == 0x5f {
                out.append(c)
            } else {
                out += "=" + (b < 16 ? "0" : "") + String(b, radix: 16, uppercase: true)
            }
        }
        return out
    }

    /// What one push did, per profile.
    public struct Pushed: Sendable, Hashable {
        public var profile: String
        public var bytes: Int
        public var chunks: Int
        /// False when the bucket already held exactly this entry (nothing was written).
        public var changed: Bool
    }

    /// Pushes `host`'s part of each profile (``ProfileMerge/restricted(_:to:)``), signed by
    /// `key`. Profiles with nothing learned on `host` are skipped (returned in `skipped`).
    /// `chunkBytes` caps each chunk (default: the server's payload limit less 1 KiB).
    public static func push(_ profiles: [Profile], host: String, key: Ed25519Key, to url: FleetURL,
                            chunkBytes: Int? = nil) throws(FleetError) -> (pushed: [Pushed], skipped: [String]) {
        guard !host.isEmpty else { throw FleetError("the host id is empty") }
        let conn: NATSConnection
        let kv: NATSKeyValue
        do {
            conn = try NATSConnection(url.settings)
            kv = try conn.keyValue(bucket: url.bucket, create: true)
        } catch { throw FleetError(error.description) }
        defer { conn.close() }
        let chunkSize = max(1024, min(chunkBytes ?? Int.max, conn.maxPayload - 1024))
        var pushed: [Pushed] = []
        var skipped: [String] = []
        for p in profiles.sorted(by: { $0.id < $1.id }) {
            var own = ProfileMerge.restricted(p, to: host)
            guard !ProfileMerge.itemKeys(own).values.allSatisfy(\.isEmpty) || !own.learning.isEmpty else {
                skipped.append(p.id)
                continue
            }
            own.revision = 0  // revisions are each directory's own; the entry is the content
            let bytes = ProfileCodec.encode(own)
            let digest = SHA256.hex(of: bytes)
            let chunks = stride(from: 0, to: bytes.count, by: chunkSize).map { Array(bytes[$0..<min($0 + chunkSize, bytes.count)]) }
            let base = keyToken(p.id) + "." + keyToken(host)
            let prefix = base + "." + digest.prefix(16)
            let manifestKey = base + ".m"
            do {
                let old = try kv.get(manifestKey).flatMap { try? Manifest.decode($0, key: manifestKey) }
                if let old, old.sha256 == digest, old.publicKey == key.rawPublicKey {
                    pushed.append(Pushed(profile: p.id, bytes: bytes.count, chunks: chunks.count, changed: false))
                    continue
                }
                for (i, c) in chunks.enumerated() { try kv.put("\(prefix).\(i)", c) }
                let sig = try key.sign(signedMessage(profile: p.id, host: host, sha256: digest, bytes: bytes.count, chunks: chunks.count))
                let m = Manifest(profile: p.id, host: host, bytes: bytes.count, sha256: digest, chunks: chunks.count,
                                 chunkPrefix: prefix, publicKey: key.rawPublicKey, signature: sig)
                try kv.put(manifestKey, m.encoded())
                if let old, old.chunkPrefix != prefix {
                    for i in 0..<old.chunks { try? kv.purge("\(old.chunkPrefix).\(i)") }
                }
            } catch let e as NATSError {
                throw FleetError("pushing \(p.id): \(e)")
            } catch {
                throw FleetError("pushing \(p.id): \(error)")
            }
            pushed.append(Pushed(profile: p.id, bytes: bytes.count, chunks: chunks.count, changed: true))
        }
        return (pushed, skipped)
    }

    /// The trusted host keys: a directory of `HOST.pub` files (PEM public keys, as
    /// `vigil profile push` writes beside the host's signing key).
    public struct TrustedKeys: Sendable {
        public let directory: String
        public init(directory: String) { self.directory = directory }

        func path(for host: String) -> String { directory + "/" + host + ".pub" }
    }

    /// Every entry of the bucket, verified: the profiles (each restricted to its signing
    /// host's part), and the entries refused, each with the host, the key and why.
    public static func fetch(from url: FleetURL, trusted: TrustedKeys) throws(FleetError) -> (entries: [(host: String, profile: Profile)], refused: [String]) {
        let conn: NATSConnection
        let kv: NATSKeyValue
        do {
            conn = try NATSConnection(url.settings)
            kv = try conn.keyValue(bucket: url.bucket, create: false)
        } catch { throw FleetError(error.description) }
        defer { conn.close() }
        let keys: [String]
        do { keys = try kv.keys() } catch { throw FleetError(error.description) }
        var entries: [(String, Profile)] = []
        var refused: [String] = []
        var trustedCache: [String: Result<Ed25519Key, HostKeyError>] = [:]
        for key in keys.sorted() where key.hasSuffix(".m") {
            let m: Manifest
            do {
                guard let bytes = try kv.get(key) else { continue }  // removed meanwhile
                m = try Manifest.decode(bytes, key: key)
            } catch let e as NATSError {
                throw FleetError(e.description)
            } catch {
                refused.append("\(url.bucket)/\(key): \(error)")
                continue
            }
            let what = "entry \(url.bucket)/\(key) (profile \(m.profile), host \(m.host))"
            guard keyToken(m.profile) + "." + keyToken(m.host) + ".m" == key else {
                refused.append("\(what): its key does not match the profile and host it names; refused")
                continue
            }
            guard !m.host.contains("/"), !m.host.hasPrefix(".") else {
                refused.append("\(what): host name '\(m.host)' cannot name a key file; refused")
                continue
            }
            let keyPath = trusted.path(for: m.host)
            let trustedKey: Ed25519Key
            switch trustedCache[m.host] ?? Result(catching: { () throws(HostKeyError) -> Ed25519Key in try Ed25519Key.loadPublic(keyPath) }) {
            case .success(let k): trustedKey = k; trustedCache[m.host] = .success(k)
            case .failure(let e):
                trustedCache[m.host] = .failure(e)
                let why = FileManager.default.fileExists(atPath: keyPath) ? "the trusted key \(keyPath) does not load (\(e.reason))"
                    : "host \(m.host) has no trusted key (expected \(keyPath))"
                refused.append("\(what): \(why); refused")
                continue
            }
            guard let sig = m.signature else {
                refused.append("\(what): unsigned; refused (host \(m.host)'s trusted key is \(keyPath), \(trustedKey.fingerprint))")
                continue
            }
            let message = signedMessage(profile: m.profile, host: m.host, sha256: m.sha256, bytes: m.bytes, chunks: m.chunks)
            guard trustedKey.verify(sig, of: message) else {
                let claimed = Ed25519Key.publicKey(raw: m.publicKey)?.fingerprint ?? "none"
                refused.append("\(what): the signature does not verify against host \(m.host)'s trusted key \(keyPath) (\(trustedKey.fingerprint)); the entry names key \(claimed); refused")
                continue
            }
            var bytes: [UInt8] = []
            do {
                for i in 0..<m.chunks {
                    guard let c = try kv.get("\(m.chunkPrefix).\(i)") else {
                        throw FleetError("chunk \(m.chunkPrefix).\(i) is missing (pushed again meanwhile? pull again)")
                    }
                    bytes += c
                }
            } catch let e as NATSError {
                throw FleetError(e.description)
            } catch {
                refused.append("\(what): \(error)")
                continue
            }
            guard bytes.count == m.bytes, SHA256.hex(of: bytes) == m.sha256 else {
                refused.append("\(what): its chunks do not match the signed size and SHA-256 (tampered or torn); refused")
                continue
            }
            let p: Profile
            do { p = try ProfileCodec.decode(bytes, file: "\(url.bucket)/\(key)") } catch {
                refused.append("\(what): \(error)")
                continue
            }
            guard p.id == m.profile else {
                refused.append("\(what): holds profile \(p.id), not the one signed; refused")
                continue
            }
            entries.append((m.host, ProfileMerge.restricted(p, to: m.host)))
        }
        return (entries, refused)
    }

    /// What a pull did.
    public struct PullSummary: Sendable {
        /// Hosts whose entries were merged.
        public var hosts: Set<String> = []
        /// Profiles merged, and of those the files that changed.
        public var profiles = 0
        public var written = 0
        /// Entries refused (each names its host, its key and why).
        public var refused: [String] = []
        /// Local profile files that do not load (left as they are).
        public var localErrors: [String] = []
    }

    /// Fetches and verifies every entry, and merges each profile's entries with the one in
    /// `store` (if any) into `store`: the same merge as `vigil profile merge`, so pulling
    /// again, or pulling entries this host pushed, changes nothing.
    public static func pull(from url: FleetURL, trusted: TrustedKeys, into store: ProfileStore) throws(FleetError) -> PullSummary {
        let (entries, refused) = try fetch(from: url, trusted: trusted)
        var summary = PullSummary()
        summary.refused = refused
        let (local, errors) = store.loadAll()
        summary.localErrors = errors.map(\.description)
        let bad = Set(errors.map(\.file))
        var byID: [String: [Profile]] = [:]
        for (host, p) in entries {
            summary.hosts.insert(host)
            byID[p.id, default: []].append(p)
        }
        for p in local where byID[p.id] != nil { byID[p.id]!.append(p) }
        for id in byID.keys.sorted() {
            // A local file that does not load is not overwritten.
            guard !bad.contains(store.path(for: id)) else { continue }
            var merged = ProfileMerge.merge(byID[id]!)
            if let mine = local.first(where: { $0.id == id }) { merged.revision = mine.revision }
            do {
                if try store.save(&merged) { summary.written += 1 }
            } catch { throw FleetError("writing \(store.path(for: id)): \(error)") }
            summary.profiles += 1
        }
        return summary
    }
}

/// A fleet entry's manifest (the `.m` key).
struct Manifest: Hashable {
    var profile: String
    var host: String
    var bytes: Int
    var sha256: String
    var chunks: Int
    var chunkPrefix: String
    var publicKey: [UInt8]
    var signature: [UInt8]?

    func encoded() -> [UInt8] {
        var w = JSONWriter(reservingCapacity: 512)
        w.object { w in
            w.field("format", 1)
            w.field("profile", profile)
            w.field("host", host)
            w.field("bytes", bytes)
            w.field("sha256", sha256)
            w.field("chunks", chunks)
            w.field("chunk_prefix", chunkPrefix)
            w.field("public_key", Data(publicKey).base64EncodedString())
            if let signature { w.field("signature", Data(signature).base64EncodedString()) }
        }
        return w.bytes
    }

    static func decode(_ bytes: [UInt8], key: String) throws(FleetError) -> Manifest {
        func fail(_ why: String) -> FleetError { FleetError("manifest \(key): \(why); refused") }
        guard let o = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] else { throw fail("not a JSON object") }
        guard (o["format"] as? NSNumber)?.intValue == 1 else { throw fail("format \(o["format"] ?? "missing") is not 1") }
        func string(_ k: String) throws(FleetError) -> String {
            guard let s = o[k] as? String, !s.isEmpty else { throw fail("field '\(k)' missing or not a string") }
            return s
        }
        func int(_ k: String) throws(FleetError) -> Int {
            guard let n = o[k] as? NSNumber, n.intValue >= 0, n.intValue < 1 << 30 else { throw fail("field '\(k)' missing or not a count") }
            return n.intValue
        }
        let m = Manifest(profile: try string("profile"), host: try string("host"), bytes: try int("bytes"),
                         sha256: try string("sha256"), chunks: try int("chunks"), chunkPrefix: try string("chunk_prefix"),
                         publicKey: Data(base64Encoded: (o["public_key"] as? String) ?? "").map(Array.init) ?? [],
                         signature: (o["signature"] as? String).flatMap { Data(base64Encoded: $0) }.map(Array.init))
        guard m.chunks <= 100_000 else { throw fail("too many chunks (\(m.chunks))") }
        return m
    }
}

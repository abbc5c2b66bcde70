import COpenSSL
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Why a signing key could not be created, read or used.
public struct HostKeyError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var reason: String
    public var description: String { "\(file): \(reason)" }
}

/// An ed25519 key, through libcrypto's EVP interface: a host's private signing key, or a
/// public key to verify another host's signatures with.
public final class Ed25519Key: @unchecked Sendable {
    private let pkey: OpaquePointer
    /// Whether this key can sign (holds the private half).
    public let isPrivate: Bool

    private init(_ pkey: OpaquePointer, isPrivate: Bool) {
        self.pkey = pkey
        self.isPrivate = isPrivate
    }

    deinit { EVP_PKEY_free(pkey) }

    /// A new random key.
    public static func generate() throws(HostKeyError) -> Ed25519Key {
        guard let ctx = EVP_PKEY_CTX_new_from_name(nil, "ED25519", nil) else { throw HostKeyError(file: "(new key)", reason: "EVP_PKEY_CTX_new_from_name: \(cryptoErrors())") }
        defer { EVP_PKEY_CTX_free(ctx) }
        var key: OpaquePointer?
        guard EVP_PKEY_keygen_init(ctx) == 1, EVP_PKEY_generate(ctx, &key) == 1, let key else {
            throw HostKeyError(file: "(new key)", reason: "generating an ed25519 key: \(cryptoErrors())")
        }
        return Ed25519Key(key, isPrivate: true)
    }

    /// The host's signing key in `path` (PEM, PKCS #8), created with mode 0600 on first use,
    /// with its public half written beside it as `path.pub` for the other hosts to trust.
    /// A key file that group or others can read is refused: it would not be this host's alone.
    public static func loadOrCreate(privateKeyAt path: String) throws(HostKeyError) -> Ed25519Key {
        if FileManager.default.fileExists(atPath: path) {
            var st = stat()
            if stat(path, &st) == 0, st.st_mode & 0o077 != 0 {
                throw HostKeyError(file: path, reason: "the signing key is readable or writable by users other than its owner (mode \(String(st.st_mode & 0o777, radix: 8))); fix: chmod 600 \(path)")
            }
            let key = try read(path, isPrivate: true)
            if !FileManager.default.fileExists(atPath: path + ".pub") { try key.writePublic(to: path + ".pub") }
            return key
        }
        let key = try generate()
        let dir = (path as NSString).deletingLastPathComponent
        do {
            if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]) }
            try AtomicFile.write(key.pem(private: true), to: path, mode: 0o600)
        } catch {
            throw HostKeyError(file: path, reason: "cannot write the new signing key: \(error)")
        }
        try key.writePublic(to: path + ".pub")
        return key
    }

    /// A public key from a PEM file (`-----BEGIN PUBLIC KEY-----`, as `path.pub` holds).
    public static func loadPublic(_ path: String) throws(HostKeyError) -> Ed25519Key {
        try read(path, isPrivate: false)
    }

    /// A public key from its 32 raw bytes.
    public static func publicKey(raw: [UInt8]) -> Ed25519Key? {
        guard raw.count == 32, let k = EVP_PKEY_new_raw_public_key(vigil_evp_pkey_ed25519(), nil, raw, raw.count) else { return nil }
        return Ed25519Key(k, isPrivate: false)
    }

    private static func read(_ path: String, isPrivate: Bool) throws(HostKeyError) -> Ed25519Key {
        guard let data = FileManager.default.contents(atPath: path) else { throw HostKeyError(file: path, reason: "cannot be read") }
        let key: OpaquePointer? = data.withUnsafeBytes { buf in
            guard let bio = BIO_new_mem_buf(buf.baseAddress, Int32(buf.count)) else { return nil }
            defer { BIO_free(bio) }
            return isPrivate ? PEM_read_bio_PrivateKey(bio, nil, nil, nil) : PEM_read_bio_PUBKEY(bio, nil, nil, nil)
        }
        guard let key else {
            throw HostKeyError(file: path, reason: "not a PEM \(isPrivate ? "private" : "public") key: \(cryptoErrors())")
        }
        guard EVP_PKEY_get_base_id(key) == vigil_evp_pkey_ed25519() else {
            EVP_PKEY_free(key)
            throw HostKeyError(file: path, reason: "not an ed25519 key")
        }
        return Ed25519Key(key, isPrivate: isPrivate)
    }

    /// The key (its private half when `private`) as PEM text.
    public func pem(private: Bool) -> [UInt8] {
        guard let bio = BIO_new(BIO_s_mem()) else { return [] }
        defer { BIO_free(bio) }
        let ok = `private` ? PEM_write_bio_PrivateKey(bio, pkey, nil, nil, 0, nil, nil) : PEM_write_bio_PUBKEY(bio, pkey)
        guard ok == 1 else { return [] }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = BIO_read(bio, &buf, Int32(buf.count))
            if n <= 0 { break }
            out += buf[..<Int(n)]
        }
        return out
    }

    private func writePublic(to path: String) throws(HostKeyError) {
        do { try AtomicFile.write(pem(private: false), to: path, mode: 0o644) } catch {
            throw HostKeyError(file: path, reason: "cannot write the public key: \(error)")
        }
    }

    /// The 32 bytes of the public key.
    public var rawPublicKey: [UInt8] {
        var raw = [UInt8](repeating: 0, count: 32)
        var len = raw.count
        guard EVP_PKEY_get_raw_public_key(pkey, &raw, &len) == 1 else { return [] }
        return Array(raw[..<len])
    }

    /// A short name for the key in messages: the first 16 hex digits of the SHA-256 of its
    /// raw public bytes.
    public var fingerprint: String { String(SHA256.hex(of: rawPublicKey).prefix(16)) }

    /// The ed25519 signature of `message` (64 bytes).
    public func sign(_ message: [UInt8]) throws(HostKeyError) -> [UInt8] {
        guard isPrivate else { throw HostKeyError(file: "key \(fingerprint)", reason: "a public key cannot sign") }
        guard let md = EVP_MD_CTX_new() else { throw HostKeyError(file: "key \(fingerprint)", reason: "EVP_MD_CTX_new failed") }
        defer { EVP_MD_CTX_free(md) }
        var sig = [UInt8](repeating: 0, count: 64)
        var len = sig.count
        guard EVP_DigestSignInit(md, nil, nil, nil, pkey) == 1,
              EVP_DigestSign(md, &sig, &len, message, message.count) == 1 else {
            throw HostKeyError(file: "key \(fingerprint)", reason: "signing: \(cryptoErrors())")
        }
        return Array(sig[..<len])
    }

    /// Whether `signature` is this key's ed25519 signature of `message`.
    public func verify(_ signature: [UInt8], of message: [UInt8]) -> Bool {
        guard let md = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(md) }
        guard EVP_DigestVerifyInit(md, nil, nil, nil, pkey) == 1 else { ERR_clear_error(); return false }
        let ok = EVP_DigestVerify(md, signature, signature.count, message, message.count) == 1
        ERR_clear_error()
        return ok
    }
}

/// libcrypto's queued errors as text, clearing the queue.
private func cryptoErrors() -> String {
    var texts: [String] = []
    while case let code = ERR_get_error(), code != 0 {
        var buf = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buf, buf.count)
        texts.append(String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
    return texts.isEmpty ? "no OpenSSL error queued" : texts.joined(separator: "; ")
}

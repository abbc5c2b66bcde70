import Foundation
import COpenSSL

/// SHA-256, streaming, through OpenSSL's libcrypto (the COpenSSL target): feed bytes with
/// ``update(_:)`` in any pieces, then ``finalize()``. Vigil hashes executables with it to
/// record which binary a profile was learned from. libcrypto uses the CPU's SHA extensions
/// where it has them (see Benchmarks/README.md for the figures against the hand-written
/// version this replaced).
///
/// A value type: a copy continues independently (the digest state is copied on write).
public struct SHA256: Sendable {
    /// Owns one `EVP_MD_CTX`.
    private final class Context: @unchecked Sendable {
        let md: OpaquePointer

        init() {
            guard let md = EVP_MD_CTX_new() else { fatalError("OpenSSL EVP_MD_CTX_new: out of memory") }
            self.md = md
            guard EVP_DigestInit_ex(md, EVP_sha256(), nil) == 1 else { fatalError("OpenSSL has no SHA-256") }
        }

        init(copying other: Context) {
            guard let md = EVP_MD_CTX_new() else { fatalError("OpenSSL EVP_MD_CTX_new: out of memory") }
            self.md = md
            guard EVP_MD_CTX_copy_ex(md, other.md) == 1 else { fatalError("OpenSSL EVP_MD_CTX_copy_ex failed") }
        }

        deinit { EVP_MD_CTX_free(md) }
    }

    private var context = Context()
    private var finished = false

    public init() {}

    private mutating func writable() -> OpaquePointer {
        if !isKnownUniquelyReferenced(&context) { context = Context(copying: context) }
        return context.md
    }

    /// Adds bytes to the message.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        precondition(!finished, "SHA256.update after finalize")
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        _ = EVP_DigestUpdate(writable(), base, bytes.count)
    }

    public mutating func update(_ bytes: some Sequence<UInt8>) {
        let done: Void? = bytes.withContiguousStorageIfAvailable { update(UnsafeRawBufferPointer($0)) }
        if done == nil { Array(bytes).withUnsafeBytes { update($0) } }
    }

    /// The 32-byte digest. The hasher should not be used afterwards.
    public mutating func finalize() -> [UInt8] {
        precondition(!finished, "SHA256.finalize called twice")
        finished = true
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        _ = EVP_DigestFinal_ex(writable(), &out, &length)
        return out
    }

    /// The digest of `bytes` as 64 lower-case hex digits.
    public static func hex(of bytes: some Sequence<UInt8>) -> String {
        var h = SHA256()
        h.update(bytes)
        return hexString(h.finalize())
    }

    /// The digest of a file's contents as 64 lower-case hex digits, read in 64 KiB pieces.
    public static func hex(ofFile path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: path])
        }
        defer { try? handle.close() }
        var h = SHA256()
        while let chunk = try handle.read(upToCount: 1 << 16), !chunk.isEmpty {
            chunk.withUnsafeBytes { h.update($0) }
        }
        return hexString(h.finalize())
    }

    static func hexString(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }
}
/// Hashes executables for the learner, remembering each file's digest until its size,
/// modification time or inode changes, so a busy exec loop does not re-read the same binary.
public final class CachingFileHasher: @unchecked Sendable {
    private struct Stamp: Hashable { var inode: UInt64; var size: UInt64; var mtime: Double }
    private var cache: [String: (Stamp, String)] = [:]
    private let lock = NSLock()

    public init() {}

    /// The SHA-256 of the file at `path` as hex, or nil when it cannot be read.
    public func sha256(path: String) -> String? {
        guard let attrs = try? FileManager.default.attributesOfItem(atPath: path) else { return nil }
        let stamp = Stamp(inode: (attrs[.systemFileNumber] as? NSNumber)?.uint64Value ?? 0,
                          size: (attrs[.size] as? NSNumber)?.uint64Value ?? 0,
                          mtime: (attrs[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)
        lock.lock()
        if let (s, h) = cache[path], s == stamp { lock.unlock(); return h }
        lock.unlock()
        guard let h = try? SHA256.hex(ofFile: path) else { return nil }
        lock.lock()
        cache[path] = (stamp, h)
        lock.unlock()
        return h
    }
}

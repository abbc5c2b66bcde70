import Foundation

/// MD5 (RFC 1321), for one purpose only: comparing a file with the digest dpkg recorded
/// when it installed it (`/var/lib/dpkg/info/PACKAGE.md5sums`). Never a security boundary
/// on its own: it says the file is the one a package put there, which the caller checks
/// against what it already trusts (the package database, owned by root).
public struct MD5 {
    private var state: (UInt32, UInt32, UInt32, UInt32) = (0x67452301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476)
    private var buffer: [UInt8] = []
    private var length: UInt64 = 0

    public init() { buffer.reserveCapacity(64) }

    private static let shifts: [UInt32] = [7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                                           5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
                                           4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                                           6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21]
    /// floor(2^32 * |sin(i + 1)|)
    private static let table: [UInt32] = (0..<64).map { i in
        let v = abs(sin(Double(i + 1))) * 4_294_967_296.0
        return UInt32(truncatingIfNeeded: UInt64(v))
    }

    public mutating func update(_ bytes: some Collection<UInt8>) {
        length &+= UInt64(bytes.count)
        var rest = Array(bytes)[...]
        // Top up a partial block first, then whole blocks straight from the input.
        if !buffer.isEmpty {
            let take = min(64 - buffer.count, rest.count)
            buffer += rest.prefix(take)
            rest = rest.dropFirst(take)
            guard buffer.count == 64 else { return }
            block(buffer[...])
            buffer.removeAll(keepingCapacity: true)
        }
        while rest.count >= 64 {
            block(rest.prefix(64))
            rest = rest.dropFirst(64)
        }
        buffer += rest
    }

    /// The digest, lowercase hex (as `md5sum` prints it).
    public mutating func hexDigest() -> String {
        let bits = length &* 8
        var pad: [UInt8] = [0x80]
        while (buffer.count + pad.count) % 64 != 56 { pad.append(0) }
        for i in 0..<8 { pad.append(UInt8(truncatingIfNeeded: bits >> (8 * UInt64(i)))) }
        let saved = length
        update(pad)
        length = saved
        var out = ""
        for word in [state.0, state.1, state.2, state.3] {
            for i in 0..<4 {
                let byte = UInt8(truncatingIfNeeded: word >> (8 * UInt32(i)))
                out += String(byte >> 4, radix: 16) + String(byte & 0xf, radix: 16)
            }
        }
        return out
    }

    public static func hex(_ bytes: some Collection<UInt8>) -> String {
        var m = MD5()
        m.update(bytes)
        return m.hexDigest()
    }

    private mutating func block(_ chunk: ArraySlice<UInt8>) {
        var m = [UInt32](repeating: 0, count: 16)
        let base = chunk.startIndex
        for i in 0..<16 {
            let o = base + 4 * i
            m[i] = UInt32(chunk[o]) | UInt32(chunk[o + 1]) << 8 | UInt32(chunk[o + 2]) << 16 | UInt32(chunk[o + 3]) << 24
        }
        var (a, b, c, d) = state
        for i in 0..<64 {
            var f: UInt32
            let g: Int
            switch i {
            case 0..<16: f = (b & c) | (~b & d); g = i
            case 16..<32: f = (d & b) | (~d & c); g = (5 * i + 1) % 16
            case 32..<48: f = b ^ c ^ d; g = (3 * i + 5) % 16
            default: f = c ^ (b | ~d); g = (7 * i) % 16
            }
            f = f &+ a &+ Self.table[i] &+ m[g]
            a = d
            d = c
            c = b
            let s = Self.shifts[i]
            b = b &+ (f << s | f >> (32 - s))
        }
        state = (state.0 &+ a, state.1 &+ b, state.2 &+ c, state.3 &+ d)
    }
}

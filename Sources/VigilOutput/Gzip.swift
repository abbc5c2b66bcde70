import CZlib

/// gzip (RFC 1952) compression of request bodies, through the system's zlib.
enum Gzip {
    struct Failure: Error, CustomStringConvertible {
        var code: Int32
        var description: String { "gzip compression failed (zlib error \(code))" }
    }

    /// `data` compressed as one gzip member. Level 1: the fastest, and most of the gain on
    /// repetitive JSON; an agent must not spend its host's CPU on a few percent of bytes.
    static func compress(_ data: [UInt8], level: Int32 = 1) throws -> [UInt8] {
        var strm = z_stream()
        var rc = vigil_deflate_init_gzip(&strm, level)
        guard rc == Z_OK else { throw Failure(code: rc) }
        defer { deflateEnd(&strm) }
        var out = [UInt8](repeating: 0, count: Int(deflateBound(&strm, uLong(data.count))) + 32)
        let produced: Int = data.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { output in
                strm.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
                strm.avail_in = uInt(input.count)
                strm.next_out = output.baseAddress
                strm.avail_out = uInt(output.count)
                rc = deflate(&strm, Z_FINISH)
                return output.count - Int(strm.avail_out)
            }
        }
        guard rc == Z_STREAM_END else { throw Failure(code: rc) }
        out.removeSubrange(produced...)
        return out
    }
}

/// A small, deterministic JSON writer.
///
/// Keys come out in the order they are written, so the same event always produces the same
/// bytes (golden files, diffable logs, deduplication by hash). It writes straight into a
/// byte buffer, which is several times faster than building dictionaries for
/// `JSONSerialization`, and it never reorders or reformats numbers.
public struct JSONWriter: Sendable {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8] = []
    /// Whether the next value in the current container needs a comma before it.
    private var needsComma = false

    public init(reservingCapacity capacity: Int = 512) {
        bytes.reserveCapacity(capacity)
    }

    // MARK: Containers

    /// Writes an object whose members `body` writes.
    public mutating func object(_ body: (inout JSONWriter) -> Void) {
        separate()
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
        body(&self)
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    /// Writes an array whose elements `body` writes.
    public mutating func array(_ body: (inout JSONWriter) -> Void) {
        separate()
        bytes.append(UInt8(ascii: "["))
        needsComma = false
        body(&self)
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    /// Writes `"key":` inside an object; the next value written is the member's value.
    public mutating func key(_ name: String) {
        separate()
        writeString(name)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    // MARK: Members (key + value)

    /// Writes the member `"name":value`.
    public mutating func field(_ name: String, _ value: String) { key(name); string(value) }
    public mutating func field(_ name: String, _ value: Int64) { key(name); number(value) }
    public mutating func field(_ name: String, _ value: Int) { key(name); number(Int64(value)) }
    public mutating func field(_ name: String, _ value: Bool) { key(name); bool(value) }
    /// Writes the member only when the value is present: OCSF omits unknown attributes
    /// rather than sending nulls.
    public mutating func field(_ name: String, ifPresent value: String?) { if let value { field(name, value) } }
    public mutating func field(_ name: String, ifPresent value: Int64?) { if let value { field(name, value) } }
    /// Writes the member `"name":{...}`, its members written by `body`.
    public mutating func object(_ name: String, _ body: (inout JSONWriter) -> Void) { key(name); object(body) }
    /// Writes the member `"name":[...]`, its elements written by `body`.
    public mutating func array(_ name: String, _ body: (inout JSONWriter) -> Void) { key(name); array(body) }

    // MARK: Scalars

    /// Writes a string value, escaped.
    public mutating func string(_ value: String) {
        separate()
        writeString(value)
        needsComma = true
    }

    /// Writes raw bytes as a JSON string; invalid UTF-8 sequences become U+FFFD, so a
    /// hostile argv or path can never produce a line a SIEM rejects.
    public mutating func string(utf8 raw: some Collection<UInt8>) {
        string(String(decoding: raw, as: UTF8.self))
    }

    /// Writes an integer value.
    public mutating func number(_ value: Int64) {
        separate()
        // Digits straight into the buffer: no String allocation per number.
        if value == 0 { bytes.append(0x30); needsComma = true; return }
        var v = value.magnitude
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { d in
            while v > 0 { d[19 - count] = UInt8(v % 10) + 0x30; v /= 10; count += 1 }
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: d[(20 - count)...]))
        }
        needsComma = true
    }

    /// Writes `true` or `false`.
    public mutating func bool(_ value: Bool) {
        separate()
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
        needsComma = true
    }

    /// Splices an already-encoded JSON value in as it is (e.g. an event inside a HEC envelope).
    public mutating func raw(_ json: some Collection<UInt8>) {
        separate()
        bytes.append(contentsOf: json)
        needsComma = true
    }

    // MARK: Internals

    private mutating func separate() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    private mutating func writeString(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        var s = s
        // Native strings are contiguous UTF-8; the closure runs on their storage, no copy.
        s.withUTF8 { u in appendEscaped(u) }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Appends `u` escaped. Swift strings are valid Unicode, so `u` is valid UTF-8: only
    /// what JSON forbids raw needs escaping. U+2028/2029 are escaped too because
    /// JavaScript-based log viewers treat them as line breaks. Runs of plain bytes are
    /// copied in one append, which is what makes this fast.
    private mutating func appendEscaped(_ u: UnsafeBufferPointer<UInt8>) {
        var runStart = 0
        var i = 0
        let n = u.count
        while i < n {
            let b = u[i]
            let needs = b < 0x20 || b == 0x22 || b == 0x5c || b == 0x7f
                || (b == 0xe2 && i + 2 < n && u[i + 1] == 0x80 && (u[i + 2] == 0xa8 || u[i + 2] == 0xa9))
            if !needs { i += 1; continue }
            if runStart < i { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: u[runStart..<i])) }
            switch b {
            case 0x22: bytes.append(contentsOf: [0x5c, 0x22])
            case 0x5c: bytes.append(contentsOf: [0x5c, 0x5c])
            case 0x0a: bytes.append(contentsOf: [0x5c, UInt8(ascii: "n")])
            case 0x0d: bytes.append(contentsOf: [0x5c, UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [0x5c, UInt8(ascii: "t")])
            case 0x08: bytes.append(contentsOf: [0x5c, UInt8(ascii: "b")])
            case 0x0c: bytes.append(contentsOf: [0x5c, UInt8(ascii: "f")])
            case 0xe2:
                bytes.append(contentsOf: [0x5c, UInt8(ascii: "u"), 0x32, 0x30, 0x32, u[i + 2] == 0xa8 ? UInt8(ascii: "8") : UInt8(ascii: "9")])
                i += 2
            default:
                bytes.append(contentsOf: [0x5c, UInt8(ascii: "u"), 0x30, 0x30, Self.hex[Int(b >> 4)], Self.hex[Int(b & 0xf)]])
            }
            i += 1
            runStart = i
        }
        if runStart < n { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: u[runStart..<n])) }
    }
}

import Foundation

/// Why a trace file could not be read, naming the file and, for bad content, the line and token.
public struct TraceInputError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Reason: Sendable, Hashable {
        /// A token that is not a decimal syscall number.
        case notANumber(token: String)
        /// A number above the largest accepted (`0xFFFFFFFE`; `0xFFFFFFFF` means "before start").
        case outOfRange(token: String)
        /// The file holds no syscall numbers.
        case empty
        /// The file or directory does not exist or cannot be read.
        case unreadable(String)
        /// A required directory is missing.
        case missingDirectory(String)
        /// A corpus description (``Corpus/manifestName``) that does not parse or says
        /// something unsupported: what was expected.
        case badManifest(String)
    }

    public var path: String
    /// 1-based line of the offending token, when there is one.
    public var line: Int?
    public var reason: Reason

    public init(path: String, line: Int? = nil, reason: Reason) {
        self.path = path
        self.line = line
        self.reason = reason
    }

    public var description: String {
        let place = line.map { "\(path):\($0)" } ?? path
        switch reason {
        case .notANumber(let t): return "\(place): expected a syscall number (decimal digits), found '\(t)'"
        case .outOfRange(let t): return "\(place): syscall number '\(t)' is out of range (at most 4294967294)"
        case .empty: return "\(place): empty trace (no syscall numbers)"
        case .unreadable(let why): return "\(place): cannot read: \(why)"
        case .missingDirectory(let what): return "\(place): missing directory (\(what))"
        case .badManifest(let what): return "\(place): \(what)"
        }
    }
}

/// Streams the syscall numbers of a trace file: decimal numbers separated by white space,
/// read in 64 KiB chunks and parsed straight from the bytes, so a file of any size costs
/// a fixed amount of memory.
public enum TraceReader {
    /// Bytes read at a time.
    public static let chunkSize = 64 * 1024

    /// Calls `body` with successive runs of the file's numbers (each run valid only during
    /// the call) and returns how many numbers there were.
    /// - Throws: ``TraceInputError`` naming the file, line and token; `.empty` when the file
    ///   has no numbers.
    @discardableResult
    public static func read(path: String, _ body: (UnsafeBufferPointer<UInt32>) throws -> Void) throws -> Int {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            let exists = FileManager.default.fileExists(atPath: path)
            throw TraceInputError(path: path, reason: .unreadable(exists ? "permission denied or not a file" : "no such file"))
        }
        defer { try? handle.close() }
        var parser = Parser(path: path)
        // Sized by the first chunk: most traces are far smaller than a chunk, and zeroing a
        // full chunk's worth per file would dominate the cost of a corpus of small files.
        var numbers: [UInt32] = []
        var total = 0
        while true {
            let data: Data?
            do { data = try handle.read(upToCount: chunkSize) } catch {
                throw TraceInputError(path: path, reason: .unreadable("\(error)"))
            }
            guard let data, !data.isEmpty else { break }
            // A chunk of n bytes holds at most n/2 + 1 numbers (digit, separator, ...).
            let room = data.count / 2 + 1
            if numbers.count < room { numbers = [UInt32](repeating: 0, count: room) }
            let produced = try data.withUnsafeBytes { raw in
                try numbers.withUnsafeMutableBufferPointer { out in
                    try parser.parse(raw.bindMemory(to: UInt8.self), into: out)
                }
            }
            if produced > 0 {
                try numbers.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[0..<produced])) }
                total += produced
            }
        }
        if let last = try parser.finish() {
            if numbers.isEmpty { numbers = [0] }
            numbers[0] = last
            try numbers.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[0..<1])) }
            total += 1
        }
        if total == 0 { throw TraceInputError(path: path, reason: .empty) }
        return total
    }

    /// Reads a whole trace into an array (for tests and small inputs).
    public static func readAll(path: String) throws -> [UInt32] {
        var all: [UInt32] = []
        try read(path: path) { all.append(contentsOf: $0) }
        return all
    }

    /// The byte-level state machine; a number may straddle two chunks.
    struct Parser {
        let path: String
        var line = 1
        var value: UInt64 = 0
        var inNumber = false
        var badToken: [UInt8]? = nil
        var badLine = 0

        init(path: String) { self.path = path }

        /// Parses one chunk; returns how many complete numbers it wrote to `out`, which must
        /// hold `bytes.count / 2 + 1`.
        mutating func parse(_ bytes: UnsafeBufferPointer<UInt8>, into out: UnsafeMutableBufferPointer<UInt32>) throws -> Int {
            var count = 0
            for b in bytes {
                if badToken != nil {
                    if isSpace(b) { try failBadToken() }
                    if badToken!.count < 40 { badToken!.append(b) }
                    continue
                }
                if b &- 0x30 < 10 {
                    value = value &* 10 &+ UInt64(b &- 0x30)
                    if value > 0xFFFF_FFFE { value = 0xFFFF_FFFF_FFFF } // saturate, reported at the end
                    inNumber = true
                } else if isSpace(b) {
                    if inNumber {
                        out[count] = try finishNumber()
                        count += 1
                    }
                    if b == 0x0A { line += 1 }
                } else {
                    // Keep the digits already seen so the message shows the whole token.
                    badToken = inNumber ? Array(String(value).utf8) : []
                    if value > 0xFFFF_FFFE { badToken = [] }
                    badToken!.append(b)
                    badLine = line
                    inNumber = false
                    value = 0
                }
            }
            return count
        }

        /// Ends the input: returns a last number not followed by white space.
        mutating func finish() throws -> UInt32? {
            if badToken != nil { try failBadToken() }
            return inNumber ? try finishNumber() : nil
        }

        private mutating func finishNumber() throws -> UInt32 {
            defer { value = 0; inNumber = false }
            if value > 0xFFFF_FFFE {
                throw TraceInputError(path: path, line: line, reason: .outOfRange(token: "(more than 10 digits or above 4294967294)"))
            }
            return UInt32(value)
        }

        private func failBadToken() throws -> Never {
            let token = String(decoding: badToken ?? [], as: UTF8.self)
            throw TraceInputError(path: path, line: badLine, reason: .notANumber(token: token))
        }

        @inline(__always)
        private func isSpace(_ b: UInt8) -> Bool {
            b == 0x20 || b == 0x0A || b == 0x09 || b == 0x0D || b == 0x0B || b == 0x0C
        }
    }
}

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A bounded, crash-safe FIFO of lines on disk: where a sink's events wait while the sink is
/// down or slower than the event rate.
///
/// Layout of its directory: segment files `seg-N.jsonl` (each line `CLASS_UID SP JSON`, the
/// class kept so a spooled event is delivered exactly as a live one) and `head`, naming the
/// first unconsumed segment and byte offset (replaced atomically: temp file, fsync, rename).
/// Appends are plain writes; `sync()` fsyncs them at batch boundaries. A crash loses at most
/// what was appended since the last sync, and may repeat what was delivered since the last
/// `ack` (at-least-once). On open, a torn last line is cut off and reading resumes at `head`.
///
/// Not thread-safe: its `SinkWorker` serialises every call under its lock.
final class Spool {
    let directory: String
    let maxBytes: Int
    /// A new segment starts past this size so delivered data can be deleted while more arrives.
    let segmentBytes: Int

    private struct Segment { var number: Int; var size: Int }
    private var segments: [Segment] = []
    private var readOffset = 0
    private var tailFD: Int32 = -1
    private var dirty = false
    /// Appended records not yet written to the tail segment: one write per 64 KiB instead of
    /// one per line keeps the caller's cost low while a receiver is down.
    private var writeBuffer: [UInt8] = []
    private static let writeBufferBytes = 64 << 10
    /// Where the last `peek` ended: the position `ack` moves to.
    private var peekEnd: (segment: Int, offset: Int)?

    /// Bytes waiting to be delivered.
    private(set) var pendingBytes = 0
    var hasPending: Bool { pendingBytes > 0 }

    /// Numbering starts high so lines can be put in front (`prepend`) with lower numbers.
    private static let firstNumber = 1 << 40

    init(directory: String, maxBytes: Int, segmentBytes: Int = 4 << 20) throws {
        self.directory = directory
        self.maxBytes = maxBytes
        self.segmentBytes = segmentBytes
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try recover()
    }

    deinit {
        sync()
        if tailFD >= 0 { close(tailFD) }
    }

    private func segmentPath(_ n: Int) -> String { "\(directory)/seg-\(n).jsonl" }
    private var headPath: String { "\(directory)/head" }

    /// Rebuilds the state from the directory after a restart (or on first use).
    private func recover() throws {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var numbers = names.compactMap { name -> Int? in
            guard name.hasPrefix("seg-"), name.hasSuffix(".jsonl") else { return nil }
            return Int(name.dropFirst(4).dropLast(6))
        }.sorted()
        var headSegment = numbers.first ?? Self.firstNumber
        var headOffset = 0
        if let text = try? String(contentsOfFile: headPath, encoding: .utf8) {
            let parts = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
            if parts.count == 2, let s = Int(parts[0]), let o = Int(parts[1]) { (headSegment, headOffset) = (s, o) }
        }
        // Segments before the head were delivered; a crash between ack and delete leaves them.
        for n in numbers where n < headSegment { unlink(segmentPath(n)) }
        numbers.removeAll { $0 < headSegment }
        if numbers.first != headSegment { headOffset = 0 }
        for n in numbers {
            var st = stat()
            guard stat(segmentPath(n), &st) == 0 else { continue }
            segments.append(Segment(number: n, size: Int(st.st_size)))
        }
        if var last = segments.last {
            // Cut a torn final line (a crash mid-append) so every line read is whole.
            let fd = open(segmentPath(last.number), O_RDWR | O_CLOEXEC)
            if fd >= 0 {
                var keep = last.size
                var buf = [UInt8](repeating: 0, count: 1)
                while keep > 0 {
                    guard pread(fd, &buf, 1, off_t(keep - 1)) == 1, buf[0] != 0x0a else { break }
                    keep -= 1
                }
                if keep != last.size { _ = ftruncate(fd, off_t(keep)); _ = fsync(fd) }
                close(fd)
                last.size = keep
                segments[segments.count - 1] = last
            }
        }
        readOffset = min(headOffset, segments.first?.size ?? 0)
        pendingBytes = segments.reduce(0) { $0 + $1.size } - readOffset
        if pendingBytes == 0 { reset() }
    }

    /// Appends one line; false (nothing written) when it would pass the bound, or the bound
    /// plus `beyondBound` bytes (room kept for the outputs' loss reports).
    func append(_ line: OutputLine, beyondBound: Int = 0) -> Bool {
        let prefix = String(line.classUID).utf8
        let recordSize = prefix.count + 1 + line.bytes.count + 1
        guard pendingBytes + recordSize <= maxBytes + beyondBound else { return false }
        do {
            if segments.isEmpty || segments[segments.count - 1].size >= segmentBytes {
                try startSegment(number: (segments.last?.number ?? Self.firstNumber - 1) + 1)
            } else if tailFD < 0 {
                tailFD = open(segmentPath(segments[segments.count - 1].number), O_WRONLY | O_APPEND | O_CLOEXEC)
                guard tailFD >= 0 else { return false }
            }
        } catch {
            return false
        }
        writeBuffer.append(contentsOf: prefix)
        writeBuffer.append(0x20)
        writeBuffer.append(contentsOf: line.bytes)
        writeBuffer.append(0x0a)
        segments[segments.count - 1].size += recordSize
        pendingBytes += recordSize
        dirty = true
        if writeBuffer.count >= Self.writeBufferBytes { flushBuffer() }
        return true
    }

    /// Writes buffered records to the tail segment. On a write error the records stay
    /// counted but are cut from the segment's size so reads never see a hole.
    private func flushBuffer() {
        guard !writeBuffer.isEmpty else { return }
        defer { writeBuffer.removeAll(keepingCapacity: true) }
        guard tailFD >= 0, (try? FileDescriptor.writeAll(tailFD, writeBuffer, call: "write(spool)")) != nil else {
            // Disk full or similar: those lines are lost; keep the accounting honest.
            if !segments.isEmpty { segments[segments.count - 1].size -= writeBuffer.count }
            pendingBytes -= writeBuffer.count
            lostOnWrite += writeBuffer.reduce(0) { $1 == 0x0a ? $0 + 1 : $0 }
            return
        }
    }

    /// Lines accepted into the write buffer that the disk then refused (counted as lost).
    private(set) var lostOnWrite = 0

    private func startSegment(number: Int) throws {
        flushBuffer()
        if tailFD >= 0 {
            // The old tail is complete: make it durable before moving on.
            _ = fdatasync(tailFD)
            close(tailFD)
        }
        tailFD = open(segmentPath(number), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard tailFD >= 0 else { throw SystemError(call: "open(spool segment)", code: errno) }
        segments.append(Segment(number: number, size: 0))
    }

    /// Puts lines in front of everything spooled (they are older: a failed batch from memory).
    /// Returns how many fit within the bound; the rest are the caller's to count as lost.
    func prepend(_ lines: ArraySlice<OutputLine>) -> Int {
        guard !lines.isEmpty else { return 0 }
        flushBuffer()
        // The worker only delivers from memory while the spool has not been read from, so the
        // read offset is 0 here; if it were not, the front segment's unread part would be skipped.
        guard readOffset == 0 else {
            return lines.prefix { append($0) }.count
        }
        var buf: [UInt8] = []
        var taken = 0
        for l in lines {
            let record = Array("\(l.classUID) ".utf8) + l.bytes + [0x0a]
            guard pendingBytes + buf.count + record.count <= maxBytes else { break }
            buf += record
            taken += 1
        }
        guard taken > 0 else { return 0 }
        let number = (segments.first?.number ?? Self.firstNumber) - 1
        let fd = open(segmentPath(number), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        guard (try? FileDescriptor.writeAll(fd, buf, call: "write(spool)")) != nil, fdatasync(fd) == 0 else {
            unlink(segmentPath(number))
            return 0
        }
        segments.insert(Segment(number: number, size: buf.count), at: 0)
        pendingBytes += buf.count
        if segments.count == 1 {
            // The only segment: later appends go to it too.
            tailFD = open(segmentPath(number), O_WRONLY | O_APPEND | O_CLOEXEC)
        }
        writeHead(segment: number, offset: 0)
        return taken
    }

    /// Makes appended lines durable (fsync at a batch boundary).
    func sync() {
        flushBuffer()
        if dirty, tailFD >= 0 { _ = fdatasync(tailFD) }
        dirty = false
    }

    /// Reads up to `max` lines from the front without consuming them, and no more than
    /// `maxBytes` of event bytes (but always at least one line).
    func peek(max: Int, maxBytes: Int = .max) -> [OutputLine] {
        flushBuffer()
        var out: [OutputLine] = []
        var outBytes = 0
        var full = false
        var segIndex = 0
        var offset = readOffset
        while out.count < max, !full, segIndex < segments.count {
            let seg = segments[segIndex]
            if offset >= seg.size {
                segIndex += 1
                offset = 0
                continue
            }
            let fd = open(segmentPath(seg.number), O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { break }
            let want = min(seg.size - offset, 256 << 10)
            let buf = [UInt8](unsafeUninitializedCapacity: want) { b, initialized in
                initialized = Swift.max(0, pread(fd, b.baseAddress, want, off_t(offset)))
            }
            let n = buf.count
            close(fd)
            guard n > 0 else { break }
            var start = 0
            var progressed = false
            for i in 0..<n where buf[i] == 0x0a {
                let rec = buf[start..<i]
                if let sp = rec.firstIndex(of: 0x20), let cls = Self.decimal(rec[..<sp]) {
                    let size = rec.count - (sp - rec.startIndex) - 1
                    if !out.isEmpty && outBytes + size > maxBytes { full = true; break }
                    outBytes += size
                    out.append(OutputLine(bytes: Array(rec[(sp + 1)...]), classUID: cls))
                }
                start = i + 1
                progressed = true
                if out.count == max { break }
            }
            // A line longer than the read window: read it whole.
            if !progressed && !full {
                if let line = readLongLine(seg.number, from: offset, size: seg.size) {
                    if !out.isEmpty && outBytes + line.0.bytes.count > maxBytes { full = true; break }
                    outBytes += line.0.bytes.count
                    out.append(line.0)
                    offset += line.1
                    continue
                }
                break
            }
            offset += start
        }
        peekEnd = (segIndex < segments.count ? segments[segIndex].number : (segments.last?.number ?? 0), offset)
        if segIndex >= segments.count, let last = segments.last { peekEnd = (last.number, last.size) }
        return out
    }

    /// A small decimal number without allocating a String (this runs once per spooled line).
    static func decimal(_ digits: ArraySlice<UInt8>) -> Int? {
        guard !digits.isEmpty, digits.count < 10 else { return nil }
        var v = 0
        for d in digits {
            guard d >= 0x30 && d <= 0x39 else { return nil }
            v = v * 10 + Int(d - 0x30)
        }
        return v
    }

    private func readLongLine(_ number: Int, from offset: Int, size: Int) -> (OutputLine, Int)? {
        let fd = open(segmentPath(number), O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: size - offset)
        let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, size - offset, off_t(offset)) }
        guard n > 0, let nl = buf[..<n].firstIndex(of: 0x0a), let sp = buf[..<nl].firstIndex(of: 0x20),
              let cls = Int(String(decoding: buf[..<sp], as: UTF8.self)) else { return nil }
        return (OutputLine(bytes: Array(buf[(sp + 1)..<nl]), classUID: cls), nl + 1)
    }

    /// Consumes what the last `peek` returned (after the sink delivered it).
    func ack() {
        guard let end = peekEnd else { return }
        peekEnd = nil
        var consumed = 0
        while let first = segments.first, first.number < end.segment {
            consumed += first.size - readOffset
            readOffset = 0
            segments.removeFirst()
            if segments.isEmpty, tailFD >= 0 { close(tailFD); tailFD = -1 }
            unlink(segmentPath(first.number))
        }
        consumed += end.offset - readOffset
        readOffset = end.offset
        pendingBytes -= consumed
        if pendingBytes <= 0 {
            reset()
        } else {
            writeHead(segment: end.segment, offset: end.offset)
        }
    }

    /// Empties the spool (all delivered): remove files so the next outage starts fresh.
    private func reset() {
        writeBuffer.removeAll(keepingCapacity: true)
        if tailFD >= 0 { close(tailFD); tailFD = -1 }
        for s in segments { unlink(segmentPath(s.number)) }
        segments.removeAll()
        readOffset = 0
        pendingBytes = 0
        dirty = false
        unlink(headPath)
    }

    private func writeHead(segment: Int, offset: Int) {
        let tmp = headPath + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        let ok = (try? FileDescriptor.writeAll(fd, Array("\(segment) \(offset)\n".utf8), call: "write(head)")) != nil
        // No fsync here, on purpose: after a crash `head` is the old position, the new one, or
        // unreadable, and recovery treats unreadable as "from the first segment left". Each
        // case re-sends at most what was delivered, never skips anything, and an fsync per
        // delivered batch would halve the drain rate.
        close(fd)
        if ok { rename(tmp, headPath) }
    }
}

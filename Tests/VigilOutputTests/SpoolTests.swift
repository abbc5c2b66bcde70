import Foundation
import Testing
import VigilTestSupport
@testable import VigilOutput

@Suite struct SpoolTests {
    func line(_ i: Int) -> OutputLine { OutputLine(bytes: testLine(i), classUID: i % 2 == 0 ? 1007 : 2004) }

    @Test func deliversInOrderAcrossSegmentsAndKeepsTheClass() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let spool = try Spool(directory: dir, maxBytes: 1 << 20, segmentBytes: 500)
        for i in 0..<40 { #expect(spool.append(line(i))) }
        var got: [OutputLine] = []
        while spool.hasPending {
            let batch = spool.peek(max: 7)
            #expect(!batch.isEmpty)
            got += batch
            spool.ack()
        }
        #expect(got == (0..<40).map(line))
        #expect(spool.pendingBytes == 0)
        // Drained: the files are gone.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    }

    @Test func recoversAfterRestartResumingAtTheAcknowledgedPosition() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            let spool = try Spool(directory: dir, maxBytes: 1 << 20, segmentBytes: 300)
            for i in 0..<20 { _ = spool.append(line(i)) }
            spool.sync()
            _ = spool.peek(max: 5)
            spool.ack()
            _ = spool.peek(max: 3)  // delivered but never acknowledged: must come again
        }
        // A crash mid-append leaves a torn line at the end of the last segment.
        let last = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("seg-") }.sorted().last!
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(dir)/\(last)"))
        try h.seekToEnd()
        try h.write(contentsOf: Data("1007 {\"torn".utf8))
        try h.close()

        let spool = try Spool(directory: dir, maxBytes: 1 << 20, segmentBytes: 300)
        var got: [OutputLine] = []
        while spool.hasPending { got += spool.peek(max: 4); spool.ack() }
        #expect(got == (5..<20).map(line))
    }

    @Test func refusesLinesBeyondItsBound() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let size = testLine(0).count + 6
        let spool = try Spool(directory: dir, maxBytes: size * 3)
        #expect(spool.append(line(0)) && spool.append(line(2)) && spool.append(line(4)))
        #expect(!spool.append(line(6)))
        _ = spool.peek(max: 1)
        spool.ack()
        #expect(spool.append(line(6)), "room again once a line is delivered")
    }

    @Test func prependPutsOlderLinesFirst() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let spool = try Spool(directory: dir, maxBytes: 1 << 20)
        for i in 10..<15 { _ = spool.append(line(i)) }
        #expect(spool.prepend((0..<10).map(line)[...]) == 10)
        var got: [OutputLine] = []
        while spool.hasPending { got += spool.peek(max: 6); spool.ack() }
        #expect(got == (0..<15).map(line))
    }
}

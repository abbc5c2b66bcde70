import Testing
@testable import VigilOutput

/// A peer that answers with fixed bytes, `step` bytes per read, then ends the stream.
private final class ScriptedPeer: ByteStream {
    var bytes: ArraySlice<UInt8>
    let step: Int
    init(_ text: String, step: Int = 16_384) { bytes = Array(text.utf8)[...]; self.step = step }
    init(bytes: [UInt8], step: Int = 16_384) { self.bytes = bytes[...]; self.step = step }
    func write(_ bytes: [UInt8]) throws {}
    func read(max: Int) throws -> [UInt8] {
        let n = min(max, step, bytes.count)
        defer { bytes = bytes.dropFirst(n) }
        return Array(bytes.prefix(n))
    }
    func peerHasClosed() -> Bool { bytes.isEmpty }
    func close() {}
}

/// What an HTTP collector sends back is parsed by HTTPSink.readResponse. The malformed
/// answers below were found by fuzzing (scripts/fuzz.sh http) or are their siblings: each
/// used to trap or could make the sink hold unbounded memory; each is now a failed delivery.
@Suite struct HTTPResponseParserTests {
    private func parse(_ peer: ScriptedPeer) throws -> (status: Int, body: String, keepAlive: Bool) {
        var pending: [UInt8] = []
        let r = try HTTPSink.readResponse(from: peer, pending: &pending, name: "peer")
        let (s, b, k) = (r.status, r.body, r.keepAlive)
        return (s, String(decoding: b, as: UTF8.self), k)
    }

    private func refused(_ peer: ScriptedPeer, _ expected: String) {
        do {
            let r = try parse(peer)
            Issue.record("accepted: \(r)")
        } catch let e as HTTPSink.Failure {
            #expect(e.description.contains(expected), "\(e)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func wellFormedAnswersParseWhateverTheReadSizes() throws {
        for step in [1, 3, 16_384] {
            let chunked = try parse(ScriptedPeer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n2;x=1\r\nef\r\n0\r\n\r\n", step: step))
            #expect(chunked.status == 200 && chunked.body == "abcdef" && chunked.keepAlive)
            let sized = try parse(ScriptedPeer("HTTP/1.1 400 Bad\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbad", step: step))
            #expect(sized.status == 400 && sized.body == "bad" && !sized.keepAlive)
            let toEnd = try parse(ScriptedPeer("HTTP/1.0 503 Busy\r\n\r\nlater", step: step))
            #expect(toEnd.status == 503 && toEnd.body == "later" && !toEnd.keepAlive)
        }
    }

    /// The fuzzer's first find: `-1a` parses as a hexadecimal chunk size of -26, and slicing
    /// the body with it trapped ("Range requires lowerBound <= upperBound").
    @Test func aNegativeChunkSizeIsRefused() {
        refused(ScriptedPeer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n-1a;x=1\r\n{}\r\n0\r\n\r\n", step: 8), "bad chunk size")
    }

    @Test func aNegativeOrHugeContentLengthIsRefused() {
        refused(ScriptedPeer("HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\nabc"), "bad Content-Length")
        refused(ScriptedPeer("HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775807\r\n\r\nabc"), "bad Content-Length")
        refused(ScriptedPeer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n7fffffffffffffff\r\nabc"), "bad chunk size")
    }

    @Test func endlessHeadersOrBodiesAreRefusedAtTheirBound() {
        let headers = "HTTP/1.1 200 OK\r\n" + String(repeating: "X-Padding: 0123456789\r\n", count: HTTPSink.maxHeaderBytes / 20)
        refused(ScriptedPeer(headers), "bytes of headers")
        let body = "HTTP/1.1 200 OK\r\n\r\n" + String(repeating: "x", count: HTTPSink.maxBodyBytes + 1)
        refused(ScriptedPeer(body), "a body of more than")
    }

    @Test func aTruncatedAnswerIsAnErrorNamingThePeer() {
        refused(ScriptedPeer("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"), "peer closed the connection before answering")
        refused(ScriptedPeer("HTTP/1.1 200 OK\r\nContent"), "peer closed the connection before answering")
        refused(ScriptedPeer("garbage\r\n\r\n"), "malformed status line")
    }
}

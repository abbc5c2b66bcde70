// Fuzz target: the bytes an HTTP collector sends back -> HTTPSink.readResponse, the parser
// behind every HTTP/HTTPS output. The peer's bytes arrive in reads whose sizes the fuzzer
// also picks (a peer or a network may split an answer anywhere): the first byte is the
// largest read (1-256 bytes), the rest is the stream, which then ends.
// A hostile or broken peer must cost an error, never a trap or unbounded work.
@testable import VigilOutput

final class ScriptedPeer: ByteStream {
    var bytes: ArraySlice<UInt8>
    let step: Int
    init(_ bytes: ArraySlice<UInt8>, step: Int) { self.bytes = bytes; self.step = step }
    func write(_ bytes: [UInt8]) throws {}
    func read(max: Int) throws -> [UInt8] {
        let n = min(max, step, bytes.count)
        defer { bytes = bytes.dropFirst(n) }
        return Array(bytes.prefix(n))
    }
    func peerHasClosed() -> Bool { bytes.isEmpty }
    func close() {}
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let input = UnsafeBufferPointer(start: data, count: size)
    let peer = ScriptedPeer(Array(input.dropFirst())[...], step: Int(input[0]) + 1)
    var pending: [UInt8] = []
    // Keep-alive: a peer may send several answers on one connection.
    for _ in 0..<4 {
        guard let r = try? HTTPSink.readResponse(from: peer, pending: &pending, name: "fuzz") else { break }
        let (status, body, keepAlive) = (r.status, r.body, r.keepAlive)
        guard body.count <= size else { fatalError("a body of \(body.count) bytes from \(size) input bytes (status \(status))") }
        if !keepAlive { break }
    }
    return 0
}

// Fuzz target: a corpus trace file -> TraceReader.read(path:), checked against a plain
// reference reading of the same bytes: white-space separated decimal numbers, each at
// most 4294967294. The reader must accept exactly what the reference accepts, with the
// same numbers, and reject everything else with an error naming the file.
import Foundation
import VigilCore

let path = "/dev/shm/vigil-fuzz-trace-\(getpid())"

/// The numbers of `bytes`, or nil when a token is not a number in range (or there is none).
func reference(_ bytes: [UInt8]) -> [UInt32]? {
    let space: Set<UInt8> = [0x20, 0x0A, 0x09, 0x0D, 0x0B, 0x0C]
    var out: [UInt32] = []
    for token in bytes.split(whereSeparator: { space.contains($0) }) {
        guard token.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let v = UInt64(String(decoding: token, as: UTF8.self)), v <= 0xFFFF_FFFE else { return nil }
        out.append(UInt32(v))
    }
    return out.isEmpty ? nil : out
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { fatalError("cannot write \(path)") }
    let expected = reference(bytes)
    do {
        let got = try TraceReader.readAll(path: path)
        guard got == expected else { fatalError("reader read \(got.prefix(20)), reference \(String(describing: expected?.prefix(20)))") }
    } catch let e as TraceInputError {
        guard expected == nil else { fatalError("reader refused a valid trace: \(e)") }
        guard e.path == path else { fatalError("error does not name the file: \(e)") }
    } catch {
        fatalError("unexpected error type: \(error)")
    }
    return 0
}

// Fuzz target: a baseline file's bytes -> ProfileCodec.decode. A profile that decodes is
// encoded again and must decode to the same profile (what `vigil` writes, it reads back).
import VigilCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let profile = try? ProfileCodec.decode(bytes, file: "fuzz.json") else { return 0 }
    let again: Profile
    do { again = try ProfileCodec.decode(ProfileCodec.encode(profile), file: "re-encoded.json") } catch {
        fatalError("a decoded profile does not survive encode/decode: \(error)")
    }
    guard again == profile else { fatalError("encode/decode changed the profile") }
    return 0
}

// Fuzz target: policy YAML -> Policy.load(yaml:file:). Bad input must be an error, never a trap.
import VigilCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    _ = try? Policy.load(yaml: text, file: "fuzz.yaml")
    return 0
}

// Fuzz target: run-config YAML -> RunConfig.load(yaml:file:), with each output checked by
// OutputSpec.parse as `vigil run` does. Bad input must be an error, never a trap.
import VigilCore
import VigilOutput

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    _ = try? RunConfig.load(yaml: text, file: "/etc/vigil/fuzz.yaml") { spec in _ = try OutputSpec.parse(spec) }
    return 0
}

import Foundation

/// Finds the compiled kernel side. `swift build` compiles `BPF/` into a resource of this
/// module; an installed `vigil` may instead keep it beside the binary or under `share/`.
public enum BPFObjectLocator {
    public static let fileName = "vigil.bpf.o"

    /// Places searched, in order. `VIGIL_BPF_OBJECT` overrides everything.
    public static func candidates() -> [String] {
        var out: [String] = []
        if let env = ProcessInfo.processInfo.environment["VIGIL_BPF_OBJECT"], !env.isEmpty { out.append(env) }
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        // Where `swift build` puts this module's resources: beside the binary (or the test
        // bundle). Named by hand, not through `Bundle.module`, whose accessor stops the
        // process when the bundle is missing, as it is for an installed binary.
        out.append(exe.appendingPathComponent("vigil_VigilSensor.resources/\(fileName)").path)
        out.append(exe.appendingPathComponent(fileName).path)
        out.append(exe.appendingPathComponent("../share/vigil/\(fileName)").standardized.path)
        out.append("/usr/local/share/vigil/\(fileName)")
        out.append("/usr/share/vigil/\(fileName)")
        return out
    }

    public static func locate() -> String? {
        candidates().first { FileManager.default.isReadableFile(atPath: $0) }
    }
}

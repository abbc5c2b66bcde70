import Foundation
import PackagePlugin

/// Compiles the kernel side (`BPF/vigil.bpf.c` and what it includes) with the toolchain's
/// clang for `-target bpf`, so that `swift build` alone produces the BPF object. The object
/// becomes a resource of the target that uses this plugin.
@main
struct BPFCompiler: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) async throws -> [Command] {
        let root = context.package.directoryURL
        let bpfDir = root.appending(path: "BPF")
        let wireInclude = root.appending(path: "Sources/CVigilWire/include")
        let output = context.pluginWorkDirectoryURL.appending(path: "vigil.bpf.o")

        let fm = FileManager.default
        var inputs: [URL] = []
        for dir in [bpfDir, wireInclude] {
            for name in (try? fm.contentsOfDirectory(atPath: dir.path)) ?? [] where name.hasSuffix(".c") || name.hasSuffix(".h") {
                inputs.append(dir.appending(path: name))
            }
        }
        let clang = try context.tool(named: "clang").url
        var arguments = [
            "-g", "-O2", "-Wall", "-Werror", "-target", "bpf",
            "-I", bpfDir.path, "-I", wireInclude.path,
        ]
        #if arch(x86_64)
        arguments += ["-D__TARGET_ARCH_x86", "-I", "/usr/include/x86_64-linux-gnu"]
        #elseif arch(arm64)
        arguments += ["-D__TARGET_ARCH_arm64", "-I", "/usr/include/aarch64-linux-gnu"]
        #endif
        arguments += ["-c", bpfDir.appending(path: "vigil.bpf.c").path, "-o", output.path]
        return [
            .buildCommand(
                displayName: "Compiling BPF object vigil.bpf.o",
                executable: clang,
                arguments: arguments,
                inputFiles: inputs,
                outputFiles: [output]
            ),
        ]
    }
}

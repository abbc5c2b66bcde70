import ArgumentParser
import Foundation
import VigilAgent
import VigilCore
import VigilOutput
import VigilSensor

extension ProfileCommand {
    struct ExportSeccomp: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export-seccomp",
            abstract: "Print an OCI seccomp profile that allows exactly the learned syscalls.")
        @OptionGroup var models: ModelsOption
        @Argument(help: ArgumentHelp("A profile id, a profile file (.json), or the absolute path of the executable it belongs to.", valueName: "PATH-OR-ID")) var profile: String

        func run() throws {
            let p = try ProfileCommand.resolve(profile, in: models.store)
            if p.stability().state != .stable {
                Diagnostics.warning("\(p.id) is still learning; the export may miss syscalls")
            }
            print(SeccompExport.json(p), terminator: "")
        }
    }
}

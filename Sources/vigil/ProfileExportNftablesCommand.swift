import ArgumentParser
import Foundation
import VigilAgent
import VigilCore
import VigilOutput
import VigilSensor

extension ProfileCommand {
    struct ExportNftables: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export-nftables",
            abstract: "Print an nftables ruleset that lets a workload's cgroup make exactly the learned outbound flows.",
            discussion: """
            The rules match sockets by cgroup (`socket cgroupv2`), accept the learned \
            destinations (networks stay networks) and replies, and count and drop every other \
            new connection. Check with `nft -c -f FILE`, load with `nft -f FILE`.

            Example:
              vigil profile export-nftables /usr/sbin/nginx --cgroup system.slice/nginx.service > nginx.nft
            """)
        @OptionGroup var models: ModelsOption
        @Argument(help: ArgumentHelp("A profile id, a profile file (.json), or the absolute path of the executable it belongs to.", valueName: "PATH-OR-ID")) var profile: String
        @Option(help: ArgumentHelp("The workload's cgroup v2 path under the hierarchy's root.", valueName: "PATH")) var cgroup: String

        func validate() throws {
            let parts = cgroup.split(separator: "/")
            if parts.isEmpty || parts.contains("..") || cgroup.contains("\"") {
                throw ValidationError("--cgroup must be a cgroup path such as system.slice/nginx.service, got '\(cgroup)'")
            }
        }

        func run() throws {
            let p = try ProfileCommand.resolve(profile, in: models.store)
            if p.stability().state != .stable {
                Diagnostics.warning("\(p.id) is still learning; the export may miss flows")
            }
            print(NftablesExport.ruleset(p, cgroup: cgroup), terminator: "")
        }
    }
}

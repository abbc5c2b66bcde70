import ArgumentParser
import Foundation
import VigilAgent
import VigilCore
import VigilOutput
import VigilSensor

extension ProfileCommand {
    struct ExportNetworkPolicy: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export-networkpolicy",
            abstract: "Print a Kubernetes NetworkPolicy that allows a container workload exactly its learned flows.",
            discussion: """
            Egress to each learned destination (an address as a /32 or /128 block, a learned \
            network as it is) on its port and protocol; ingress to the ports it listens on; \
            everything else denied by the policy's presence. Pods are chosen by --label.

            Example:
              vigil profile export-networkpolicy /usr/sbin/nginx --name web --namespace shop --label app=web
            """)
        @OptionGroup var models: ModelsOption
        @Argument(help: ArgumentHelp("A profile id, a profile file (.json), or the absolute path of the executable it belongs to.", valueName: "PATH-OR-ID")) var profile: String
        @Option(help: "The policy's name.") var name: String
        @Option(help: "Its namespace (default: none given, the one it is applied in).") var namespace: String?
        @Option(parsing: .singleValue, help: ArgumentHelp("A pod label KEY=VALUE the policy selects (repeatable; none: every pod of the namespace).", valueName: "KEY=VALUE"))
        var label: [String] = []

        func validate() throws {
            for l in label where l.split(separator: "=", maxSplits: 1).count != 2 {
                throw ValidationError("--label takes KEY=VALUE, got '\(l)'")
            }
        }

        func run() throws {
            let p = try ProfileCommand.resolve(profile, in: models.store)
            if p.stability().state != .stable { Diagnostics.warning("\(p.id) is still learning; the export may miss flows") }
            let labels = label.map { l -> (String, String) in
                let parts = l.split(separator: "=", maxSplits: 1).map(String.init)
                return (parts[0], parts[1])
            }
            print(NetworkPolicyExport.yaml(p, name: name, namespace: namespace, podLabels: labels), terminator: "")
        }
    }
}

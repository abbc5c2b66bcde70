import ArgumentParser
import Foundation
import VigilAgent
import VigilCore

struct MapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "map",
        abstract: "Draw the learned communication graph of a models directory.",
        discussion: """
        Nodes are profiles (with the ports they listen on), grouped by the workload their \
        processes ran in, and the external networks they connect to (IPv4 addresses \
        collapsed into /24s); edges are the learned flows, labelled with transport and \
        port. A destination another profile serves joins the two profiles: it accepted \
        connections on that address and port (on any host), binds that address, or both \
        are on loopback of one host. So baselines merged from several hosts (`vigil \
        profile merge`, `vigil profile pull`) draw the fleet's service graph.

        Examples:
          vigil map --models /var/lib/vigil/models --format svg --output map.svg
          vigil map --models DIR --format dot | dot -Tpng > map.png
        """
    )

    @Option(help: ArgumentHelp("The models directory.", valueName: "DIR"))
    var models: String

    @Option(help: "svg, dot or json.")
    var format: String = "svg"

    @Option(help: ArgumentHelp("Write here instead of stdout.", valueName: "FILE"))
    var output: String?

    func validate() throws {
        guard ["svg", "dot", "json"].contains(format) else { throw ValidationError("--format is svg, dot or json, not '\(format)'") }
    }

    func run() throws {
        guard FileManager.default.fileExists(atPath: models) else {
            Diagnostics.error("no models directory at \(models)")
            throw ExitCode(2)
        }
        let (profiles, errors) = ProfileStore(directory: models).loadAll()
        for e in errors { Diagnostics.warning("left out \(e)") }
        let map = FlowMap(profiles: profiles)
        let text = switch format {
        case "dot": map.dot()
        case "json": map.json()
        default: map.svg()
        }
        if let output {
            do { try text.write(toFile: output, atomically: true, encoding: .utf8) } catch {
                Diagnostics.error("cannot write \(output): \(error.localizedDescription)")
                throw ExitCode.failure
            }
            Diagnostics.info("\(map.nodes.count) nodes, \(map.edges.count) flows written to \(output)")
        } else {
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }
}

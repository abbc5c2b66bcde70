import ArgumentParser
import Foundation
import VigilCore
import VigilOutput
import VigilAgent

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run Vigil as a service: learn, monitor and enforce per profile, from one configuration file (needs root).",
        discussion: Help.run
    )

    @Option(help: ArgumentHelp("The configuration file (YAML).", valueName: "FILE"))
    var config: String

    @Flag(help: "Validate the configuration and the policy it names, then exit (0: valid, 2: not).")
    var check = false

    @Flag(help: "Also print each finding and response step as one readable line on stderr.")
    var explain = false

    func run() throws {
        let loaded: LoadedConfig
        do { loaded = try LoadedConfig.load(config) } catch {
            Diagnostics.error(error.description)
            throw ExitCode(2)
        }
        if check {
            Console.line("\(config): valid (models \(loaded.config.models), policy \(loaded.config.policy ?? "built-in"), \(loaded.config.outputs.count) outputs)")
            return
        }
        try AgentRunner.run(.service(loaded, file: config, explain: explain))
    }
}

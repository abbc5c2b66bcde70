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

    @OptionGroup var logging: LoggingOptions

    func run() throws {
        logging.apply()
        let loaded: LoadedConfig
        do { loaded = try LoadedConfig.load(config) } catch {
            Diagnostics.error(error.description)
            throw ExitCode(2)
        }
        logging.apply(loaded.config)
        if check {
            Console.line("\(config): valid (models \(loaded.config.models), policy \(loaded.config.policy ?? "built-in"), \(loaded.config.outputs.count) outputs)")
            return
        }
        var c = AgentConfiguration.service(loaded, file: config, explain: explain)
        c.logLevel = logging.level
        c.logFormat = logging.format
        try AgentRunner.run(c)
    }
}

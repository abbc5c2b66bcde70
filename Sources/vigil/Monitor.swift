import ArgumentParser
import Foundation
import VigilCore
import VigilOutput
import VigilAgent
import VigilSensor

struct Monitor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Detect departures from the learned baselines and report what would be done; never act (needs root).",
        discussion: Help.monitor
    )
    @OptionGroup var options: WatchOptions

    func run() throws {
        options.logging.apply()
        try AgentRunner.run(.watching(options.settings, command: .monitor))
    }
}

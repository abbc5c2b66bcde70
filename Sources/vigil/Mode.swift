import ArgumentParser
import Foundation
import VigilCore
import VigilOutput
import VigilAgent
import VigilSensor

struct Mode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Switch a running agent's workloads between enforce and monitor, at once (needs root).",
        discussion: Help.mode
    )
    @Argument(help: "monitor or enforce.")
    var mode: String

    @Option(help: ArgumentHelp("The workload to switch (default: every workload of the agent).", valueName: "NAME"))
    var workload: String?

    @Option(name: .customLong("control-socket"), help: ArgumentHelp("The agent's control socket.", valueName: "PATH"))
    var controlSocket = ControlServer.defaultPath

    func validate() throws {
        guard ["monitor", "enforce"].contains(mode) else { throw ValidationError("the mode is monitor or enforce, not '\(mode)'") }
    }

    func run() throws {
        try AgentControl.ask(controlSocket, "mode \(mode)" + (workload.map { " " + $0 } ?? ""))
    }
}

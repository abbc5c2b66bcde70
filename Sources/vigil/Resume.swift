import ArgumentParser
import Foundation
import VigilCore
import VigilOutput
import VigilAgent
import VigilSensor

struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Resume processes that `vigil enforce` suspended: one by pid, or every one of a workload.",
        discussion: Help.resume
    )
    @Argument(help: "The process id.")
    var pid: Int32?

    @Option(help: ArgumentHelp("Resume every process of this workload that the agent stopped ('all': of every workload).", valueName: "NAME"))
    var workload: String?

    @Option(name: .customLong("control-socket"), help: ArgumentHelp("The agent's control socket.", valueName: "PATH"))
    var controlSocket = ControlServer.defaultPath

    func validate() throws {
        switch (pid, workload) {
        case (nil, nil): throw ValidationError("name a PID, or --workload NAME")
        case (.some, .some): throw ValidationError("name a PID or --workload, not both")
        case (let p?, nil) where p <= 0: throw ValidationError("PID must be a positive process id, got \(p)")
        default: break
        }
    }

    func run() throws {
        if let workload {
            try AgentControl.ask(controlSocket, "resume" + (workload == "all" ? "" : " " + workload))
            return
        }
        let pid = pid!
        guard kill(pid, SIGCONT) == 0 else {
            Diagnostics.error("cannot resume pid \(pid): \(String(cString: strerror(errno)))")
            throw ExitCode.failure
        }
        Diagnostics.info("resumed pid \(pid)")
    }
}

import ArgumentParser
import Foundation
import VigilAgent

@main
struct Vigil: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vigil",
        abstract: "Learn how each process on this host normally behaves; catch and answer what departs from it.",
        discussion: """
        Vigil watches processes through eBPF (tracepoints, raw and BTF tracepoints, cgroup hooks) \
        and streams what it sees as OCSF JSON lines.

        Start with `vigil demo` (as root) to see it at work on a built-in workload.

        Exit codes: 0 success, 1 runtime failure, 2 bad usage or bad input.
        """,
        version: VigilVersion.string,
        subcommands: [
            Demo.self,
            Trace.self,
            Learn.self,
            Monitor.self,
            Enforce.self,
            Resume.self,
            Mode.self,
            MapCommand.self,
            Run.self,
            Status.self,
            ProfileCommand.self,
            Eval.self,
            Record.self,
            Replay.self,
            DemoService.self,
        ]
    )

    /// ArgumentParser exits 64 (EX_USAGE) on bad usage; Vigil's contract is 2.
    static func main() {
        // A parent may have started us with signals blocked (threads of test runners and
        // dispatch pools block them, and children inherit the mask): SIGTERM must work.
        var none = sigset_t()
        sigemptyset(&none)
        sigprocmask(SIG_SETMASK, &none, nil)
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let e as AgentExit {
            Foundation.exit(e.code)
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                let message = fullMessage(for: error)
                if !message.isEmpty { Diagnostics.raw(message) }
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}

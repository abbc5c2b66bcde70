import ArgumentParser

@main
struct Vigil: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vigil",
        abstract: "Learn how each process on this host normally behaves; catch and answer what departs from it.",
        discussion: """
        Vigil watches processes through eBPF (tracepoints, raw and BTF tracepoints, cgroup hooks) \
        and streams what it sees as OCSF JSON lines.

        Exit codes: 0 success, 1 runtime failure, 2 bad usage or bad input.
        """,
        version: VigilVersion.string,
        subcommands: [
            Trace.self, Eval.self, Replay.self,
        ]
    )
}

enum VigilVersion {
    static let string = "0.1.0"
}

public import ArgumentParser
public import VigilCore
import VigilAgent

extension LogLevel: ExpressibleByArgument {}
extension LogFormat: ExpressibleByArgument {}

/// `--log-level` and `--log-format`, on every command that runs the agent.
struct LoggingOptions: ParsableArguments {
    @Option(name: .customLong("log-level"), help: ArgumentHelp(
        "The least severe diagnostic written on stderr (a `vigil run` configuration's log-level; this flag wins). Default: info.",
        valueName: LogLevel.allCases.map(\.rawValue).joined(separator: "|")))
    var level: LogLevel?

    @Option(name: .customLong("log-format"), help: ArgumentHelp(
        "Diagnostics as readable lines or one JSON object per line (time, level, label, message, metadata); under systemd each line starts with its journald priority. Default: text.",
        valueName: "text|json"))
    var format: LogFormat?

    /// Sets the process's logger from the flags, then the configuration, then the defaults.
    func apply(_ config: RunConfig? = nil) {
        VigilLog.configure(level: level ?? config?.logLevel ?? .info, format: format ?? config?.logFormat ?? .text)
    }
}

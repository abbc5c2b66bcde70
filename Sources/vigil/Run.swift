import ArgumentParser
import Foundation
import VigilCore
import VigilOutput
import VigilAgent

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run Vigil as a service: learn, monitor and enforce per profile, from one configuration file (needs root).",
        discussion: """
        Everything the other commands take (models, policy, outputs, spool, metrics) comes \
        from one YAML file; examples/vigil.yaml documents every key. Each profile has its \
        own mode: programs Vigil has not seen start in learn (or monitor, as configured), and \
        a profile moves learn -> monitor once it has been stable (the statistic `vigil learn` \
        reports) for promotion.stable-seconds, and monitor -> enforce after \
        promotion.quiet-seconds without a deviation. Every move is an event and a metric; \
        modes survive restarts (<state>/modes.json). `mode: learn|monitor|enforce` fixes \
        every profile's mode instead.

        Signals:
          SIGHUP   reload configuration, policy and baselines (what a baseline
                   no longer holds is new again, in the kernel too; a deleted
                   baseline is removed); a file that does not load is refused
                   and reported, and what runs stays (a baseline edited into
                   garbage: the copy loaded before)
          SIGTERM  stop: probes detached, learning profiles saved, outputs
                   flushed
          SIGINT   the same

        A baseline that cannot be used (corrupt, unknown format version, unreadable, or \
        missing though modes.json holds it in monitor or enforce) stops the start with exit \
        2, naming the file; `on-bad-baseline: monitor` starts instead, judging its programs' \
        workloads in monitor mode and reporting each as an agent health finding.

        `vigil status` reads the metrics endpoint (metrics.listen) and prints it for a \
        person. deploy/vigil.service runs this command under systemd.

        Examples:
          sudo vigil run --config examples/vigil.yaml
          sudo vigil run --config /etc/vigil/vigil.yaml --check
        """
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
        var c = AgentConfiguration(command: .run, run: loaded.config, keepsState: true, policy: loaded.policy,
                                   policyName: loaded.config.policy ?? "built-in", hostID: ProcessInfo.processInfo.hostName)
        c.configPath = config
        c.explain = explain
        c.logLevel = logging.level
        c.logFormat = logging.format
        c.workloads = loaded.config.workloads
        c.allProcesses = loaded.config.allProcesses
        c.controlSocket = loaded.config.controlSocket
        try AgentRunner.run(c)
    }
}

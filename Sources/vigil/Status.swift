import ArgumentParser
import Foundation
import VigilAgent
import VigilOutput

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what a running agent counts: its mode, profiles, events, drops, findings, actions, outputs.",
        discussion: """
        Reads the Prometheus metrics endpoint of a running `vigil run` (metrics.listen in its \
        configuration; 127.0.0.1:9464 by default) and prints the same figures for a person: \
        mode and uptime, profiles by mode and state, the kernel's profile slots (flagged \
        loudly when a profile has none: its processes are judged in user space only), kernel \
        maps found full, events by kind, events the kernel dropped \
        (flagged loudly: a drop is behaviour nobody saw), findings, actions by outcome, \
        promotions, reloads, how full the kernel ring buffer is, the mean run time of each \
        eBPF program (when the agent has the kernel's BPF run-time statistics on), and each \
        output's queue, spool and health. Needs no root: it only makes an HTTP request.

        Exits 1 when nothing answers at the address, 2 when the address is malformed.

        Examples:
          vigil status
          vigil status --config /etc/vigil/vigil.yaml
          vigil status --metrics 127.0.0.1:9464
          vigil status --metrics [::1]:9464
          curl -s http://127.0.0.1:9464/metrics    # the same figures, for Prometheus
        """
    )

    @Option(name: .customLong("metrics"), help: ArgumentHelp("The agent's metrics endpoint, HOST:PORT (default: the configuration's metrics.listen, else 127.0.0.1:9464).", valueName: "host:port"))
    var metrics: String?

    @Option(help: ArgumentHelp("The agent's configuration file: its metrics.listen is the address.", valueName: "FILE"))
    var config: String?

    func run() throws {
        var address = metrics ?? "127.0.0.1:9464"
        if metrics == nil, let config {
            let loaded: LoadedConfig
            do { loaded = try LoadedConfig.load(config) } catch {
                Diagnostics.error(error.description)
                throw ExitCode(2)
            }
            guard let listen = loaded.config.metricsListen else {
                Diagnostics.error("\(config) switches the metrics endpoint off (metrics.listen: null); nothing to read")
                throw ExitCode(2)
            }
            address = listen.hasPrefix(":") ? "127.0.0.1" + listen : listen
        }
        let text: String
        do {
            text = try MetricsClient.fetch(address, timeoutSeconds: 3)
        } catch {
            switch error.kind {
            case .badAddress:
                Diagnostics.error("--metrics \(error.message)")
                throw ExitCode(2)
            case .unreachable:
                Diagnostics.error("\(error.message)\n  is `vigil run` running with metrics enabled? See metrics.listen in its configuration.")
                throw ExitCode.failure
            case .badResponse:
                Diagnostics.error("\(error.message)\n  is this address a Vigil metrics endpoint? See metrics.listen in the agent's configuration.")
                throw ExitCode.failure
            }
        }
        let samples: [ParsedSample]
        do {
            samples = try PrometheusText.parse(text)
        } catch {
            Diagnostics.error("\(address) answered with unreadable metrics: \(error)")
            throw ExitCode.failure
        }
        guard samples.contains(where: { $0.name == "vigil_info" }) else {
            Diagnostics.error("\(address) serves Prometheus metrics, but not Vigil's (no vigil_info); is this the address in the agent's metrics.listen?")
            throw ExitCode.failure
        }
        Console.raw(StatusReport(samples).render(address: address))
    }
}

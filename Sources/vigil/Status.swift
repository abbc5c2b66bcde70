import ArgumentParser
import Foundation
import VigilAgent
import VigilOutput

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what a running agent counts: its mode, profiles, events, drops, findings, actions, outputs.",
        discussion: """
        Reads the Prometheus metrics endpoint of a running `vigil run` (metrics.listen in its \
        configuration; 127.0.0.1:9464 by default), or of `vigil monitor` or `vigil enforce` \
        started with --metrics HOST:PORT, and prints the same figures for a person: \
        mode and uptime, profiles by mode and state, the kernel's profile slots (flagged \
        loudly when a profile has none: its processes are judged in user space only), kernel \
        maps found full, events by kind, the records per second the kernel submits and drops \
        now (two reads --rate-seconds apart; 0/s in a steady state, where known behaviour is \
        counted in the kernel), events the kernel dropped \
        (flagged loudly: a drop is behaviour nobody saw), findings, actions by outcome, \
        promotions, reloads, how full the kernel ring buffer is, the mean run time of each \
        eBPF program (when the agent has the kernel's BPF run-time statistics on), and each \
        output's queue, spool and health. Needs no root: it only makes HTTP requests.

        Exits 1 when nothing answers at the address, 2 when the address is malformed.

        Examples:
          vigil status
          vigil status --config /etc/vigil/vigil.yaml
          vigil status --metrics 127.0.0.1:9464
          vigil status --metrics [::1]:9464
          vigil enforce --workload exe:/usr/sbin/nginx --metrics 127.0.0.1:9465 &
          vigil status --metrics 127.0.0.1:9465     # what that enforcer counts
          vigil status --rate-seconds 5         # records/s over five seconds
          curl -s http://127.0.0.1:9464/metrics    # the same figures, for Prometheus
        """
    )

    @Option(name: .customLong("metrics"), help: ArgumentHelp("The agent's metrics endpoint, HOST:PORT (default: the configuration's metrics.listen, else 127.0.0.1:9464).", valueName: "host:port"))
    var metrics: String?

    @Option(help: ArgumentHelp("The agent's configuration file: its metrics.listen is the address.", valueName: "FILE"))
    var config: String?

    @Option(name: .customLong("rate-seconds"), help: ArgumentHelp("Read the metrics twice this many seconds apart, for the records per second the kernel submits and drops (0: read once, no rates).", valueName: "SECONDS"))
    var rateSeconds: Double = 1

    func validate() throws {
        guard rateSeconds.isFinite, rateSeconds >= 0, rateSeconds <= 60 else {
            throw ValidationError("--rate-seconds \(rateSeconds): must be between 0 and 60")
        }
    }

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
        let first = try read(address)
        guard rateSeconds > 0 else {
            Console.raw(StatusReport(first).render(address: address))
            return
        }
        // Two reads: the counters' difference is what the kernel sends now, not since start.
        let start = Date()
        Thread.sleep(forTimeInterval: rateSeconds)
        let second = try read(address)
        Console.raw(StatusReport(second, earlier: first, seconds: Date().timeIntervalSince(start)).render(address: address))
    }

    /// The endpoint's samples, or the exit its failure calls for.
    func read(_ address: String) throws -> [ParsedSample] {
        let text: String
        do {
            text = try MetricsClient.fetch(address, timeoutSeconds: 3)
        } catch {
            switch error.kind {
            case .badAddress:
                Diagnostics.error("--metrics \(error.message)")
                throw ExitCode(2)
            case .unreachable:
                Diagnostics.error("\(error.message)\n  is `vigil run` running with metrics enabled (metrics.listen in its configuration), or `vigil monitor`/`enforce` with --metrics at this address?")
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
        return samples
    }
}

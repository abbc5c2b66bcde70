import ArgumentParser
import Foundation
import VigilAgent
import VigilCore
import VigilOutput
import VigilSensor

extension ProfileCommand {
    struct Pull: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Merge every host's signed entries from the fleet's NATS bucket into a models directory.",
            discussion: """
            Each entry is verified against its host's trusted public key, \
            TRUSTED/HOST.pub (the FILE.pub `vigil profile push` writes); an entry that is \
            unsigned, badly signed, of a host with no trusted key, or whose chunks do not \
            match what was signed is refused with an error naming the host and the key, and \
            the command exits 2 after merging the others. Only the signing host's own counts \
            are taken from its entry, so one host cannot rewrite what others learned. The \
            entries of each profile are merged with the profile already in --models (the \
            merge of `vigil profile merge`: commutative and idempotent, counts kept per host), \
            so pulling twice changes nothing. `vigil run` does the same on start and on \
            reload with the configuration's fleet: key.

            Example:
              vigil profile pull --nats nats://nats.internal:4222 --models /var/lib/vigil/models --trusted /etc/vigil/fleet-keys
            """)
        @Option(help: ArgumentHelp("The fleet's NATS server and bucket.", valueName: "URL")) var nats: String
        @OptionGroup var models: ModelsOption
        @Option(help: ArgumentHelp("Directory of trusted host public keys, HOST.pub.", valueName: "DIR"))
        var trusted: String = "/etc/vigil/fleet-keys"

        func run() throws {
            let url = try ProfileCommand.fleetURL(nats)
            let summary: FleetBaselines.PullSummary
            do { summary = try FleetBaselines.pull(from: url, trusted: .init(directory: trusted), into: models.store) } catch {
                Diagnostics.error(error.description)
                throw ExitCode(1)
            }
            for e in summary.localErrors { Diagnostics.warning("refused \(e) (left as it is)") }
            for r in summary.refused { Diagnostics.error(r) }
            Diagnostics.info("merged \(summary.profiles) profiles from \(summary.hosts.count) hosts (\(summary.hosts.sorted().joined(separator: ", "))) into \(models.directory); \(summary.written) files changed; \(summary.refused.count) entries refused")
            if !summary.refused.isEmpty || !summary.localErrors.isEmpty { throw ExitCode(2) }
        }
    }
}

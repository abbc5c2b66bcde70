import ArgumentParser
import Foundation
import VigilAgent
import VigilCore
import VigilOutput
import VigilSensor

extension ProfileCommand {
    struct Push: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Push this host's part of every profile to the fleet's NATS JetStream key-value bucket, signed.",
            discussion: """
            Each profile is pushed as this host's entry (key: profile id + host id), holding \
            only what this host learned (its counts; counts of other hosts, e.g. from an \
            earlier pull, stay out). Pushing again replaces the entry, so a host counts once. \
            Profiles larger than the server's payload limit are split into chunks. Each entry \
            is signed with the host's ed25519 key (--key; created with mode 0600 on first \
            use, its public half written beside it as FILE.pub): copy that file to every \
            pulling host's trusted-keys directory as HOST.pub.

            URL: nats://HOST[:PORT][/BUCKET][?creds=FILE&tls=true&ca=FILE&cert=FILE&key=FILE] \
            (bucket default vigil-profiles, created if missing; creds: this host's NATS \
            credentials file).

            Example:
              vigil profile push --nats nats://nats.internal:4222?creds=/etc/vigil/host.creds --models /var/lib/vigil/models
            """)
        @Option(help: ArgumentHelp("The fleet's NATS server and bucket.", valueName: "URL")) var nats: String
        @OptionGroup var models: ModelsOption
        @Option(help: ArgumentHelp("This host's ed25519 signing key (PEM); created on first use.", valueName: "FILE"))
        var key: String = "/var/lib/vigil/fleet/host.key"
        @Option(help: ArgumentHelp("The host id entries are pushed under (the name profiles count this host's observations by).", valueName: "ID"))
        var host: String = ProcessInfo.processInfo.hostName

        func run() throws {
            let url = try ProfileCommand.fleetURL(nats)
            let (profiles, bad) = ProfileCommand.loadWarning(models.store)
            let signer: Ed25519Key
            do { signer = try Ed25519Key.loadOrCreate(privateKeyAt: key) } catch {
                Diagnostics.error("signing key \(error)")
                throw ExitCode(2)
            }
            do {
                let (pushed, skipped) = try FleetBaselines.push(profiles, host: host, key: signer, to: url)
                for p in pushed { print("\(p.profile): \(p.changed ? "pushed" : "unchanged"), \(p.bytes) bytes in \(p.chunks) chunk\(p.chunks == 1 ? "" : "s")") }
                for id in skipped { Diagnostics.warning("\(id): nothing learned on host \(host); not pushed (is --host the name this host learned under?)") }
                Diagnostics.info("pushed \(pushed.filter(\.changed).count) of \(pushed.count) profiles as host \(host) to \(url.settings.url)/\(url.bucket), signed by key \(signer.fingerprint) (public key: \(key).pub)")
            } catch {
                Diagnostics.error(error.description)
                throw ExitCode(1)
            }
            if bad { throw ExitCode(2) }
        }
    }
}

import Foundation
import VigilCore
import VigilOutput

/// `fleet:` in the run configuration: the fleet's merged baselines are pulled into the
/// models directory on start and on reload (as `vigil profile pull` does), before the
/// directory is read. A server that cannot be reached, or entries refused, are reported
/// and the agent goes on with the baselines it has.
enum FleetPull {
    /// How long one pull may wait for the server (it runs on the agent's thread).
    static let timeoutMillis: Int64 = 3000

    /// Pulls and merges; returns a short account for the reload event, nil without `fleet:`.
    @discardableResult
    static func run(_ fleet: RunConfig.FleetConfig?, models: String, when: String) -> String? {
        guard let fleet else { return nil }
        do {
            var url = try FleetURL.parse(fleet.nats)
            url.settings.timeoutMillis = timeoutMillis
            let s = try FleetBaselines.pull(from: url, trusted: .init(directory: fleet.trustedKeys), into: ProfileStore(directory: models))
            for r in s.refused { Diagnostics.error("fleet pull (\(when)): \(r)") }
            let detail = "fleet: \(s.profiles) profiles from \(s.hosts.count) hosts, \(s.written) changed, \(s.refused.count) refused"
            Diagnostics.info("fleet pull (\(when)) from \(url.settings.url)/\(url.bucket): \(detail.dropFirst(7))")
            return detail
        } catch {
            Diagnostics.warning("fleet pull (\(when)) failed, running with the local baselines: \(error)")
            return "fleet: pull failed (\(error))"
        }
    }
}

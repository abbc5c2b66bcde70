import ArgumentParser
import Foundation
import VigilAgent
import VigilCore
import VigilOutput
import VigilSensor

extension ProfileCommand {
    struct Prune: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove items not seen for a while (the current binary is kept).")
        @OptionGroup var models: ModelsOption
        @Option(name: .customLong("older-than"), help: ArgumentHelp("Age, e.g. 30d, 12h, 90m, 2w.", valueName: "DURATION")) var olderThan: String
        @Flag(name: .customLong("dry-run"), help: "Report what would be removed; write nothing.") var dryRun = false

        func validate() throws {
            guard ProfileMerge.parseDuration(olderThan) != nil else {
                throw ValidationError("--older-than: expected a positive number and a unit s, m, h, d or w (e.g. 30d), got \"\(olderThan)\"")
            }
        }

        func run() throws {
            let age = ProfileMerge.parseDuration(olderThan)!
            let now = UInt64(Date().timeIntervalSince1970 * 1e9)
            let cutoff = now > age ? now - age : 0
            let (profiles, bad) = ProfileCommand.loadWarning(models.store)
            for var p in profiles {
                let removed = ProfileMerge.prune(&p, olderThan: cutoff)
                guard !removed.isEmpty else { continue }
                for k in removed { for item in k.removed { print("\(p.id): - \(k.kind): \(item)") } }
                if !dryRun { try models.store.save(&p) }
            }
            if bad { throw ExitCode(2) }
        }
    }
}

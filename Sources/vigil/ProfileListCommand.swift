import ArgumentParser
import Foundation
import VigilAgent
import VigilCore
import VigilOutput
import VigilSensor

extension ProfileCommand {
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the profiles in the models directory.")
        @OptionGroup var models: ModelsOption
        @Flag(help: "Print one JSON array instead of text.") var json = false

        func run() throws {
            let (profiles, bad) = ProfileCommand.loadWarning(models.store)
            if json {
                ProfileCommand.printJSON(profiles.map(ProfileCommand.summary))
            } else {
                for p in profiles {
                    let r = p.stability()
                    print("\(p.id)  \(r.state.rawValue)  rev \(p.revision)  \(p.syscalls.count) syscalls, \(p.ngrams.count) n-grams, \(p.destinations.count) destinations, \(p.listens.count) listening  last seen \(RFC3339.format(p.lastSeen))")
                }
            }
            if bad { throw ExitCode(2) }
        }
    }
}

import ArgumentParser
import Foundation
import VigilAgent
import VigilCore
import VigilOutput
import VigilSensor

extension ProfileCommand {
    struct Merge: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Merge profiles learned on several hosts into a directory (fleet learning).",
            discussion: """
            The result is the union of what the sources learned. Counts are kept per host: \
            the same host's counts are not added twice (the larger wins), different hosts' \
            counts add up; first seen is the earliest, last seen the latest. Merging is \
            commutative and idempotent. Profiles already in --into take part in the merge. \
            Nothing is written when any source or target file is bad (exit 2).
            """)
        @Option(help: ArgumentHelp("The directory to merge into.", valueName: "DIR")) var into: String
        @Argument(help: "Profile files or directories to merge.") var sources: [String]
        @Flag(help: "Overwrite target files that do not load.") var force = false

        func validate() throws {
            guard !sources.isEmpty else { throw ValidationError("give at least one source") }
        }

        func run() throws {
            let target = ProfileStore(directory: into)
            var (all, bad) = ProfileCommand.loadWarning(target)
            if bad && force { bad = false }
            for s in sources {
                var isDir: ObjCBool = false
                guard FileManager.default.fileExists(atPath: s, isDirectory: &isDir) else {
                    Diagnostics.error("\(s): no such file or directory")
                    throw ExitCode(2)
                }
                if isDir.boolValue {
                    let (ps, b) = ProfileCommand.loadWarning(ProfileStore(directory: s))
                    all += ps
                    bad = bad || b
                } else {
                    do { all.append(try ProfileStore.load(file: s)) } catch {
                        Diagnostics.warning("refused \(error)")
                        bad = true
                    }
                }
            }
            if bad {
                Diagnostics.error("bad input; nothing merged")
                throw ExitCode(2)
            }
            var written = 0
            for var p in ProfileMerge.merge(all, []) {
                if try target.save(&p, force: force) { written += 1 }
            }
            Diagnostics.info("merged \(Set(all.map(\.id)).count) profiles into \(into); \(written) files changed")
        }
    }
}

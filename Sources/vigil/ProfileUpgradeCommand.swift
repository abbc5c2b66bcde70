import ArgumentParser
import Foundation
import VigilAgent
import VigilCore
import VigilOutput
import VigilSensor

extension ProfileCommand {
    struct Upgrade: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rewrite profiles of an older format or identity rule in the current ones.",
            discussion: """
            Format-1 profiles of programs Vigil saw start were keyed on the path as invoked \
            (a symlink). Each profile whose executable resolves to another path on this host \
            is renamed to its rule-2 identity (resolved executable, plus the invoked name when \
            it differs; the old path is kept under invoked_as); the others are rewritten in \
            format 2 with their id. A profile whose executable does not exist on this host \
            keeps its identity. Conflicts (a new id that another profile has, or that two \
            profiles would share) are listed and nothing is written: merge those first \
            (`vigil profile merge`); exit 2. Ids named in a policy or run configuration must \
            be updated by hand: each rename is printed as OLD -> NEW.
            """)
        @Argument(help: ArgumentHelp("The models directory.", valueName: "DIR")) var directory: String
        @Flag(name: .customLong("dry-run"), help: "List what would be done; write nothing.") var dryRun = false

        func run() throws {
            let store = ProfileStore(directory: directory)
            let (profiles, bad) = ProfileCommand.loadWarning(store)
            var versioned: [(profile: Profile, version: Int64)] = []
            for p in profiles {
                let bytes = (try? Data(contentsOf: URL(fileURLWithPath: store.path(for: p.id)))).map(Array.init) ?? []
                versioned.append((p, ProfileCodec.version(of: bytes) ?? Int64(ProfileCodec.formatVersion)))
            }
            let steps = ProfileUpgrade.plan(versioned, resolve: ExecutablePath.live.realpath)
            let conflicts = steps.filter { if case .conflict = $0.action { true } else { false } }
            for s in steps {
                let line: String
                switch s.action {
                case .current: line = "\(s.id): current (format \(s.fromVersion))"
                case .rewrite: line = "\(s.id): rewrite format \(s.fromVersion) -> \(ProfileCodec.formatVersion)"
                case .rename(let to): line = "\(s.id) -> \(to.id): executable \(to.executable)" + (to.name.map { " run as \($0)" } ?? "")
                case .conflict(let reason): line = "\(s.id): refused: \(reason)"
                }
                print((dryRun ? "would: " : "") + line + (s.note.map { " (\($0))" } ?? ""))
            }
            if !conflicts.isEmpty {
                Diagnostics.error("\(conflicts.count) profile(s) conflict; nothing was written")
                throw ExitCode(2)
            }
            if dryRun { if bad { throw ExitCode(2) }; return }
            for s in steps {
                guard var p = s.result else { continue }
                try store.rewrite(&p)
                if p.id != s.id { try FileManager.default.removeItem(atPath: store.path(for: s.id)) }
            }
            if bad { throw ExitCode(2) }
        }
    }
}

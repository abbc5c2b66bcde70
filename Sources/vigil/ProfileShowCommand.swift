import ArgumentParser
import Foundation
import VigilAgent
import VigilCore
import VigilOutput
import VigilSensor

extension ProfileCommand {
    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one profile (by file path or id).")
        @OptionGroup var models: ModelsOption
        @Argument(help: ArgumentHelp("A profile id, a profile file (.json), or the absolute path of the executable it belongs to (as invoked, e.g. a symlink, or resolved).", valueName: "PATH-OR-ID")) var profile: String
        @Flag(help: "Print JSON: identity, state, syscalls by name, listening ports, destinations, ...") var json = false

        func run() throws {
            let p = try ProfileCommand.resolve(profile, in: models.store)
            let r = p.stability()
            if json {
                var o = ProfileCommand.summary(p)
                o["syscalls"] = p.syscalls.keys.map { SyscallTable.name(Int($0)) }.sorted()
                o["listens"] = p.listens.sorted { ListeningSocket.byPort($0.key, $1.key) }.map {
                    ["protocol": $0.key.transport.rawValue, "address": $0.key.address, "port": Int($0.key.port)].merging(ProfileCommand.seen($0.value)) { a, _ in a }
                }
                o["destinations"] = p.destinations.sorted { $0.key < $1.key }.map {
                    ["protocol": $0.key.transport.rawValue, "address": $0.key.address, "port": Int($0.key.port)].merging(ProfileCommand.seen($0.value)) { a, _ in a }
                }
                o["peers"] = p.peers.sorted { $0.key < $1.key }.map {
                    ["protocol": $0.key.transport.rawValue, "address": $0.key.address, "port": Int($0.key.port)].merging(ProfileCommand.seen($0.value)) { a, _ in a }
                }
                o["served_on"] = p.servedOn.keys.sorted(by: ListeningSocket.byPort).map(\.description)
                o["workloads"] = p.workloads.keys.sorted()
                o["executes"] = p.executes.keys.sorted()
                o["parents"] = p.parents.keys.sorted()
                o["users"] = p.users.keys.sorted().map(Int.init)
                o["binaries"] = p.binaries.keys.sorted()
                o["ngram_count"] = p.ngrams.count
                o["writes"] = p.writes.keys.sorted()
                o["maps"] = p.maps.keys.sorted()
                o["sensitive_reads"] = p.sensitiveReads.keys.sorted()
                ProfileCommand.printJSON(o)
                return
            }
            print("profile       \(p.id) (revision \(p.revision))")
            print("executable    \(p.identity.executable)" + (p.identity.target.map { "  \(p.identity.kind.rawValue) \($0)" } ?? (p.identity.kind == .command ? "  inline commands" : "")))
            if let n = p.identity.name { print("run as        \(n)") }
            if !p.invokedAs.isEmpty { print("invoked as    \(p.invokedAs.keys.sorted().joined(separator: ", "))") }
            print("state         \(r.state.rawValue): \(r.reason)")
            if !p.workloads.isEmpty { print("workloads     \(p.workloads.keys.sorted().joined(separator: ", "))") }
            print("binary        \(p.currentBinary ?? "unknown")" + (p.binaries.count > 1 ? " (\(p.binaries.count) seen)" : ""))
            print("users         \(p.users.keys.sorted().map { "uid \($0)" }.joined(separator: ", "))")
            print("parents       \(p.parents.keys.sorted().joined(separator: ", "))")
            print("executes      \(p.executes.keys.sorted().joined(separator: ", "))")
            print("listens       \(p.listens.keys.sorted(by: ListeningSocket.byPort).map(\.description).joined(separator: ", "))")
            if !p.peers.isEmpty {
                print("peers         \(p.peers.keys.sorted().map { "\($0.transport.rawValue) \($0.address) to port \($0.port)" }.joined(separator: ", "))")
            }
            if !p.servedOn.isEmpty { print("served on     \(p.servedOn.keys.sorted(by: ListeningSocket.byPort).map(\.description).joined(separator: ", "))") }
            print("destinations  \(p.destinations.keys.sorted().map(\.description).joined(separator: ", "))")
            print("syscalls      \(p.syscalls.count): \(p.syscalls.keys.map { SyscallTable.name(Int($0)) }.sorted().joined(separator: " "))")
            print("n-grams       \(p.ngrams.count)")
            // Files: one line per learned write prefix (a `/**` entry covers every
            // directory below), mapped executable file and sensitive file read.
            print("writes        \(p.writes.isEmpty ? "none learned" : "\(p.writes.count)")")
            for w in p.writes.keys.sorted() { print("  \(w)") }
            print("mapped code   \(p.maps.isEmpty ? "none learned" : "\(p.maps.count)")")
            for m in p.maps.keys.sorted() { print("  \(m)") }
            print("sensitive     \(p.sensitiveReads.isEmpty ? "none read" : p.sensitiveReads.keys.sorted().joined(separator: ", "))")
        }
    }
}

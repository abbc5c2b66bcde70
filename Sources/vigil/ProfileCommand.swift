import ArgumentParser
import Foundation
import VigilAgent
import VigilCore
import VigilOutput
import VigilSensor

/// `vigil profile`: review and manage learned baselines (the Models format).
struct ProfileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile",
        abstract: "List, show, diff, merge, prune and export learned profiles.",
        discussion: """
        Profiles are the baselines `vigil learn` writes: one JSON file per program, \
        <id>.json, in the models directory (format: Models/README.md). A file that is \
        corrupt, truncated, of an unknown version or invalid is refused with its file, field \
        and reason; the other profiles still load, and the command exits 2.

        Identity (rule 2, format 2): a process's profile is keyed on the executable file it \
        actually runs, symlinks resolved (realpath; a #! script's interpreter), plus the name \
        it was started under when that differs from the file's own name: Debian's \
        /usr/bin/redis-server, a symlink to redis-check-rdb, is \
        usr-bin-redis-check-rdb@redis-server~<hash>, apart from plain redis-check-rdb. \
        The same rule holds for programs Vigil sees start and ones already running. \
        Interpreters add their program (script, module, jar, class, inline command) and no \
        name. Hard links are not unified: each link path is its own profile. Where a PATH \
        is accepted (show, export-seccomp, learn --only), the invoked or the resolved path \
        may be given. Format-1 files still load; `vigil profile upgrade` rewrites them. \
        See Models/README.md, "Profile identity".
        """,
        subcommands: [List.self, Show.self, Diff.self, Merge.self, Push.self, Pull.self, Prune.self, ExportSeccomp.self, ExportNftables.self, ExportNetworkPolicy.self, Upgrade.self]
    )

    struct ModelsOption: ParsableArguments {
        @Option(name: .customLong("models"), help: ArgumentHelp("The models directory.", valueName: "DIR"))
        var directory: String = "/var/lib/vigil/models"

        var store: ProfileStore { ProfileStore(directory: directory) }
    }

    /// Loads a directory, warning about each bad file; returns whether any was bad.
    static func loadWarning(_ store: ProfileStore) -> ([Profile], Bool) {
        let (profiles, errors) = store.loadAll()
        for e in errors { Diagnostics.warning("refused \(e)") }
        return (profiles, !errors.isEmpty)
    }

    /// A profile named by a file path or by id in the models directory.
    /// A profile named by id, by a profile file (`.json`), or by the absolute path of the
    /// executable it belongs to (`/usr/sbin/nginx`; for an interpreter, all its scripts'
    /// profiles match and the command asks for an id).
    static func resolve(_ ref: String, in store: ProfileStore) throws -> Profile {
        if ref.hasPrefix("/"), !ref.hasSuffix(".json") {
            let (profiles, _) = store.loadAll()
            // The invoked or the resolved path (ExecutableSelector: the identity rule's matching).
            let selector = ExecutableSelector(paths: [ref], label: "profile", resolve: ExecutablePath.live.realpath)
            let matches = profiles.filter { selector.selects($0) }.sorted { $0.id < $1.id }
            if matches.count == 1 { return matches[0] }
            if matches.isEmpty {
                let resolved = selector.entries.first?.resolved
                let hint = resolved == nil ? "; \(ref) does not exist on this host"
                    : resolved != ref ? "; \(ref) resolves to \(resolved!), the executable profiles are keyed on" : ""
                Diagnostics.error("no profile in \(store.directory) belongs to the executable \(ref)\(hint) (`vigil profile list --models \(store.directory)` shows what there is)")
            } else {
                Diagnostics.error("\(matches.count) profiles belong to \(ref); name one by id: " + matches.map(\.id).joined(separator: ", "))
            }
            throw ExitCode(2)
        }
        let path = ref.hasSuffix(".json") ? ref : store.path(for: ref)
        do { return try ProfileStore.load(file: path) } catch {
            if !FileManager.default.fileExists(atPath: path) {
                Diagnostics.error("no profile \"\(ref)\" (looked for \(path))")
            } else {
                Diagnostics.error("refused \(error)")
            }
            throw ExitCode(2)
        }
    }

    static func printJSON(_ value: Any) {
        let data = (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("null".utf8)
        print(String(decoding: data, as: UTF8.self))
    }

    static func seen(_ s: Sighting) -> [String: Any] {
        ["first_seen": RFC3339.format(s.firstSeen), "last_seen": RFC3339.format(s.lastSeen), "count": s.count]
    }

    static func summary(_ p: Profile) -> [String: Any] {
        let r = p.stability()
        var o: [String: Any] = [
            "id": p.id, "executable": p.identity.executable, "kind": p.identity.kind.rawValue,
            "invoked_as": p.invokedAs.keys.sorted(),
            "revision": p.revision, "state": r.state.rawValue, "reason": r.reason,
            "items": ProfileMerge.itemKeys(p).mapValues(\.count), "last_seen": RFC3339.format(p.lastSeen),
        ]
        if let t = p.identity.target { o["target"] = t }
        if let n = p.identity.name { o["name"] = n }
        if let c = p.currentBinary { o["current_sha256"] = c }
        return o
    }

    /// `--nats URL`, parsed (exit 2 with the reason when malformed).
    static func fleetURL(_ text: String) throws -> FleetURL {
        do { return try FleetURL.parse(text) } catch {
            Diagnostics.error(error.description)
            throw ExitCode(2)
        }
    }
}

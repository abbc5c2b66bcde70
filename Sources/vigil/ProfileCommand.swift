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

    struct Diff: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what B adds to and removes from A, per kind of item.",
            discussion: "A and B are both profile files or both directories (profiles matched by id).")
        @Argument(help: "The old profile or directory.") var a: String
        @Argument(help: "The new profile or directory.") var b: String
        @Flag(help: "Print JSON instead of text.") var json = false

        func run() throws {
            var isDirA: ObjCBool = false, isDirB: ObjCBool = false
            let existsA = FileManager.default.fileExists(atPath: a, isDirectory: &isDirA)
            let existsB = FileManager.default.fileExists(atPath: b, isDirectory: &isDirB)
            guard existsA, existsB else { throw ValidationError("\(existsA ? b : a): no such file or directory") }
            guard isDirA.boolValue == isDirB.boolValue else { throw ValidationError("compare two profile files or two directories") }
            var bad = false
            var left: [String: Profile] = [:], right: [String: Profile] = [:]
            if isDirA.boolValue {
                let (pa, ba) = ProfileCommand.loadWarning(ProfileStore(directory: a))
                let (pb, bb) = ProfileCommand.loadWarning(ProfileStore(directory: b))
                bad = ba || bb
                for p in pa { left[p.id] = p }
                for p in pb { right[p.id] = p }
            } else {
                for (path, side) in [(a, 0), (b, 1)] {
                    do {
                        let p = try ProfileStore.load(file: path)
                        if side == 0 { left[p.id] = p } else { right[p.id] = p }
                    } catch {
                        Diagnostics.error("refused \(error)")
                        throw ExitCode(2)
                    }
                }
                if left.keys.first != right.keys.first {
                    // Two different programs: compare them item by item anyway.
                    right = [left.keys.first!: right.values.first!]
                }
            }
            var out: [[String: Any]] = []
            for id in Set(left.keys).union(right.keys).sorted() {
                switch (left[id], right[id]) {
                case (nil, _?): out.append(["id": id, "profile": "added"])
                case (_?, nil): out.append(["id": id, "profile": "removed"])
                case let (x?, y?):
                    let d = ProfileMerge.diff(x, y)
                    if !d.isEmpty {
                        out.append(["id": id, "profile": "changed",
                                    "kinds": d.map { ["kind": $0.kind, "added": $0.added, "removed": $0.removed] as [String: Any] }])
                    }
                default: break
                }
            }
            if json {
                ProfileCommand.printJSON(out)
            } else {
                for entry in out {
                    let id = entry["id"] as! String
                    switch entry["profile"] as! String {
                    case "added": print("+ profile \(id)")
                    case "removed": print("- profile \(id)")
                    default:
                        print("~ profile \(id)")
                        for k in entry["kinds"] as! [[String: Any]] {
                            for item in k["added"] as! [String] { print("  + \(k["kind"]!): \(item)") }
                            for item in k["removed"] as! [String] { print("  - \(k["kind"]!): \(item)") }
                        }
                    }
                }
            }
            if bad { throw ExitCode(2) }
        }
    }

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

    /// `--nats URL`, parsed (exit 2 with the reason when malformed).
    static func fleetURL(_ text: String) throws -> FleetURL {
        do { return try FleetURL.parse(text) } catch {
            Diagnostics.error(error.description)
            throw ExitCode(2)
        }
    }

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

    struct ExportNftables: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export-nftables",
            abstract: "Print an nftables ruleset that lets a workload's cgroup make exactly the learned outbound flows.",
            discussion: """
            The rules match sockets by cgroup (`socket cgroupv2`), accept the learned \
            destinations (networks stay networks) and replies, and count and drop every other \
            new connection. Check with `nft -c -f FILE`, load with `nft -f FILE`.

            Example:
              vigil profile export-nftables /usr/sbin/nginx --cgroup system.slice/nginx.service > nginx.nft
            """)
        @OptionGroup var models: ModelsOption
        @Argument(help: ArgumentHelp("A profile id, a profile file (.json), or the absolute path of the executable it belongs to.", valueName: "PATH-OR-ID")) var profile: String
        @Option(help: ArgumentHelp("The workload's cgroup v2 path under the hierarchy's root.", valueName: "PATH")) var cgroup: String

        func validate() throws {
            let parts = cgroup.split(separator: "/")
            if parts.isEmpty || parts.contains("..") || cgroup.contains("\"") {
                throw ValidationError("--cgroup must be a cgroup path such as system.slice/nginx.service, got '\(cgroup)'")
            }
        }

        func run() throws {
            let p = try ProfileCommand.resolve(profile, in: models.store)
            if p.stability().state != .stable {
                Diagnostics.warning("\(p.id) is still learning; the export may miss flows")
            }
            print(NftablesExport.ruleset(p, cgroup: cgroup), terminator: "")
        }
    }

    struct ExportNetworkPolicy: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export-networkpolicy",
            abstract: "Print a Kubernetes NetworkPolicy that allows a container workload exactly its learned flows.",
            discussion: """
            Egress to each learned destination (an address as a /32 or /128 block, a learned \
            network as it is) on its port and protocol; ingress to the ports it listens on; \
            everything else denied by the policy's presence. Pods are chosen by --label.

            Example:
              vigil profile export-networkpolicy /usr/sbin/nginx --name web --namespace shop --label app=web
            """)
        @OptionGroup var models: ModelsOption
        @Argument(help: ArgumentHelp("A profile id, a profile file (.json), or the absolute path of the executable it belongs to.", valueName: "PATH-OR-ID")) var profile: String
        @Option(help: "The policy's name.") var name: String
        @Option(help: "Its namespace (default: none given, the one it is applied in).") var namespace: String?
        @Option(parsing: .singleValue, help: ArgumentHelp("A pod label KEY=VALUE the policy selects (repeatable; none: every pod of the namespace).", valueName: "KEY=VALUE"))
        var label: [String] = []

        func validate() throws {
            for l in label where l.split(separator: "=", maxSplits: 1).count != 2 {
                throw ValidationError("--label takes KEY=VALUE, got '\(l)'")
            }
        }

        func run() throws {
            let p = try ProfileCommand.resolve(profile, in: models.store)
            if p.stability().state != .stable { Diagnostics.warning("\(p.id) is still learning; the export may miss flows") }
            let labels = label.map { l -> (String, String) in
                let parts = l.split(separator: "=", maxSplits: 1).map(String.init)
                return (parts[0], parts[1])
            }
            print(NetworkPolicyExport.yaml(p, name: name, namespace: namespace, podLabels: labels), terminator: "")
        }
    }

    struct ExportSeccomp: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export-seccomp",
            abstract: "Print an OCI seccomp profile that allows exactly the learned syscalls.")
        @OptionGroup var models: ModelsOption
        @Argument(help: ArgumentHelp("A profile id, a profile file (.json), or the absolute path of the executable it belongs to.", valueName: "PATH-OR-ID")) var profile: String

        func run() throws {
            let p = try ProfileCommand.resolve(profile, in: models.store)
            if p.stability().state != .stable {
                Diagnostics.warning("\(p.id) is still learning; the export may miss syscalls")
            }
            print(SeccompExport.json(p), terminator: "")
        }
    }
}

/// `vigil profile upgrade`: brings profiles of an older format or identity rule to the
/// current ones (``ProfileCodec/formatVersion``, ``ProfileIdentity/of(executable:argv:comm:)``).
///
/// Format 1 keyed a process that Vigil saw exec on the path as invoked (a symlink such as
/// `/usr/bin/redis-server`); rule 2 keys it on the resolved executable plus the invoked name
/// when that differs. A profile whose executable resolves elsewhere on this host is renamed
/// to the identity rule 2 gives it, and its old path is kept in ``Profile/invokedAs`` (so the
/// kernel's known-executable set and `--only` still know it). A profile whose executable does
/// not exist here keeps its identity (it cannot be resolved on this host) and is only
/// rewritten in the current format. Pure: the caller supplies `realpath` and does the writing.
public enum ProfileUpgrade {
    public enum Action: Sendable, Hashable {
        /// Already current: nothing to do.
        case current
        /// Same id, rewritten in the current format.
        case rewrite
        /// A new identity (and id, so file name); the old file goes away.
        case rename(to: ProfileIdentity)
        /// Not done: `reason` says why (another profile has, or would get, the same id).
        case conflict(reason: String)
    }

    public struct Step: Sendable, Hashable {
        public var id: String
        public var fromVersion: Int64
        public var action: Action
        /// Anything the operator should know (an executable missing on this host).
        public var note: String?
        /// The profile to write (nil for ``Action/current`` and ``Action/conflict(reason:)``).
        public var result: Profile?
    }

    /// What upgrading `profiles` (each with the format version its file was written in) would do.
    public static func plan(_ profiles: [(profile: Profile, version: Int64)], resolve: (String) -> String?) -> [Step] {
        var steps: [Step] = []
        for (p, version) in profiles.sorted(by: { $0.profile.id < $1.profile.id }) {
            var note: String?
            var identity = p.identity
            if let r = resolve(p.identity.executable) {
                if r != p.identity.executable { identity = newIdentity(p.identity, resolved: r) }
            } else {
                note = "\(p.identity.executable) does not exist on this host: identity kept as it is"
            }
            if identity == p.identity {
                let current = version == Int64(ProfileCodec.formatVersion)
                steps.append(Step(id: p.id, fromVersion: version, action: current ? .current : .rewrite, note: note,
                                  result: current ? nil : p))
                continue
            }
            var out = p
            out.identity = identity
            if let seen = combinedSighting(p) {
                if out.invokedAs[p.identity.executable] == nil { out.invokedAs[p.identity.executable] = seen }
            }
            steps.append(Step(id: p.id, fromVersion: version, action: .rename(to: identity), note: note, result: out))
        }
        // Conflicts: a new id that another profile has already, or that two renames share.
        let staying = Set(steps.filter { if case .rename = $0.action { false } else { true } }.map(\.id))
        var byNewID: [String: [Int]] = [:]
        for (i, s) in steps.enumerated() { if case .rename(let to) = s.action { byNewID[to.id, default: []].append(i) } }
        for (newID, indices) in byNewID {
            for i in indices {
                if staying.contains(newID) {
                    steps[i].action = .conflict(reason: "its new id \(newID) is another profile's; merge them first (vigil profile merge) or remove one")
                    steps[i].result = nil
                } else if indices.count > 1 {
                    let others = indices.filter { $0 != i }.map { steps[$0].id }.sorted().joined(separator: ", ")
                    steps[i].action = .conflict(reason: "its new id \(newID) is also the new id of \(others); merge them first (vigil profile merge)")
                    steps[i].result = nil
                }
            }
        }
        return steps
    }

    /// The rule-2 identity of a format-1 identity whose executable resolves to `resolved`.
    public static func newIdentity(_ old: ProfileIdentity, resolved: String) -> ProfileIdentity {
        let name = old.name ?? ProfileIdentity.basename(old.executable)
        let comm = String(decoding: name.utf8.prefix(ProfileIdentity.commLength), as: UTF8.self)
        switch old.kind {
        case .binary:
            // What running the old path would give now (an interpreter run bare, a multi-call
            // binary's applet, a symlink of another name), as a process with that argv[0].
            var i = ProfileIdentity.of(executable: resolved, argv: [name], comm: comm)
            if i.kind != .binary { i = ProfileIdentity(executable: resolved, name: i.name) }
            return i
        default:
            // An interpreter's program: resolved the same way; named only if the resolved file
            // is not recognised as the interpreter by itself (a multi-call binary).
            let recognised = Interpreter(basename: ProfileIdentity.basename(resolved)) != nil
            var i = ProfileIdentity(executable: resolved, kind: old.kind, target: old.target)
            if !recognised, name != ProfileIdentity.basename(resolved) { i.name = name }
            return i
        }
    }

    /// All of a profile's binary sightings together (else its users'), to date an invoked path.
    static func combinedSighting(_ p: Profile) -> Sighting? {
        let source = p.binaries.isEmpty ? Array(p.users.values) : Array(p.binaries.values)
        guard var s = source.first else { return nil }
        for o in source.dropFirst() { s.merge(o) }
        return s
    }
}

import Foundation

/// How Vigil treats one profile's processes in `vigil run`.
public enum ProfileMode: String, Sendable, Hashable, CaseIterable, Comparable {
    /// New behaviour is added to the baseline.
    case learn
    /// New behaviour is a finding; the action it calls for is reported, not taken.
    case monitor
    /// New behaviour is a finding and its action is taken.
    case enforce

    private var order: Int { Self.allCases.firstIndex(of: self)! }
    public static func < (l: Self, r: Self) -> Bool { l.order < r.order }
}

/// When profiles move from learn to monitor to enforce on their own.
///
/// - learn → monitor: the profile has been `stable` (``StabilityPolicy``, the statistic
///   `vigil learn` reports) without a break for ``stableSeconds``;
/// - monitor → enforce: the profile has been in monitor for ``quietSeconds`` and none of its
///   processes deviated from it meanwhile (a deviation restarts the wait);
/// - never past ``upTo``.
public struct PromotionPolicy: Sendable, Hashable {
    /// The furthest a profile goes on its own (`learn`: promotion is off).
    public var upTo: ProfileMode = .enforce
    public var stableSeconds: Double = 3600
    public var quietSeconds: Double = 3600
    /// The mode of an executable no profile describes, seen for the first time: `learn`
    /// (a profile is created and learns) or `monitor` (an unknown-executable finding).
    public var newExecutables: ProfileMode = .learn
    /// The mode of a profile found in the models directory with no recorded mode (e.g.
    /// baselines learned on staging and copied here).
    public var loadedProfiles: ProfileMode = .monitor

    public init() {}
}

/// One profile changing mode: reported as an event and counted in the metrics.
public struct ModeChange: Sendable, Hashable {
    public var profile: String
    public var from: ProfileMode?
    public var to: ProfileMode
    public var reason: String
    public var timeNanos: UInt64
}

/// The mode of every profile and the clocks that promote them. Pure: time comes in as
/// arguments, so promotion is tested on a fake clock.
public struct ProfileModes: Sendable, Hashable {
    public struct Record: Sendable, Hashable {
        public var mode: ProfileMode
        /// When the profile entered `mode` (ns since the epoch).
        public var since: UInt64
        /// Learn: since when it has been stable without a break (nil: not stable now).
        public var stableSince: UInt64?
        /// Monitor: the last deviation of one of its processes.
        public var lastDeviation: UInt64?

        public init(mode: ProfileMode, since: UInt64, stableSince: UInt64? = nil, lastDeviation: UInt64? = nil) {
            self.mode = mode
            self.since = since
            self.stableSince = stableSince
            self.lastDeviation = lastDeviation
        }
    }

    public var policy: PromotionPolicy
    public private(set) var records: [String: Record]
    /// Profiles whose mode the operator fixed: never promoted (not persisted; the
    /// configuration says which at every start and reload).
    public var pinned: Set<String> = []

    public init(policy: PromotionPolicy, records: [String: Record] = [:]) {
        self.policy = policy
        self.records = records
    }

    public func mode(of id: String) -> ProfileMode? { records[id]?.mode }

    /// Gives a profile its first mode if it has none: `created` profiles (learning began
    /// now) start in learn, loaded ones in ``PromotionPolicy/loadedProfiles``.
    @discardableResult
    public mutating func register(_ id: String, created: Bool, now: UInt64) -> ModeChange? {
        guard records[id] == nil else { return nil }
        let mode: ProfileMode = created ? .learn : policy.loadedProfiles
        records[id] = Record(mode: mode, since: now)
        let reason = created ? "new executable, learning its baseline" : "baseline loaded with no recorded mode"
        return ModeChange(profile: id, from: nil, to: mode, reason: reason, timeNanos: now)
    }

    /// Forgets profile `id` (its baseline was removed): a program of it is new again.
    public mutating func forget(_ id: String) {
        records[id] = nil
        pinned.remove(id)
    }

    /// Sets a mode by hand (operator's choice in the configuration).
    @discardableResult
    public mutating func set(_ id: String, _ mode: ProfileMode, reason: String, now: UInt64) -> ModeChange? {
        let old = records[id]?.mode
        guard old != mode else { return nil }
        records[id] = Record(mode: mode, since: now)
        return ModeChange(profile: id, from: old, to: mode, reason: reason, timeNanos: now)
    }

    /// A process of profile `id` deviated from it: a monitored profile waits its quiet
    /// time again before enforcement.
    public mutating func noteDeviation(_ id: String, now: UInt64) {
        guard records[id]?.mode == .monitor else { return }
        records[id]?.lastDeviation = now
    }

    /// Advances the clocks; returns the promotions due at `now`. `state` gives the learning
    /// state of learning profiles (nil when unknown, which counts as not stable).
    public mutating func tick(now: UInt64, state: (String) -> LearningState?) -> [ModeChange] {
        var out: [ModeChange] = []
        for id in records.keys.sorted() where !pinned.contains(id) {
            var r = records[id]!
            if r.mode == .learn {
                if state(id) == .stable {
                    let since = r.stableSince ?? now
                    r.stableSince = since
                    let held = Self.seconds(from: since, to: now)
                    if policy.upTo >= .monitor, held >= policy.stableSeconds {
                        out.append(ModeChange(profile: id, from: .learn, to: .monitor,
                                              reason: "stable for \(Int(held)) s (at least \(policy.stableSeconds.clean) s required)", timeNanos: now))
                        r = Record(mode: .monitor, since: now)
                    }
                } else {
                    r.stableSince = nil
                }
            }
            if r.mode == .monitor, policy.upTo >= .enforce {
                let quietFrom = max(r.since, r.lastDeviation ?? 0)
                let quiet = Self.seconds(from: quietFrom, to: now)
                if quiet >= policy.quietSeconds {
                    out.append(ModeChange(profile: id, from: .monitor, to: .enforce,
                                          reason: "no deviation for \(Int(quiet)) s in monitor (at least \(policy.quietSeconds.clean) s required)",
                                          timeNanos: now))
                    r = Record(mode: .enforce, since: now)
                }
            }
            records[id] = r
        }
        return out
    }

    private static func seconds(from a: UInt64, to b: UInt64) -> Double { b > a ? Double(b - a) / 1e9 : 0 }

    // MARK: Persistence (the state directory's modes.json)

    /// The file's format version.
    public static let formatVersion = 1

    /// Deterministic JSON: profiles sorted, times as nanoseconds since the epoch.
    public func encoded() -> [UInt8] {
        let profiles: [(String, JSONValue)] = records.keys.sorted().map { id in
            let r = records[id]!
            var fields: [(String, JSONValue)] = [("mode", .string(r.mode.rawValue)), ("since", .uint(r.since))]
            if let t = r.stableSince { fields.append(("stable_since", .uint(t))) }
            if let t = r.lastDeviation { fields.append(("last_deviation", .uint(t))) }
            return (id, .object(fields))
        }
        var out = ""
        JSONValue.object([("format", .int(Int64(Self.formatVersion))), ("profiles", .object(profiles))]).write(into: &out, indent: 0, compact: false)
        out += "\n"
        return Array(out.utf8)
    }

    /// Reads ``encoded()``'s output; the error names what was wrong.
    public static func decode(_ bytes: [UInt8], policy: PromotionPolicy) throws(ModesFileError) -> ProfileModes {
        guard let root = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw ModesFileError(reason: "not a JSON object")
        }
        guard let format = root["format"] as? Int, format == formatVersion else {
            throw ModesFileError(reason: "format \(root["format"].map { "\($0)" } ?? "missing"); expected \(formatVersion)")
        }
        guard let profiles = root["profiles"] as? [String: Any] else { throw ModesFileError(reason: "\"profiles\" must be an object") }
        var records: [String: Record] = [:]
        for (id, value) in profiles {
            guard let o = value as? [String: Any], let m = o["mode"] as? String, let mode = ProfileMode(rawValue: m),
                  let since = (o["since"] as? NSNumber)?.uint64Value else {
                throw ModesFileError(reason: "profile \(id): expected {\"mode\": learn|monitor|enforce, \"since\": ns}")
            }
            records[id] = Record(mode: mode, since: since,
                                 stableSince: (o["stable_since"] as? NSNumber)?.uint64Value,
                                 lastDeviation: (o["last_deviation"] as? NSNumber)?.uint64Value)
        }
        return ProfileModes(policy: policy, records: records)
    }

    /// Writes the file atomically, owner-only.
    public func save(to path: String) throws {
        try AtomicFile.write(encoded(), to: path, mode: 0o600)
    }
}

/// A modes file that cannot be read.
public struct ModesFileError: Error, Sendable, CustomStringConvertible {
    public var reason: String
    public var description: String { reason }
}

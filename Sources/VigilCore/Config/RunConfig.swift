internal import Yams

/// Everything `vigil run` takes, from one YAML file (`examples/vigil.yaml` documents every
/// key). Relative paths are resolved against the file's directory.
public struct RunConfig: Sendable, Hashable {
    /// The models directory: one profile per file (created owner-only).
    public var models: String
    /// The state directory: profile modes (`modes.json`) and, by default, the spool.
    public var state: String
    /// Every profile's mode, fixed (`learn`, `monitor`, `enforce`: as `vigil learn`,
    /// `monitor`, `enforce` do); nil (`auto`): each profile by its own mode and promotion.
    public var mode: ProfileMode?
    /// The response policy file; nil: the built-in ladder.
    public var policy: String?
    /// Seconds to run; nil: until SIGTERM or SIGINT.
    public var duration: Double?
    /// Output specs (`vigil trace --help` lists the forms).
    public var outputs: [String] = ["stdout"]
    /// Where events wait while an output is down; nil: `<state>/spool`.
    public var spool: String?
    /// Also stream process and network events, not only findings and the agent's own.
    public var events = false
    /// Executables to learn (absolute paths); empty: every program.
    public var only: [String] = []
    public var saveIntervalSeconds: Double = 30
    public var stability = StabilityPolicy.standard
    public var promotion = PromotionPolicy()
    /// Profile modes set by the operator, by profile id or executable path; they override
    /// promotion (a profile named here never moves on its own).
    public var modes: [String: ProfileMode] = [:]
    /// The Prometheus endpoint's address; nil: no endpoint.
    public var metricsListen: String? = "127.0.0.1:9464"
    /// The control socket for `vigil mode` and `vigil resume --workload`; nil: none.
    public var controlSocket: String? = "/run/vigil/control.sock"
    /// Whether the kernel measures each BPF program's run time (costs two clock reads per run).
    public var bpfRunTime = false
    /// What may be acted on: named workloads of selectors (`docs/policy.md`). Empty (and
    /// ``allProcesses`` false): nothing is acted on; findings say what would be done.
    public var workloads: [Workload] = []
    /// Act on every process that is not protected.
    public var allProcesses = false
    /// What a baseline that cannot be used (corrupt, of an unknown version, unreadable, or
    /// missing though the state or `modes:` names it) does at start: refuse to start, or
    /// judge its programs (and the workloads they run in) in monitor mode.
    public var onBadBaseline = BadBaselineAction.refuse
    /// Where the kernel side's links are pinned (a bpffs directory, e.g. /sys/fs/bpf/vigil):
    /// it keeps enforcing while the agent is down, and the next start replaces it. nil:
    /// nothing pinned (the kernel side ends with the agent).
    public var bpfPin: String?
    /// Fleet baselines to pull (merge into `models`) on start and on reload; nil: none.
    public var fleet: FleetConfig?
    /// The least severe diagnostic the agent writes (`log-level:`); nil: info, or the flag.
    public var logLevel: LogLevel?
    /// Readable lines or JSON lines (`log-format:`); nil: text, or the flag.
    public var logFormat: LogFormat?

    /// Where the fleet's baselines are (`fleet:`; `vigil profile pull` does the same by hand).
    public struct FleetConfig: Sendable, Hashable {
        /// `nats://HOST[:PORT][/BUCKET][?creds=FILE&tls=true&ca=FILE]`.
        public var nats: String
        /// The directory of trusted host public keys, `HOST.pub`.
        public var trustedKeys: String
        public init(nats: String, trustedKeys: String) {
            self.nats = nats
            self.trustedKeys = trustedKeys
        }
    }

    public init(models: String, state: String) {
        self.models = models
        self.state = state
    }

    /// The promotion rules in effect: with a fixed ``mode`` nothing moves on its own, and
    /// programs with no profile are learned only in learn mode.
    public var effectivePromotion: PromotionPolicy {
        guard let mode else { return promotion }
        var p = promotion
        p.upTo = .learn
        p.newExecutables = mode == .learn ? .learn : .monitor
        p.loadedProfiles = mode
        return p
    }

    /// The spool directory in effect.
    public var spoolDirectory: String { spool ?? state + "/spool" }

    static let topKeys = ["models", "state", "mode", "policy", "duration", "outputs", "spool", "events", "learn", "promotion",
                          "modes", "metrics", "workloads", "all-processes", "control-socket",
                          "on-bad-baseline", "bpf-pin", "fleet", "log-level", "log-format"]

    /// Reads a configuration. `file` names the source in errors and anchors relative paths;
    /// `checkOutput` validates one output spec (it throws a message naming what is wrong).
    ///
    /// - Throws: ``YAMLFileError`` with line and column for malformed YAML, unknown keys,
    ///   missing required keys and bad values.
    public static func load(yaml: String, file: String, checkOutput: (String) throws -> Void = { _ in }) throws(YAMLFileError) -> RunConfig {
        guard let root = try YAMLNodeReader.compose(yaml, file: file) else {
            throw YAMLFileError(file: file, line: 1, column: 1, message: "the configuration is empty; expected at least models: DIR")
        }
        return try withoutActuallyEscaping(checkOutput) { check throws(YAMLFileError) in
            try RunConfigReader(file: file, base: directory(of: file), checkOutput: check).read(root)
        }
    }
}

/// What the agent does at start when a baseline cannot be used (`on-bad-baseline:`,
/// `--on-bad-baseline`).
public enum BadBaselineAction: String, Sendable, Hashable, CaseIterable {
    /// Refuse to start (exit 2, naming each file and why).
    case refuse
    /// Start; the programs of each bad baseline, and the workloads they run in, are judged
    /// in monitor mode, and an agent health finding says so.
    case monitor
}

/// The directory part of a path ("." when it has none).
private func directory(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    return slash == path.startIndex ? "/" : String(path[..<slash])
}

private struct RunConfigReader: YAMLNodeReading {
    let file: String
    let base: String
    let checkOutput: (String) throws -> Void

    func path(_ node: Node, _ what: String) throws(YAMLFileError) -> String {
        let p = try string(node, what)
        if p.hasPrefix("/") { return p }
        return base == "." ? p : base + "/" + p
    }

    func read(_ root: Node) throws(YAMLFileError) -> RunConfig {
        let top = try pairs(root, "the configuration", allowed: RunConfig.topKeys)
        guard let modelsNode = top.first(where: { $0.key == "models" })?.value else {
            throw fail(root, "models is required: the directory of baselines, e.g. models: /var/lib/vigil/models")
        }
        let models = try path(modelsNode, "models")
        let state = try top.first { $0.key == "state" }.map { v throws(YAMLFileError) in try path(v.value, "state") }
            ?? directory(of: models) + "/state"
        var c = RunConfig(models: models, state: state)
        for (key, _, v) in top {
            switch key {
            case "mode":
                let m = try choice(v, "mode", ["auto"] + ProfileMode.allCases.map(\.rawValue))
                c.mode = ProfileMode(rawValue: m)
            case "policy": c.policy = isNull(v) ? nil : try path(v, "policy")
            case "duration": c.duration = isNull(v) ? nil : try number(v, "duration", in: 0...(86_400 * 365), positive: true)
            case "spool": c.spool = try path(v, "spool")
            case "events": c.events = try bool(v, "events")
            case "outputs":
                let items = try strings(v, "outputs")
                guard !items.isEmpty else { throw fail(v, "outputs: expected at least one output, e.g. [stdout]") }
                for (spec, node) in items {
                    do { try checkOutput(spec) } catch { throw fail(node, "outputs: \(error)") }
                }
                c.outputs = items.map(\.0)
            case "learn": try readLearn(v, into: &c)
            case "promotion": try readPromotion(v, into: &c.promotion)
            case "modes":
                for (name, keyNode, mv) in try pairs(v, "modes", allowed: nil) {
                    guard !name.isEmpty else { throw fail(keyNode, "modes: expected a profile id or an executable path") }
                    c.modes[name] = try mode(mv, "modes.\(name)", allowed: ProfileMode.allCases)
                }
            case "all-processes": c.allProcesses = try bool(v, "all-processes")
            case "control-socket": c.controlSocket = isNull(v) ? nil : try path(v, "control-socket")
            case "bpf-pin": c.bpfPin = isNull(v) ? nil : try path(v, "bpf-pin")
            case "on-bad-baseline":
                c.onBadBaseline = BadBaselineAction(rawValue: try choice(v, "on-bad-baseline", BadBaselineAction.allCases.map(\.rawValue)))!
            case "workloads":
                for (name, keyNode, wv) in try pairs(v, "workloads", allowed: nil) {
                    guard !name.isEmpty else { throw fail(keyNode, "workloads: expected a workload name, e.g. web: [exe:/usr/sbin/nginx]") }
                    let items = try strings(wv, "workloads.\(name)")
                    guard !items.isEmpty else { throw fail(wv, "workloads.\(name): expected at least one selector KIND:VALUE") }
                    var selectors: [WorkloadSelector] = []
                    for (text, node) in items {
                        do { selectors.append(try WorkloadSelector.parse(text)) } catch { throw fail(node, "workloads.\(name): \(error)") }
                    }
                    c.workloads.append(Workload(name: name, selectors: selectors))
                }
            case "log-level": c.logLevel = LogLevel(rawValue: try choice(v, "log-level", LogLevel.allCases.map(\.rawValue)))!
            case "log-format": c.logFormat = LogFormat(rawValue: try choice(v, "log-format", LogFormat.allCases.map(\.rawValue)))!
            case "fleet":
                var nats: String?
                var trusted: String?
                for (k, _, fv) in try pairs(v, "fleet", allowed: ["nats", "trusted-keys"]) {
                    if k == "nats" {
                        let u = try string(fv, "fleet.nats")
                        guard u.lowercased().hasPrefix("nats://") else { throw fail(fv, "fleet.nats: expected nats://HOST[:PORT][/BUCKET][?creds=FILE&tls=true&ca=FILE], got '\(u)'") }
                        nats = u
                    } else {
                        trusted = try path(fv, "fleet.trusted-keys")
                    }
                }
                guard let nats else { throw fail(v, "fleet: nats is required, e.g. nats: nats://nats.internal:4222") }
                guard let trusted else { throw fail(v, "fleet: trusted-keys is required: the directory of trusted host public keys (HOST.pub)") }
                c.fleet = RunConfig.FleetConfig(nats: nats, trustedKeys: trusted)
            case "metrics":
                for (k, _, mv) in try pairs(v, "metrics", allowed: ["listen", "bpf-run-time"]) {
                    if k == "listen" {
                        c.metricsListen = isNull(mv) ? nil : try listenAddress(mv)
                    } else {
                        c.bpfRunTime = try bool(mv, "metrics.bpf-run-time")
                    }
                }
            default: break
            }
        }
        return c
    }

    func readLearn(_ v: Node, into c: inout RunConfig) throws(YAMLFileError) {
        let keys = ["only", "save-interval-seconds", "bucket-seconds", "window-buckets", "min-observed-seconds", "min-observations",
                    "max-new-per-minute"]
        for (k, _, lv) in try pairs(v, "learn", allowed: keys) {
            switch k {
            case "only":
                let items = try strings(lv, "learn.only")
                for (p, node) in items where !p.hasPrefix("/") {
                    throw fail(node, "learn.only: expected an absolute executable path, found '\(p)'")
                }
                c.only = items.map(\.0)
            case "save-interval-seconds": c.saveIntervalSeconds = try number(lv, "learn.\(k)", in: 1...86_400)
            case "bucket-seconds": c.stability.bucketSeconds = UInt64(try integer(lv, "learn.\(k)", in: 1...86_400))
            case "window-buckets": c.stability.windowBuckets = try integer(lv, "learn.\(k)", in: 1...1_000)
            case "min-observed-seconds": c.stability.minObservedSeconds = UInt64(try integer(lv, "learn.\(k)", in: 0...(86_400 * 365)))
            case "min-observations": c.stability.minObservations = UInt64(try integer(lv, "learn.\(k)", in: 0...1_000_000_000))
            case "max-new-per-minute": c.stability.maxNewPerMinute = try number(lv, "learn.\(k)", in: 0...1_000_000)
            default: break
            }
        }
    }

    func readPromotion(_ v: Node, into p: inout PromotionPolicy) throws(YAMLFileError) {
        let keys = ["up-to", "stable-seconds", "quiet-seconds", "new-executables", "loaded-profiles"]
        for (k, _, pv) in try pairs(v, "promotion", allowed: keys) {
            switch k {
            case "up-to": p.upTo = try mode(pv, "promotion.up-to", allowed: ProfileMode.allCases)
            case "stable-seconds": p.stableSeconds = try number(pv, "promotion.\(k)", in: 0...(86_400 * 365))
            case "quiet-seconds": p.quietSeconds = try number(pv, "promotion.\(k)", in: 0...(86_400 * 365))
            case "new-executables": p.newExecutables = try mode(pv, "promotion.\(k)", allowed: [.learn, .monitor])
            case "loaded-profiles": p.loadedProfiles = try mode(pv, "promotion.\(k)", allowed: ProfileMode.allCases)
            default: break
            }
        }
    }

    func mode(_ node: Node, _ what: String, allowed: [ProfileMode]) throws(YAMLFileError) -> ProfileMode {
        ProfileMode(rawValue: try choice(node, what, allowed.map(\.rawValue)))!
    }

    /// HOST:PORT with a numeric port (`[v6]:PORT` for IPv6; an empty host: every interface).
    func listenAddress(_ node: Node) throws(YAMLFileError) -> String {
        let text = try string(node, "metrics.listen")
        guard let colon = text.lastIndex(of: ":"), UInt16(text[text.index(after: colon)...]) != nil else {
            throw fail(node, "metrics.listen: expected HOST:PORT such as 127.0.0.1:9464, found '\(text)'")
        }
        return text
    }
}

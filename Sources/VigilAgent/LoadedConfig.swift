import Foundation
public import VigilCore
import VigilOutput

/// A configuration with the policy it names, both read and validated.
public struct LoadedConfig {
    public var config: RunConfig
    public var policy: Policy

    public init(config: RunConfig, policy: Policy) {
        self.config = config
        self.policy = policy
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Reads and checks `path` and its policy: permissions, syntax, values.
    public static func load(_ path: String, checkOutput: (String) throws -> Void = { _ in }) throws(Failure) -> LoadedConfig {
        let config: RunConfig
        do {
            try refuseWritableByOthers(path, what: "configuration")
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw Failure(description: "cannot read the configuration \(path): \(String(cString: strerror(errno)))")
            }
            config = try RunConfig.load(yaml: text, file: path) { spec in
                let parsed = try OutputSpec.parse(spec)
                for w in parsed.warnings { Diagnostics.warning("\(path): output \(parsed): \(w)") }
                try checkOutput(spec)
            }
        } catch let e as Failure {
            throw e
        } catch {
            throw Failure(description: "invalid configuration: \(error)")
        }
        if let fleet = config.fleet {
            do { _ = try FleetURL.parse(fleet.nats) } catch {
                throw Failure(description: "invalid configuration: \(path): fleet.nats: \(error)")
            }
        }
        return LoadedConfig(config: config, policy: try config.policy.map(loadPolicy) ?? .standard)
    }

    /// Reads and checks a policy file: permissions, syntax, values (`vigil monitor`,
    /// `enforce` and `run` alike).
    public static func loadPolicy(_ file: String) throws(Failure) -> Policy {
        try refuseWritableByOthers(file, what: "policy")
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw Failure(description: "cannot read the policy \(file): \(String(cString: strerror(errno)))")
        }
        do { return try Policy.load(yaml: text, file: file) } catch {
            throw Failure(description: "invalid policy: \(error)")
        }
    }

    private static func refuseWritableByOthers(_ path: String, what: String) throws(Failure) {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw Failure(description: "cannot read the \(what) \(path): \(String(cString: strerror(errno)))")
        }
        if st.st_mode & 0o022 != 0 {
            throw Failure(description: "the \(what) \(path) is writable by users other than its owner; refusing to load it. Fix: chmod go-w \(path)")
        }
    }
}

/// SIGHUP asks the loop to reload.
public final class ReloadSignal: @unchecked Sendable {
    private var source: (any DispatchSourceSignal)?
    private let flag = UnsafeMutablePointer<sig_atomic_t>.allocate(capacity: 1)

    public init() {
        flag.pointee = 0
        signal(SIGHUP, SIG_IGN)
        let src = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        src.setEventHandler { [flag] in flag.pointee = 1 }
        src.resume()
        source = src
    }

    /// Whether a reload was asked for since the last call.
    public func take() -> Bool {
        guard flag.pointee != 0 else { return false }
        flag.pointee = 0
        return true
    }
}

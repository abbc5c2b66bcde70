import Foundation

/// How a command ends when the agent refuses to go on: the exit code (2: bad usage or bad
/// input, 1: a runtime failure), after the reason was told on stderr.
public struct AgentExit: Error, Sendable {
    public var code: Int32
    public init(_ code: Int32) { self.code = code }
    public static let badInput = AgentExit(2)
    public static let failure = AgentExit(1)
}

/// The models and state directories: one check for every command. A directory that users
/// other than its owner can write to is refused (anyone could plant a baseline).
public enum ModelsDirectory {
    /// Checks `path` (`what` names it in messages, e.g. "--models"); with `create`, a
    /// missing directory is created owner-only, otherwise it must exist.
    public static func check(_ path: String, what: String = "the models directory", create: Bool) throws(AgentExit) {
        var st = stat()
        if stat(path, &st) != 0 {
            guard create else {
                Diagnostics.error("\(what) \(path) does not exist (learn baselines first: vigil learn --models \(path))")
                throw .badInput
            }
            do {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                Diagnostics.error("cannot create \(what) \(path): \(error.localizedDescription)")
                throw .failure
            }
            return
        }
        guard st.st_mode & S_IFMT == S_IFDIR else {
            Diagnostics.error("\(what) \(path) is not a directory")
            throw .badInput
        }
        if st.st_mode & 0o022 != 0 {
            let who = st.st_mode & 0o002 != 0 ? "every user" : "its group"
            Diagnostics.error("\(what) \(path) is writable by \(who); anyone could plant a baseline. Fix: chmod go-w \(path)")
            throw .badInput
        }
    }
}

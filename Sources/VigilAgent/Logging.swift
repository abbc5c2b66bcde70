public import Foundation
public import Logging
public import VigilCore
import VigilOutput

/// The agent's diagnostics as swift-log records: one handler that writes either a readable
/// line (`vigil: warning: ...`) or one JSON object per line, on stderr, with a journald
/// priority prefix (`<3>` ...) when stderr is the journal.
public struct VigilLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public let label: String
    public let format: LogFormat
    /// Prefix each line with its syslog priority in angle brackets (sd-daemon(3)).
    public let journald: Bool
    private let write: @Sendable (String) -> Void
    private let now: @Sendable () -> Date

    /// - Parameters:
    ///   - write: takes one finished line, newline included (stderr unless a test replaces it).
    ///   - now: the clock for the JSON `time` member.
    public init(label: String, level: Logger.Level = .info, format: LogFormat = .text, journald: Bool = false,
                now: @escaping @Sendable () -> Date = { Date() },
                write: @escaping @Sendable (String) -> Void = VigilLogHandler.writeStderr) {
        self.label = label
        self.logLevel = level
        self.format = format
        self.journald = journald
        self.now = now
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let own = event.metadata { merged.merge(own) { _, new in new } }
        if let error = event.error { merged["error"] = .string("\(error)") }
        var line = journald ? "<\(Self.priority(event.level))>" : ""
        switch format {
        case .text: line += Self.text(level: event.level, message: event.message.description, metadata: merged)
        case .json: line += Self.json(time: now(), level: event.level, label: label, message: event.message.description, metadata: merged)
        }
        write(line + "\n")
    }

    /// syslog(3) priorities as journald reads them from a stream's `<N>` prefix.
    public static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// The readable form, as vigil always printed it: `vigil: warning: MESSAGE key=value`.
    static func text(level: Logger.Level, message: String, metadata: Logger.Metadata) -> String {
        var s = "vigil: "
        switch level {
        case .info: break
        case .trace, .debug, .notice, .warning, .error, .critical: s += level.rawValue + ": "
        }
        s += message
        for key in metadata.keys.sorted() { s += " \(key)=\(metadata[key]!)" }
        return s
    }

    /// One JSON object: time (RFC 3339, UTC, milliseconds), level, label, message, metadata.
    static func json(time: Date, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> String {
        var w = JSONWriter(reservingCapacity: 256)
        w.object { o in
            o.field("time", Self.rfc3339(time))
            o.field("level", level.rawValue)
            o.field("label", label)
            o.field("message", message)
            if !metadata.isEmpty {
                o.object("metadata") { m in
                    for key in metadata.keys.sorted() { m.key(key); Self.write(metadata[key]!, into: &m) }
                }
            }
        }
        return String(decoding: w.bytes, as: UTF8.self)
    }

    private static func write(_ value: Logger.Metadata.Value, into w: inout JSONWriter) {
        switch value {
        case .string(let s): w.string(s)
        case .stringConvertible(let c): w.string(c.description)
        case .array(let items): w.array { a in for item in items { write(item, into: &a) } }
        case .dictionary(let d): w.object { o in for key in d.keys.sorted() { o.key(key); write(d[key]!, into: &o) } }
        }
    }

    static func rfc3339(_ date: Date) -> String {
        RFC3339.formatMillis(UInt64(max(0, (date.timeIntervalSince1970 * 1000).rounded(.down))) * 1_000_000)
    }

    /// Writes the whole line to stderr (retrying short writes and EINTR).
    public static let writeStderr: @Sendable (String) -> Void = { line in Console.writeAll(line, to: STDERR_FILENO) }

    /// Whether stderr is the journal: systemd sets JOURNAL_STREAM to the `DEVICE:INODE` of
    /// the stream it connected, which must still be what stderr is (a shell started from
    /// the unit may have redirected it).
    public static func stderrIsJournal(environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        guard let value = environment["JOURNAL_STREAM"] else { return false }
        let parts = value.split(separator: ":")
        guard parts.count == 2, let dev = UInt64(parts[0]), let ino = UInt64(parts[1]) else { return false }
        var st = stat()
        guard fstat(STDERR_FILENO, &st) == 0 else { return false }
        return UInt64(st.st_dev) == dev && UInt64(st.st_ino) == ino
    }
}

extension Logger.Level {
    /// The swift-log level of a configured one (the names are the same).
    public init(_ level: LogLevel) { self = Logger.Level(rawValue: level.rawValue)! }
}

/// The process's logger: what ``Diagnostics`` writes through.
public enum VigilLog {
    nonisolated(unsafe) private static var current = Logger(label: "vigil") { label in VigilLogHandler(label: label) }
    private static let lock = NSLock()

    public static var logger: Logger { lock.withLock { current } }

    /// Sets the level and format for everything logged from now on (the command's flags, or a
    /// `vigil run` configuration's `log-level` and `log-format`, also at reload).
    public static func configure(level: LogLevel, format: LogFormat, journald: Bool = VigilLogHandler.stderrIsJournal()) {
        use(Logger(label: "vigil") { label in
            VigilLogHandler(label: label, level: Logger.Level(level), format: format, journald: journald)
        })
    }

    /// Replaces the logger (tests: a handler writing into a buffer).
    public static func use(_ logger: Logger) { lock.withLock { current = logger } }
}

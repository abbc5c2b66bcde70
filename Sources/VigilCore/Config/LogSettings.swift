/// How much the agent says about itself (`log-level:`, `--log-level`): swift-log's levels,
/// each including the ones above it.
public enum LogLevel: String, Sendable, Hashable, CaseIterable {
    case trace, debug, info, notice, warning, error, critical
}

/// How each diagnostic line looks (`log-format:`, `--log-format`).
public enum LogFormat: String, Sendable, Hashable, CaseIterable {
    /// `vigil: warning: MESSAGE key=value`, for a person at a terminal.
    case text
    /// One JSON object per line: time, level, label, message, metadata.
    case json
}

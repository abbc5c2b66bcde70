/// The OCSF 1.5.0 identifiers Vigil emits. Values are copied from the 1.5.0 schema's
/// enums (checked by `scripts/validate_ocsf.py` in the test suite), never invented.
public enum OCSF {
    /// The schema version written to `metadata.version`.
    public static let version = "1.5.0"

    /// The event classes Vigil produces, by `class_uid`.
    public enum Class: Int, Sendable, CaseIterable {
        case fileSystemActivity = 1001
        case processActivity = 1007
        case detectionFinding = 2004
        case networkActivity = 4001
        case applicationLifecycle = 6002
        case applicationError = 6008

        /// `class_name`.
        public var name: String {
            switch self {
            case .fileSystemActivity: "File System Activity"
            case .processActivity: "Process Activity"
            case .detectionFinding: "Detection Finding"
            case .networkActivity: "Network Activity"
            case .applicationLifecycle: "Application Lifecycle"
            case .applicationError: "Application Error"
            }
        }

        /// `category_uid` is the thousands of `class_uid`.
        public var categoryUID: Int { rawValue / 1000 }

        /// `category_name`.
        public var categoryName: String {
            switch categoryUID {
            case 1: "System Activity"
            case 2: "Findings"
            case 4: "Network Activity"
            case 6: "Application Activity"
            default: "Other"
            }
        }

        /// Parses a filter word (`findings`, `process`, `network`, `app`, `health`) or a number.
        public static func named(_ word: some StringProtocol) -> [Class]? {
            switch word.lowercased() {
            case "findings", "finding": [.detectionFinding]
            case "process": [.processActivity]
            case "file", "files": [.fileSystemActivity]
            case "network": [.networkActivity]
            case "app", "health", "agent": [.applicationLifecycle, .applicationError]
            default: Int(word).flatMap(Class.init(rawValue:)).map { [$0] }
            }
        }
    }

    /// `severity_id` values.
    public enum Severity: Int, Sendable {
        case unknown = 0, informational = 1, low = 2, medium = 3, high = 4, critical = 5, fatal = 6

        /// `severity`, the caption of the id.
        public var name: String {
            switch self {
            case .unknown: "Unknown"
            case .informational: "Informational"
            case .low: "Low"
            case .medium: "Medium"
            case .high: "High"
            case .critical: "Critical"
            case .fatal: "Fatal"
            }
        }
    }

    /// Network Activity (4001) `activity_id` values in 1.5.0. There is no "Accept" or
    /// "Bind" activity: an accepted connection is an inbound Open, a bind is Other.
    public enum NetworkActivity: Int, Sendable {
        case open = 1, close = 2, reset = 3, fail = 4, refuse = 5, traffic = 6, listen = 7, other = 99
    }

    /// File System Activity (1001) `activity_id` values used here: a write-access open is an
    /// Update, a sensitive file's read-only open a Read, an executable mapping Other.
    public enum FileSystemActivity: Int, Sendable {
        case create = 1, read = 2, update = 3, delete = 4, rename = 5, setAttributes = 6, other = 99
    }

    /// Process Activity (1007) `activity_id` values used here.
    public enum ProcessActivity: Int, Sendable {
        case launch = 1, terminate = 2, other = 99
    }

    /// Application Lifecycle (6002) `activity_id` values used here.
    public enum LifecycleActivity: Int, Sendable {
        case start = 3, stop = 4, restart = 5, other = 99
    }
}

/// One departure of a process from its profile, explained: what happened, what the baseline
/// holds instead, and how many risk points it is worth.
///
/// The ``Detector`` produces deviations; ``RiskTracker`` accumulates their ``score``;
/// the outputs turn them into the reasons of a finding.
public struct Deviation: Sendable, Hashable {
    /// What kind of behaviour deviated.
    public enum Kind: String, Sendable, Hashable, CaseIterable, Codable {
        /// A syscall the profile never made.
        case newSyscall = "new-syscall"
        /// A syscall n-gram the profile never made (the calls are known, their order is not).
        case newSequence = "new-sequence"
        /// A program executed that the profile never started.
        case newExec = "new-exec"
        /// The process was started by a program that never started this profile.
        case newParent = "new-parent"
        /// A connection to an address and port no destination of the profile covers.
        case newDestination = "new-connect"
        /// A port the profile never listened on.
        case newListen = "new-listen"
        /// A peer (address and the local port it reached) that never connected to the profile.
        case newPeer = "new-peer"
        /// A user id the profile never ran as.
        case newUser = "new-user"
        /// The executable's SHA-256 is none the profile learned.
        case binaryChanged = "binary-changed"
        /// An executable with no profile at all.
        case unknownExecutable = "unknown-executable"
        /// An exec right after `memfd_create` in the same process: fileless execution.
        case memfdExec = "memfd-exec"
        /// An attack on Vigil itself: signalling or tracing the agent, detaching its programs.
        case tamper
        /// A file written into a directory no learned write prefix covers.
        case newWritePath = "new-write-path"
        /// An executable file mapped (a library, module, plugin) the profile never mapped.
        case newCodeMapping = "new-code-mapping"
        /// A file of the sensitive set read that the profile never read.
        case sensitiveRead = "sensitive-read"
    }

    public var kind: Kind
    public var pid: Int32
    /// The profile the process was judged against; nil for an unknown executable with no
    /// profile (and for tamper by a process Vigil cannot attribute).
    public var profile: String?
    /// What was observed, in words a reader of the finding understands
    /// (`/usr/bin/curl`, `tcp 203.0.113.7 port 4444`, `ptrace`, `openat read mmap ptrace`).
    public var observed: String
    /// What the baseline holds for this kind instead (a short sample, sorted; empty when it
    /// holds nothing).
    public var expected: [String]
    /// Risk points this deviation is worth (0...100, already weighted by policy).
    public var score: Double
    /// Why the score is what it is (`weight 10 + danger ptrace 40`, `surprise 9.2 bits x density 7`).
    public var scoring: String
    /// When it happened, nanoseconds since the epoch (the detector's clock).
    public var timeNanos: UInt64
    /// For a new sequence: how the sequence compares with the profile's calibration
    /// (``SequenceCalibration``), nil for other kinds.
    public var sequence: SequenceEvidence?
    /// For a new destination: where the process connected (policy rules test its network).
    public var destination: NetworkDestination?
    /// For a changed binary: the SHA-256 (hex) of the file that ran.
    public var binarySHA256: String?
    /// For a file deviation: the file, and the learned prefix nearest it (nil: none).
    public var filePath: String?
    public var nearestPrefix: String?
    /// A file deviation in a high-risk place (a write into `/etc`, a home, `.ssh`, cron,
    /// systemd; code mapped from a world-writable directory): concrete evidence.
    public var highRisk = false

    /// A new sequence's score against its profile's calibrated threshold and expectation.
    public struct SequenceEvidence: Sendable, Hashable {
        /// The surprise the profile's model charges the sequence's last call, bits.
        public var surpriseBits: Double
        /// The calibrated threshold, bits: held-out normal work exceeds it at most at ``targetRate``.
        public var thresholdBits: Double
        /// The false-alarm rate per call (n-gram window) the threshold was set for.
        public var targetRate: Double
        /// The baseline's expectation: new sequences per call on normal work (held out).
        public var expectedNovelRate: Double
        /// Expected new sequences per call above the threshold on normal work.
        public var expectedRateAboveThreshold: Double
        /// Whether ``surpriseBits`` is above ``thresholdBits``.
        public var aboveThreshold: Bool { surpriseBits > thresholdBits }
    }

    public init(kind: Kind, pid: Int32, profile: String?, observed: String, expected: [String], score: Double,
                scoring: String, timeNanos: UInt64) {
        self.kind = kind
        self.pid = pid
        self.profile = profile
        self.observed = observed
        self.expected = expected
        self.score = score
        self.scoring = scoring
        self.timeNanos = timeNanos
    }
}

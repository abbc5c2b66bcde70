/// Whether a profile is still learning.
public enum LearningState: String, Sendable, Hashable, Codable {
    case learning, stable
}

/// When a profile counts as learned: the rule and its settings. See Models/README.md,
/// "When learning is done".
///
/// Time is cut into buckets of ``bucketSeconds`` (aligned to the Unix epoch) during which
/// the learner ran; each bucket counts the never-seen items (of any kind) the profile
/// gained, the observations it made, and the events the kernel dropped. A profile is
/// **stable** at time `now` when all of these hold, otherwise **learning**:
///
/// 1. it was observed for at least ``minObservedSeconds`` (complete buckets × bucket length)
///    and ``minObservations`` observations (events plus kernel-counted syscalls);
/// 2. the last ``windowBuckets`` complete buckets exist, and neither they nor the current
///    bucket saw a kernel drop (a drop resets the window: W clean buckets must follow it);
/// 3. over those W buckets the new-item count is 0, or both the rate of new items per minute
///    is at most ``maxNewPerMinute`` and the least-squares slope of the per-bucket counts is
///    not positive (the rate has levelled off, not rising).
public struct StabilityPolicy: Sendable, Hashable {
    public var bucketSeconds: UInt64
    public var windowBuckets: Int
    public var maxNewPerMinute: Double
    public var minObservedSeconds: UInt64
    public var minObservations: UInt64

    /// One-minute buckets, a five-minute window, at most one new item per five minutes,
    /// at least ten minutes and 100 observations.
    public static let standard = StabilityPolicy()

    public init(bucketSeconds: UInt64 = 60, windowBuckets: Int = 5, maxNewPerMinute: Double = 0.2,
                minObservedSeconds: UInt64 = 600, minObservations: UInt64 = 100) {
        self.bucketSeconds = max(1, bucketSeconds)
        self.windowBuckets = max(1, windowBuckets)
        self.maxNewPerMinute = maxNewPerMinute
        self.minObservedSeconds = minObservedSeconds
        self.minObservations = minObservations
    }

    var bucketNanos: UInt64 { bucketSeconds * 1_000_000_000 }

    /// The state of a history at `now`: a pure function of the two.
    public func evaluate(_ h: LearningHistory, now: UInt64) -> StabilityReport {
        let complete = h.buckets.filter { $0.start &+ bucketNanos <= now }
        let current = h.buckets.filter { $0.start &+ bucketNanos > now }
        let observedSeconds = UInt64(h.observedBuckets - UInt64(current.count)) * bucketSeconds
        var r = StabilityReport(state: .learning, reason: "")
        r.observedSeconds = observedSeconds
        r.observations = h.observations
        let window = Array(complete.suffix(windowBuckets))
        let counts = window.map { Double($0.newItems) }
        r.windowNewItems = window.reduce(0) { $0 + $1.newItems }
        let minutes = Double(windowBuckets) * Double(bucketSeconds) / 60
        r.newPerMinute = Double(r.windowNewItems) / minutes
        r.slope = Self.slope(counts)
        if observedSeconds < minObservedSeconds {
            r.reason = "observed \(observedSeconds) s of the \(minObservedSeconds) s required"
        } else if h.observations < minObservations {
            r.reason = "\(h.observations) observations of the \(minObservations) required"
        } else if window.count < windowBuckets {
            r.reason = "\(window.count) of \(windowBuckets) window buckets recorded"
        } else if let d = (window + current).last(where: { $0.drops > 0 }) {
            r.reason = "the kernel dropped \(d.drops) events in the window (bucket at \(RFC3339.format(d.start)))"
        } else if r.windowNewItems == 0 {
            r.state = .stable
            r.reason = "no new behaviour in the last \(windowBuckets) buckets"
        } else if r.newPerMinute > maxNewPerMinute {
            r.reason = "\(r.windowNewItems) new items in the window, \(fmt(r.newPerMinute))/min above \(fmt(maxNewPerMinute))/min"
        } else if r.slope > 0 {
            r.reason = "new behaviour is rising (slope \(fmt(r.slope)) per bucket)"
        } else {
            r.state = .stable
            r.reason = "\(fmt(r.newPerMinute)) new items/min, not rising"
        }
        return r
    }

    /// Least-squares slope of `y` against 0, 1, 2, ...; 0 for fewer than two points.
    static func slope(_ y: [Double]) -> Double {
        guard y.count >= 2 else { return 0 }
        let n = Double(y.count)
        let mx = (n - 1) / 2
        let my = y.reduce(0, +) / n
        var num = 0.0, den = 0.0
        for (i, v) in y.enumerated() {
            num += (Double(i) - mx) * (v - my)
            den += (Double(i) - mx) * (Double(i) - mx)
        }
        return num / den
    }

    private func fmt(_ x: Double) -> String {
        let r = (x * 100).rounded() / 100
        return r == r.rounded() ? String(Int(r)) : String(r)
    }
}

/// The outcome of ``StabilityPolicy/evaluate(_:now:)``, with the figures behind it.
public struct StabilityReport: Sendable, Hashable {
    public var state: LearningState
    /// Why, in words (the first condition that failed, or why it holds).
    public var reason: String
    public var windowNewItems: UInt64 = 0
    public var newPerMinute: Double = 0
    public var slope: Double = 0
    public var observedSeconds: UInt64 = 0
    public var observations: UInt64 = 0

    public init(state: LearningState, reason: String) {
        self.state = state
        self.reason = reason
    }
}

/// One host's record of how a profile's learning went, bucket by bucket.
public struct LearningHistory: Sendable, Hashable {
    public struct Bucket: Sendable, Hashable {
        /// Start of the bucket, ns since the epoch (a multiple of the bucket length).
        public var start: UInt64
        public var newItems: UInt64 = 0
        public var observations: UInt64 = 0
        public var drops: UInt64 = 0
        public init(start: UInt64, newItems: UInt64 = 0, observations: UInt64 = 0, drops: UInt64 = 0) {
            self.start = start
            self.newItems = newItems
            self.observations = observations
            self.drops = drops
        }
    }

    public var policy: StabilityPolicy
    /// Buckets ever observed, including those no longer kept in ``buckets``.
    public var observedBuckets: UInt64 = 0
    /// Observations ever made (events, kernel-counted syscalls and n-grams).
    public var observations: UInt64 = 0
    /// New items ever found.
    public var newItems: UInt64 = 0
    /// The most recent buckets, oldest first (at most ``keptBuckets``).
    public var buckets: [Bucket] = []

    public init(policy: StabilityPolicy) { self.policy = policy }

    /// Buckets kept in the file: enough for the window and some context.
    public var keptBuckets: Int { max(2 * policy.windowBuckets, 10) }

    /// The end of the newest bucket (0 when there is none): the natural "now" when
    /// judging a history offline.
    public var lastBucketEnd: UInt64 { buckets.last.map { $0.start &+ policy.bucketNanos } ?? 0 }

    func bucketStart(_ t: UInt64) -> UInt64 { t - t % policy.bucketNanos }

    /// Starts observing at `now` after a pause (a new run): no buckets are made up for the
    /// time nobody watched.
    public mutating func resume(at now: UInt64) {
        let start = bucketStart(now)
        if let last = buckets.last, last.start >= start { return }
        buckets.append(Bucket(start: start))
        observedBuckets += 1
        trim()
    }

    /// Continues observing up to `now`: every bucket since the last one was watched (and
    /// was quiet unless told otherwise).
    public mutating func advance(to now: UInt64) {
        guard let last = buckets.last else { resume(at: now); return }
        let start = bucketStart(now)
        guard start > last.start else { return }
        let missing = (start - last.start) / policy.bucketNanos
        observedBuckets += missing
        let add = min(missing, UInt64(keptBuckets))
        for k in stride(from: add, through: 1, by: -1) {
            buckets.append(Bucket(start: start - (k - 1) * policy.bucketNanos))
        }
        trim()
    }

    public mutating func note(newItems n: UInt64 = 0, observations o: UInt64 = 0, drops d: UInt64 = 0, at now: UInt64) {
        advance(to: now)
        newItems += n
        observations += o
        // Late events (ring buffers are ordered per CPU) land in the newest bucket.
        buckets[buckets.count - 1].newItems += n
        buckets[buckets.count - 1].observations += o
        buckets[buckets.count - 1].drops += d
    }

    private mutating func trim() {
        if buckets.count > keptBuckets { buckets.removeFirst(buckets.count - keptBuckets) }
    }
}

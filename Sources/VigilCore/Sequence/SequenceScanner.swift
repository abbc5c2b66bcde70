/// The outcome of scoring one trace (one process) against a ``SequenceModel``.
public struct TraceScore: Sendable, Hashable, Codable {
    /// Calls in the trace.
    public var calls: Int
    /// The largest anomaly mass in any ``SequenceModel/windowLength`` consecutive calls,
    /// divided by the window length: bits per call. 0 when nothing was anomalous.
    public var score: Double
    /// Position (0-based call index) of the last call of the window that gave ``score``.
    public var peakWindowEnd: Int
    /// Calls whose cost exceeded ``SequenceModel/commonBits``.
    public var anomalousCalls: Int
    /// The first anomalous calls, up to the scanner's `maxReported`.
    public var anomalies: [Anomaly]
    /// Stretches where the window score stayed above the scanner's threshold, if it had one.
    public var flaggedWindows: [FlaggedWindow]

    /// One anomalous call.
    public struct Anomaly: Sendable, Hashable, Codable {
        /// 0-based index of the call in its trace.
        public var position: Int
        /// Its cost in bits.
        public var bits: Double
        /// The n-gram ending at it, oldest first (shorter at the start of a trace).
        public var ngram: [UInt32]
    }

    /// A run of windows whose score exceeded the threshold: calls `start...end`.
    public struct FlaggedWindow: Sendable, Hashable, Codable {
        public var start: Int
        public var end: Int
        /// The highest window score inside the run, bits per call.
        public var peak: Double
    }
}

/// Scores a stream of syscall numbers of one process against a ``SequenceModel``, one call
/// at a time or in chunks, with fixed memory: the core that `vigil eval`, `vigil replay` and
/// the live detector share.
///
/// A scanner is owned by one thread at a time (it is a class so the hot loop works on flat
/// buffers without copy-on-write checks). Call ``finish()`` at the end of a process, which
/// also resets it for the next.
public final class SequenceScanner {
    public let model: SequenceModel
    /// How many anomalous calls ``TraceScore/anomalies`` keeps (0 for pure scoring).
    public let maxReported: Int
    /// Window scores above this (bits per call) open a ``TraceScore/FlaggedWindow``.
    public let threshold: Double?
    /// Score like classic STIDE instead (for comparison only): each call whose full n-gram
    /// was never seen counts 1, others 0; the score is the mismatch fraction of the
    /// worst window (the locality frame count over the window length).
    public let stide: Bool

    private let n: Int
    private let w: Int
    private let commonCost: UInt32
    private let novelCost: UInt64
    private let thresholdSum: UInt64
    private let history: UnsafeMutablePointer<UInt32>
    private var previousKeys: UnsafeMutablePointer<UInt64>
    private var currentKeys: UnsafeMutablePointer<UInt64>
    private let window: UnsafeMutablePointer<UInt32>
    private var windowIndex = 0
    private var windowSum: UInt64 = 0
    private var bestSum: UInt64 = 0
    private var bestEnd = 0
    private var position = 0
    private var anomalousCalls = 0
    private var anomalies: [TraceScore.Anomaly] = []
    private var flagged: [TraceScore.FlaggedWindow] = []
    private var openFlag: TraceScore.FlaggedWindow?
    private let maxFlagged = 1000

    /// - Parameters:
    ///   - maxReported: anomalous calls to keep with their n-grams (for explanations).
    ///   - threshold: window score (bits per call) above which windows are reported as flagged.
    public init(model: SequenceModel, maxReported: Int = 0, threshold: Double? = nil, stide: Bool = false) {
        self.model = model
        self.stide = stide
        self.maxReported = maxReported
        self.threshold = threshold
        n = model.ngramLength
        w = model.windowLength
        commonCost = model.commonCost
        let escapeFromEmpty = UInt64(model.table.escapeCost(of: CostTable.emptyContext))
        novelCost = escapeFromEmpty + UInt64(SequenceModel.novelSymbolBits * SequenceModel.costScale)
        if let t = threshold {
            thresholdSum = UInt64(max(0, (t * SequenceModel.costScale * Double(w)).rounded(.down)))
        } else {
            thresholdSum = .max
        }
        history = .allocate(capacity: n)
        previousKeys = .allocate(capacity: n + 1)
        currentKeys = .allocate(capacity: n + 1)
        window = .allocate(capacity: w)
        reset()
    }

    deinit {
        history.deallocate()
        previousKeys.deallocate()
        currentKeys.deallocate()
        window.deallocate()
    }

    /// The keys of the all-start n-grams of order 0 ... `ngramLength`: the context of a
    /// process's first call.
    static func startKeys(ngramLength n: Int) -> [UInt64] {
        var keys = [CostTable.emptyContext]
        var state = NgramHash.seed
        for order in 1...n {
            state = NgramHash.step(state, NgramHash.startSymbol)
            keys.append(NgramHash.finalize(state, length: order))
        }
        return keys
    }

    /// Forgets the current process.
    public func reset() {
        history.initialize(repeating: NgramHash.startSymbol, count: n)
        for (i, k) in Self.startKeys(ngramLength: n).enumerated() { previousKeys[i] = k }
        currentKeys.initialize(repeating: 0, count: n + 1)
        window.initialize(repeating: 0, count: w)
        windowIndex = 0
        windowSum = 0
        bestSum = 0
        bestEnd = 0
        position = 0
        anomalousCalls = 0
        anomalies = []
        flagged = []
        openFlag = nil
    }

    /// Scores the next calls of the current process.
    public func feed(_ calls: UnsafeBufferPointer<UInt32>) {
        model.table.slots.withUnsafeBufferPointer { slots in
            for c in calls { _ = step(c, slots) }
        }
    }

    /// Scores the next call of the current process and returns its anomaly in bits
    /// (0 when the call is ordinary).
    @discardableResult
    public func feed(_ call: UInt32) -> Double {
        let a = model.table.slots.withUnsafeBufferPointer { step(call, $0) }
        return Double(a) / SequenceModel.costScale
    }

    @inline(__always)
    private func step(_ call: UInt32, _ slots: UnsafeBufferPointer<CostTable.Slot>) -> UInt32 {
        let mask = model.table.mask
        // history[0] is the newest call.
        var k = n - 1
        while k > 0 { history[k] = history[k - 1]; k -= 1 }
        history[0] = call
        var state = NgramHash.seed
        currentKeys[0] = CostTable.emptyContext
        for order in 1...n {
            state = NgramHash.step(state, history[order - 1])
            currentKeys[order] = NgramHash.finalize(state, length: order)
        }
        // Back off from the longest n-gram until one was seen, paying each context's escape.
        var cost: UInt64 = 0
        var order = n
        var found = false
        while order >= 1 {
            let key = currentKeys[order]
            var i = Int(truncatingIfNeeded: key) & mask
            var gramCost = UInt32.max
            while true {
                let s = slots[i]
                if s.key == key { gramCost = s.gramCost; break }
                if s.key == 0 { break }
                i = (i + 1) & mask
            }
            if gramCost != .max { cost += UInt64(gramCost); found = true; break }
            let context = previousKeys[order - 1]
            i = Int(truncatingIfNeeded: context) & mask
            while true {
                let s = slots[i]
                if s.key == context { cost += UInt64(s.escapeCost); break }
                if s.key == 0 { break }
                i = (i + 1) & mask
            }
            order -= 1
        }
        if !found { cost += novelCost }
        swap(&previousKeys, &currentKeys)

        var anomaly: UInt32 = cost > UInt64(commonCost) ? UInt32(min(cost, UInt64(UInt32.max))) : 0
        if stide { anomaly = order == n ? 0 : UInt32(SequenceModel.costScale) }
        windowSum = windowSum + UInt64(anomaly) - UInt64(window[windowIndex])
        window[windowIndex] = anomaly
        windowIndex += 1
        if windowIndex == w { windowIndex = 0 }
        if windowSum > bestSum { bestSum = windowSum; bestEnd = position }
        if anomaly > 0 {
            anomalousCalls += 1
            if anomalies.count < maxReported { recordAnomaly(anomaly) }
        }
        if thresholdSum != .max { trackFlag() }
        position += 1
        return anomaly
    }

    private func recordAnomaly(_ anomaly: UInt32) {
        let length = min(n, position + 1)
        let gram = (0..<length).reversed().map { history[$0] }
        anomalies.append(.init(position: position, bits: Double(anomaly) / SequenceModel.costScale, ngram: gram))
    }

    private func trackFlag() {
        let density = Double(windowSum) / (SequenceModel.costScale * Double(w))
        if windowSum > thresholdSum {
            if openFlag == nil {
                openFlag = .init(start: max(0, position - w + 1), end: position, peak: density)
            }
            openFlag!.end = position
            openFlag!.peak = max(openFlag!.peak, density)
        } else if let f = openFlag {
            if flagged.count < maxFlagged { flagged.append(f) }
            openFlag = nil
        }
    }

    /// The score of the current process; resets the scanner for the next one.
    public func finish() -> TraceScore {
        if let f = openFlag, flagged.count < maxFlagged { flagged.append(f) }
        let result = TraceScore(
            calls: position,
            score: Double(bestSum) / (SequenceModel.costScale * Double(w)),
            peakWindowEnd: bestEnd,
            anomalousCalls: anomalousCalls,
            anomalies: anomalies,
            flaggedWindows: flagged)
        reset()
        return result
    }
}

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
    /// Mean cost of the trace's calls in bits (its negative log-likelihood under the model
    /// per call): catches traces made of individually plausible but jointly unlikely calls,
    /// which no single window concentrates.
    public var meanBits: Double = 0
    /// The fraction of the trace's distinct n-grams of length 2 ... ``SequenceModel/ngramLength``
    /// never seen in training (0 when the scanner did not collect trace features). Counted
    /// once per distinct n-gram, so a loop repeating one normal idiom does not dilute it.
    public var novelNgramFraction: Double = 0
    /// Distinct syscall numbers in the trace never seen in training.
    public var novelSyscalls: Int = 0
    /// The frequency-aware twin of ``novelNgramFraction``: over the trace's distinct n-grams
    /// of length 2 ... ``SequenceModel/ngramLength``, the mean of `1 / (1 + c)`, where `c` is
    /// how often the n-gram was seen in training (so a never-seen n-gram counts 1, one seen
    /// once 1/2, a common one nearly 0). A trace made only of known but rare n-grams scores
    /// above one made of common ones. 0 when the scanner did not collect trace features.
    public var rareNgramFraction: Double = 0
    /// Mean surprise per call in bits under an interpolated Witten-Bell n-gram model of the
    /// same training counts (``WittenBellSurprise``): the whole-trace likelihood view with
    /// smoothing instead of escapes. 0 when the scanner did not compute it.
    public var smoothedMeanBits: Double = 0

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
    // The unfinished NgramHash states of the n-grams of order 0 ... n ending at the previous
    // and the current call; a key is finalized only when it is looked up (most calls need
    // one key: their longest n-gram is known and already in the trace's set).
    private var previousStates: UnsafeMutablePointer<UInt64>
    private var currentStates: UnsafeMutablePointer<UInt64>
    private let window: UnsafeMutablePointer<UInt32>
    private var windowIndex = 0
    private var windowSum: UInt64 = 0
    private var bestSum: UInt64 = 0
    private var bestEnd = 0
    private var position = 0
    // The trace's previous call (the history lacks it when it was transparent).
    private var previousCall: UInt32 = 0
    // Calls of the current piece of work before the next one: the call index since the
    // process started or since the last request boundary (which is index 0 of the new piece).
    private var segmentPosition = 0
    private let boundaries: BoundarySet
    // Calls n-grams look through (``SyscallTransparency``), and those of them the model knows.
    private let transparent: BoundarySet
    private let knownTransparent: BoundarySet
    private var anomalousCalls = 0
    private var anomalies: [TraceScore.Anomaly] = []
    private var flagged: [TraceScore.FlaggedWindow] = []
    private var openFlag: TraceScore.FlaggedWindow?
    private let maxFlagged = 1000
    /// Whether to gather the offline trace features (distinct novel n-grams).
    public let traceFeatures: Bool
    /// Whether to count the trace's 1- and 2-grams into ``lastBag``.
    public let bagOfCalls: Bool
    private var totalCost: UInt64 = 0
    /// The smoothed model, when the scanner computes ``TraceScore/smoothedMeanBits``.
    private let smoothed: WittenBellSurprise?
    private var smoothedBits: Double = 0
    // The distinct n-grams of the current trace (orders 2 ... n), in a flat open-addressing
    // set reused across traces; key 0 marks an empty slot (NgramHash never yields 0).
    private var seen: UnsafeMutablePointer<UInt64>
    private var seenCapacity: Int
    private var seenCount = 0
    private var distinctNovel = 0
    // Sum over the trace's distinct known n-grams of 1 / (1 + training count).
    private var knownRarity: Double = 0
    private var novelSymbols: Set<UInt32> = []
    // Counts of the trace's 1- and 2-grams (the bag the nearest-neighbour feature compares).
    private var bagKeys: UnsafeMutablePointer<UInt64>
    private var bagCounts: UnsafeMutablePointer<UInt32>
    private var bagCapacity: Int
    private var bagCount = 0
    /// The 1- and 2-gram counts of the trace ``finish()`` last returned (keys are
    /// ``NgramHash`` keys), when trace features are gathered; unordered.
    public private(set) var lastBag: [(key: UInt64, count: UInt32)] = []
    /// When set, also counts the same 1- and 2-grams window by window (the windowed
    /// neighbour view, ``WindowedNeighbour``); it is flushed at ``finish()`` and cleared by
    /// ``reset()``.
    var windowBags: WindowBagCounter?
    private static let initialSeenCapacity = 1024

    /// - Parameters:
    ///   - maxReported: anomalous calls to keep with their n-grams (for explanations).
    ///   - threshold: window score (bits per call) above which windows are reported as flagged.
    ///   - traceFeatures: also gather the offline trace features ``TraceScore/novelNgramFraction``
    ///     (a per-trace set of n-grams; the live detector, which sees only novel calls, may skip it).
    ///   - bagOfCalls: with `traceFeatures`, also count the trace's 1- and 2-grams (``lastBag``,
    ///     for the nearest-neighbour feature; two more table updates per call).
    ///   - smoothedMean: with `traceFeatures`, also compute ``TraceScore/smoothedMeanBits`` (one
    ///     more probe per call, a walk of the contexts for an n-gram the scanner never met).
    public init(model: SequenceModel, maxReported: Int = 0, threshold: Double? = nil, stide: Bool = false, traceFeatures: Bool = true,
                bagOfCalls: Bool = true, smoothedMean: Bool = false) {
        self.model = model
        smoothed = traceFeatures && smoothedMean ? WittenBellSurprise(model: model) : nil
        self.traceFeatures = traceFeatures
        self.bagOfCalls = traceFeatures && bagOfCalls
        seenCapacity = Self.initialSeenCapacity
        seen = .allocate(capacity: seenCapacity)
        seen.initialize(repeating: 0, count: seenCapacity)
        bagCapacity = Self.initialSeenCapacity
        bagKeys = .allocate(capacity: bagCapacity)
        bagKeys.initialize(repeating: 0, count: bagCapacity)
        bagCounts = .allocate(capacity: bagCapacity)
        bagCounts.initialize(repeating: 0, count: bagCapacity)
        self.stide = stide
        self.maxReported = maxReported
        self.threshold = threshold
        n = model.ngramLength
        w = model.windowLength
        boundaries = BoundarySet(model.parameters.boundaries)
        transparent = BoundarySet(model.parameters.transparent)
        knownTransparent = BoundarySet(model.parameters.transparent.filter(Set(model.knownSyscalls).contains))
        commonCost = model.commonCost
        let escapeFromEmpty = UInt64(model.table.escapeCost(of: CostTable.emptyContext))
        novelCost = escapeFromEmpty + UInt64(SequenceModel.novelSymbolBits * SequenceModel.costScale)
        if let t = threshold {
            // A model file's threshold is input: one beyond any window's cost never alerts
            // (it used to trap converting to UInt64), one at or below zero always does.
            let sum = (t * SequenceModel.costScale * Double(w)).rounded(.down)
            thresholdSum = !(sum > 0) ? 0 : sum >= Double(UInt64.max) ? .max : UInt64(sum)
        } else {
            thresholdSum = .max
        }
        history = .allocate(capacity: n)
        previousStates = .allocate(capacity: n + 1)
        currentStates = .allocate(capacity: n + 1)
        window = .allocate(capacity: w)
        reset()
    }

    deinit {
        history.deallocate()
        previousStates.deallocate()
        currentStates.deallocate()
        window.deallocate()
        seen.deallocate()
        bagKeys.deallocate()
        bagCounts.deallocate()
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
        // Before the first call, the context is the all-start n-gram of each order.
        var state = NgramHash.seed
        previousStates[0] = state
        for order in 1...n {
            state = NgramHash.step(state, NgramHash.startSymbol)
            previousStates[order] = state
        }
        currentStates.initialize(repeating: 0, count: n + 1)
        window.initialize(repeating: 0, count: w)
        windowIndex = 0
        windowSum = 0
        bestSum = 0
        bestEnd = 0
        position = 0
        previousCall = 0
        segmentPosition = 0
        anomalousCalls = 0
        anomalies = []
        flagged = []
        openFlag = nil
        totalCost = 0
        smoothedBits = 0
        if seenCount > 0 {
            if seenCapacity > 4 * Self.initialSeenCapacity {
                // A long trace grew the set: give the memory back rather than clear it per trace.
                seen.deallocate()
                seenCapacity = Self.initialSeenCapacity
                seen = .allocate(capacity: seenCapacity)
            }
            seen.initialize(repeating: 0, count: seenCapacity)
        }
        seenCount = 0
        if bagCount > 0 {
            if bagCapacity > 4 * Self.initialSeenCapacity {
                bagKeys.deallocate(); bagCounts.deallocate()
                bagCapacity = Self.initialSeenCapacity
                bagKeys = .allocate(capacity: bagCapacity)
                bagCounts = .allocate(capacity: bagCapacity)
            }
            bagKeys.initialize(repeating: 0, count: bagCapacity)
            bagCounts.initialize(repeating: 0, count: bagCapacity)
        }
        bagCount = 0
        distinctNovel = 0
        knownRarity = 0
        if !novelSymbols.isEmpty { novelSymbols = [] }
        windowBags?.discard()
    }

    /// Inserts an n-gram key into the per-trace set; true when it was not there yet.
    @inline(__always)
    private func insertSeen(_ key: UInt64) -> Bool {
        let mask = seenCapacity - 1
        var i = Int(truncatingIfNeeded: key >> 17) & mask  // other bits than the model table's
        while true {
            let k = seen[i]
            if k == key { return false }
            if k == 0 { break }
            i = (i + 1) & mask
        }
        seen[i] = key
        seenCount += 1
        if 2 * seenCount > seenCapacity { growSeen() }
        return true
    }

    @inline(__always)
    private func countInBag(_ key: UInt64) {
        let mask = bagCapacity - 1
        var i = Int(truncatingIfNeeded: key >> 17) & mask
        while true {
            let k = bagKeys[i]
            if k == key { bagCounts[i] &+= 1; return }
            if k == 0 { break }
            i = (i + 1) & mask
        }
        bagKeys[i] = key
        bagCounts[i] = 1
        bagCount += 1
        if 2 * bagCount > bagCapacity { growBag() }
    }

    private func growBag() {
        let oldKeys = bagKeys, oldCounts = bagCounts, oldCapacity = bagCapacity
        bagCapacity *= 2
        bagKeys = .allocate(capacity: bagCapacity)
        bagKeys.initialize(repeating: 0, count: bagCapacity)
        bagCounts = .allocate(capacity: bagCapacity)
        bagCounts.initialize(repeating: 0, count: bagCapacity)
        let mask = bagCapacity - 1
        for j in 0..<oldCapacity where oldKeys[j] != 0 {
            var i = Int(truncatingIfNeeded: oldKeys[j] >> 17) & mask
            while bagKeys[i] != 0 { i = (i + 1) & mask }
            bagKeys[i] = oldKeys[j]
            bagCounts[i] = oldCounts[j]
        }
        oldKeys.deallocate()
        oldCounts.deallocate()
    }

    private func growSeen() {
        let old = seen, oldCapacity = seenCapacity
        seenCapacity *= 2
        seen = .allocate(capacity: seenCapacity)
        seen.initialize(repeating: 0, count: seenCapacity)
        let mask = seenCapacity - 1
        for j in 0..<oldCapacity where old[j] != 0 {
            var i = Int(truncatingIfNeeded: old[j] >> 17) & mask
            while seen[i] != 0 { i = (i + 1) & mask }
            seen[i] = old[j]
        }
        old.deallocate()
    }

    /// Bytes the smoothed model's context statistics and memo hold (0 without it).
    var smoothedMemoryBytes: Int { smoothed?.memoryBytes ?? 0 }

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
        if transparent.contains(call) { return lookThrough(call) }
        let mask = model.table.mask
        // history[0] is the newest call.
        var k = n - 1
        while k > 0 { history[k] = history[k - 1]; k -= 1 }
        history[0] = call
        var state = NgramHash.seed
        currentStates[0] = state
        for order in 1...n {
            state = NgramHash.step(state, history[order - 1])
            currentStates[order] = state
        }
        let states = currentStates
        // The key of the current n-gram of an order (0: the empty context).
        @inline(__always) func keyOf(_ order: Int) -> UInt64 { NgramHash.finalize(states[order], length: order) }
        let topKey = keyOf(n)
        if let sm = smoothed { smoothedBits += sm.bits(topKey: topKey, previous: previousStates, current: states) }
        // Back off from the longest n-gram until one was seen, paying each context's escape.
        var cost: UInt64 = 0
        var order = n
        var found = false
        while order >= 1 {
            let key = order == n ? topKey : keyOf(order)
            var i = Int(truncatingIfNeeded: key) & mask
            var gramCost = UInt32.max
            while true {
                let s = slots[i]
                if s.key == key { gramCost = s.gramCost; break }
                if s.key == 0 { break }
                i = (i + 1) & mask
            }
            if gramCost != .max { cost += UInt64(gramCost); found = true; break }
            let context = NgramHash.finalize(previousStates[order - 1], length: order - 1)
            i = Int(truncatingIfNeeded: context) & mask
            while true {
                let s = slots[i]
                if s.key == context { cost += UInt64(s.escapeCost); break }
                if s.key == 0 { break }
                i = (i + 1) & mask
            }
            order -= 1
        }
        if !found { cost += novelCost; novelSymbols.insert(call) }
        totalCost &+= cost
        if bagOfCalls || windowBags != nil {
            // The pair is the trace's own: after a transparent call, not the history's.
            let pair = n >= 2 && position >= 1 ? (transparent.contains(previousCall) ? Self.pairKey(previousCall, call) : keyOf(2)) : nil
            countCall(keyOf(1), pair)
        }
        previousCall = call
        if traceFeatures && segmentPosition + 1 >= 2 {
            // Training counts every suffix, so the n-grams unseen at this call are exactly
            // the orders above the one the back-off stopped at. If the longest one was already
            // in this trace, so were all its suffixes: one probe in the common case.
            // (Since a request boundary, the n-grams reaching before it hold start symbols.)
            let longest = min(n, segmentPosition + 1)
            let longestKey = longest == n ? topKey : keyOf(longest)
            if longest >= 2 && insertSeen(longestKey) {
                if longest > order { distinctNovel += 1 } else { addRarity(longestKey) }
                var k = longest - 1
                while k >= 2 {
                    let kKey = keyOf(k)
                    if insertSeen(kKey) {
                        if k > order { distinctNovel += 1 } else { addRarity(kKey) }
                    } else { break }
                    k -= 1
                }
            }
        }
        swap(&previousStates, &currentStates)

        var anomaly: UInt32 = cost > UInt64(commonCost) ? UInt32(min(cost, UInt64(UInt32.max))) : 0
        if stide { anomaly = order == n ? 0 : UInt32(SequenceModel.costScale) }
        return endCall(call, anomaly, boundaries.contains(call) ? .boundary : .ordinary)
    }

    private enum CallKind { case ordinary, boundary, transparent }

    /// The window, the anomaly record, the piece of work and the position after `call`,
    /// which cost `anomaly`.
    @inline(__always)
    private func endCall(_ call: UInt32, _ anomaly: UInt32, _ kind: CallKind) -> UInt32 {
        windowSum = windowSum + UInt64(anomaly) - UInt64(window[windowIndex])
        window[windowIndex] = anomaly
        windowIndex += 1
        if windowIndex == w { windowIndex = 0 }
        if windowSum > bestSum { bestSum = windowSum; bestEnd = position }
        if anomaly > 0 {
            anomalousCalls += 1
            if anomalies.count < maxReported {
                if kind == .transparent {
                    anomalies.append(.init(position: position, bits: Double(anomaly) / SequenceModel.costScale, ngram: [call]))
                } else {
                    recordAnomaly(anomaly)
                }
            }
        }
        if thresholdSum != .max { trackFlag() }
        switch kind {
        case .ordinary: segmentPosition += 1
        case .boundary: restartAfterBoundary()
        case .transparent: break
        }
        position += 1
        return anomaly
    }

    /// Counts a call's 1-gram and the pair it ends (nil: none) in the mix view's bags.
    @inline(__always)
    private func countCall(_ single: UInt64, _ pair: UInt64?) {
        if bagOfCalls {
            countInBag(single)
            if let pair { countInBag(pair) }
        }
        if let wb = windowBags {
            wb.count(single)
            if let pair { wb.count(pair) }
            wb.endCall()
        }
    }

    /// The 2-gram key of `older` then `newer`.
    private static func pairKey(_ older: UInt32, _ newer: UInt32) -> UInt64 {
        NgramHash.finalize(NgramHash.step(NgramHash.step(NgramHash.seed, newer), older), length: 2)
    }

    /// A transparent call (``SyscallTransparency``), as the kernel treats it: it enters
    /// neither the history nor any n-gram view (the mix view alone counts it, see below) and
    /// costs nothing, unless the model never saw the program make it. Then it is a
    /// never-seen syscall: the novel-symbol cost (STIDE: a mismatch) in the window and in the
    /// mean, and one more distinct new call. It takes a position either way, so positions
    /// stay the trace's.
    private func lookThrough(_ call: UInt32) -> UInt32 {
        // The mix view compares bags of calls and pairs of calls by distance, where a few
        // pairs that thread timing placed move a trace a little rather than making it new:
        // it counts the trace as it was, transparent calls and their pairs included.
        if bagOfCalls || windowBags != nil {
            countCall(NgramHash.finalize(NgramHash.step(NgramHash.seed, call), length: 1),
                      position >= 1 ? Self.pairKey(previousCall, call) : nil)
        }
        previousCall = call
        if knownTransparent.contains(call) {
            position += 1
            return 0
        }
        novelSymbols.insert(call)
        totalCost &+= novelCost
        let anomaly = stide ? UInt32(SequenceModel.costScale) : UInt32(min(novelCost, UInt64(UInt32.max)))
        return endCall(call, anomaly, .transparent)
    }

    /// After a request boundary (``SyscallBoundaries``), as the kernel and ``SequenceTrainer``
    /// do: the history holds the boundary call alone, start symbols before it, and the next
    /// call's contexts are the n-grams of that history.
    private func restartAfterBoundary() {
        var k = 1
        while k < n { history[k] = NgramHash.startSymbol; k += 1 }
        var state = NgramHash.seed
        previousStates[0] = state
        for order in 1...n {
            state = NgramHash.step(state, history[order - 1])
            previousStates[order] = state
        }
        segmentPosition = 1
    }

    /// Adds a known n-gram met for the first time in this trace to the rarity sum (one probe
    /// of the model's table, once per distinct n-gram).
    @inline(__always)
    private func addRarity(_ key: UInt64) {
        knownRarity += 1 / (1 + Double(model.table.count(of: key)))
    }

    private func recordAnomaly(_ anomaly: UInt32) {
        let length = min(n, segmentPosition + 1)
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
        var result = TraceScore(
            calls: position,
            score: Double(bestSum) / (SequenceModel.costScale * Double(w)),
            peakWindowEnd: bestEnd,
            anomalousCalls: anomalousCalls,
            anomalies: anomalies,
            flaggedWindows: flagged)
        result.meanBits = position > 0 ? Double(totalCost) / (SequenceModel.costScale * Double(position)) : 0
        result.novelNgramFraction = seenCount > 0 ? Double(distinctNovel) / Double(seenCount) : 0
        result.novelSyscalls = novelSymbols.count
        result.rareNgramFraction = seenCount > 0 ? (Double(distinctNovel) + knownRarity) / Double(seenCount) : 0
        result.smoothedMeanBits = position > 0 ? smoothedBits / Double(position) : 0
        if bagOfCalls {
            var bag: [(key: UInt64, count: UInt32)] = []
            bag.reserveCapacity(bagCount)
            for i in 0..<bagCapacity where bagKeys[i] != 0 { bag.append((bagKeys[i], bagCounts[i])) }
            lastBag = bag
        }
        windowBags?.finishTrace()
        reset()
        return result
    }
}

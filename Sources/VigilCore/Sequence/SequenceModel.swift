import Foundation

/// What a profile knows about the order of its syscalls: a variable-order n-gram model
/// with escape-based back-off (PPM, escape method C), scored as surprise in bits.
///
/// **Per call.** The cost of call `s` after the calls before it is `-log2 P(s | context)`,
/// where the longest context (up to ``ngramLength`` - 1 calls) under which `s` was seen in
/// training gives `P = count(context, s) / (total(context) + distinct(context))`, and every
/// longer context in which `s` was *not* seen adds its escape cost
/// `-log2(distinct / (total + distinct))`. A never-seen call pays every escape plus
/// ``novelSymbolBits``. So a new continuation of a context seen a thousand times with one
/// follower costs about ten bits, while one after a context that was always varied is
/// cheap: rarity is weighted by how much training evidence it contradicts.
///
/// **Known sequence.** A call is *anomalous* when its cost exceeds ``commonBits``; its
/// anomaly is then its cost, otherwise zero. The cost of a call whose full
/// ``ngramLength``-gram was seen in training depends on that n-gram alone, so the set
/// ``knownNgramHashes()`` (seen n-grams costing at most ``commonBits``) is exactly the set of
/// n-grams whose call is never anomalous: the kernel keeps it in a map keyed by
/// ``NgramHash`` and sends only the others, which user space scores with this same model.
///
/// **Per trace.** A trace's score is the largest anomaly mass in any ``windowLength``
/// consecutive calls, divided by ``windowLength`` (bits per call). Attacks concentrate
/// novelty in a short stretch; a max over windows keeps a long normal run from diluting it,
/// and a fixed divisor keeps short traces on the same scale (a short trace simply has fewer
/// calls that can be anomalous).
public struct SequenceModel: Sendable {
    /// The parameters of a model, fixed before training.
    public struct Parameters: Sendable, Hashable, Codable {
        /// The longest n-gram kept; also the n-gram length the kernel map holds.
        public var ngramLength: Int
        /// The number of consecutive calls a trace's score is taken over (locality frame).
        public var windowLength: Int
        /// Calls costing at most this many bits are ordinary.
        public var commonBits: Double
        /// Request-boundary syscall numbers, ascending: after one of these the n-gram
        /// history restarts (``SyscallBoundaries``; the kernel does the same). Empty when
        /// the numbers are opaque symbols (UNM's SunOS numbers), so nothing restarts.
        public var boundaries: [UInt32]
        /// Syscall numbers n-grams look through, ascending: such a call never enters the
        /// history, only the set of known syscalls (``SyscallTransparency``; the kernel does
        /// the same). Empty for opaque numbers.
        public var transparent: [UInt32]

        /// The defaults, chosen before looking at any attack data: 6-grams (the classic
        /// STIDE length, long enough to hold a few library-call idioms), a 20-call locality
        /// frame (Hofmeyr/Forrest's), and "common" meaning at least a 1-in-16 chance. No
        /// boundaries: numbers are opaque symbols unless said otherwise (``linux``).
        public static let standard = Parameters(ngramLength: 6, windowLength: 20, commonBits: 4)

        /// ``standard`` with the Linux request boundaries and transparent calls of the
        /// watched architecture: what the kernel forms live, and what a corpus of Linux
        /// syscall numbers is read with.
        public static let linux = standard.withBoundaries(SyscallBoundaries.linuxNumbers)
            .withTransparent(SyscallTransparency.linuxNumbers)

        public init(ngramLength: Int, windowLength: Int, commonBits: Double, boundaries: [UInt32] = [],
                    transparent: [UInt32] = []) {
            self.ngramLength = ngramLength
            self.windowLength = windowLength
            self.commonBits = commonBits
            self.boundaries = Array(Set(boundaries)).sorted()
            self.transparent = Array(Set(transparent)).sorted()
        }

        /// The same parameters with another boundary set.
        public func withBoundaries(_ numbers: [UInt32]) -> Parameters {
            Parameters(ngramLength: ngramLength, windowLength: windowLength, commonBits: commonBits,
                       boundaries: numbers, transparent: transparent)
        }

        /// The same parameters with another set of transparent calls.
        public func withTransparent(_ numbers: [UInt32]) -> Parameters {
            Parameters(ngramLength: ngramLength, windowLength: windowLength, commonBits: commonBits,
                       boundaries: boundaries, transparent: numbers)
        }

        enum CodingKeys: String, CodingKey { case ngramLength, windowLength, commonBits, boundaries, transparent }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(ngramLength, forKey: .ngramLength)
            try c.encode(windowLength, forKey: .windowLength)
            try c.encode(commonBits, forKey: .commonBits)
            try c.encode(boundaries, forKey: .boundaries)
            try c.encode(transparent, forKey: .transparent)
        }

        /// Models saved before boundaries (or transparent calls) existed have none: their
        /// n-grams span every call.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let b = try c.decodeIfPresent([UInt32].self, forKey: .boundaries) ?? []
            if let bad = b.first(where: { $0 >= Self.maxBoundaryNumber }) {
                throw DecodingError.dataCorruptedError(forKey: .boundaries, in: c,
                    debugDescription: "boundary \(bad) is not a syscall number (expected below \(Self.maxBoundaryNumber))")
            }
            let t = try c.decodeIfPresent([UInt32].self, forKey: .transparent) ?? []
            if let bad = t.first(where: { $0 >= Self.maxBoundaryNumber }) {
                throw DecodingError.dataCorruptedError(forKey: .transparent, in: c,
                    debugDescription: "transparent call \(bad) is not a syscall number (expected below \(Self.maxBoundaryNumber))")
            }
            let common = try c.decode(Double.self, forKey: .commonBits)
            // A cost in bits: the scanner turns it into an unsigned fixed-point cost.
            guard common.isFinite, common >= 0 else {
                throw DecodingError.dataCorruptedError(forKey: .commonBits, in: c,
                    debugDescription: "commonBits \(common) is not a cost in bits (expected a finite number, 0 or more)")
            }
            self.init(ngramLength: try c.decode(Int.self, forKey: .ngramLength),
                      windowLength: try c.decode(Int.self, forKey: .windowLength),
                      commonBits: common, boundaries: b, transparent: t)
        }

        /// Boundary and transparent numbers are syscall numbers, below this.
        public static let maxBoundaryNumber: UInt32 = 1 << 16

        /// The largest supported n-gram length (the kernel's per-task ring is bounded).
        public static let maxNgramLength = 16

        /// The largest supported scoring window, in calls (the scanner holds one cost a call of
        /// it: a model file's window of 10^9 asked for gigabytes).
        public static let maxWindowLength = 1 << 16
    }

    /// One n-gram seen in training: its length, key, the key of its context (the n-gram of
    /// its first `order - 1` calls) and how often it was seen.
    public struct Gram: Sendable, Hashable {
        public var order: UInt8
        public var key: UInt64
        public var context: UInt64
        public var count: UInt32
    }

    public let parameters: Parameters
    /// Every syscall number seen in training, ascending.
    public let knownSyscalls: [UInt32]
    /// Every n-gram of length 1 ... ``ngramLength`` seen in training, sorted by order then key.
    public let grams: [Gram]
    /// The number of calls the model was trained on.
    public let trainedCalls: Int
    /// The number of traces the model was trained on.
    public let trainedTraces: Int

    /// The window score (bits per call) above which a process is flagged, when it was
    /// calibrated on held-out normal traces (see ``Evaluation/calibrate(_:normal:falseAlarmRate:)``).
    public var alertThreshold: Double?

    let table: CostTable

    /// Costs are integers in 1/256 bit so window sums are exact and kernel-friendly.
    public static let costScale: Double = 256
    /// The cost of a syscall number never seen in training, beyond the escapes.
    public static let novelSymbolBits: Double = 8

    public var ngramLength: Int { parameters.ngramLength }
    public var windowLength: Int { parameters.windowLength }
    public var commonBits: Double { parameters.commonBits }

    /// Builds a model from the n-grams a ``SequenceTrainer`` counted.
    init(parameters: Parameters, knownSyscalls: [UInt32], grams: [Gram], trainedCalls: Int, trainedTraces: Int) {
        self.parameters = parameters
        self.knownSyscalls = knownSyscalls
        self.grams = grams
        self.trainedCalls = trainedCalls
        self.trainedTraces = trainedTraces
        self.table = CostTable(grams: grams)
    }

    /// The ``NgramHash`` keys of the ``ngramLength``-grams whose last call is never
    /// anomalous: what the kernel's known-sequence map of this profile holds.
    public func knownNgramHashes() -> [UInt64] {
        let common = UInt32(min(commonBits * Self.costScale, Double(UInt32.max - 1)))
        return grams.lazy
            .filter { Int($0.order) == ngramLength }
            .filter { table.gramCost(of: $0.key) <= common }
            .map(\.key)
    }

    /// Whether an ``ngramLength``-gram key is in ``knownNgramHashes()``.
    public func isKnown(ngramHash key: UInt64) -> Bool {
        table.gramCost(of: key) <= commonCost
    }

    var commonCost: UInt32 { UInt32(min(commonBits * Self.costScale, Double(UInt32.max - 1))) }

    /// How often an n-gram (any order, by ``NgramHash`` key) was seen in training; 0 if never.
    public func trainingCount(ofNgram key: UInt64) -> UInt32 { table.count(of: key) }

    /// Bytes the scoring tables of this profile occupy in memory (the flat hash table the
    /// scanner probes, its parallel training counts, plus the counted n-grams kept for saving
    /// and merging).
    public var memoryBytes: Int {
        table.slots.count * MemoryLayout<CostTable.Slot>.stride
            + table.counts.count * MemoryLayout<UInt32>.stride
            + grams.count * MemoryLayout<Gram>.stride
            + knownSyscalls.count * MemoryLayout<UInt32>.stride
    }
}

/// The flat open-addressing table the scanner probes: one 16-byte slot per n-gram or context
/// key, holding the cost of the n-gram's last call and the escape cost of the n-gram used as
/// a context. Linear probing, load at most one half, key 0 marks an empty slot.
struct CostTable: Sendable {
    struct Slot: Sendable {
        var key: UInt64
        /// The cost in 1/256 bit of the last call given the rest, or `.max` if never seen as an n-gram.
        var gramCost: UInt32
        /// The cost of escaping from this n-gram used as context (0 if never followed).
        var escapeCost: UInt32
    }

    var slots: [Slot]
    /// Parallel to ``slots``: how often the slot's key was seen as an n-gram in training (0 for
    /// a key only ever used as a context). Read only when a trace meets an n-gram for the first
    /// time (the offline rarity feature), so it stays out of the per-call probe's cache lines.
    var counts: [UInt32]
    var mask: Int
    /// The key of the empty context (order 0), which every order-1 n-gram follows.
    static let emptyContext = NgramHash.finalize(NgramHash.seed, length: 0)

    init(grams: [SequenceModel.Gram]) {
        // Context statistics are derived from the n-grams that follow each context.
        var contextStats: [UInt64: (total: UInt64, distinct: UInt64)] = [:]
        for g in grams {
            contextStats[g.context, default: (0, 0)].total += UInt64(g.count)
            contextStats[g.context, default: (0, 0)].distinct += 1
        }
        var capacity = 16
        while capacity < 2 * (grams.count + contextStats.count) { capacity *= 2 }
        slots = Array(repeating: Slot(key: 0, gramCost: .max, escapeCost: 0), count: capacity)
        counts = Array(repeating: 0, count: capacity)
        mask = capacity - 1

        func cost(_ p: Double) -> UInt32 {
            UInt32(min((-log2(p) * SequenceModel.costScale).rounded(), Double(UInt32.max - 1)))
        }
        for g in grams {
            let stats = contextStats[g.context]!
            let i = insertionIndex(g.key)
            slots[i].key = g.key
            slots[i].gramCost = cost(Double(g.count) / Double(stats.total + stats.distinct))
            counts[i] = g.count
        }
        for (key, stats) in contextStats {
            let i = insertionIndex(key)
            slots[i].key = key
            slots[i].escapeCost = cost(Double(stats.distinct) / Double(stats.total + stats.distinct))
        }
    }

    private func insertionIndex(_ key: UInt64) -> Int {
        var i = Int(truncatingIfNeeded: key) & mask
        while slots[i].key != 0 && slots[i].key != key { i = (i + 1) & mask }
        return i
    }

    func gramCost(of key: UInt64) -> UInt32 {
        var i = Int(truncatingIfNeeded: key) & mask
        while true {
            let k = slots[i].key
            if k == key { return slots[i].gramCost }
            if k == 0 { return .max }
            i = (i + 1) & mask
        }
    }

    func count(of key: UInt64) -> UInt32 {
        var i = Int(truncatingIfNeeded: key) & mask
        while true {
            let k = slots[i].key
            if k == key { return counts[i] }
            if k == 0 { return 0 }
            i = (i + 1) & mask
        }
    }

    func escapeCost(of key: UInt64) -> UInt32 {
        var i = Int(truncatingIfNeeded: key) & mask
        while true {
            let k = slots[i].key
            if k == key { return slots[i].escapeCost }
            if k == 0 { return 0 }
            i = (i + 1) & mask
        }
    }
}

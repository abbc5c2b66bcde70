import Foundation

/// The surprise of a call under an interpolated Witten-Bell n-gram model built from a
/// ``SequenceModel``'s counts: the `smoothed_mean` view (``TraceFeatures/smoothedMean``), as
/// `scripts/smoothed_mean_view.py` defines it.
///
/// Why a second estimate beside the model's PPM-C costs: PPM charges a call every escape of
/// the longer contexts it was not seen in (and a never-seen syscall 8 bits more), so one rare
/// call can dominate a short trace's mean. Interpolation gives every call a share of each
/// shorter context's estimate,
/// `P_k(s) = (count(ctx_k, s) + types(ctx_k) P_{k-1}(s)) / (total(ctx_k) + types(ctx_k))`,
/// from the empty context (over a base uniform on the training alphabet plus one unknown
/// symbol) up to the longest context, stopping at the first context never seen in training
/// (a longer one is unseen too). `types` is the number of distinct followers of a context.
///
/// The cost of a call depends only on its full n-gram (start symbols included), so costs are
/// remembered per n-gram key across the traces a scanner measures: a call whose n-gram was
/// met before costs one probe; only a new one walks the contexts.
final class WittenBellSurprise {
    private let table: CostTable
    private let n: Int
    /// Per context key (an n-gram of order 0 ... n-1 used as a context): the training calls
    /// that followed it and how many distinct ones.
    private let contexts: [UInt64: (total: UInt32, types: UInt32)]
    /// The base distribution: uniform over the training alphabet plus one unknown symbol.
    private let base: Double
    private var memoKeys: UnsafeMutablePointer<UInt64>
    private var memoBits: UnsafeMutablePointer<Double>
    private var memoCapacity: Int
    private var memoCount = 0
    private static let initialCapacity = 4096
    /// Past this many remembered n-grams the memo is cleared (bounded memory for any input).
    static let maxRemembered = 1 << 20

    init(model: SequenceModel) {
        table = model.table
        n = model.ngramLength
        var stats: [UInt64: (total: UInt32, types: UInt32)] = [:]
        stats.reserveCapacity(model.grams.count / 2)
        for g in model.grams {
            let s = stats[g.context] ?? (0, 0)
            stats[g.context] = (s.total &+ g.count, s.types &+ 1)
        }
        contexts = stats
        base = 1 / Double(model.knownSyscalls.count + 1)
        memoCapacity = Self.initialCapacity
        memoKeys = .allocate(capacity: memoCapacity)
        memoKeys.initialize(repeating: 0, count: memoCapacity)
        memoBits = .allocate(capacity: memoCapacity)
    }

    deinit {
        memoKeys.deallocate()
        memoBits.deallocate()
    }

    /// The cost in bits of the current call.
    /// - Parameters:
    ///   - topKey: the key of its full n-gram (order n).
    ///   - previous: the unfinished ``NgramHash`` states of its contexts, orders 0 ... n-1.
    ///   - current: the unfinished states of the n-grams ending at it, orders 0 ... n.
    @inline(__always)
    func bits(topKey: UInt64, previous: UnsafeMutablePointer<UInt64>, current: UnsafeMutablePointer<UInt64>) -> Double {
        let mask = memoCapacity - 1
        var i = Int(truncatingIfNeeded: topKey >> 23) & mask  // other bits than the other tables'
        while true {
            let k = memoKeys[i]
            if k == topKey { return memoBits[i] }
            if k == 0 { break }
            i = (i + 1) & mask
        }
        let b = compute(topKey: topKey, previous: previous, current: current)
        remember(topKey, b, at: i)
        return b
    }

    private func compute(topKey: UInt64, previous: UnsafeMutablePointer<UInt64>, current: UnsafeMutablePointer<UInt64>) -> Double {
        var p = base
        for k in 0..<n {
            let context = NgramHash.finalize(previous[k], length: k)
            guard let s = contexts[context], s.total > 0 else { break }
            let gram = k + 1 == n ? topKey : NgramHash.finalize(current[k + 1], length: k + 1)
            let types = Double(s.types)
            p = (Double(table.count(of: gram)) + types * p) / (Double(s.total) + types)
        }
        return -log2(p)
    }

    private func remember(_ key: UInt64, _ bits: Double, at slot: Int) {
        if memoCount >= Self.maxRemembered {
            memoKeys.update(repeating: 0, count: memoCapacity)
            memoCount = 0
            insert(key, bits)
            return
        }
        memoKeys[slot] = key
        memoBits[slot] = bits
        memoCount += 1
        if 2 * memoCount > memoCapacity { grow() }
    }

    private func insert(_ key: UInt64, _ bits: Double) {
        let mask = memoCapacity - 1
        var i = Int(truncatingIfNeeded: key >> 23) & mask
        while memoKeys[i] != 0 { i = (i + 1) & mask }
        memoKeys[i] = key
        memoBits[i] = bits
        memoCount += 1
    }

    private func grow() {
        let oldKeys = memoKeys, oldBits = memoBits, oldCapacity = memoCapacity
        memoCapacity *= 2
        memoKeys = .allocate(capacity: memoCapacity)
        memoKeys.initialize(repeating: 0, count: memoCapacity)
        memoBits = .allocate(capacity: memoCapacity)
        memoCount = 0
        for j in 0..<oldCapacity where oldKeys[j] != 0 { insert(oldKeys[j], oldBits[j]) }
        oldKeys.deallocate()
        oldBits.deallocate()
    }

    /// Bytes held: the context statistics (estimated per dictionary entry) and the memo.
    var memoryBytes: Int { contexts.count * 32 + memoCapacity * 16 }
}

import Foundation

/// How close a trace's mix of calls is to the nearest training trace: the cosine distance
/// between bags of 1- and 2-grams, weighted by sublinear term frequency times inverse
/// document frequency (so a syscall every process makes counts little and a rare one much).
///
/// This is the frequency view the sequence model lacks: an attack that only reuses normal
/// n-grams, in normal order, but in an abnormal *mix* (a shell's loop of reads and writes
/// inside a daemon, a scan repeating one request) is far from every training process.
/// Offline only: it needs a process's whole bag, and the live detector sees only novel calls.
///
/// Identical training bags are kept once, and the index is an inverted list per feature, so a
/// query costs the postings of the features it has plus one pass over the distinct training
/// bags: memory and time are bounded by the training data, not by trace length.
struct NeighbourIndex: Sendable {
    /// Feature key -> column, as a flat open-addressing table (keys are already well-mixed
    /// hashes; 0 marks an empty slot): the query probes it once per distinct feature.
    private var columnKeys: [UInt64] = []
    private var columnIndex: [Int32] = []
    private var columnMask = 0
    private var idf: [Float] = []
    /// The idf of a feature no training trace had.
    private var unseenIdf: Float = 1
    private var postingStart: [Int] = [0]
    private var postingTrace: [Int32] = []
    private var postingWeight: [Float] = []
    /// Distinct training bags.
    private(set) var references = 0
    /// Per distinct bag, the one owner it came from, or -1 when several owners had it
    /// (all -1 without owners): what ``distance(_:excluding:scratch:)`` leaves out.
    private var soleOwner: [Int32] = []
    /// Per distinct bag, every owner that had it, ascending (empty without owners): for
    /// ``nearestOwners(_:count:excluding:scratch:)``.
    private var members: [[Int32]] = []
    /// Per distinct bag, its normalised weights by column, ascending (`refStart[r] ..<
    /// refStart[r + 1]`): for the distance to one given bag (``scatter(reference:into:clear:)``).
    private var refStart: [Int] = [0]
    private var refColumn: [Int32] = []
    private var refWeight: [Float] = []

    /// - Parameter owners: per bag, which training trace it came from (e.g. the trace a window
    ///   was cut from), for leave-one-trace-out queries; nil when each bag is its own.
    init(bags: [[(key: UInt64, count: UInt32)]], owners: [Int]? = nil) {
        // Drop duplicate bags: common in daemons, and they only make queries slower.
        var unique: [[(key: UInt64, count: UInt32)]] = []
        var fingerprints: [[UInt64]: Int] = [:]
        for (b, bag) in bags.enumerated() where !bag.isEmpty {
            let sorted = bag.sorted { $0.key < $1.key }
            let fingerprint = sorted.flatMap { [$0.key, UInt64($0.count)] }
            let owner = Int32(owners?[b] ?? -1)
            if let r = fingerprints[fingerprint] {
                if soleOwner[r] != owner { soleOwner[r] = -1 }
                if owners != nil { members[r].append(owner) }
            } else {
                fingerprints[fingerprint] = unique.count
                unique.append(sorted)
                soleOwner.append(owner)
                members.append(owners == nil ? [] : [owner])
            }
        }
        references = unique.count
        var documentFrequency: [UInt64: Int] = [:]
        for bag in unique { for f in bag { documentFrequency[f.key, default: 0] += 1 } }
        let t = Float(unique.count)
        unseenIdf = log((1 + t) / 1) + 1
        var capacity = 16
        while capacity < 2 * documentFrequency.count { capacity *= 2 }
        columnKeys = Array(repeating: 0, count: capacity)
        columnIndex = Array(repeating: -1, count: capacity)
        columnMask = capacity - 1
        var column: [UInt64: Int32] = [:]
        var lists: [[(Int32, Float)]] = []
        for (key, df) in documentFrequency.sorted(by: { $0.key < $1.key }) {
            column[key] = Int32(lists.count)
            var i = Int(truncatingIfNeeded: key) & columnMask
            while columnKeys[i] != 0 { i = (i + 1) & columnMask }
            columnKeys[i] = key
            columnIndex[i] = Int32(lists.count)
            idf.append(log((1 + t) / (1 + Float(df))) + 1)
            lists.append([])
        }
        for (r, bag) in unique.enumerated() {
            var weights = bag.map { f in Self.tf(f.count) * idf[Int(column[f.key]!)] }
            let norm = sqrt(weights.reduce(0) { $0 + $1 * $1 })
            for i in weights.indices { weights[i] /= norm }
            for (f, w) in zip(bag, weights) {
                lists[Int(column[f.key]!)].append((Int32(r), w))
                // Columns were numbered in key order and the bag is sorted by key: ascending.
                refColumn.append(column[f.key]!)
                refWeight.append(w)
            }
            refStart.append(refColumn.count)
        }
        for list in lists {
            for (r, w) in list { postingTrace.append(r); postingWeight.append(w) }
            postingStart.append(postingTrace.count)
        }
    }

    @inline(__always)
    private func lookup(_ key: UInt64) -> Int32? {
        var i = Int(truncatingIfNeeded: key) & columnMask
        while true {
            let k = columnKeys[i]
            if k == key { return columnIndex[i] }
            if k == 0 { return nil }
            i = (i + 1) & columnMask
        }
    }

    @inline(__always)
    private static func tf(_ count: UInt32) -> Float { 1 + log(Float(count)) }

    /// 1 minus the largest cosine similarity to a training bag: 0 for a bag seen in training,
    /// 1 for one sharing nothing with any (or when there is no training bag).
    func distance(_ bag: [(key: UInt64, count: UInt32)], scratch: inout [Float]) -> Double {
        nearest(bag, scratch: &scratch).distance
    }

    /// The distance to the nearest training bag, and which distinct bag that is (-1 when
    /// there is none, or `bag` is empty).
    func nearest(_ bag: [(key: UInt64, count: UInt32)], scratch: inout [Float]) -> (distance: Double, reference: Int) {
        guard references > 0, !bag.isEmpty else { return (bag.isEmpty ? 0 : 1, -1) }
        let normSquared = accumulate(bag, into: &scratch)
        var best: Float = 0, at = 0
        for r in 0..<references where scratch[r] > best { best = scratch[r]; at = r }
        return (Double(max(0, 1 - best / sqrt(normSquared))), at)
    }

    /// Columns (distinct features of the training bags).
    var columnCount: Int { idf.count }

    /// Writes the weights of the distinct training bag `reference` into `dense` (indexed by
    /// column, ``columnCount`` long), or sets them back to 0 with `clear`.
    func scatter(reference: Int, into dense: inout [Float], clear: Bool = false) {
        guard reference >= 0, reference < references else { return }
        for j in refStart[reference]..<refStart[reference + 1] { dense[Int(refColumn[j])] = clear ? 0 : refWeight[j] }
    }

    /// The cosine distance of `bag` to the one training bag whose weights ``scatter(reference:into:clear:)``
    /// wrote into `dense`: an upper bound of its distance to the nearest, at the cost of one
    /// probe per feature instead of a walk of the postings.
    func distance(_ bag: [(key: UInt64, count: UInt32)], dense: [Float]) -> Double {
        guard !bag.isEmpty else { return 0 }
        var normSquared: Float = 0, dot: Float = 0
        for f in bag {
            let (w, c) = weight(f)
            normSquared += w * w
            if let c { dot += w * dense[c] }
        }
        return Double(max(0, 1 - dot / sqrt(normSquared)))
    }

    /// The same distance to the nearest bag not owned by `owner` alone (a bag that another
    /// owner also had still counts): how far a training trace's bag lies from what the
    /// *other* training traces hold. 1 when no such bag exists.
    func distance(_ bag: [(key: UInt64, count: UInt32)], excluding owner: Int, scratch: inout [Float]) -> Double {
        guard references > 0, !bag.isEmpty else { return bag.isEmpty ? 0 : 1 }
        let normSquared = accumulate(bag, into: &scratch)
        var best: Float = 0, any = false
        for r in 0..<references where soleOwner[r] != Int32(owner) {
            best = max(best, scratch[r])
            any = true
        }
        return any ? Double(max(0, 1 - best / sqrt(normSquared))) : 1
    }

    /// The owners of the training bags nearest to `bag`, nearest first, until `count` are
    /// named (a bag several owners had names them all, ascending; equally near bags in
    /// the order they were given), `excluding` left out. Empty without owners.
    func nearestOwners(_ bag: [(key: UInt64, count: UInt32)], count: Int, excluding: Int? = nil,
                       scratch: inout [Float]) -> [Int] {
        guard references > 0, !bag.isEmpty, count > 0 else { return [] }
        _ = accumulate(bag, into: &scratch)
        let order = scratch.indices.sorted { scratch[$0] > scratch[$1] || (scratch[$0] == scratch[$1] && $0 < $1) }
        var out: [Int] = []
        for r in order {
            for m in members[r] where Int(m) != excluding {
                out.append(Int(m))
                if out.count == count { return out }
            }
        }
        return out
    }

    /// A query feature's weight and its training column (nil: no training bag has it, so it
    /// weighs the unseen idf and meets nothing).
    @inline(__always)
    private func weight(_ f: (key: UInt64, count: UInt32)) -> (Float, Int?) {
        guard let c = lookup(f.key) else { return (Self.tf(f.count) * unseenIdf, nil) }
        return (Self.tf(f.count) * idf[Int(c)], Int(c))
    }

    /// Fills `scratch` with the dot product of `bag`'s weights with every distinct training
    /// bag's (normalised) weights; returns the squared norm of `bag`'s weights.
    private func accumulate(_ bag: [(key: UInt64, count: UInt32)], into scratch: inout [Float]) -> Float {
        if scratch.count != references { scratch = Array(repeating: 0, count: references) }
        var normSquared: Float = 0
        scratch.withUnsafeMutableBufferPointer { acc in
            for i in acc.indices { acc[i] = 0 }
            postingTrace.withUnsafeBufferPointer { traces in
                postingWeight.withUnsafeBufferPointer { weights in
                    for f in bag {
                        let (w, c) = weight(f)
                        normSquared += w * w
                        guard let c else { continue }
                        for j in postingStart[c]..<postingStart[c + 1] {
                            acc[Int(traces[j])] += w * weights[j]
                        }
                    }
                }
            }
        }
        return normSquared
    }

    /// The distance of `bag`, remembered per distinct bag in `query`: processes repeat (most
    /// files of a corpus are copies of a few hundred bags: lpr-unm's 1,176 scored files hold
    /// 144 distinct traces), and a repeated bag costs its digest and a lookup instead of a
    /// walk of the postings.
    func distance(_ bag: [(key: UInt64, count: UInt32)], query: NeighbourQuery) -> Double {
        nearest(bag, query: query).distance
    }

    /// ``nearest(_:scratch:)``, remembered as ``distance(_:query:)`` does, by the bag's
    /// ``BagDigest`` (which does not depend on the bag's order; the sum runs in `bag`'s own
    /// order, as it always has, so the rounding of a distance does not depend on the memo).
    func nearest(_ bag: [(key: UInt64, count: UInt32)], query: NeighbourQuery) -> (distance: Double, reference: Int) {
        let key = BagDigest(bag)
        if let d = query.memo[key] { return d }
        let d = nearest(bag, scratch: &query.scratch)
        if query.memo.count >= NeighbourQuery.memoLimit { query.memo.removeAll(keepingCapacity: true) }
        query.memo[key] = d
        return d
    }

    /// The cosine distances from each of at most `sources` distinct training bags (evenly
    /// spaced in the order they were first given) to every other distinct training bag:
    /// how the pool's traces lie from one another. Empty with fewer than two distinct bags.
    func pairwiseDistances(sources: Int = 200) -> [Double] {
        guard references >= 2, sources > 0 else { return [] }
        let picked = Swift.min(sources, references)
        var acc = [Float](repeating: 0, count: references)
        var out: [Double] = []
        out.reserveCapacity(picked * (references - 1))
        for k in 0..<picked {
            let r = k * references / picked
            for i in acc.indices { acc[i] = 0 }
            // The weights are normalised, so the dot product is the cosine similarity.
            for j in refStart[r]..<refStart[r + 1] {
                let c = Int(refColumn[j]), w = refWeight[j]
                for p in postingStart[c]..<postingStart[c + 1] { acc[Int(postingTrace[p])] += w * postingWeight[p] }
            }
            for other in 0..<references where other != r { out.append(Double(Swift.max(0, 1 - acc[other]))) }
        }
        return out
    }

    /// Bytes held by the index.
    var memoryBytes: Int {
        columnKeys.count * 12 + idf.count * 4 + postingStart.count * 8 + postingTrace.count * 8 + soleOwner.count * 4
            + refStart.count * 8 + refColumn.count * 8 + members.reduce(0) { $0 + 4 * $1.count }
    }
}

/// The state of one caller's distance queries: the per-reference accumulator and the
/// distances of the bags already answered (at most ``memoLimit``, then forgotten at once).
final class NeighbourQuery {
    var scratch: [Float] = []
    var memo: [BagDigest: (distance: Double, reference: Int)] = [:]
    static let memoLimit = 1 << 14
}

/// The memo's key for a bag of (n-gram key, count) entries, whatever their order: two sums
/// over the entries of (key, count) mixed two independent ways, and the number of entries.
/// A bag holds each key once, so two different bags share a digest only if both 64-bit sums
/// collide (about one in 2^128 per pair; a run keeps at most ``NeighbourQuery/memoLimit``
/// bags). It replaced a sorted copy of the bag as the key: the sort and the hashing of that
/// array were an eighth of `vigil eval`'s scoring time on corpora of many short files.
struct BagDigest: Hashable {
    let first: UInt64
    let second: UInt64
    let entries: Int

    init(_ bag: [(key: UInt64, count: UInt32)]) {
        var a: UInt64 = 0, b: UInt64 = 0
        for f in bag {
            let c = UInt64(f.count)
            a &+= SplitMix64.mix(SplitMix64.mix(f.key) &+ c)
            b &+= SplitMix64.mix(SplitMix64.mix(f.key ^ 0xD6E8_FEB8_6659_FD93) &+ c &* 0xA076_1D64_78BD_642F)
        }
        first = a
        second = b
        entries = bag.count
    }
}

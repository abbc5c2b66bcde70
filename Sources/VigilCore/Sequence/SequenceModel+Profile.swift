extension SequenceModel {
    /// A model of a profile's learned n-grams, for scoring the novelty events the kernel sends.
    ///
    /// Profiles keep only full ``Parameters/ngramLength``-grams with counts; the model also
    /// needs the lower orders. Each lower-order count is derived by summing the counts of the
    /// full n-grams over their suffixes: the k-gram ending at a call is the last k calls of the
    /// n-gram ending there. Because calls before a thread's first are
    /// ``NgramHash/startSymbol`` (in the kernel and in ``SequenceTrainer`` alike), every call
    /// has a full n-gram, so the derivation is exact *when the n-gram counts are complete*.
    /// The approximation: a profile's counts are what learning attributed (kernel counts
    /// are absorbed as deltas per flush, and merged fleet profiles take the larger count per
    /// host), so lower orders inherit whatever under-counting the n-grams carry; n-grams with
    /// a different length are skipped. Costs are relative frequencies, so a uniform
    /// under-count changes nothing.
    public init(ngrams: some Sequence<NgramItem>, parameters: Parameters = .standard) {
        let n = parameters.ngramLength
        var counts: [UInt64: Gram] = [:]
        var symbols: Set<UInt32> = []
        var total: UInt64 = 0
        for item in ngrams where item.calls.count == n {
            let c = UInt32(clamping: max(item.seen.count, 1))
            total &+= UInt64(c)
            for s in item.calls where s != NgramHash.startSymbol { symbols.insert(s) }
            let keys = Self.suffixKeys(item.calls)
            for order in 1...n {
                let key = keys.grams[order]
                counts[key, default: Gram(order: UInt8(order), key: key, context: keys.contexts[order], count: 0)].count &+= c
            }
        }
        let grams = counts.values.sorted { ($0.order, $0.key) < ($1.order, $1.key) }
        self.init(parameters: parameters, knownSyscalls: symbols.sorted(), grams: grams,
                  trainedCalls: Int(clamping: total), trainedTraces: 0)
    }

    /// A model of `profile`'s learned n-grams (see ``init(ngrams:parameters:)``).
    public init(profile: Profile, parameters: Parameters = .standard) {
        self.init(ngrams: profile.ngrams.values, parameters: parameters)
    }

    /// For an n-gram (oldest first), the key of each suffix of order 1 ... count (`grams[k]`)
    /// and the key of that suffix's context, the k - 1 calls before its last (`contexts[k]`).
    static func suffixKeys(_ calls: [UInt32]) -> (grams: [UInt64], contexts: [UInt64]) {
        let n = calls.count
        var grams = [UInt64](repeating: 0, count: n + 1)
        var contexts = [UInt64](repeating: 0, count: n + 1)
        grams[0] = CostTable.emptyContext
        contexts[0] = CostTable.emptyContext
        var state = NgramHash.seed
        var contextState = NgramHash.seed
        for order in 1...max(n, 1) where n > 0 {
            state = NgramHash.step(state, calls[n - order])
            grams[order] = NgramHash.finalize(state, length: order)
            if order == 1 {
                contexts[order] = CostTable.emptyContext
            } else {
                contextState = NgramHash.step(contextState, calls[n - order])
                contexts[order] = NgramHash.finalize(contextState, length: order - 1)
            }
        }
        return (grams, contexts)
    }

    /// The cost in bits of the last call of `calls` given the calls before it, exactly as
    /// ``SequenceScanner`` would charge it mid-trace (back-off with escapes; a never-seen call
    /// pays every escape plus ``novelSymbolBits``). Shorter n-grams are padded with
    /// ``NgramHash/startSymbol``, longer ones cut to their last ``ngramLength`` calls.
    public func surprise(ofNgram calls: [UInt32]) -> Double {
        let n = ngramLength
        var g = Array(calls.suffix(n))
        if g.count < n { g = Array(repeating: NgramHash.startSymbol, count: n - g.count) + g }
        let keys = Self.suffixKeys(g)
        var cost: UInt64 = 0
        var order = n
        while order >= 1 {
            let c = table.gramCost(of: keys.grams[order])
            if c != .max { return Double(cost + UInt64(c)) / Self.costScale }
            cost += UInt64(table.escapeCost(of: keys.contexts[order]))
            order -= 1
        }
        // As the scanner's `novelCost`: the empty context's escape once more, plus the novel-symbol bits.
        cost += UInt64(table.escapeCost(of: CostTable.emptyContext)) + UInt64(Self.novelSymbolBits * Self.costScale)
        return Double(cost) / Self.costScale
    }
}

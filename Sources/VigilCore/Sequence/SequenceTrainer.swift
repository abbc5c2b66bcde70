/// Counts the n-grams of training traces into a ``SequenceModel``.
///
/// Feed each trace's calls in order (in as many pieces as convenient), call ``endTrace()``
/// after each, then ``model()``. Training is not on the detection hot path, so it counts
/// into a dictionary; scoring uses the flat table built from it.
public struct SequenceTrainer: Sendable {
    public let parameters: SequenceModel.Parameters
    private var counts: [UInt64: SequenceModel.Gram] = [:]
    private var symbols: Set<UInt32> = []
    private var history: [UInt32]
    private var previousKeys: [UInt64]
    private var currentKeys: [UInt64]
    private var calls = 0
    private var traces = 0
    private var traceCalls = 0
    private let boundaries: BoundarySet
    private let transparent: BoundarySet

    public init(parameters: SequenceModel.Parameters = .standard) {
        precondition((1...SequenceModel.Parameters.maxNgramLength).contains(parameters.ngramLength))
        precondition(parameters.windowLength >= 1)
        self.parameters = parameters
        boundaries = BoundarySet(parameters.boundaries)
        transparent = BoundarySet(parameters.transparent)
        history = []
        previousKeys = []
        currentKeys = []
        resetTraceState()
    }

    private mutating func resetTraceState() {
        let n = parameters.ngramLength
        history = Array(repeating: NgramHash.startSymbol, count: n)
        previousKeys = SequenceScanner.startKeys(ngramLength: n)
        currentKeys = Array(repeating: 0, count: n + 1)
        traceCalls = 0
    }

    /// Adds the next calls of the current trace.
    public mutating func feed(_ calls: some Sequence<UInt32>) {
        for c in calls { feed(c) }
    }

    /// Adds the next call of the current trace.
    public mutating func feed(_ symbol: UInt32) {
        calls += 1
        traceCalls += 1
        if transparent.contains(symbol) {
            // Known as a syscall of the program, never part of an n-gram (``SyscallTransparency``).
            symbols.insert(symbol)
            return
        }
        let n = parameters.ngramLength
        // history[0] is the newest call; shift to make room.
        for k in stride(from: n - 1, to: 0, by: -1) { history[k] = history[k - 1] }
        history[0] = symbol
        symbols.insert(symbol)
        var state = NgramHash.seed
        currentKeys[0] = CostTable.emptyContext
        for order in 1...n {
            state = NgramHash.step(state, history[order - 1])
            let key = NgramHash.finalize(state, length: order)
            currentKeys[order] = key
            // The context of this n-gram is the (order-1)-gram that ended one call earlier.
            // (No `default:` subscript here: its autoclosure was heap-allocated on every call.)
            if let i = counts.index(forKey: key) {
                counts.values[i].count &+= 1
            } else {
                counts[key] = SequenceModel.Gram(order: UInt8(order), key: key, context: previousKeys[order - 1], count: 1)
            }
        }
        swap(&previousKeys, &currentKeys)
        if boundaries.contains(symbol) { restartAfterBoundary() }
    }

    /// After a request boundary (``SyscallBoundaries``): the history holds the boundary call
    /// alone, start symbols before it, as the kernel's does; the next call's contexts are
    /// the n-grams of that history.
    private mutating func restartAfterBoundary() {
        let n = parameters.ngramLength
        for k in 1..<n { history[k] = NgramHash.startSymbol }
        var state = NgramHash.seed
        previousKeys[0] = CostTable.emptyContext
        for order in 1...n {
            state = NgramHash.step(state, history[order - 1])
            previousKeys[order] = NgramHash.finalize(state, length: order)
        }
    }

    /// Ends the current trace; the next call fed starts a new process.
    public mutating func endTrace() {
        if traceCalls > 0 { traces += 1 }
        resetTraceState()
    }

    /// The model of everything fed so far (an unfinished trace is included).
    public func model() -> SequenceModel {
        let grams = counts.values.sorted { ($0.order, $0.key) < ($1.order, $1.key) }
        return SequenceModel(parameters: parameters, knownSyscalls: symbols.sorted(), grams: grams,
                             trainedCalls: calls, trainedTraces: traces + (traceCalls > 0 ? 1 : 0))
    }
}

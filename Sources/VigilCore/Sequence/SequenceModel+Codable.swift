/// A model is saved as its parameters, known syscalls and counted n-grams; the scoring
/// table is rebuilt on load. Each n-gram is one line-friendly string
/// `"<order> <key hex> <context key hex> <count>"`, sorted, so saved profiles diff cleanly
/// and 64-bit keys survive JSON readers that hold numbers as doubles.
extension SequenceModel: Codable {
    /// The version of this encoding; readers reject others.
    public static let formatVersion = 1

    enum CodingKeys: String, CodingKey {
        case format, parameters, knownSyscalls = "known_syscalls", grams
        case trainedCalls = "trained_calls", trainedTraces = "trained_traces"
        case alertThreshold = "alert_threshold", hash
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.formatVersion, forKey: .format)
        try c.encode("vigil-ngram-v1", forKey: .hash)
        try c.encode(parameters, forKey: .parameters)
        try c.encode(knownSyscalls, forKey: .knownSyscalls)
        try c.encode(trainedCalls, forKey: .trainedCalls)
        try c.encode(trainedTraces, forKey: .trainedTraces)
        try c.encodeIfPresent(alertThreshold, forKey: .alertThreshold)
        try c.encode(grams.map { "\($0.order) \(hex($0.key)) \(hex($0.context)) \($0.count)" }, forKey: .grams)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let format = try c.decode(Int.self, forKey: .format)
        guard format == Self.formatVersion else {
            throw DecodingError.dataCorruptedError(forKey: .format, in: c, debugDescription: "unsupported sequence model format \(format), expected \(Self.formatVersion)")
        }
        let parameters = try c.decode(Parameters.self, forKey: .parameters)
        guard (1...Parameters.maxNgramLength).contains(parameters.ngramLength),
              (1...Parameters.maxWindowLength).contains(parameters.windowLength) else {
            throw DecodingError.dataCorruptedError(forKey: .parameters, in: c, debugDescription:
                "n-gram length \(parameters.ngramLength) or window \(parameters.windowLength) out of range "
                + "(expected 1 to \(Parameters.maxNgramLength) and 1 to \(Parameters.maxWindowLength))")
        }
        var grams: [Gram] = []
        for (i, line) in try c.decode([String].self, forKey: .grams).enumerated() {
            let f = line.split(separator: " ")
            guard f.count == 4, let order = UInt8(f[0]), order >= 1, Int(order) <= parameters.ngramLength,
                  let key = UInt64(f[1], radix: 16), let context = UInt64(f[2], radix: 16), let count = UInt32(f[3]), count > 0
            else {
                throw DecodingError.dataCorruptedError(forKey: .grams, in: c, debugDescription: "grams[\(i)]: expected \"<order> <hex key> <hex context> <count>\", found \"\(line)\"")
            }
            grams.append(Gram(order: order, key: key, context: context, count: count))
        }
        self.init(parameters: parameters,
                  knownSyscalls: try c.decode([UInt32].self, forKey: .knownSyscalls),
                  grams: grams,
                  trainedCalls: try c.decode(Int.self, forKey: .trainedCalls),
                  trainedTraces: try c.decode(Int.self, forKey: .trainedTraces))
        alertThreshold = try c.decodeIfPresent(Double.self, forKey: .alertThreshold)
    }
}

private func hex(_ v: UInt64) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: 16 - s.count) + s
}

import Foundation
import Testing
import VigilTestSupport
@testable import VigilCore

/// Request boundaries (SyscallBoundaries, vigil_boundary.h): n-gram histories restart after
/// accept, epoll_wait, poll, select and their forms, so known requests in a new order or
/// mix are not new sequences.
@Suite struct RequestBoundaryTests {
    static func nr(_ name: String) -> UInt32 { UInt32(SyscallTable.number(name)!) }

    /// A small file service: start-up, then one request per accept.
    static let startup = ["execve", "brk", "mmap", "socket", "bind", "listen"].map(nr)
    /// `GET index.html`: the file exists and is sent.
    static let index = ["accept", "read", "openat", "fstat", "read", "write", "close", "close"].map(nr)
    /// `GET missing.html`: not found.
    static let missing = ["accept", "read", "openat", "write", "close"].map(nr)

    static func service(_ requests: [[UInt32]]) -> [UInt32] { startup + requests.joined() + [nr("exit_group")] }

    static func train(_ traces: [[UInt32]], _ p: SequenceModel.Parameters) -> SequenceModel {
        var trainer = SequenceTrainer(parameters: p)
        for t in traces { trainer.feed(t); trainer.endTrace() }
        return trainer.model()
    }

    static func score(_ m: SequenceModel, _ t: [UInt32]) -> TraceScore {
        let s = SequenceScanner(model: m, maxReported: 50)
        t.withUnsafeBufferPointer { s.feed($0) }
        return s.finish()
    }

    /// Learned on the two kinds alternating; judged on one kind repeated and on a new order.
    /// (Half the learned runs begin with each kind, so how a run starts and ends is known.)
    static let learned = (0..<4).map { i in
        service(Array(repeating: i % 2 == 0 ? [index, missing] : [missing, index], count: 6).flatMap { $0 })
    }
    static let judged = [
        service(Array(repeating: index, count: 12)),
        service(Array(repeating: missing, count: 12)),
        service([missing, missing, index, index, index, missing, index, missing, missing]),
    ]

    @Test func knownRequestsInANewOrderAreNotNovel() {
        let model = Self.train(Self.learned, .linux)
        for t in Self.judged {
            let s = Self.score(model, t)
            #expect(s.novelNgramFraction == 0, "novel n-grams across boundaries: \(s.anomalies.map(\.ngram))")
            #expect(s.anomalousCalls == 0)
            #expect(s.score == 0)
            // Every n-gram the kernel would send is in the kernel's known map.
            #expect(Self.kernelWindows(t, n: 6).allSatisfy { model.isKnown(ngramHash: NgramHash.hash($0)) })
        }
    }

    @Test func withoutBoundariesTheSameRequestsLookNovel() {
        // The issue's false alarm, reproduced: n-grams spanning `close close accept read openat ...`.
        let model = Self.train(Self.learned, .standard)
        let s = Self.score(model, Self.judged[0])
        #expect(s.novelNgramFraction > 0)
        #expect(s.anomalousCalls > 0)
        let closeAccept = s.anomalies.contains { a in
            a.ngram.firstIndex(of: Self.nr("accept")).map { $0 > 0 && $0 < a.ngram.count - 1 } ?? false
        }
        #expect(closeAccept, "expected an anomalous n-gram spanning an accept, got \(s.anomalies.map(\.ngram))")
    }

    @Test func aNewCallInsideARequestIsStillNovel() {
        let model = Self.train(Self.learned, .linux)
        var bad = Self.index
        bad.insert(Self.nr("execve"), at: 3)  // a shell out of the request handler
        let s = Self.score(model, Self.service([Self.index, bad, Self.missing]))
        #expect(s.novelNgramFraction > 0)
        #expect(s.anomalousCalls > 0)
        // The anomaly's n-gram starts at the boundary call, not before it.
        let first = try! #require(s.anomalies.first)
        #expect(first.ngram.first == Self.nr("accept"))
    }

    /// The n-grams the kernel forms (learn.bpf.c), transcribed from its rule: a ring of the
    /// last n calls, start symbols before the first; after a boundary call the ring holds
    /// that call alone.
    static func kernelWindows(_ trace: [UInt32], n: Int, boundaries: Set<UInt32> = Set(SyscallBoundaries.linuxNumbers)) -> [[UInt32]] {
        var ring: [UInt32] = []
        var out: [[UInt32]] = []
        for c in trace {
            ring.append(c)
            if ring.count > n { ring.removeFirst() }
            out.append(Array(repeating: NgramHash.startSymbol, count: n - ring.count) + ring)
            if boundaries.contains(c) { ring = [c] }
        }
        return out
    }

    @Test func trainerCountsExactlyTheKernelsNgrams() {
        let trace = Self.service([Self.index, Self.missing, Self.index])
        let model = Self.train([trace], .linux)
        let windows = Self.kernelWindows(trace, n: 6)
        let trained = Set(model.grams.filter { $0.order == 6 }.map(\.key))
        #expect(trained == Set(windows.map { NgramHash.hash($0) }))
        // The first request's n-grams begin at its accept, start symbols before it.
        let afterAccept = windows[Self.startup.count + 1]
        #expect(afterAccept == [NgramHash.startSymbol, NgramHash.startSymbol, NgramHash.startSymbol, NgramHash.startSymbol,
                                Self.nr("accept"), Self.nr("read")])
        // And a profile learned from what the kernel sends (the Learner keeps those n-grams)
        // is the trained model: same known map, same costs.
        var counts: [[UInt32]: Int] = [:]
        for w in windows { counts[w, default: 0] += 1 }
        let items = counts.map { NgramItem(calls: $0.key, seen: Sighting(host: "h", at: 1, count: UInt64($0.value))) }
        let fromProfile = SequenceModel(ngrams: items, parameters: .linux)
        #expect(Set(fromProfile.knownNgramHashes()) == Set(model.knownNgramHashes()))
        #expect(Self.score(fromProfile, trace).anomalousCalls == 0)
    }

    @Test func ngramHashAfterABoundaryMatchesAnIndependentTranscription() {
        // Python transcription of NgramHash v1 (docs/eval.md), for the n-grams the kernel
        // forms after `accept` (x86_64 43): `^ ^ ^ ^ accept read` and `^ ^ ^ accept read openat`.
        let s = NgramHash.startSymbol
        #expect(NgramHash.hash([s, s, s, s, 43, 0]) == 0x147e_209a_1039_b33d)
        #expect(NgramHash.hash([s, s, s, 43, 0, 257]) == 0xf812_9fc8_6d79_3eca)
    }

    @Test func boundaryNamesAreLinuxSyscalls() {
        #expect(SyscallBoundaries.linuxNumbers.count == SyscallBoundaries.names.count)
        #expect(SyscallBoundaries.linuxNumbers == [7, 23, 43, 232, 270, 271, 281, 288, 441])
        #expect(SequenceModel.Parameters.linux.boundaries == SyscallBoundaries.linuxNumbers)
        #expect(SequenceModel.Parameters.standard.boundaries.isEmpty)
    }

    @Test func parametersRoundTripAndOldModelsHaveNoBoundaries() throws {
        let data = try JSONEncoder().encode(SequenceModel.Parameters.linux)
        #expect(try JSONDecoder().decode(SequenceModel.Parameters.self, from: data) == .linux)
        let old = Data(#"{"ngramLength":6,"windowLength":20,"commonBits":4}"#.utf8)
        #expect(try JSONDecoder().decode(SequenceModel.Parameters.self, from: old) == .standard)
        let bad = Data(#"{"ngramLength":6,"windowLength":20,"commonBits":4,"boundaries":[70000]}"#.utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(SequenceModel.Parameters.self, from: bad) }
        // A negative cost threshold (the replay fuzzer's find: it trapped the scanner) is refused.
        let negative = Data(#"{"ngramLength":6,"windowLength":20,"commonBits":-4}"#.utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(SequenceModel.Parameters.self, from: negative) }
        // A saved model keeps its boundaries, so `vigil replay --model` reads as it was trained.
        let m = Self.train(Self.learned, .linux)
        let back = try JSONDecoder().decode(SequenceModel.self, from: JSONEncoder().encode(m))
        #expect(back.parameters.boundaries == SyscallBoundaries.linuxNumbers)
        #expect(Self.score(back, Self.judged[2]).anomalousCalls == 0)
        // A window of 10^9 calls (the replay fuzzer's find: the scanner ran out of memory
        // holding it) is refused with what the range is.
        var json = try #require(String(data: JSONEncoder().encode(m), encoding: .utf8))
        json = json.replacingOccurrences(of: #""windowLength":20"#, with: #""windowLength":1000000000"#)
        #expect(json.contains("1000000000"))
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(SequenceModel.self, from: Data(json.utf8)) }
    }

    static func tempCorpus(manifest: String?) throws -> String {
        let root = try makeTempDirectory("vigil-boundary")
        for d in ["train", "validation", "attack/a"] {
            try FileManager.default.createDirectory(atPath: root + "/" + d, withIntermediateDirectories: true)
        }
        func write(_ path: String, _ t: [UInt32]) throws {
            try Data(t.map(String.init).joined(separator: " ").utf8).write(to: URL(fileURLWithPath: root + "/" + path))
        }
        for (i, t) in learned.enumerated() { try write("train/\(i).trace", t) }
        for (i, t) in judged.enumerated() { try write("validation/\(i).trace", t) }
        var attack = index
        attack.insert(nr("execve"), at: 3)
        try write("attack/a/0.trace", service([index, attack]))
        if let manifest { try Data(manifest.utf8).write(to: URL(fileURLWithPath: root + "/corpus.json")) }
        return root
    }

    @Test func aCorpusThatDeclaresLinuxNumbersIsReadWithBoundaries() throws {
        let linux = try Self.tempCorpus(manifest: #"{"syscalls": "linux-x86_64", "note": "recorded with strace"}"#)
        let opaque = try Self.tempCorpus(manifest: nil)
        defer { try? FileManager.default.removeItem(atPath: linux); try? FileManager.default.removeItem(atPath: opaque) }
        let cl = try Corpus.load(at: linux)
        #expect(cl.numbering == .linuxX86_64)
        let r = try Evaluation.run(corpus: cl)
        #expect(r.parameters.boundaries == SyscallBoundaries.linuxNumbers)
        // The reordered validation requests have no novel n-gram; the attack does.
        #expect(r.featureAUC["novel_ngrams"]! == 1.0)
        let co = try Corpus.load(at: opaque)
        #expect(co.numbering == .opaque)
        #expect(try Evaluation.run(corpus: co).parameters.boundaries.isEmpty)
        #expect(try Evaluation.train(corpus: cl).parameters.boundaries == SyscallBoundaries.linuxNumbers)
    }

    @Test func aBadCorpusDescriptionIsRefusedWithItsFileAndWhatWasExpected() throws {
        for (text, words) in [(#"{"syscalls": "sunos-4"}"#, "expected \"opaque\" or \"linux-x86_64\", found sunos-4"),
                              (#"{"numbers": 1}"#, "missing key \"syscalls\""),
                              ("not json", "expected a JSON object")] {
            let root = try Self.tempCorpus(manifest: text)
            defer { try? FileManager.default.removeItem(atPath: root) }
            do {
                _ = try Corpus.load(at: root)
                Issue.record("accepted \(text)")
            } catch let e as TraceInputError {
                #expect(e.description.hasPrefix(root + "/corpus.json: "))
                #expect(e.description.contains(words), "\(e)")
            }
        }
    }
}

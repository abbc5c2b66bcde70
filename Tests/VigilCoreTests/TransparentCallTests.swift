import Foundation
import Testing
@testable import VigilCore

/// Transparent calls (SyscallTransparency, vigil_transparent.h): `futex` and `sched_yield`
/// never enter an n-gram history, so where thread timing places them among a service's
/// reads and writes makes no new sequence; whether the program makes them at all is still
/// learned and judged.
@Suite struct TransparentCallTests {
    static func nr(_ name: String) -> UInt32 { UInt32(SyscallTable.number(name)!) }
    static let futex = nr("futex")

    /// One request of a threaded service: wait, read, answer.
    static let request = ["epoll_wait", "read", "write", "read", "write", "close"].map(nr)
    static let startup = ["execve", "brk", "mmap", "clone3", "socket", "bind", "listen"].map(nr)

    /// A run of `count` requests with a futex after the call at each position `placed` picks
    /// (the lock contention thread timing decides).
    static func run(_ count: Int, _ placed: (Int, Int) -> Bool) -> [UInt32] {
        var t = startup
        for r in 0..<count {
            for (i, c) in request.enumerated() {
                t.append(c)
                if placed(r, i) { t.append(futex) }
            }
        }
        return t + [nr("exit_group")]
    }

    static func train(_ traces: [[UInt32]], _ p: SequenceModel.Parameters) -> SequenceModel {
        var trainer = SequenceTrainer(parameters: p)
        for t in traces { trainer.feed(t); trainer.endTrace() }
        return trainer.model()
    }

    static func score(_ m: SequenceModel, _ t: [UInt32], stide: Bool = false) -> TraceScore {
        let s = SequenceScanner(model: m, maxReported: 50, stide: stide)
        t.withUnsafeBufferPointer { s.feed($0) }
        return s.finish()
    }

    /// Learned with futex after some reads; judged with futex after the writes instead.
    /// (Eight requests a run, so that how a run ends is an ordinary continuation.)
    static let learned = [run(8) { r, i in i == 1 && r % 3 == 0 }, run(8) { r, i in i == 3 && r % 2 == 0 }]
    static let judged = run(12) { r, i in (i == 2 || i == 4) && r % 2 == 1 }

    @Test func futexPlacedElsewhereByThreadTimingIsNotNovel() {
        let model = Self.train(Self.learned, .linux)
        #expect(model.knownSyscalls.contains(Self.futex), "futex is still a known syscall of the program")
        let s = Self.score(model, Self.judged)
        #expect(s.novelNgramFraction == 0, "novel n-grams: \(s.anomalies.map(\.ngram))")
        #expect(s.anomalousCalls == 0, "\(s.anomalies.map { ($0.position, $0.bits, $0.ngram.map { SyscallTable.name(Int($0)) }) })")
        #expect(s.score == 0)
        #expect(s.novelSyscalls == 0)
        #expect(s.calls == Self.judged.count, "positions are the trace's, futex included")
        #expect(Self.score(model, Self.judged, stide: true).score == 0)
    }

    @Test func withoutTransparencyTheSameRunLooksNovel() {
        // What redis showed in the false-alarm benchmark's third run: n-grams holding futex.
        let p = SequenceModel.Parameters.linux.withTransparent([])
        let model = Self.train(Self.learned, p)
        let s = Self.score(model, Self.judged)
        #expect(s.novelNgramFraction > 0)
        #expect(s.anomalies.contains { $0.ngram.contains(Self.futex) })
    }

    @Test func aProgramThatNeverCalledFutexIsJudgedOnItsFirstOne() {
        let model = Self.train([Self.run(8) { _, _ in false }], .linux)
        #expect(!model.knownSyscalls.contains(Self.futex))
        let s = Self.score(model, Self.run(5) { r, i in r == 2 && i == 1 })
        #expect(s.novelSyscalls == 1)
        #expect(s.anomalousCalls == 1)
        #expect(s.score > 0)
        #expect(s.anomalies.first?.ngram == [Self.futex], "reported as the call alone, not as an n-gram")
        // The n-grams around it are the known ones: it did not enter the history.
        #expect(s.novelNgramFraction == 0)
        #expect(Self.score(model, Self.run(5) { r, i in r == 2 && i == 1 }, stide: true).anomalousCalls == 1)
    }

    @Test func theMixViewCountsTheTraceAsItWas() {
        // The bag of 1- and 2-grams (the neighbour view) is a distance, not a set of knowns:
        // it keeps futex and its pairs, as it did before transparency.
        func bag(_ p: SequenceModel.Parameters) -> [UInt64: UInt32] {
            let s = SequenceScanner(model: Self.train(Self.learned, p))
            Self.judged.withUnsafeBufferPointer { s.feed($0) }
            _ = s.finish()
            return Dictionary(uniqueKeysWithValues: s.lastBag.map { ($0.key, $0.count) })
        }
        let looking = bag(.linux), plain = bag(.linux.withTransparent([]))
        #expect(looking == plain)
        let futexAfterRead = NgramHash.finalize(NgramHash.step(NgramHash.step(NgramHash.seed, Self.futex), Self.nr("read")), length: 2)
        #expect(looking[futexAfterRead] == nil && looking.count > 10)
        let futexAfterWrite = NgramHash.finalize(NgramHash.step(NgramHash.step(NgramHash.seed, Self.futex), Self.nr("write")), length: 2)
        #expect(looking[futexAfterWrite] == 12, "write then futex, six times in each of two places")
    }

    @Test func aProfileLearnedBeforeTransparencyIsKnownByItsNgrams() {
        var old = Profile(identity: ProfileIdentity(executable: "/usr/bin/redis-check-rdb", name: "redis-server"))
        let read = Self.nr("read"), write = Self.nr("write")
        for calls in [[read, Self.futex, write, read, write, write], [read, write, read, write, read, write],
                      [Self.nr("sched_yield"), read, read, read, read, read]] {
            old.ngrams[NgramHash.hash(calls)] = NgramItem(calls: calls, seen: Sighting(host: "h", at: 1))
        }
        #expect(old.ngramsHoldingTransparentCalls == 2)
        var new = old
        new.ngrams = new.ngrams.filter { !$0.value.calls.contains(Self.futex) && !$0.value.calls.contains(Self.nr("sched_yield")) }
        new.syscalls[Self.futex] = Sighting(host: "h", at: 1)  // the call itself is still learned
        #expect(new.ngramsHoldingTransparentCalls == 0)
    }

    /// The kernel's rule (learn.bpf.c), transcribed: a transparent call is skipped, the rest
    /// as RequestBoundaryTests.kernelWindows.
    static func kernelWindows(_ trace: [UInt32], n: Int) -> [[UInt32]] {
        let transparent = Set(SyscallTransparency.linuxNumbers)
        return RequestBoundaryTests.kernelWindows(trace.filter { !transparent.contains($0) }, n: n)
    }

    @Test func trainerCountsExactlyTheKernelsNgrams() {
        let trace = Self.learned[0]
        let model = Self.train([trace], .linux)
        let windows = Self.kernelWindows(trace, n: 6)
        #expect(windows.allSatisfy { !$0.contains(Self.futex) })
        #expect(Set(model.grams.filter { $0.order == 6 }.map(\.key)) == Set(windows.map { NgramHash.hash($0) }))
        #expect(model.trainedCalls == trace.count)
    }

    @Test func theListIsLinuxSyscallsAndParametersKeepIt() throws {
        #expect(SyscallTransparency.linuxNumbers == [24, 202, 449, 454, 455, 456])
        #expect(SequenceModel.Parameters.linux.transparent == SyscallTransparency.linuxNumbers)
        #expect(SequenceModel.Parameters.standard.transparent.isEmpty)
        #expect(Set(SyscallTransparency.linuxNumbers).isDisjoint(with: SyscallBoundaries.linuxNumbers))
        let data = try JSONEncoder().encode(SequenceModel.Parameters.linux)
        #expect(try JSONDecoder().decode(SequenceModel.Parameters.self, from: data) == .linux)
        // Models saved before transparent calls existed look through nothing.
        let old = Data(#"{"ngramLength":6,"windowLength":20,"commonBits":4,"boundaries":[43]}"#.utf8)
        #expect(try JSONDecoder().decode(SequenceModel.Parameters.self, from: old).transparent.isEmpty)
        let bad = Data(#"{"ngramLength":6,"windowLength":20,"commonBits":4,"transparent":[70000]}"#.utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(SequenceModel.Parameters.self, from: bad) }
        // A saved model keeps them, so `vigil replay --model` reads as it was trained.
        let m = Self.train(Self.learned, .linux)
        let back = try JSONDecoder().decode(SequenceModel.self, from: JSONEncoder().encode(m))
        #expect(back.parameters.transparent == SyscallTransparency.linuxNumbers)
        #expect(Self.score(back, Self.judged).anomalousCalls == 0)
    }

    @Test func aLinuxCorpusIsReadThroughThemAndAnOpaqueOneIsNot() throws {
        let linux = try RequestBoundaryTests.tempCorpus(manifest: #"{"syscalls": "linux-x86_64"}"#)
        let opaque = try RequestBoundaryTests.tempCorpus(manifest: nil)
        defer { try? FileManager.default.removeItem(atPath: linux); try? FileManager.default.removeItem(atPath: opaque) }
        #expect(try Evaluation.run(corpus: Corpus.load(at: linux)).parameters.transparent == SyscallTransparency.linuxNumbers)
        #expect(try Evaluation.run(corpus: Corpus.load(at: opaque)).parameters.transparent.isEmpty)
        // Parameters that name their own keep them.
        let mine = SequenceModel.Parameters.standard.withTransparent([24])
        #expect(try Corpus.load(at: linux).parameters(mine).transparent == [24])
    }
}

import Foundation
import Testing
import VigilCore
import VigilTestSupport

/// `vigil eval --context`: knowing each trace's program, as the live agent does.
@Suite struct ContextEvaluationTests {
    /// Two programs with loops of their own; the attack makes program A do exactly what B
    /// does, which one model of both finds normal and A's own model does not.
    static func corpus() throws -> String {
        let dir = try makeTempDirectory("vigil-context-eval")
        var context: [String] = []
        func trace(_ set: String, _ name: String, program: String, _ calls: [Int]) throws {
            let path = "\(set)/\(name).trace"
            try FileManager.default.createDirectory(atPath: dir + "/" + set, withIntermediateDirectories: true)
            try writeFile(calls.map(String.init).joined(separator: " ") + "\n", to: dir + "/" + path)
            context.append(#"{"trace": "\#(path)", "executable": "\#(program)"}"#)
        }
        func loop(_ body: [Int], _ n: Int, jitter: Int) -> [Int] {
            var out: [Int] = []
            for i in 0..<n { out += body; if i % 7 == jitter { out.append(body[0]) } }
            return out
        }
        let a = [0, 1, 2, 3], b = [10, 11, 12, 13]
        for i in 0..<4 {
            try trace("train", "a\(i)", program: "/usr/bin/a", loop(a, 40, jitter: i))
            try trace("train", "b\(i)", program: "/usr/bin/b", loop(b, 40, jitter: i))
            try trace("validation", "a\(i)", program: "/usr/bin/a", loop(a, 30, jitter: (i + 2) % 7))
            try trace("validation", "b\(i)", program: "/usr/bin/b", loop(b, 30, jitter: (i + 3) % 7))
        }
        try trace("validation", "c0", program: "/usr/bin/c", loop([20, 21], 30, jitter: 1))
        for i in 0..<3 {
            // Exactly a training trace of B: nothing one model of both could call new.
            try trace("attack/cross\(i)", "a", program: "/usr/bin/a", loop(b, 40, jitter: i))
        }
        try writeFile(context.joined(separator: "\n") + "\n", to: dir + "/" + CorpusRecorder.contextFile)
        return dir
    }

    @Test func perProgramModelsSeeWhatOneModelOfEveryProgramMisses() throws {
        let dir = try Self.corpus()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let c = try Corpus.load(at: dir)
        let r = try ContextEvaluation.run(corpus: c, context: try ContextEvaluation.loadContext(root: dir))
        #expect(r.programs == 2 && r.negatives == 9 && r.positives == 3 && r.cases == 3)
        #expect(r.unknownProgramNegatives == 1 && r.unknownProgramPositives == 0, "program c ran in no training trace")
        #expect(r.traceWithoutContext == 0)
        let with = try #require(r.withContext.auc), without = try #require(r.withoutContext.auc)
        #expect(with > without, "with \(with), without \(without)")
        // Only the unknown program's normal trace outscores the attacks with context.
        #expect(abs(with - 8.0 / 9.0) < 1e-9, "\(with)")
    }

    @Test func aMissingOrBrokenContextFileIsNamed() throws {
        let dir = try Self.corpus()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try writeFile("{\"trace\": \"train/a0.trace\"}\n", to: dir + "/" + CorpusRecorder.contextFile)
        #expect { try ContextEvaluation.loadContext(root: dir) } throws: { "\($0)".contains("context.jsonl") && "\($0)".contains("line 1") }
        try FileManager.default.removeItem(atPath: dir + "/" + CorpusRecorder.contextFile)
        #expect { try ContextEvaluation.loadContext(root: dir) } throws: { "\($0)".contains("vigil record") }
    }
}

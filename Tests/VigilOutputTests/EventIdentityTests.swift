import Foundation
import Testing
import VigilTestSupport
@testable import VigilOutput

@Suite struct EventIdentityTests {
    @Test func theInstanceIdIsCreatedOnceAndSequencesNeverRepeatAcrossRestarts() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try EventIdentity(directory: dir)
        #expect(first.instanceID.count == 32 && first.instanceID.allSatisfy(\.isHexDigit))
        let a = (0..<3).map { _ in first.nextUID() }
        #expect(a == (0..<3).map { "\(first.instanceID)-\($0)" })
        // A restart (or a crash: nothing is written per event) keeps the id and continues
        // after the reserved block, never reusing a number.
        let second = try EventIdentity(directory: dir)
        #expect(second.instanceID == first.instanceID)
        let b = second.nextUID()
        #expect(b == "\(first.instanceID)-\(EventIdentity.defaultBlockSize)")
        #expect(!a.contains(b))
        #expect(try String(contentsOfFile: dir + "/instance-id", encoding: .utf8) == first.instanceID + "\n")
    }

    /// The old and the new event stream of a reload share the directory: their blocks differ.
    @Test func twoIdentitiesOnOneDirectoryNeverShareANumber() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let old = try EventIdentity(directory: dir, blockSize: 100)
        let new = try EventIdentity(directory: dir, blockSize: 100)
        var seen = Set<String>()
        // The old one runs past the end of its block: it must skip the new one's.
        var repeats = 0
        for _ in 0..<250 where !seen.insert(old.nextUID()).inserted { repeats += 1 }
        for _ in 0..<250 where !seen.insert(new.nextUID()).inserted { repeats += 1 }
        #expect(repeats == 0)
    }

    @Test func twoAgentsNameTheSameEventDifferently() throws {
        let d1 = try makeTempDirectory(), d2 = try makeTempDirectory()
        defer { for d in [d1, d2] { try? FileManager.default.removeItem(atPath: d) } }
        let one = try EventIdentity(directory: d1), two = try EventIdentity(directory: d2)
        #expect(one.instanceID != two.instanceID)
        #expect(EventIdentity().instanceID != EventIdentity().instanceID)
    }

    @Test func aDamagedStateFileIsAClearError() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try writeFile("not an id\n", to: dir + "/instance-id")
        #expect {
            _ = try EventIdentity(directory: dir)
        } throws: { error in
            let text = String(describing: error)
            return text.contains("\(dir)/instance-id") && text.contains("32 hex digits")
        }
    }

    /// The uid leads `metadata`, where sinks find it without parsing (`_bulk` `_id`).
    @Test func theUIDLeadsMetadataAndSinksFindIt() throws {
        var encoder = Samples.encoder
        encoder.identity = EventIdentity()
        let e = encoder.encode(Samples.finding)
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(e.bytes)) as? [String: Any])
        let uid = try #require((obj["metadata"] as? [String: Any])?["uid"] as? String)
        #expect(e.text.contains(#""metadata":{"uid":"\#(uid)""#))
        #expect(OutputLine(bytes: e.bytes, classUID: e.classUID).eventUID == uid)
        #expect(OutputLine(bytes: testLine(1), classUID: 1007).eventUID == nil)
        // A command line quoting the pattern cannot fool the scan: its quotes are escaped.
        var p = Samples.finding
        p.process.argv = [#"sh -c 'echo "metadata":{"uid":"evil"}'"#]
        let plain = Samples.encoder.encode(p)
        #expect(OutputLine(bytes: plain.bytes, classUID: plain.classUID).eventUID == nil)
    }

    /// `EventStream` gives every event a uid from the identity in its spool directory.
    @Test func theEventStreamStampsEveryEvent() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/events.jsonl"
        let stream = try EventStream(outputs: ["file:\(file)"], spoolDirectory: dir + "/spool", encoder: Samples.encoder,
                                     clock: ManualOutputClock())
        stream.publish(Samples.finding)
        stream.publish(AgentEvent(.started(mode: "monitor"), timeNanos: Samples.t0))
        stream.close()
        let id = try String(contentsOfFile: dir + "/spool/instance-id", encoding: .utf8).trimmingCharacters(in: .newlines)
        let uids = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").map {
            OutputLine(bytes: Array($0.utf8), classUID: 0).eventUID
        }
        #expect(uids == ["\(id)-0", "\(id)-1"])
    }
}

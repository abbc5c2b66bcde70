import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import VigilTestSupport

/// `vigil demo`, as a newcomer runs it: a service that is not Vigil, learned, attacked,
/// and the attack stopped.
@Suite(.serialized, .enabled(if: BPFTestGate.shouldRun), .timeLimit(.minutes(3)))
struct DemoCommandTests {
    @Test func theDemoStopsTheAttackOnAServiceThatIsNotVigil() throws {
        try BPFTestGate.check()
        let dir = try makeTempDirectory("vigil-demo-test")
        let r = try runVigil(["demo", "--learn-seconds", "8", "--keep", dir])
        #expect(r.status == 0, "stderr: \(r.err.suffix(2000))")
        #expect(r.out.contains("A small TCP service, acme-notes, runs on 127.0.0.1"), "\(r.out.prefix(600))")
        #expect(r.out.contains("the attacker's listener received 0 connection(s): the shell never ran"), "\(r.out.suffix(800))")
        #expect(r.err.contains("acme-notes) risk"), "the findings name the service, not vigil")
        #expect(!r.err.contains("/vigil) risk"))
        // The map of what was learned: well-formed SVG naming the service and its port.
        let svg = try Data(contentsOf: URL(fileURLWithPath: dir + "/map.svg"))
        let parser = XMLParser(data: svg)
        #expect(parser.parse(), "map.svg parses: \(parser.parserError.map { "\($0)" } ?? "")")
        let text = String(decoding: svg, as: UTF8.self)
        #expect(text.contains(">acme-notes") || text.contains("/acme-notes<"), "the service is a node: \(text.prefix(1200))")
        #expect(text.contains("listens tcp "), "with its listening port")
    }
}

import Foundation
import Testing
import VigilTestSupport

/// `vigil demo`, as a newcomer runs it: a service that is not Vigil, learned, attacked,
/// and the attack stopped.
@Suite(.serialized, .enabled(if: BPFTestGate.shouldRun), .timeLimit(.minutes(3)))
struct DemoCommandTests {
    @Test func theDemoStopsTheAttackOnAServiceThatIsNotVigil() throws {
        try BPFTestGate.check()
        let r = try runVigil(["demo", "--learn-seconds", "8"])
        #expect(r.status == 0, "stderr: \(r.err.suffix(2000))")
        #expect(r.out.contains("A small TCP service, acme-notes, runs on 127.0.0.1"), "\(r.out.prefix(600))")
        #expect(r.out.contains("the attacker's listener received 0 connection(s): the shell never ran"), "\(r.out.suffix(800))")
        #expect(r.err.contains("acme-notes) risk"), "the findings name the service, not vigil")
        #expect(!r.err.contains("/vigil) risk"))
    }
}

import Foundation
import Testing
import VigilTestSupport
import VigilCore

/// `vigil learn` killed with SIGKILL at random moments, saving every second while the host is
/// busy: no profile file is ever torn, none saved before is lost, and learning continues.
@Suite(.serialized, .enabled(if: BPFTestGate.shouldRun), .timeLimit(.minutes(4)))
struct CrashConsistencyTests {
    @Test func sigkillDuringSavesNeverTearsOrLosesAProfile() throws {
        try BPFTestGate.check()
        let base = try makeTempDirectory("vigil-crash")
        defer { try? FileManager.default.removeItem(atPath: base) }
        let models = base + "/models"
        // A busy host: programs start and run all the time, so every save has work.
        let churn = Process()
        churn.executableURL = URL(fileURLWithPath: "/bin/bash")
        churn.arguments = ["-c", "while :; do /usr/bin/env true; /usr/bin/date >/dev/null; ls / >/dev/null; sleep 0.05; done"]
        churn.standardOutput = FileHandle.nullDevice
        try churn.run()
        defer { kill(churn.processIdentifier, SIGKILL); churn.waitUntilExit() }

        var generator = SystemRandomNumberGenerator()
        var seen: Set<String> = []
        var kills = 0
        for _ in 0..<12 {
            let p = Process()
            p.executableURL = try vigilExecutable()
            p.arguments = ["learn", "--models", models, "--save-interval", "1", "--only", "/usr/bin/date", "--only", "/usr/bin/ls",
                           "--only", "/usr/bin/env", "--only", "/usr/bin/true", "--only", "/bin/ls"]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            Thread.sleep(forTimeInterval: Double.random(in: 1.2...3.2, using: &generator))
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            kills += p.terminationReason == .uncaughtSignal ? 1 : 0
            let (profiles, errors) = ProfileStore(directory: models).loadAll()
            #expect(errors.isEmpty, "a profile was torn: \(errors)")
            let ids = Set(profiles.map(\.id))
            #expect(seen.isSubset(of: ids), "a profile saved before was lost: \(seen.subtracting(ids))")
            seen.formUnion(ids)
            let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: models))?.filter { !$0.hasSuffix(".json") } ?? []
            #expect(leftovers.allSatisfy { $0.hasPrefix(".") }, "only profiles (and hidden temporary files) in the directory: \(leftovers)")
        }
        #expect(kills == 12, "every run died by SIGKILL, mid-work")
        #expect(!seen.isEmpty, "something was learned and saved between the kills")
        // And learning carries on from what the directory holds.
        let r = try runVigil(["learn", "--models", models, "--duration", "3", "--save-interval", "1", "--only", "/usr/bin/date"])
        #expect(r.status == 0, "\(r.err)")
        #expect(ProfileStore(directory: models).loadAll().errors.isEmpty)
        let temporary = (try? FileManager.default.contentsOfDirectory(atPath: models))?.filter { $0.contains(".tmp-") } ?? []
        #expect(temporary.isEmpty, "the interrupted saves' temporary files were swept: \(temporary)")
    }
}

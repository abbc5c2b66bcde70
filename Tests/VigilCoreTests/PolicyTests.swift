import Foundation
import Testing
import VigilCore

@Suite struct PolicyTests {
    static let examplePath = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Models/policy.example.yaml").path

    @Test func exampleFileIsTheDefaultPolicy() throws {
        let text = try String(contentsOfFile: Self.examplePath, encoding: .utf8)
        #expect(try Policy.load(yaml: text, file: "policy.example.yaml") == Policy.standard)
        #expect(try Policy.load(yaml: "", file: "empty.yaml") == Policy.standard)
    }

    @Test func capsExemptionsAndOverridesParse() throws {
        let yaml = """
        half-life-seconds: 120
        bands: { alert: 10, kill: 95 }
        caps:
          usr-sbin-postgres: suspend
        exempt:
          profiles: [usr-sbin-sshd]
          executables: [/usr/local/bin/backup]
        weights:
          new-exec: 30
        danger:
          ptrace: 60
        unknown: { report: false, cap: deny-network }
        sequence: { window-seconds: 0.5, frame-calls: 10 }
        """
        let p = try Policy.load(yaml: yaml, file: "p.yaml")
        #expect(p.halfLifeSeconds == 120)
        #expect(p.bands == [.alert: 10, .denyNetwork: 50, .suspend: 75, .kill: 95])
        #expect(p.caps == ["usr-sbin-postgres": .suspend])
        #expect(p.cap(profile: "usr-sbin-postgres", executable: "/usr/sbin/postgres") == .suspend)
        #expect(p.cap(profile: "usr-sbin-sshd", executable: "/usr/sbin/sshd") == .alert)
        #expect(p.cap(profile: "x", executable: "/usr/local/bin/backup") == .alert)
        #expect(p.cap(profile: "x", executable: "/usr/bin/x") == .kill)
        #expect(p.cap(profile: nil, executable: "/tmp/x") == .denyNetwork)
        #expect(p.weight(.newExec) == 30 && p.weight(.newUser) == 20)
        #expect(p.danger["ptrace"] == 60 && p.danger["bpf"] == 30)
        #expect(!p.reportUnknown)
        #expect(p.sequenceWindowSeconds == 0.5 && p.sequenceFrameCalls == 10)
    }

    private func error(_ yaml: String) -> PolicyError? {
        do { _ = try Policy.load(yaml: yaml, file: "policy.yaml"); return nil } catch { return error }
    }

    @Test func unknownKeyNamesLineColumnAndTheChoices() throws {
        let e = try #require(error("hysteresis: 5\nbands:\n  alert: 20\n  warn: 30\n"))
        #expect(e.line == 4 && e.column == 3)
        #expect(e.description.hasPrefix("policy.yaml:4:3: unknown key 'warn' in bands; expected one of: alert, deny-network, suspend, kill"))
        let top = try #require(error("half-life: 300\n"))
        #expect(top.line == 1 && top.column == 1)
    }

    @Test func badValuesNameLineColumnAndWhatWasExpected() throws {
        let e = try #require(error("hysteresis: 5\nhalf-life-seconds: soon\n"))
        #expect(e.line == 2 && e.column == 20)
        #expect(e.message.contains("expected a number greater than 0"))
        let neg = try #require(error("bands:\n  alert: 120\n"))
        #expect((neg.line, neg.column) == (2, 10))
        #expect(neg.message.contains("from 0 to 100"))
        let rung = try #require(error("caps:\n  usr-sbin-postgres: pause\n"))
        #expect((rung.line, rung.column) == (2, 22))
        #expect(rung.message.contains("expected one of none, alert, deny-network, suspend, kill"))
        let kind = try #require(error("ignore:\n  a: [new-exec, new-thing]\n"))
        #expect((kind.line, kind.column) == (2, 17))
        let sys = try #require(error("danger:\n  ptrac: 40\n"))
        #expect((sys.line, sys.column) == (2, 3))
        let quoted = try #require(error("hysteresis: \"5\"\n"))
        #expect(quoted.line == 1)
    }

    @Test func bandsOutOfOrderPointAtTheOffendingBand() throws {
        let e = try #require(error("bands:\n  alert: 20\n  deny-network: 80\n  suspend: 75\n"))
        #expect((e.line, e.column) == (4, 12))
        #expect(e.message.contains("bands out of order: suspend (75) must be above deny-network (80)"))
        // Against a default left in place, too.
        let d = try #require(error("bands:\n  kill: 60\n"))
        #expect(d.line == 2 && d.message.contains("kill (60) must be above suspend (75)"))
    }

    @Test func malformedYamlHasAPosition() throws {
        let e = try #require(error("bands:\n  alert: [20\n"))
        #expect(e.line >= 2)
        #expect(e.message.hasPrefix("malformed YAML"))
    }
}

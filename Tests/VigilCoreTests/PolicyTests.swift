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

@Suite struct PolicyContextTests {
    static let yaml = """
        workloads:
          web:
            cap: suspend
            exec-guard: false
            statistical-cap: alert
            bands: {deny-network: 40}
            weights: {new-connect: 35}
        rules:
          - name: exfil
            when:
              workload: web
              user: [www-data, "33"]
              risk-at-least: 50
              new-destination-outside: [10.0.0.0/8, "2001:db8::/32"]
              stable: true
            then: deny-network
          - when: {deviation: [new-exec, new-listen], parent: /usr/sbin/nginx}
            then: suspend
        """

    @Test func workloadBlocksAndRulesLoad() throws {
        let p = try Policy.load(yaml: Self.yaml, file: "p.yaml")
        let w = try #require(p.workloads["web"])
        #expect(w.cap == .suspend && w.execGuard == false && w.statisticalCap == .alert)
        #expect(w.bands == [.denyNetwork: 40] && w.weights == [.newDestination: 35])
        #expect(p.rules.count == 2)
        #expect(p.rules[0].name == "exfil" && p.rules[0].users == ["www-data", "33"] && p.rules[0].then == .denyNetwork)
        #expect(p.rules[1].name == "rules[1]" && p.rules[1].deviations == [.newExec, .newListen] && p.rules[1].parents == ["/usr/sbin/nginx"])
        let web = p.applying(workload: "web")
        #expect(web.threshold(.denyNetwork) == 40 && web.threshold(.alert) == 20, "merged over the policy's bands")
        #expect(web.cap(profile: "any", executable: nil) == .suspend)
        #expect(web.statisticalCap == .alert)
        #expect(p.applying(workload: "db") == p, "a workload with no block gets the policy itself")
    }

    @Test(arguments: [
        ("rules:\n  - when: {workload: web}\n", "p.yaml:2:5", "missing then"),
        ("rules:\n  - then: kill\n", "p.yaml:2:5", "missing when"),
        ("rules:\n  - when: {}\n    then: kill\n", "p.yaml:2:11", "at least one condition"),
        ("rules:\n  - when: {colour: red}\n    then: kill\n", "p.yaml:2:12", "unknown key 'colour'"),
        ("rules:\n  - when: {new-destination-outside: [10.0.0.0/33]}\n    then: kill\n", "p.yaml:2:38", "expected a network"),
        ("rules:\n  - when: {parent: nginx}\n    then: kill\n", "p.yaml:2:20", "absolute path"),
        ("rules:\n  - when: {workload: web}\n    then: obliterate\n", "p.yaml:3:11", "expected one of none, alert"),
        ("workloads:\n  web:\n    bands: {deny-network: 10}\n", "p.yaml:3:27", "out of order"),
        ("workloads:\n  web:\n    guard: true\n", "p.yaml:3:5", "unknown key 'guard'"),
    ])
    func badRulesAreNamedWithLineAndColumn(yaml: String, at: String, says: String) throws {
        do {
            _ = try Policy.load(yaml: yaml, file: "p.yaml")
            Issue.record("accepted: \(yaml)")
        } catch {
            #expect(error.description.hasPrefix(at), "\(error.description)")
            #expect(error.description.contains(says), "\(error.description)")
        }
    }

    static func context(user: String?, uid: UInt32, risk: Double, to address: String) -> ContextRule.Context {
        let d = NetworkDestination(transport: .tcp, address: address, port: 443)
        var dev = Deviation(kind: .newDestination, pid: 1, profile: "p", observed: d.description, expected: [], score: 20, scoring: "", timeNanos: 0)
        dev.destination = d
        return .init(workload: "web", uid: uid, user: user, executable: "/usr/sbin/nginx", parent: "/usr/lib/systemd/systemd",
                     risk: risk, deviations: [dev], stable: true)
    }

    @Test func aRuleMatchesOnlyWhenEveryConditionHolds() throws {
        let p = try Policy.load(yaml: Self.yaml, file: "p.yaml")
        let exfil = p.rules[0]
        #expect(exfil.matches(Self.context(user: "www-data", uid: 33, risk: 55, to: "203.0.113.7")))
        #expect(exfil.matches(Self.context(user: nil, uid: 33, risk: 55, to: "203.0.113.7")), "the uid matches too")
        #expect(!exfil.matches(Self.context(user: "root", uid: 0, risk: 55, to: "203.0.113.7")), "another user")
        #expect(!exfil.matches(Self.context(user: "www-data", uid: 33, risk: 49, to: "203.0.113.7")), "risk below")
        #expect(!exfil.matches(Self.context(user: "www-data", uid: 33, risk: 55, to: "10.20.30.40")), "inside the network")
        #expect(!exfil.matches(Self.context(user: "www-data", uid: 33, risk: 55, to: "2001:db8::1")), "inside the IPv6 network")
        #expect(exfil.matches(Self.context(user: "www-data", uid: 33, risk: 55, to: "2001:db9::1")))
        var noDestination = Self.context(user: "www-data", uid: 33, risk: 55, to: "203.0.113.7")
        noDestination.deviations[0].destination = nil
        #expect(!exfil.matches(noDestination), "a destination condition needs a new destination")
        #expect(p.rule(for: Self.context(user: "root", uid: 0, risk: 99, to: "203.0.113.7")) == nil)
    }

    @Test func aWorkloadReweighsTheDetectorsDeviations() throws {
        let p = try Policy.load(yaml: Self.yaml, file: "p.yaml")
        let web = p.applying(workload: "web")
        let d = Deviation(kind: .newDestination, pid: 1, profile: "p", observed: "", expected: [], score: 20, scoring: "weight 20", timeNanos: 0)
        #expect(web.reweigh(d, from: p).score == 35)
        let s = Deviation(kind: .newSyscall, pid: 1, profile: "p", observed: "ptrace", expected: [], score: 50, scoring: "", timeNanos: 0)
        #expect(web.reweigh(s, from: p).score == 50, "weights the workload leaves alone stay")
    }
}

@Suite struct SegmentationPolicyTests {
    @Test func segmentAllowAndWorkloadSegmentLoad() throws {
        let p = try Policy.load(yaml: "segment-allow: [udp 127.0.0.53 port 53, tcp 10.0.0.0/8 port 443]\nworkloads:\n  web: {segment: true}\n", file: "p.yaml")
        #expect(p.segmentAllow == [NetworkDestination(transport: .udp, address: "127.0.0.53", port: 53),
                                   NetworkDestination(transport: .tcp, address: "10.0.0.0/8", port: 443)])
        #expect(p.workloads["web"]?.segment == true)
        do {
            _ = try Policy.load(yaml: "segment-allow: [dns 1.1.1.1]\n", file: "p.yaml")
            Issue.record("accepted a bad destination")
        } catch {
            #expect(error.description.hasPrefix("p.yaml:1:17: segment-allow: expected TRANSPORT ADDRESS port PORT"), "\(error.description)")
        }
    }

    @Test func destinationsBecomeKernelPrefixes() throws {
        let one = try #require(NetworkDestination(transport: .tcp, address: "10.1.2.3", port: 80).addressPrefix)
        #expect(one.family == 2 && one.bytes == [10, 1, 2, 3] && one.bits == 32)
        let net = try #require(NetworkDestination(transport: .tcp, address: "10.1.0.0/16", port: 80).addressPrefix)
        #expect(net.bits == 16)
        let v6 = try #require(NetworkDestination(transport: .udp, address: "2001:db8::1", port: 53).addressPrefix)
        #expect(v6.family == 10 && v6.bytes.count == 16 && v6.bytes[0] == 0x20 && v6.bytes[15] == 1 && v6.bits == 128)
        #expect(NetworkDestination(transport: .unix, address: "/run/x.sock", port: 0).addressPrefix == nil)
        #expect(NetworkDestination(transport: .tcp, address: "10.0.0.0/40", port: 1).addressPrefix == nil)
    }
}

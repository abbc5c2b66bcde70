import Testing
import VigilCore

@Suite struct ExecutableSelectorTests {
    // A host where /usr/bin/redis-server -> redis-check-rdb and /usr/bin/python3 -> python3.11.
    let fs: [String: String] = [
        "/usr/bin/redis-server": "/usr/bin/redis-check-rdb", "/usr/bin/redis-check-rdb": "/usr/bin/redis-check-rdb",
        "/usr/bin/python3": "/usr/bin/python3.11", "/usr/bin/python3.11": "/usr/bin/python3.11",
    ]
    let server = ProfileIdentity(executable: "/usr/bin/redis-check-rdb", name: "redis-server")
    let checker = ProfileIdentity(executable: "/usr/bin/redis-check-rdb")

    @Test func theSymlinkSelectsItsNameAndTheTargetSelectsEveryName() {
        let bySymlink = ExecutableSelector(paths: ["/usr/bin/redis-server"], resolve: { fs[$0] })
        #expect(bySymlink.matches(server))
        #expect(!bySymlink.matches(checker))
        #expect(bySymlink.warnings.count == 1)
        #expect(bySymlink.warnings[0].contains("resolves to /usr/bin/redis-check-rdb"))
        #expect(bySymlink.warnings[0].contains(server.id))
        let byTarget = ExecutableSelector(paths: ["/usr/bin/redis-check-rdb"], resolve: { fs[$0] })
        #expect(byTarget.matches(server) && byTarget.matches(checker))
        #expect(byTarget.warnings.isEmpty)
        #expect(byTarget.unmatchedWarnings().isEmpty)
    }

    @Test func interpretersMatchTheirScriptsByEitherPath() {
        let s = ExecutableSelector(paths: ["/usr/bin/python3"], resolve: { fs[$0] })
        #expect(s.matches(ProfileIdentity(executable: "/usr/bin/python3.11", kind: .script, target: "/opt/a.py")))
    }

    @Test func missingAndUnmatchedPathsAreWarnedAbout() {
        let s = ExecutableSelector(paths: ["/nope/svc", "/usr/bin/redis-server"], resolve: { fs[$0] })
        #expect(s.warnings.contains { $0.contains("/nope/svc") && $0.contains("no such file") })
        #expect(!s.matches(checker))
        let left = s.unmatchedWarnings()
        #expect(left.count == 2)
        #expect(left.contains { $0.contains("/usr/bin/redis-server matched no process") && $0.contains("resolves to /usr/bin/redis-check-rdb") })
        // A path that does not exist still matches a process started by exactly that path.
        #expect(s.matches(ProcessRecord(pid: 9, ppid: 1, path: "/tmp/deleted-target", invokedPath: "/nope/svc", argv: ["svc"], comm: "svc")))
        #expect(s.unmatchedWarnings().count == 1)
    }

    @Test func profilesMatchByTheirInvokedPaths() {
        var p = Profile(identity: ProfileIdentity(executable: "/opt/real/bin"))
        p.invokedAs["/opt/link/bin"] = Sighting(host: "h", at: 1)
        #expect(ExecutableSelector(paths: ["/opt/link/bin"], resolve: { _ in nil }).selects(p))
        #expect(ExecutableSelector(paths: [], resolve: { _ in nil }).selects(p))
    }
}

@Suite struct ProfileUpgradeTests {
    let fs: [String: String] = [
        "/usr/bin/redis-server": "/usr/bin/redis-check-rdb", "/usr/bin/redis-check-rdb": "/usr/bin/redis-check-rdb",
        "/bin/sh": "/usr/bin/dash", "/usr/sbin/nginx": "/usr/sbin/nginx", "/bin/foo": "/usr/bin/foo",
    ]

    func profile(_ i: ProfileIdentity) -> Profile {
        var p = Profile(identity: i)
        p.binaries[String(repeating: "a", count: 64)] = Sighting(host: "h", at: 5)
        return p
    }

    @Test func symlinkKeyedProfilesAreRenamedAndTheRestRewritten() {
        let steps = ProfileUpgrade.plan([
            (profile(ProfileIdentity(executable: "/usr/bin/redis-server")), 1),
            (profile(ProfileIdentity(executable: "/bin/sh", kind: .script, target: "/opt/x.sh")), 1),
            (profile(ProfileIdentity(executable: "/usr/sbin/nginx")), 1),
            (profile(ProfileIdentity(executable: "/bin/foo")), 2),
            (profile(ProfileIdentity(executable: "/gone/tool")), 1),
            (profile(ProfileIdentity(executable: "/usr/sbin/nginx", kind: .command)), 2),
        ], resolve: { fs[$0] })
        let byID = Dictionary(uniqueKeysWithValues: steps.map { ($0.id, $0) })
        let redis = steps.first { $0.id.hasPrefix("usr-bin-redis-server~") }!
        #expect(redis.action == .rename(to: ProfileIdentity(executable: "/usr/bin/redis-check-rdb", name: "redis-server")))
        #expect(redis.result?.invokedAs.keys.sorted() == ["/usr/bin/redis-server"])
        #expect(byID["bin-sh--opt-x.sh"]?.action == .rename(to: ProfileIdentity(executable: "/usr/bin/dash", kind: .script, target: "/opt/x.sh")))
        #expect(byID["usr-sbin-nginx"]?.action == .rewrite)
        #expect(byID["bin-foo"]?.action == .rename(to: ProfileIdentity(executable: "/usr/bin/foo")))
        #expect(byID["gone-tool"]?.action == .rewrite)
        #expect(byID["gone-tool"]?.note?.contains("does not exist on this host") == true)
        #expect(byID["usr-sbin-nginx--command"]?.action == .current)
    }

    @Test func conflictsAreRefused() {
        let steps = ProfileUpgrade.plan([
            (profile(ProfileIdentity(executable: "/bin/foo")), 1),
            (profile(ProfileIdentity(executable: "/usr/bin/foo")), 2),
        ], resolve: { fs[$0] ?? ($0 == "/usr/bin/foo" ? $0 : nil) })
        let foo = steps.first { $0.id == "bin-foo" }!
        guard case .conflict(let reason) = foo.action else { Issue.record("expected a conflict, got \(foo.action)"); return }
        #expect(reason.contains("usr-bin-foo") && reason.contains("merge"))
        #expect(foo.result == nil)
    }
}

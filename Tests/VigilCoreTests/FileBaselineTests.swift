import Testing
import VigilCore

private typealias S = DetectSupport

private func file(_ pid: Int32, _ op: Event.FileAccess.Operation, _ path: String, at t: UInt64) -> Event {
    S.ev(pid, .file(.init(operation: op, path: path)), at: t)
}

/// A redis-like store: saves through a temp file, appends and rotates its log, maps its
/// libraries, and keeps per-day subdirectories of a spool.
private func storeEvents() -> [Event] {
    var t = 0.0
    func next() -> UInt64 { t += 0.1; return S.at(t) }
    var e: [Event] = [S.exec(200, ppid: 1, "/usr/bin/redis-server", at: next())]
    e.append(file(200, .mapExec, "/usr/lib/x86_64-linux-gnu/libc.so.6", at: next()))
    for i in 0..<5 {
        e.append(file(200, .write, "/var/lib/redis/temp-\(4700 + i).rdb", at: next()))
        e.append(file(200, .write, "/var/log/redis/redis-server.log", at: next()))
        e.append(file(200, .write, "/var/log/redis/redis-server.log.\(i + 1)", at: next()))
        e.append(file(200, .write, "/var/spool/store/2026-12-0\(i + 1)/part-\(i).dat", at: next()))
    }
    return e
}

private func learnedStore() -> Profile {
    let learner = Learner(hostID: "staging", profiles: [], now: S.t0, binaryHash: { S.hash($0) })
    var table = ProcessTable()
    for e in storeEvents() { learner.apply(e, process: table.apply(e), now: e.timeNanos) }
    return learner.profiles.values.first { $0.identity.executable == "/usr/bin/redis-server" }!
}

@Suite struct FileRulesTests {
    @Test func namesCollapseTheirDigitRunsSoTempFilesAndRotationsAreOneEntry() {
        #expect(FileRules.writeEntry("/var/lib/redis/dump-4711.rdb.tmp") == "/var/lib/redis/dump-*.rdb.tmp")
        #expect(FileRules.writeEntry("/var/log/app.log.12") == "/var/log/app.log.*")
        #expect(FileRules.writeEntry("/x") == "/x")
        #expect(FileRules.exactEntry("/proc/4242/mem") == "/proc/*/mem")
        #expect(FileRules.exactEntry("/usr/lib/libc.so.6") == "/usr/lib/libc.so.6")
    }

    @Test func globsMatchWithinOneComponentAndTheDefaultSetCoversShadowKeysAndProcMem() {
        #expect(FileRules.glob("/home/*/.ssh/*", matches: "/home/ann/.ssh/id_ed25519"))
        #expect(!FileRules.glob("/home/*/.ssh/*", matches: "/home/ann/x/.ssh/id_rsa"), "* does not cross '/'")
        #expect(FileRules.glob("/etc/ssh/ssh_host_*_key", matches: "/etc/ssh/ssh_host_ed25519_key"))
        #expect(!FileRules.glob("/etc/ssh/ssh_host_*_key", matches: "/etc/ssh/ssh_host_ed25519_key.pub"))
        #expect(FileRules.glob("/srv/**", matches: "/srv/a/b"))
        #expect(!FileRules.glob("/srv/**", matches: "/srv"))
        for p in ["/etc/shadow", "/etc/sudoers.d/90-cloud", "/proc/1/mem", "/root/.aws/credentials"] {
            #expect(FileRules.isSensitive(p), "\(p)")
        }
        #expect(!FileRules.isSensitive("/etc/passwd"))
        #expect(!FileRules.isSensitive("/proc/1/maps"))
    }

    @Test func theKernelFiltersByTheNamesOfFilesOrTheirDirectories() {
        let names = FileRules.kernelNames(FileRules.defaultSensitive)
        #expect(names.isSuperset(of: ["shadow", "gshadow", "sudoers", "sudoers.d", ".ssh", "ssh", "mem", "credentials", "config"]))
        #expect(FileRules.unfilterable(FileRules.defaultSensitive).isEmpty, "every default pattern is filterable")
        #expect(FileRules.unfilterable(["/*/x*"]) == ["/*/x*"])
        #expect(FileRules.validatePattern("etc/shadow") != nil)
        #expect(FileRules.validatePattern("/etc//shadow") != nil)
        #expect(FileRules.validatePattern("/etc/shadow") == nil)
    }

    @Test func theKernelsDirectoryKeyIsTheHashOfThePathBeforeItsLastSlash() {
        #expect(FileRules.directoryHash("/var/lib/redis/dump.rdb") == PathHash.hash("/var/lib/redis"))
        #expect(FileRules.directoryHash("/x") == PathHash.hash(""))
        #expect(FileRules.KernelKey.of(.mapExec, path: "/tmp/m.so").hash == PathHash.hash("/tmp/m.so"))
    }

    @Test func highRiskPlaces() {
        for d in ["/etc", "/etc/cron.d", "/root/.ssh", "/home/bob", "/var/spool/cron/crontabs", "/usr/lib/systemd/system", "/srv/x/.ssh"] {
            #expect(FileRules.isHighRiskWrite(directory: d), "\(d)")
        }
        for d in ["/var/lib/redis", "/tmp", "/var/log/nginx"] { #expect(!FileRules.isHighRiskWrite(directory: d), "\(d)") }
        #expect(FileRules.isWorldWritable(path: "/tmp/x/evil.so"))
        #expect(FileRules.isWorldWritable(path: "/dev/shm/evil.so"))
        #expect(!FileRules.isWorldWritable(path: "/usr/lib/evil.so"))
    }
}

@Suite struct FileLearningTests {
    @Test func theLearnerKeepsDirectoriesWithNamePatternsAndCollapsesSiblingsIntoAPrefix() {
        let p = learnedStore()
        #expect(p.writes.keys.contains("/var/lib/redis/temp-*.rdb"), "\(p.writes.keys.sorted())")
        #expect(p.writes.keys.contains("/var/log/redis/redis-server.log"))
        #expect(p.writes.keys.contains("/var/log/redis/redis-server.log.*"), "rotations are one entry")
        // Five day directories under /var/spool/store collapse into its prefix.
        #expect(p.writes.keys.contains("/var/spool/store/**"), "\(p.writes.keys.sorted())")
        #expect(!p.writes.keys.contains { $0.hasPrefix("/var/spool/store/2026") })
        #expect(p.writes["/var/spool/store/**"]?.count == 5, "the collapsed entry keeps the members' counts")
        #expect(p.maps.keys.sorted() == ["/usr/lib/x86_64-linux-gnu/libc.so.6"])
        #expect(p.sensitiveReads.isEmpty)
    }

    @Test func collapsingNeverReachesAHighRiskOrShallowDirectory() {
        var w: [String: Sighting] = [:]
        for d in ["a", "b", "c", "d"] {
            w["/etc/\(d)/x"] = Sighting(host: "h", at: 1)
            w["/\(d)/x"] = Sighting(host: "h", at: 1)
            w["/home/u/\(d)/x"] = Sighting(host: "h", at: 1)
        }
        Learner.collapseWrites(&w)
        #expect(w.count == 12, "nothing collapsed: \(w.keys.sorted())")
        w["/srv/data/a/x"] = Sighting(host: "h", at: 1)
        w["/srv/data/b/x"] = Sighting(host: "h", at: 1)
        w["/srv/data/c/x"] = Sighting(host: "h", at: 1)
        Learner.collapseWrites(&w)
        #expect(w["/srv/data/**"] == nil, "three siblings stay apart")
        w["/srv/data/d/x"] = Sighting(host: "h", at: 2)
        Learner.collapseWrites(&w)
        #expect(w["/srv/data/**"]?.count == 4)
    }

    @Test func aSensitiveReadIsLearnedOnlyForThePolicysSet() {
        let learner = Learner(hostID: "h", profiles: [], now: S.t0, binaryHash: { _ in nil })
        learner.sensitivePatterns = ["/etc/app/secret.key"]
        var table = ProcessTable()
        for e in [S.exec(5, ppid: 1, "/usr/bin/app", at: S.at(0.1)),
                  file(5, .readSensitive, "/etc/shadow", at: S.at(0.2)),
                  file(5, .readSensitive, "/etc/app/secret.key", at: S.at(0.3))] {
            learner.apply(e, process: table.apply(e), now: e.timeNanos)
        }
        #expect(learner.profiles.values.first?.sensitiveReads.keys.sorted() == ["/etc/app/secret.key"])
    }

    @Test func filesRoundTripThroughTheProfileFormatAndMergeAndDiff() throws {
        let p = learnedStore()
        let back = try ProfileCodec.decode(ProfileCodec.encode(p), file: "store.json")
        #expect(Set(back.writes.keys) == Set(p.writes.keys) && Set(back.maps.keys) == Set(p.maps.keys))
        #expect(back.writes["/var/spool/store/**"]?.count == 5)
        var other = p
        other.writes = ["/var/spool/store/2027-01-01/p.dat": Sighting(host: "prod", at: S.at(9))]
        other.maps["/usr/lib/x86_64-linux-gnu/libssl.so.3"] = Sighting(host: "prod", at: S.at(9))
        let merged = ProfileMerge.merge([p, other])
        #expect(merged.writes["/var/spool/store/**"] != nil, "a merged write under a collapsed prefix folds into it")
        #expect(merged.writes.keys.allSatisfy { !$0.hasPrefix("/var/spool/store/2027") })
        let diff = ProfileMerge.diff(p, merged)
        #expect(diff.first { $0.kind == "maps" }?.added == ["/usr/lib/x86_64-linux-gnu/libssl.so.3"])
        // A file without the optional fields (an older profile) loads with none.
        var bare = p
        bare.writes = [:]; bare.maps = [:]; bare.sensitiveReads = [:]
        let text = String(decoding: ProfileCodec.encode(bare), as: UTF8.self)
        #expect(!text.contains("\"writes\""))
        #expect(try ProfileCodec.decode(Array(text.utf8), file: "old.json").writes.isEmpty)
    }

    @Test func aRelativePathInAProfileIsRefusedNamingTheField() {
        let p = learnedStore()
        let text = String(decoding: ProfileCodec.encode(p), as: UTF8.self)
            .replacingOccurrences(of: "\"/usr/lib/x86_64-linux-gnu/libc.so.6\"", with: "\"libc.so.6\"")
        #expect(throws: ProfileLoadError.self) { try ProfileCodec.decode(Array(text.utf8), file: "bad.json") }
        do { _ = try ProfileCodec.decode(Array(text.utf8), file: "bad.json") } catch {
            #expect("\(error)".contains("maps") && "\(error)".contains("absolute"), "\(error)")
        }
    }
}

@Suite struct FileDetectionTests {
    private func judge(_ events: [Event], policy: Policy = .standard) -> [Deviation] {
        let d = Detector(profiles: [learnedStore()], policy: policy)
        return S.replay([S.exec(300, ppid: 1, "/usr/bin/redis-server", at: S.at(20))] + events, into: d)
    }

    @Test func normalWritesTempFilesRotationsAndCollapsedPrefixesRaiseNothing() {
        let out = judge([
            file(300, .write, "/var/lib/redis/temp-99999.rdb", at: S.at(21)),
            file(300, .write, "/var/lib/redis/dump.rdb", at: S.at(21)),
            file(300, .write, "/var/log/redis/redis-server.log.7", at: S.at(21)),
            file(300, .write, "/var/spool/store/2027-02-02/part-1.dat", at: S.at(21)),
            file(300, .mapExec, "/usr/lib/x86_64-linux-gnu/libc.so.6", at: S.at(21)),
            file(300, .readSensitive, "/etc/hostname", at: S.at(21)),
        ])
        #expect(out.isEmpty, "\(out)")
    }

    @Test func aWriteElsewhereNamesThePathAndTheNearestPrefixAndIsConcreteInSSH() throws {
        let out = judge([
            file(300, .write, "/var/lib/other/x.dat", at: S.at(21)),
            file(300, .write, "/root/.ssh/authorized_keys", at: S.at(22)),
        ])
        let plain = try #require(out.first { $0.filePath == "/var/lib/other/x.dat" })
        #expect(plain.kind == .newWritePath)
        #expect(plain.nearestPrefix == "/var/lib/redis/")
        #expect(plain.expected.first == "nearest learned: /var/lib/redis/")
        #expect(!plain.highRisk && Policy.standard.isStatistical(plain), "an ordinary new directory is statistical")
        #expect(plain.score == 20)
        let ssh = try #require(out.first { $0.filePath == "/root/.ssh/authorized_keys" })
        #expect(ssh.highRisk && !Policy.standard.isStatistical(ssh), "a write into ~/.ssh is concrete")
        #expect(ssh.score == 60 && ssh.scoring.contains("high-risk"))
    }

    @Test func namedCallsAreWritesAndAChmodExecOutsideTheLearnedWritesIsConcrete() throws {
        func named(_ via: Event.FileAccess.Via, _ path: String) -> Event {
            S.ev(300, .file(.init(operation: .write, path: path, via: via)), at: S.at(21))
        }
        let out = judge([
            named(.rename, "/var/lib/redis/dump.rdb"),          // its own save: nothing
            named(.unlink, "/var/lib/redis/temp-4242.rdb"),
            named(.chmodExec, "/var/lib/redis/dump.rdb"),       // where it writes: nothing
            named(.rename, "/srv/www/shell.php"),
            named(.link, "/srv/www/copy.php"),
            named(.unlink, "/var/spool/cron/old"),
            named(.chmodExec, "/opt/app/bin/tool"),
        ])
        #expect(out.count == 4, "\(out.map(\.observed))")
        let rename = try #require(out.first { $0.filePath == "/srv/www/shell.php" })
        #expect(rename.kind == .newWritePath && rename.observed == "/srv/www/shell.php (rename target)")
        #expect(Policy.standard.isStatistical(rename), "a rename into an ordinary new directory is statistical, as a write is")
        #expect(out.contains { $0.observed == "/srv/www/copy.php (link)" })
        let cron = try #require(out.first { $0.filePath == "/var/spool/cron/old" })
        #expect(cron.observed.hasSuffix("(unlink)") && cron.highRisk, "an unlink in a cron directory is a write there")
        let chmod = try #require(out.first { $0.filePath == "/opt/app/bin/tool" })
        #expect(chmod.observed == "/opt/app/bin/tool (chmod +x)")
        #expect(chmod.highRisk && !Policy.standard.isStatistical(chmod), "chmod +x outside the learned writes is concrete")
        #expect(chmod.score == 60 && chmod.scoring.contains("high-risk"))
    }

    @Test func pathsAsNamedAreFoldedByTextNeverAboveTheRoot() {
        #expect(FileRules.lexicallyNormalized("/a/./b//c/../d") == "/a/b/d")
        #expect(FileRules.lexicallyNormalized("/../../x") == "/x")
        #expect(FileRules.lexicallyNormalized("/a/b/..") == "/a")
        #expect(FileRules.lexicallyNormalized("/") == "/")
    }

    @Test func codeFromATempDirectoryIsConcreteAndANewSystemLibraryIsNot() throws {
        let out = judge([
            file(300, .mapExec, "/tmp/exp/evil.so", at: S.at(21)),
            file(300, .mapExec, "/usr/lib/x86_64-linux-gnu/libssl.so.3", at: S.at(21)),
        ])
        let evil = try #require(out.first { $0.filePath == "/tmp/exp/evil.so" })
        #expect(evil.kind == .newCodeMapping && evil.highRisk && !Policy.standard.isStatistical(evil))
        let lib = try #require(out.first { $0.filePath == "/usr/lib/x86_64-linux-gnu/libssl.so.3" })
        #expect(!lib.highRisk && Policy.standard.isStatistical(lib))
        #expect(lib.nearestPrefix == "/usr/lib/x86_64-linux-gnu/")
    }

    @Test func aSensitiveReadIsReportedOncePerProcessWithItsOwnWeight() throws {
        var policy = Policy.standard
        policy.weights[.sensitiveRead] = 70
        let out = judge([
            file(300, .readSensitive, "/etc/shadow", at: S.at(21)),
            file(300, .readSensitive, "/etc/shadow", at: S.at(22)),
        ], policy: policy)
        #expect(out.count == 1)
        let d = try #require(out.first)
        #expect(d.kind == .sensitiveRead && d.observed == "/etc/shadow" && d.score == 70)
        #expect(!policy.isStatistical(d))
    }

    @Test func thePolicyNamesTheSensitiveSetInYAMLAndRefusesARelativePattern() throws {
        let p = try Policy.load(yaml: "sensitive-files: [/etc/app/secret.key]\nweights: {sensitive-read: 80, new-write-path: 5}\n", file: "p.yaml")
        #expect(p.sensitiveFiles == ["/etc/app/secret.key"])
        #expect(p.weight(.sensitiveRead) == 80 && p.weight(.newWritePath) == 5)
        #expect(throws: (any Error).self) { try Policy.load(yaml: "sensitive-files: [etc/shadow]\n", file: "p.yaml") }
        let out = judge([file(300, .readSensitive, "/etc/shadow", at: S.at(21))], policy: p)
        #expect(out.isEmpty, "/etc/shadow is not in this policy's set")
    }
}

import Testing
import VigilCore

@Suite struct ProfileIdentityTests {
    func id(_ path: String, _ argv: [String]) -> ProfileIdentity { ProfileIdentity.resolve(path: path, argv: argv) }

    @Test func nativeProgramsAreTheirPath() {
        let i = id("/usr/sbin/nginx", ["nginx", "-g", "daemon off;"])
        #expect(i.kind == .binary)
        #expect(i.target == nil)
        #expect(i.id == "usr-sbin-nginx")
    }

    @Test func pythonScriptsAndModulesGetTheirOwnIdentity() {
        let a = id("/usr/bin/python3.11", ["python3", "-u", "-W", "ignore", "/opt/app/server.py", "--port", "80"])
        #expect(a.kind == .script)
        #expect(a.target == "/opt/app/server.py")
        #expect(a.id == "usr-bin-python3.11--opt-app-server.py")
        let b = id("/usr/bin/python3.11", ["python3", "-m", "http.server", "8000"])
        #expect(b.kind == .module)
        #expect(b.target == "http.server")
        #expect(b.id == "usr-bin-python3.11--module.http.server")
        let c = id("/usr/bin/python3.11", ["python3", "-c", "print(1)"])
        #expect(c.kind == .command)
        #expect(Set([a.id, b.id, c.id, id("/usr/bin/python3.11", ["python3"]).id]).count == 4)
    }

    @Test func javaJarsAndMainClasses() {
        let j = id("/usr/lib/jvm/bin/java", ["java", "-Xmx1g", "-Dx=y", "-jar", "/srv/app.jar", "run"])
        #expect(j.kind == .jar)
        #expect(j.target == "/srv/app.jar")
        let c = id("/usr/lib/jvm/bin/java", ["java", "-cp", "lib/*", "com.example.Main"])
        #expect(c.kind == .javaClass)
        #expect(c.target == "com.example.Main")
    }

    @Test func shellsNodeAndOthers() {
        #expect(id("/bin/sh", ["sh", "-c", "echo hi"]).kind == .command)
        #expect(id("/bin/bash", ["bash", "-ec", "echo hi"]).kind == .command)
        #expect(id("/bin/sh", ["sh", "-c", "echo hi"]).id == "bin-sh--command")
        let s = id("/bin/bash", ["bash", "-x", "/etc/init.d/backup.sh"])
        #expect(s.kind == .script)
        #expect(s.target == "/etc/init.d/backup.sh")
        let n = id("/usr/bin/node", ["node", "--max-old-space-size=512", "-r", "dotenv/config", "dist/index.js"])
        #expect(n.target == "dist/index.js")
        #expect(id("/usr/bin/perl", ["perl", "-w", "/usr/sbin/tool.pl"]).target == "/usr/sbin/tool.pl")
        #expect(id("/usr/bin/ruby3.1", ["ruby", "app.rb"]).target == "app.rb")
        #expect(id("/usr/bin/php8.2", ["php", "-f", "/var/www/cron.php"]).target == "/var/www/cron.php")
    }

    @Test func idsAreFilenameSafeAndDistinctWhenTheMappingIsLossy() {
        let a = id("/usr/lib/a-b", ["a-b"]).id
        let b = id("/usr/lib/a/b", ["b"]).id
        #expect(a != b)
        #expect(b == "usr-lib-a-b")
        #expect(a.hasPrefix("usr-lib-a-b~") && a.count == "usr-lib-a-b~".count + 8)
        let weird = id("/opt/my app/ü*", ["x"]).id
        #expect(weird.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._+-~@".contains($0)) })
        #expect(!id("/x", ["x"]).id.contains("/"))
    }
}

/// Identity rule 2: resolved executable plus invoked name (Models/README.md, "Profile identity").
@Suite struct IdentityRuleTests {
    @Test func aSymlinkOfAnotherNameKeepsItsNameApartFromTheTarget() {
        // Debian: /usr/bin/redis-server -> redis-check-rdb. At exec comm is the invoked base name.
        let viaExec = ProfileIdentity.of(executable: "/usr/bin/redis-check-rdb", argv: ["/usr/bin/redis-server", "/etc/redis.conf"], comm: "redis-server")
        #expect(viaExec.executable == "/usr/bin/redis-check-rdb")
        #expect(viaExec.name == "redis-server")
        #expect(viaExec.id.hasPrefix("usr-bin-redis-check-rdb@redis-server~"))
        // Found running after it rewrote its title (argv[0] "… 127.0.0.1:6379"): the same identity.
        let running = ProfileIdentity.of(executable: "/usr/bin/redis-check-rdb", argv: ["/usr/bin/redis-server 127.0.0.1:6379", "", ""], comm: "redis-server")
        #expect(running == viaExec)
        let plain = ProfileIdentity.of(executable: "/usr/bin/redis-check-rdb", argv: ["redis-check-rdb", "dump.rdb"], comm: "redis-check-rdb")
        #expect(plain.name == nil)
        #expect(plain.id != viaExec.id)
    }

    @Test func aSymlinkOfTheSameNameIsTheTarget() {
        // usrmerge: /bin/foo -> /usr/bin/foo; the sensor resolved the path, the name agrees.
        let a = ProfileIdentity.of(executable: "/usr/bin/foo", argv: ["/bin/foo"], comm: "foo")
        #expect(a == ProfileIdentity(executable: "/usr/bin/foo"))
        #expect(a.id == "usr-bin-foo")
    }

    @Test func hardLinksAreDistinctPaths() {
        // realpath leaves hard links apart; each link is its own executable path.
        let a = ProfileIdentity.of(executable: "/opt/x/sleep-a", argv: ["/opt/x/sleep-a"], comm: "sleep-a")
        let b = ProfileIdentity.of(executable: "/opt/x/sleep-b", argv: ["/opt/x/sleep-b"], comm: "sleep-b")
        #expect(a.name == nil && b.name == nil)
        #expect(a.id != b.id)
    }

    @Test func scriptsKeyOnTheResolvedInterpreterWithoutAName() {
        // `/opt/app/run.sh` with `#!/bin/sh` (-> dash): the kernel runs dash with argv
        // ["/bin/sh", "/opt/app/run.sh"] and sets comm to "run.sh".
        let s = ProfileIdentity.of(executable: "/usr/bin/dash", argv: ["/bin/sh", "/opt/app/run.sh"], comm: "run.sh")
        #expect(s == ProfileIdentity(executable: "/usr/bin/dash", kind: .script, target: "/opt/app/run.sh"))
        // python3 -> python3.11: one program, no name.
        let p = ProfileIdentity.of(executable: "/usr/bin/python3.11", argv: ["python3", "-m", "http.server"], comm: "python3")
        #expect(p == ProfileIdentity(executable: "/usr/bin/python3.11", kind: .module, target: "http.server"))
        // A multi-call binary recognised by its applet name keeps the name.
        let b = ProfileIdentity.of(executable: "/bin/busybox", argv: ["sh", "-c", "echo"], comm: "sh")
        #expect(b.kind == .command && b.name == "sh")
    }

    @Test func relativeAndLongNames() {
        // A relative exec (`./svc`) is made absolute by the sensor; comm is "svc".
        #expect(ProfileIdentity.of(executable: "/srv/svc", argv: ["./svc"], comm: "svc").name == nil)
        // comm holds 15 bytes; a longer name compares on its first 15, and argv[0] gives it whole.
        #expect(ProfileIdentity.of(executable: "/usr/lib/systemd/systemd-journald", argv: ["/usr/lib/systemd/systemd-journald"], comm: "systemd-journal").name == nil)
        let long = ProfileIdentity.of(executable: "/opt/bin/real", argv: ["/opt/bin/a-very-long-alias-name"], comm: "a-very-long-ali")
        #expect(long.name == "a-very-long-alias-name")
        // A renamed process (prctl) whose argv[0] still names the file keeps its identity; a login shell's "-bash" too.
        #expect(ProfileIdentity.of(executable: "/usr/bin/worker", argv: ["/usr/bin/worker"], comm: "worker-thread").name == nil)
        #expect(ProfileIdentity.of(executable: "/usr/bin/bash", argv: ["-bash"], comm: "bash").kind == .binary)
    }

    @Test func identitiesWithoutANameKeepTheirOldIds() {
        // Rule 2 adds "@name" only when there is a name: format-1 ids stay valid.
        #expect(ProfileIdentity(executable: "/usr/lib/a-b").id == ProfileIdentity.resolve(path: "/usr/lib/a-b", argv: ["a-b"]).id)
        #expect(ProfileIdentity(executable: "/usr/sbin/nginx", name: "x").id == "usr-sbin-nginx@x")
    }
}

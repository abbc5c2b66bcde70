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
        #expect(weird.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._+-~".contains($0)) })
        #expect(!id("/x", ["x"]).id.contains("/"))
    }
}

import Testing
import VigilCore

/// ``ProfileIdentity/execComm``: the kernel may name a profile's slot at exec from the file
/// and the comm only where the identity rule gives that profile whatever argv says.
@Suite struct ExecCommTests {
    /// Command lines a process of any program may have: its own name, another program's,
    /// an interpreter's, a login shell's dash, a rewritten title, options, nothing.
    static let argvs: [[String]] = [
        [], [""], ["svc"], ["/usr/local/bin/svc", "--port", "80"], ["other"], ["python3", "/opt/app.py"],
        ["sh", "-c", "echo hi"], ["-svc"], ["svc: worker process"], ["java", "-jar", "x.jar"], ["busybox"],
        ["node", "-e", "1"], ["./svc"], ["/usr/bin/perl", "-e", "print 1"],
    ]

    @Test func aNativeProgramsOwnIdentityHasItsBaseName() {
        #expect(ProfileIdentity(executable: "/usr/sbin/nginx").execComm == "nginx")
        #expect(ProfileIdentity(executable: "/opt/vigil-test/svc").execComm == "svc")
    }

    @Test func theRuleGivesThatIdentityWhateverTheCommandLineSays() {
        for path in ["/usr/sbin/nginx", "/opt/vigil-test/svc", "/srv/a-b_c.d", "/usr/bin/" + String(repeating: "x", count: 15), "/opt/ünï"] {
            let identity = ProfileIdentity(executable: path)
            guard let comm = identity.execComm else {
                Issue.record("\(path) has no exec comm")
                continue
            }
            for argv in Self.argvs {
                let got = ProfileIdentity.of(executable: path, argv: argv, comm: comm)
                #expect(got == identity, "\(path) run as \(argv) under comm \(comm): \(got)")
            }
        }
    }

    @Test func interpretersHaveNoneTheirIdentityDependsOnArgv() {
        for path in ["/usr/bin/python3", "/usr/bin/python3.11", "/bin/bash", "/usr/bin/sh", "/usr/bin/node", "/usr/bin/java",
                     "/usr/bin/perl5.36.0", "/usr/bin/ruby", "/usr/bin/php8.2", "/usr/bin/luajit"] {
            #expect(ProfileIdentity(executable: path).execComm == nil, "\(path)")
            // The reason: the same file under the same comm is another identity with a script.
            let base = ProfileIdentity.basename(path)
            #expect(ProfileIdentity.of(executable: path, argv: [base, "/opt/app/x"], comm: base) != ProfileIdentity(executable: path), "\(path)")
        }
    }

    @Test func namedAndNonBinaryIdentitiesHaveNone() {
        // A name: the same file and comm with argv[0] naming the file itself is unnamed.
        let named = ProfileIdentity(executable: "/usr/bin/redis-check-rdb", name: "redis-server")
        #expect(named.execComm == nil)
        #expect(ProfileIdentity.of(executable: "/usr/bin/redis-check-rdb", argv: ["redis-check-rdb"], comm: "redis-server") != named,
                "why a named identity is not published: argv[0] can undo the name")
        #expect(ProfileIdentity(executable: "/usr/bin/python3", kind: .script, target: "/opt/a.py").execComm == nil)
        #expect(ProfileIdentity(executable: "/usr/bin/python3", kind: .module, target: "http.server").execComm == nil)
        #expect(ProfileIdentity(executable: "/bin/sh", kind: .command).execComm == nil)
    }

    @Test func aBaseNameTheCommCutsHasNone() {
        let sixteen = "/usr/bin/" + String(repeating: "y", count: 16)
        #expect(ProfileIdentity(executable: sixteen).execComm == nil)
        // Fifteen bytes fit the comm uncut (TASK_COMM_LEN is 16 with the NUL).
        #expect(ProfileIdentity(executable: "/usr/bin/" + String(repeating: "y", count: 15)).execComm?.utf8.count == 15)
        // Bytes, not characters: eight two-byte characters are 16 bytes.
        #expect(ProfileIdentity(executable: "/usr/bin/" + String(repeating: "é", count: 8)).execComm == nil)
    }

    @Test func aRelativeOrEmptyExecutableHasNone() {
        #expect(ProfileIdentity(executable: "svc").execComm == nil)
        #expect(ProfileIdentity(executable: "").execComm == nil)
        #expect(ProfileIdentity(executable: "/").execComm == nil)
    }
}

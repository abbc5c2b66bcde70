import Foundation
import Testing
import VigilTestSupport
import VigilCore
@testable import VigilSensor

/// The sensor's half of the identity rule: what an exec's path leads to on disk.
@Suite struct ExecutablePathTests {
    /// A temp dir with a copy of sleep (`real-sleep`), a symlink of another name to it
    /// (`napper`), a symlink of the same name in a subdirectory, a hard link, and a script.
    final class Tree {
        let dir: String
        init() throws {
            let base = try makeTempDirectory("vigil-exe")
            try FileManager.default.createDirectory(atPath: base + "/sub", withIntermediateDirectories: true)
            dir = ExecutablePath.realpath(of: base)!
            try FileManager.default.copyItem(atPath: ExecutablePath.realpath(of: "/bin/sleep")!, toPath: dir + "/real-sleep")
            try FileManager.default.createSymbolicLink(atPath: dir + "/napper", withDestinationPath: "real-sleep")
            try FileManager.default.createSymbolicLink(atPath: dir + "/sub/real-sleep", withDestinationPath: "../real-sleep")
            try FileManager.default.linkItem(atPath: dir + "/real-sleep", toPath: dir + "/hard-sleep")
            try "#!/bin/sh\nsleep 30\n".write(toFile: dir + "/run.sh", atomically: false, encoding: .utf8)
            chmod(dir + "/run.sh", 0o755)
        }
        deinit { try? FileManager.default.removeItem(atPath: dir) }
    }

    func identity(_ fs: ExecutablePath, _ path: String, argv: [String], pid: Int32 = -1) -> ProfileIdentity {
        let r = fs.executable(execPath: path, pid: pid)
        let comm = String(decoding: ProfileIdentity.basename(path).utf8.prefix(15), as: UTF8.self)
        return ProfileIdentity.of(executable: r.executable, argv: argv, comm: comm)
    }

    @Test func symlinksHardLinksScriptsAndRelativePaths() throws {
        let t = try Tree()
        let fs = ExecutablePath.live
        let real = t.dir + "/real-sleep"
        // A symlink of another name: the target, run as the link's name.
        let viaLink = identity(fs, t.dir + "/napper", argv: [t.dir + "/napper", "5"])
        #expect(viaLink == ProfileIdentity(executable: real, name: "napper"))
        // A symlink of the same name (through a symlinked path): just the target.
        #expect(identity(fs, t.dir + "/sub/real-sleep", argv: ["real-sleep"]) == ProfileIdentity(executable: real))
        // A hard link stays its own path (realpath does not unify hard links).
        #expect(identity(fs, t.dir + "/hard-sleep", argv: ["hard-sleep"]) == ProfileIdentity(executable: t.dir + "/hard-sleep"))
        // A script: the kernel runs its interpreter, argv ["/bin/sh", script].
        let sh = try #require(ExecutablePath.realpath(of: "/bin/sh"))
        let script = identity(fs, t.dir + "/run.sh", argv: ["/bin/sh", t.dir + "/run.sh"])
        #expect(script.executable == sh)
        #expect(script.kind == .script && script.target == t.dir + "/run.sh" && script.name == nil)
        // Relative: against the process's working directory.
        let cwd = t.dir
        let rel = ExecutablePath(realpath: fs.realpath, head: fs.head, procLink: { _, name in name == "cwd" ? cwd : nil })
        let r = rel.executable(execPath: "./napper", pid: 1)
        #expect(r.invoked == t.dir + "/napper" && r.executable == real)
        // Spelled plainly, as the kernel's exec guard spells a script's path: "." and empty
        // components dropped, ".." kept.
        #expect(rel.executable(execPath: ".//sub/./real-sleep", pid: 1).invoked == t.dir + "/sub/real-sleep")
        #expect(rel.executable(execPath: "sub/../napper", pid: 1).invoked == t.dir + "/sub/../napper")
        #expect(fs.executable(execPath: t.dir + "//sub/./real-sleep", pid: -1) == (t.dir + "/sub/real-sleep", real))
        #expect(ExecutablePath.plain("/") == "/" && ExecutablePath.plain("/a/./b//c/") == "/a/b/c")
        // Gone from disk: /proc/PID/exe, else the path as given.
        let gone = ExecutablePath(realpath: { _ in nil }, head: { _ in nil }, procLink: { _, n in n == "exe" ? "/usr/bin/x (deleted)" : nil })
        #expect(gone.executable(execPath: "/usr/bin/x", pid: 1).executable == "/usr/bin/x")
        #expect(ExecutablePath(realpath: { _ in nil }, head: { _ in nil }, procLink: { _, _ in nil }).executable(execPath: "rel", pid: 1).executable == "rel")
    }

    @Test func shebangParsing() {
        #expect(ExecutablePath.shebangInterpreter(Array("#!/usr/bin/env python3\n".utf8)) == "/usr/bin/env")
        #expect(ExecutablePath.shebangInterpreter(Array("#! /bin/sh -e\n".utf8)) == "/bin/sh")
        #expect(ExecutablePath.shebangInterpreter(Array("\u{7f}ELF".utf8)) == nil)
    }

    /// A program started through a symlink, found running by ProcScanner, gets the identity
    /// its exec event would have given it.
    @Test func aRunningProcessGetsTheIdentityItsExecWouldHave() throws {
        let t = try Tree()
        let p = Process()
        // The shell execs the symlink as a service manager would: argv[0] is the path.
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "exec \(t.dir)/napper 30"]
        try p.run()
        defer { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() }
        var rec: ProcessRecord?
        for _ in 0..<500 {  // up to 10 s: a loaded machine can take seconds to finish the exec
            rec = ProcScanner.record(pid: p.processIdentifier, procRoot: "/proc", bootNanos: nil, ticksPerSecond: 100, nowNanos: 0)
            // Mid-exec, /proc can show the new executable with the shell's argv still: wait for both.
            if rec?.path == t.dir + "/real-sleep", rec?.argv.first == t.dir + "/napper" { break }
            usleep(20_000)
        }
        let r = try #require(rec)
        let fromExec = identity(.live, t.dir + "/napper", argv: [t.dir + "/napper", "30"])
        #expect(r.path == t.dir + "/real-sleep")
        #expect(r.invokedPath == t.dir + "/napper")
        #expect(r.identity == fromExec)
        #expect(r.identity.name == "napper")
    }
}

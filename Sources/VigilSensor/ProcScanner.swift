import Foundation
public import VigilCore

/// Reads the processes already running from /proc, to seed the process table with what
/// started before Vigil did.
public enum ProcScanner {
    /// One record per process in `procRoot`. Processes that vanish while being read, and
    /// kernel threads, are left out.
    public static func snapshot(procRoot: String = "/proc", nowNanos: UInt64) -> [ProcessRecord] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: procRoot) else { return [] }
        let bootNanos = bootTimeNanos(procRoot: procRoot)
        let ticks = UInt64(max(sysconf(Int32(_SC_CLK_TCK)), 1))
        var out: [ProcessRecord] = []
        for name in names {
            guard let pid = Int32(name), pid > 0 else { continue }
            if let r = record(pid: pid, procRoot: procRoot, bootNanos: bootNanos, ticksPerSecond: ticks, nowNanos: nowNanos) {
                out.append(r)
            }
        }
        return out
    }

    static func record(pid: Int32, procRoot: String, bootNanos: UInt64?, ticksPerSecond: UInt64, nowNanos: UInt64,
                       paths: ExecutablePath = .live) -> ProcessRecord? {
        let dir = "\(procRoot)/\(pid)"
        guard let stat = try? String(contentsOfFile: "\(dir)/stat", encoding: .utf8),
              let parsed = parseStat(stat) else { return nil }
        let cmdline = (try? Data(contentsOf: URL(fileURLWithPath: "\(dir)/cmdline"))) ?? Data()
        // Kernel threads have no command line and no executable.
        if cmdline.isEmpty, parsed.ppid == 2 || pid == 2 { return nil }
        var argv = cmdline.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        if argv.last == "" { argv.removeLast() }
        let path = (try? FileManager.default.destinationOfSymbolicLink(atPath: "\(dir)/exe")) ?? ""
        var uid: UInt32 = 0, euid: UInt32 = 0, gid: UInt32 = 0
        if let status = try? String(contentsOfFile: "\(dir)/status", encoding: .utf8) {
            for line in status.split(separator: "\n") {
                let f = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
                if f.first == "Uid:", f.count >= 3 { uid = UInt32(f[1]) ?? 0; euid = UInt32(f[2]) ?? 0 }
                if f.first == "Gid:", f.count >= 2 { gid = UInt32(f[1]) ?? 0 }
            }
        }
        var start = nowNanos
        if let boot = bootNanos { start = boot + parsed.startTicks * 1_000_000_000 / ticksPerSecond }
        // /proc/PID/exe is the file run, symlinks resolved: the identity's executable as an
        // exec event's is (ExecutablePath). An absolute argv[0] that leads to that file is
        // the path the process was most likely started by.
        let exe = ExecutablePath.stripDeleted(path)
        var invoked = ""
        if let a0 = argv.first, a0.hasPrefix("/"), a0 != exe, paths.realpath(a0) == exe { invoked = a0 }
        return ProcessRecord(pid: pid, ppid: parsed.ppid, uid: uid, euid: euid, gid: gid,
                             path: exe, invokedPath: invoked, argv: argv, comm: parsed.comm, startNanos: start, seeded: true)
    }

    /// Fields of /proc/PID/stat. The command name sits in parentheses and may itself hold
    /// spaces and parentheses, so the fields after it are found from the last ')'.
    static func parseStat(_ text: String) -> (comm: String, ppid: Int32, startTicks: UInt64)? {
        guard let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")") else { return nil }
        let comm = String(text[text.index(after: open)..<close])
        let rest = text[text.index(after: close)...].split(separator: " ")
        // rest[0] is the state (field 3); ppid is field 4, starttime field 22.
        guard rest.count > 19, let ppid = Int32(rest[1]), let start = UInt64(rest[19]) else { return nil }
        return (comm, ppid, start)
    }

    static func bootTimeNanos(procRoot: String) -> UInt64? {
        guard let stat = try? String(contentsOfFile: "\(procRoot)/stat", encoding: .utf8) else { return nil }
        for line in stat.split(separator: "\n") where line.hasPrefix("btime ") {
            return UInt64(line.dropFirst(6)).map { $0 * 1_000_000_000 }
        }
        return nil
    }
}

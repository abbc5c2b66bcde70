import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The agent's own resource use, as the `process_*` metrics of the Prometheus client
/// libraries name it, read from `/proc/self`: so the dashboards and alerts written for any
/// exporter (CPU, memory, descriptors near the limit, restarts by start time) work for Vigil.
///
/// A file that cannot be read (a restricted /proc, a hidepid mount) leaves its figures out
/// rather than reporting zeros, and says which file and why in ``problems``.
public struct ProcessSelfMetrics: Sendable, Equatable {
    /// User plus system CPU time, seconds.
    public var cpuSeconds: Double?
    public var residentBytes: Double?
    public var virtualBytes: Double?
    public var openFDs: Double?
    /// The soft limit on open descriptors (RLIMIT_NOFILE); +Inf when unlimited.
    public var maxFDs: Double?
    /// When the process started, seconds since the Unix epoch.
    public var startTimeSeconds: Double?
    /// What could not be read: the file and the reason.
    public var problems: [String] = []

    public init() {}

    /// Reads `PROC/PID/{stat,fd,limits}` and `PROC/stat` (boot time).
    public static func read(proc: String = "/proc", pid: String = "self") -> ProcessSelfMetrics {
        var m = ProcessSelfMetrics()
        let dir = proc + "/" + pid
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let page = Double(sysconf(Int32(_SC_PAGESIZE)))
        if let st = parsed(dir + "/stat", &m.problems, StatFields.parse, "unexpected format") {
            m.cpuSeconds = Double(st.utime + st.stime) / ticks
            m.virtualBytes = Double(st.vsize)
            m.residentBytes = Double(st.rssPages) * page
            if let boot = parsed(proc + "/stat", &m.problems, bootTime, "no btime line") {
                m.startTimeSeconds = Double(boot) + Double(st.startTicks) / ticks
            }
        }
        do {
            m.openFDs = Double(try FileManager.default.contentsOfDirectory(atPath: dir + "/fd").count)
        } catch {
            m.problems.append("\(dir)/fd: \(Self.reason(error))")
        }
        m.maxFDs = parsed(dir + "/limits", &m.problems, softOpenFiles, "no 'Max open files' line")
        return m
    }

    /// The samples that could be read, as metric families.
    public func families() -> [MetricFamily] {
        func family(_ name: String, _ help: String, _ kind: MetricFamily.Kind, _ value: Double?) -> MetricFamily? {
            value.map { MetricFamily(name: name, help: help, kind: kind, samples: [MetricSample(value: $0)]) }
        }
        return [
            family("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", .counter, cpuSeconds),
            family("process_resident_memory_bytes", "Resident memory size in bytes.", .gauge, residentBytes),
            family("process_virtual_memory_bytes", "Virtual memory size in bytes.", .gauge, virtualBytes),
            family("process_open_fds", "Number of open file descriptors.", .gauge, openFDs),
            family("process_max_fds", "Maximum number of open file descriptors.", .gauge, maxFDs),
            family("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", .gauge, startTimeSeconds),
        ].compactMap { $0 }
    }

    /// The fields of `/proc/PID/stat` these metrics use.
    struct StatFields: Equatable {
        var utime: UInt64, stime: UInt64, startTicks: UInt64, vsize: UInt64, rssPages: UInt64

        /// Fields count from after the command name's closing parenthesis (the name itself
        /// may hold spaces and parentheses): field 3, the state, is the first there.
        static func parse(_ text: String) -> StatFields? {
            guard let close = text.lastIndex(of: ")") else { return nil }
            let f = text[text.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
            func field(_ n: Int) -> UInt64? { n - 3 < f.count ? UInt64(f[n - 3].trimmingCharacters(in: .whitespacesAndNewlines)) : nil }
            guard let u = field(14), let s = field(15), let start = field(22), let vsize = field(23), let rss = field(24) else { return nil }
            return StatFields(utime: u, stime: s, startTicks: start, vsize: vsize, rssPages: rss)
        }
    }

    /// `btime` of `/proc/stat`: boot time, seconds since the epoch.
    static func bootTime(_ text: String) -> UInt64? {
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return UInt64(line.dropFirst(6).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }

    /// The soft limit of the `Max open files` line of `/proc/PID/limits`.
    static func softOpenFiles(_ text: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix("Max open files") {
            let rest = line.dropFirst("Max open files".count).split(separator: " ")
            guard let soft = rest.first else { return nil }
            return soft == "unlimited" ? .infinity : Double(soft)
        }
        return nil
    }

    /// `parse` of the file at `path`; nil, with the file and reason added to `problems`, when
    /// it cannot be read or does not parse (`unparsed` says how).
    private static func parsed<T>(_ path: String, _ problems: inout [String], _ parse: (String) -> T?, _ unparsed: String) -> T? {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            problems.append("\(path): \(reason(error))")
            return nil
        }
        guard let value = parse(text) else {
            problems.append("\(path): \(unparsed)")
            return nil
        }
        return value
    }

    private static func reason(_ error: any Error) -> String {
        if let e = error as? CocoaError, let posix = e.userInfo[NSUnderlyingErrorKey] as? POSIXError {
            return String(cString: strerror(posix.code.rawValue))
        }
        return (error as NSError).localizedDescription
    }
}

// `vigil-bench report FILE`: the Markdown tables of Benchmarks/overhead.sh, from the raw
// samples it wrote (one per line, tab-separated: section, configuration, metric, value).
//
//   meta   <key>     -          <text>        the machine, the command, load averages
//   main   <config>  <metric>   <number>      one sample of one repetition
//   na     <config>  -          <reason>      a configuration that could not run here
//   scale  <config>  <metric>   <number>      the scale runs (profiles, processes)
import Foundation

struct Samples {
    var order: [String] = []
    var values: [String: [String: [Double]]] = [:]

    mutating func add(_ config: String, _ metric: String, _ v: Double) {
        if values[config] == nil { order.append(config); values[config] = [:] }
        values[config]![metric, default: []].append(v)
    }

    func get(_ config: String, _ metric: String) -> [Double] { values[config]?[metric] ?? [] }
    func median(_ config: String, _ metric: String) -> Double? {
        let xs = get(config, metric)
        return xs.isEmpty ? nil : VigilBenchStats.median(xs)
    }
}

enum VigilBenchStats {
    static func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}

func fmt(_ v: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", v) }

func runReport() {
    let args = CommandLine.arguments
    guard args.count > 2, let text = try? String(contentsOfFile: args[2], encoding: .utf8) else {
        FileHandle.standardError.write(Data("usage: vigil-bench report RESULTS.tsv\n".utf8))
        exit(2)
    }
    var meta: [(String, String)] = []
    var main = Samples(), scale = Samples()
    var missing: [(String, String)] = []
    for line in text.split(separator: "\n") {
        let f = line.split(separator: "\t", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
        guard f.count == 4 else { continue }
        switch f[0] {
        case "meta": meta.append((f[1], f[3]))
        case "na": if !missing.contains(where: { $0.0 == f[1] }) { missing.append((f[1], f[3])) }
        case "main": if let v = Double(f[3]) { main.add(f[1], f[2], v) }
        case "scale": if let v = Double(f[3]) { scale.add(f[1], f[2], v) }
        default: continue
        }
    }
    func metaValue(_ k: String) -> String { meta.last { $0.0 == k }?.1 ?? "?" }
    print("Command: `\(metaValue("command"))`")
    print("")
    print("Machine: kernel \(metaValue("kernel")), \(metaValue("cpus")) CPUs (\(metaValue("cpu_model"))), \(metaValue("memory")); \(metaValue("when")).")
    print("Load average (1, 5, 15 min) at start: \(metaValue("load_start")); after the main rounds: \(metaValue("load_main_end")); at end: \(metaValue("load_end")). Other engineers' builds were running on this machine.")
    print("\(metaValue("reps")) repetitions per configuration, interleaved (every configuration once per round). Median (min-max).")
    print("The loops report the CPU time their thread spent per syscall (CLOCK_THREAD_CPUTIME_ID: user and kernel time, the probes included, as they run in the syscall's context) rather than wall time, which on a shared machine also holds the time the loop waited for its CPU; the getppid() wall time is shown as well.")
    print("")
    for (k, v) in meta where k.hasSuffix("_note") { print("- \(v)") }
    for (c, why) in missing { print("- **\(c)**: not available: \(why)") }
    if !missing.isEmpty { print("") }

    // Per-workload tables: one row per configuration.
    let workloads: [(metric: String, title: String, unit: String, digits: Int, higherIsBetter: Bool, addedColumn: Bool)] = [
        ("getppid_ns", "getppid() loop pinned to one CPU", "CPU ns/syscall", 1, false, true),
        ("openclose_ns", "open(/dev/null)+close loop pinned to one CPU", "CPU ns/syscall", 1, false, true),
        ("writefile_ns", "open(O_WRONLY|O_CREAT|O_TRUNC)+write+close of 16 files loop pinned to one CPU (file capture)", "CPU ns/syscall", 1, false, true),
        ("connect_ns", "socket+connect to a refused 127.0.0.1 port+close loop pinned to one CPU", "CPU ns/syscall", 1, false, true),
        ("getppid_fresh_ns", "short getppid() loop exec'd fresh (20,000 calls by default): a profiled process from its first syscall after exec", "CPU ns/syscall", 1, false, true),
        ("getppid_wall_ns", "getppid() loop, wall time", "wall ns/syscall", 1, false, false),
        ("nginx_rps", "nginx on loopback, wrk", "requests/s", 0, true, false),
        ("nginx_p99_ms", "nginx on loopback, wrk", "p99 latency ms", 2, false, false),
        ("nginx_cpu_us_per_req", "nginx on loopback, wrk", "nginx worker CPU us/request", 2, false, false),
        ("build_s", "build: make -j1 of a small C project", "wall s", 2, false, false),
        ("build_cpu_s", "build: make -j1 of a small C project", "CPU s (make and its children, user+system)", 2, false, false),
    ]
    let configs = main.order + missing.map(\.0).filter { !main.order.contains($0) }
    for w in workloads where configs.contains(where: { !main.get($0, w.metric).isEmpty }) {
        let none = main.median("none", w.metric)
        let floor = main.median("floor", w.metric)
        print("**\(w.title)**: \(w.unit)")
        print("")
        var header = "| configuration | \(w.unit) | vs none | vs floor |"
        var rule = "|---|---:|---:|---:|"
        if w.addedColumn { header += " added ns | added / floor's added |"; rule += "---:|---:|" }
        print(header)
        print(rule)
        for c in configs {
            let xs = main.get(c, w.metric)
            guard !xs.isEmpty else {
                let why = missing.first { $0.0 == c }.map { _ in "not available" } ?? "not measured"
                print("| \(c) | \(why) | - | - |" + (w.addedColumn ? " - | - |" : ""))
                continue
            }
            let m = VigilBenchStats.median(xs)
            var row = "| \(c) | \(fmt(m, w.digits)) (\(fmt(xs.min()!, w.digits))-\(fmt(xs.max()!, w.digits))) |"
            row += none.map { " \(fmt(m / $0, 3))x |" } ?? " - |"
            row += floor.map { " \(fmt(m / $0, 3))x |" } ?? " - |"
            if w.addedColumn {
                if let none, let floor, floor - none > 0 {
                    let added = m - none
                    row += " \(fmt(added, 1)) | \(c == "none" || c == "floor" ? "-" : fmt(added / (floor - none), 2) + "x") |"
                } else {
                    row += " - | - |"
                }
            }
            print(row)
        }
        print("")
    }

    for c in main.order where !main.get(c, "build_failed").isEmpty {
        print("- Under \(c), \(main.get(c, "build_failed").count) of the builds failed (see the run's log); the build figures above are of the others.")
        print("")
    }

    // Vigil's own cost in user space, for the configurations that run it.
    let agentConfigs = main.order.filter { !main.get($0, "agent_cpu_ms_per_s").isEmpty }
    if !agentConfigs.isEmpty {
        print("**The monitor's own process** (`vigil`, `auditd`, `bpftrace`, `syscount`) while the workloads ran: CPU time (utime+stime from /proc/PID/stat) per second of wall time, over all workloads and over the microbenchmarks alone; RSS at the end; events dropped from vigil's closing line. vigil is measured once its start-up work settled (it hashes each executable it sees run once; 'settle' is how long that took, at most 30 s):")
        print("")
        print("| configuration | CPU ms per s | of which microbenchmarks | RSS MB at end | settle s | events dropped (all runs) |")
        print("|---|---:|---:|---:|---:|---:|")
        for c in agentConfigs {
            let cpu = main.get(c, "agent_cpu_ms_per_s"), micro = main.get(c, "agent_cpu_ms_per_s_micro")
            let rss = main.get(c, "agent_rss_kb").map { $0 / 1024 }
            let drops = main.get(c, "drops")
            let dropText = drops.isEmpty ? "-" : fmt(drops.reduce(0, +), 0)
            func cell(_ xs: [Double], _ d: Int) -> String { xs.isEmpty ? "-" : "\(fmt(VigilBenchStats.median(xs), d)) (\(fmt(xs.min()!, d))-\(fmt(xs.max()!, d)))" }
            print("| \(c) | \(cell(cpu, 1)) | \(cell(micro, 1)) | \(cell(rss, 1)) | \(cell(main.get(c, "agent_settle_s"), 1)) | \(dropText) |")
        }
        print("")
    }

    if !scale.order.isEmpty {
        let none = main.median("none", "getppid_ns")
        let floor = main.median("floor", "getppid_ns")
        print("**Scale** (vigil enforce; synthetic profiles and sleeping processes, see below): getppid() loop as above, vigil's RSS and the memory of its BPF maps (`memlock` of each map fd in /proc/PID/fdinfo, summed)")
        print("")
        print("| configuration | getppid ns/syscall | added / floor's added | vigil RSS MB | BPF map memory MB | known n-grams in the kernel / in the profiles | profiles not loaded | dropped |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for c in scale.order {
            let xs = scale.get(c, "getppid_ns")
            func cell(_ ys: [Double], _ d: Int, _ scaleBy: Double = 1) -> String {
                ys.isEmpty ? "-" : "\(fmt(VigilBenchStats.median(ys) / scaleBy, d)) (\(fmt(ys.min()! / scaleBy, d))-\(fmt(ys.max()! / scaleBy, d)))"
            }
            var ratio = "-"
            if let none, let floor, floor - none > 0, !xs.isEmpty { ratio = fmt((VigilBenchStats.median(xs) - none) / (floor - none), 2) + "x" }
            let entries = scale.get(c, "ngram_entries"), wanted = scale.get(c, "ngram_entries_wanted")
            let notLoaded = scale.get(c, "profiles_not_loaded"), drops = scale.get(c, "drops")
            let e = (entries.isEmpty ? "-" : fmt(VigilBenchStats.median(entries), 0)) + " / " + (wanted.isEmpty ? "-" : fmt(VigilBenchStats.median(wanted), 0))
            print("| \(c) | \(cell(xs, 1)) | \(ratio) | \(cell(scale.get(c, "agent_rss_kb"), 1, 1024)) | \(cell(scale.get(c, "map_memlock_kb"), 1, 1024)) | \(e) | \(notLoaded.isEmpty ? "-" : fmt(notLoaded.max()!, 0)) | \(drops.isEmpty ? "-" : fmt(drops.reduce(0, +), 0)) |")
        }
        print("")
    }
}

// vigil-bench: overhead of Vigil's probes, measured against no probes and against the
// floor (an empty tp_btf/sys_enter program), interleaved so machine drift hits all alike.
//
//   swift build -c release && sudo .build/release/vigil-bench sensor [--reps 5] [--iterations 2000000]
//
// A child process runs a getppid() loop pinned to one CPU and reports ns per call; the
// parent, pinned to another CPU, loads the configuration under test and reads the ring
// buffer as the agent would. Prints a Markdown table: median and spread per configuration.
import Foundation
import VigilCore
import VigilSensor

/// Pins this process to `cpu` with util-linux's taskset (sched_setaffinity is not exposed
/// to Swift by Glibc's module).
func pin(to cpu: Int) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/taskset")
    p.arguments = ["-pc", String(cpu), String(getpid())]
    p.standardOutput = FileHandle.nullDevice
    try? p.run()
    p.waitUntilExit()
}

func monotonicNanos() -> UInt64 {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
}

func argument(_ name: String, default value: Int) -> Int {
    let args = CommandLine.arguments
    if let i = args.firstIndex(of: name), i + 1 < args.count, let v = Int(args[i + 1]) { return v }
    return value
}

func stringArgument(_ name: String, default value: String) -> String {
    let args = CommandLine.arguments
    if let i = args.firstIndex(of: name), i + 1 < args.count { return args[i + 1] }
    return value
}

/// The child: `vigil-bench loop [--kind getppid|openclose|writefile|connect] --iterations N --cpu C [--warmup N]`
/// prints ns per syscall: CPU time of the thread, then wall time. `openclose` opens and closes /dev/null (2 syscalls per round);
/// `writefile` opens one of 16 files of `--dir` for writing, writes a byte and closes it (3);
/// `connect` makes a TCP socket, connects it to 127.0.0.1:`--port` where nothing listens
/// (refused), and closes it (3 syscalls per round).
func runLoop() {
    let n = argument("--iterations", default: 2_000_000)
    pin(to: argument("--cpu", default: 1))
    let kind = stringArgument("--kind", default: "getppid")
    var sink: Int32 = 0
    var perRound = 1
    var cleanup: () -> Void = {}
    let round: () -> Void
    switch kind {
    case "openclose":
        perRound = 2
        round = {
            let fd = open("/dev/null", O_RDONLY)
            sink &+= fd
            close(fd)
        }
    case "writefile":
        // File-heavy: open for writing (create, truncate) one of 16 files of a private
        // directory, write a byte, close (3 syscalls per round): what files.bpf.c resolves.
        perRound = 3
        let dir = stringArgument("--dir", default: "/tmp")
        let paths = (0..<16).map { "\(dir)/vigil-bench-write-\(getpid())-\($0).tmp" }
        var i = 0
        var byte: UInt8 = 0x78
        round = {
            let fd = open(paths[i & 15], O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            sink &+= Int32(write(fd, &byte, 1))
            close(fd)
            i &+= 1
        }
        cleanup = { for p in paths { unlink(p) } }
    case "connect":
        perRound = 3
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(argument("--port", default: 47_999)).bigEndian)
        addr.sin_addr.s_addr = in_addr_t(0x7f00_0001).bigEndian
        round = {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            sink &+= rc
            close(fd)
        }
    default:
        round = { sink &+= getppid() }
    }
    // Warm-up rounds before the timing (default n/200); `--warmup 0` times the process from
    // its first loop call, as a program just exec'd meets the probes.
    for _ in 0..<argument("--warmup", default: max(1, n / 200)) { round() }
    // With --chunks K the run is timed in K equal parts and the CPU figure is the cheapest
    // part's: on a shared VM a part the hypervisor stole time from (counted as this
    // thread's CPU time by the guest) is thrown away rather than averaged in.
    let chunks = max(1, argument("--chunks", default: 1)), per = max(1, n / chunks)
    var cpu = UInt64.max
    let start = monotonicNanos()
    for _ in 0..<chunks {
        let cpuStart = threadCPUNanos()
        for _ in 0..<per { round() }
        cpu = min(cpu, (threadCPUNanos() - cpuStart) * UInt64(chunks))
    }
    let elapsed = monotonicNanos() - start
    cleanup()
    // First the CPU time this thread spent per syscall (user and kernel, the probes
    // included: they run in the syscall's context), then the wall time. On a shared machine
    // the wall time also holds the time the loop waited for its CPU; the CPU time does not.
    print(String(format: "%.1f %.1f", Double(cpu) / Double(n * perRound), Double(elapsed) / Double(n * perRound)), sink == 42 ? "" : "")
}

func threadCPUNanos() -> UInt64 {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
}

/// `vigil-bench floor`: loads only the empty tp_btf/sys_enter program, prints "ready" and
/// holds it until SIGTERM or SIGINT (for scripts that measure other workloads on the floor).
func runFloor() throws {
    var o = SensorOptions()
    o.benchmarkFloorOnly = true
    let sensor = try Sensor(options: o)
    FileHandle.standardOutput.write(Data("ready: \(sensor.attachedHooks.joined(separator: ", "))\n".utf8))
    signal(SIGTERM) { _ in exit(0) }
    signal(SIGINT) { _ in exit(0) }
    while true { pause() }
}

/// `vigil-bench sleepers --count N`: forks N children that sleep until killed, in a process
/// group of their own (kill the group to end them); prints "ready" when all exist.
func runSleepers() {
    let n = argument("--count", default: 100)
    setpgid(0, 0)
    var made = 0
    for _ in 0..<n {
        let pid = fork()
        if pid == 0 {
            while true { pause() }
        }
        if pid > 0 { made += 1 }
    }
    FileHandle.standardOutput.write(Data("ready: \(made) sleepers in process group \(getpid())\n".utf8))
    signal(SIGTERM) { _ in kill(0, SIGKILL) }
    while true { pause() }
}

/// `vigil-bench synth-profiles --from FILE --count N --out DIR`: N copies of a learned
/// profile under synthetic executable paths (/opt/vigil-bench-synth/prog-I), for the scale
/// measurements. Synthetic: the same behaviour, N profiles' worth of kernel map entries.
func runSynthProfiles() throws {
    let from = stringArgument("--from", default: "")
    let n = argument("--count", default: 10)
    let out = stringArgument("--out", default: "")
    guard !from.isEmpty, !out.isEmpty else {
        FileHandle.standardError.write(Data("usage: vigil-bench synth-profiles --from FILE --count N --out DIR\n".utf8))
        exit(2)
    }
    let base = try ProfileStore.load(file: from)
    for i in 0..<n {
        var p = base
        p.identity = ProfileIdentity(executable: "/opt/vigil-bench-synth/prog-\(i)")
        let path = (out as NSString).appendingPathComponent(p.id + ".json")
        guard FileManager.default.createFile(atPath: path, contents: Data(ProfileCodec.encode(p))) else {
            FileHandle.standardError.write(Data("vigil-bench: cannot write \(path)\n".utf8))
            exit(1)
        }
    }
    print("\(n) profiles of \(base.ngrams.count) n-grams and \(base.syscalls.count) syscalls written to \(out)")
}

struct Configuration {
    var name: String
    var describe: String
    var make: () throws -> Sensor?
    /// Called with the loop's pid as soon as it is spawned (e.g. to give it a profile slot).
    var attach: (Sensor, Int32) throws -> Void = { _, _ in }
}

struct Sample {
    var nsPerCall: Double
    var events: Int
    var drops: UInt64
    var seconds: Double
    /// With --run-time: the sys_enter program's own ns per run (the kernel's run-time
    /// statistics; every task's runs, the loop's by far the most), nil otherwise.
    var programNsPerRun: Double?
}

/// `vigil-bench sensor --kind K`: the loop each configuration runs (getppid by default;
/// `connect` makes a record per call under trace, to a port nothing listens on).
let loopKind = stringArgument("--kind", default: "getppid")
let refusedPort: Int = {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = in_addr_t(0x7f00_0001).bigEndian
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return Int(UInt16(bigEndian: addr.sin_port))  // bound, never listened on: refused
}()

func measure(_ config: Configuration, iterations: Int, chunks: Int, runTime: Bool, cpus: Int) throws -> Sample {
    let sensor = try config.make()
    if runTime { try sensor?.enableRunTimeStats() }
    let child = Process()
    child.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    child.arguments = ["loop", "--iterations", String(iterations), "--chunks", String(chunks), "--cpu", String(cpus > 1 ? 1 : 0)]
        + ["--kind", loopKind, "--port", String(refusedPort)]
    let out = Pipe()
    child.standardOutput = out
    var events = 0
    let start = monotonicNanos()
    try child.run()
    if let sensor { try config.attach(sensor, child.processIdentifier) }
    while child.isRunning {
        if let sensor { _ = try sensor.poll(timeoutMillis: 10) { _ in events += 1 } } else { usleep(10_000) }
    }
    if let sensor { _ = try sensor.drain { _ in events += 1 } }
    let seconds = Double(monotonicNanos() - start) / 1e9
    let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    let ns = Double(text.split(separator: " ").first.map(String.init)?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? .nan
    let enter = sensor?.programStats().filter { $0.name == "vg_sys_enter" || $0.name.hasPrefix("vg_bench_") } ?? []
    let runs = enter.map(\.runCount).reduce(0, +)
    let program = runs > 0 ? Double(enter.map(\.runTimeNanos).reduce(0, +)) / Double(runs) : nil
    return Sample(nsPerCall: ns, events: events, drops: sensor?.stats.totalKernelDrops ?? 0, seconds: seconds, programNsPerRun: program)
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// The loop's steady behaviour (getppid, its 6-gram) as slot 1's baseline, in enforce mode.
func learnedLoop(_ s: Sensor) throws -> Sensor {
    let getppid: UInt32 = 110
    try s.preload(slot: 1, syscalls: [getppid], ngrams: [NgramHash.hash([UInt32](repeating: getppid, count: 6))])
    try s.setSlotMode(1, .enforce)
    return s
}

/// Publishes this binary (the loop's, spawned by its resolved path, so its comm is the base
/// name) in vg_exec_slots as slot 1's, as the agent does for a native program's profile.
func namedAtExec(_ s: Sensor) throws -> Sensor {
    let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
    guard let comm = ProfileIdentity(executable: me).execComm, let key = ExecSlotKey.of(executable: me, comm: comm) else {
        throw SensorError("\(me) cannot be named at exec (an interpreter's name, over 15 bytes, not its resolved path, or more than one link)",
                          remedy: "run vigil-bench from its own file under its own name")
    }
    try s.publishExecSlot(key, slot: 1)
    return s
}

/// The enforce sys_enter path cut short after each of its steps (bench.bpf.c's
/// vg_bench_step_* programs, alone on sys_enter), and the floor with the agent's
/// syscalls:* tracepoint programs attached beside it: the breakdown of enforce's cost.
func stepConfigurations() -> [Configuration] {
    let steps = [("storage", "+ thread state"), ("view", "+ cached slot (vg_procs_gen)"), ("hash", "+ history and n-gram hash"),
                 ("lookup", "+ known-map lookup"), ("all", "+ hit counted (the whole check)")]
    var configs = steps.map { step, name in
        Configuration(name: "step: \(name)", describe: "vg_bench_step_\(step) alone on sys_enter") {
            var o = SensorOptions(); o.mode = .detect; o.benchmarkPrograms = ["vg_bench_step_\(step)"]
            return try learnedLoop(Sensor(options: o))
        } attach: { sensor, pid in try sensor.assignProfile(pid: pid, slot: 1) }
    }
    configs.append(Configuration(name: "vg_sys_enter alone", describe: "the agent's sys_enter program, nothing else attached") {
        var o = SensorOptions(); o.mode = .detect; o.execGuard = true; o.benchmarkPrograms = ["vg_sys_enter"]
        return try learnedLoop(Sensor(options: o))
    } attach: { sensor, pid in try sensor.assignProfile(pid: pid, slot: 1) })
    configs.append(Configuration(name: "vg_sys_enter + syscalls:* tracepoints", describe: "the agent's sys_enter program and its tracepoint/syscalls/ programs") {
        var o = SensorOptions(); o.mode = .detect; o.execGuard = true; o.benchmarkPrograms = ["vg_sys_enter"]; o.benchmarkSectionPrefixes = ["tracepoint/syscalls/"]
        return try learnedLoop(Sensor(options: o))
    } attach: { sensor, pid in try sensor.assignProfile(pid: pid, slot: 1) })
    configs.append(Configuration(name: "floor + empty sys_exit", describe: "the floor and an empty tp_btf/sys_exit program") {
        var o = SensorOptions(); o.mode = .detect; o.benchmarkPrograms = ["vg_bench_floor", "vg_bench_exit_floor"]
        return try Sensor(options: o)
    })
    configs.append(Configuration(name: "vg_sys_enter + empty sys_exit", describe: "the agent's sys_enter program and an empty tp_btf/sys_exit program") {
        var o = SensorOptions(); o.mode = .detect; o.execGuard = true; o.benchmarkPrograms = ["vg_sys_enter", "vg_bench_exit_floor"]
        return try learnedLoop(Sensor(options: o))
    } attach: { sensor, pid in try sensor.assignProfile(pid: pid, slot: 1) })
    configs.append(Configuration(name: "floor + syscalls:* tracepoints", describe: "the floor and the agent's tracepoint/syscalls/ programs (files, network)") {
        var o = SensorOptions(); o.mode = .detect; o.benchmarkPrograms = ["vg_bench_floor"]; o.benchmarkSectionPrefixes = ["tracepoint/syscalls/"]
        return try Sensor(options: o)
    })
    return configs
}

/// With --baseline-object FILE (another build's vigil.bpf.o, same wire format): enforce
/// and the pending loop on that object too, in the same interleaved run, for a before/after.
func baselineObjectConfigurations() -> [Configuration] {
    let path = stringArgument("--baseline-object", default: "")
    guard !path.isEmpty else { return [] }
    return [
        Configuration(name: "baseline object: enforce (steady, learned)", describe: "enforce with \(path)") {
            var o = SensorOptions(); o.mode = .detect; o.execGuard = true; o.objectPath = path
            return try learnedLoop(Sensor(options: o))
        } attach: { sensor, pid in try sensor.assignProfile(pid: pid, slot: 1, execSeq: 1) },
        Configuration(name: "baseline object: enforce (pending its profile)", describe: "the loop never named, with \(path)") {
            var o = SensorOptions(); o.mode = .detect; o.execGuard = true; o.objectPath = path
            return try learnedLoop(Sensor(options: o))
        } attach: { sensor, pid in try sensor.assignProfile(pid: pid, slot: 1, execSeq: 0) },
    ]
}

func runSensorBenchmark() throws {
    let reps = argument("--reps", default: 5)
    let iterations = argument("--iterations", default: 2_000_000)
    let chunks = argument("--chunks", default: 1)
    // --run-time: also the kernel's own run time of the sys_enter program (it costs every
    // program run two clock reads, so the loop's figures are higher in such a run).
    let runTime = CommandLine.arguments.contains("--run-time")
    let only = stringArgument("--only", default: "").split(separator: ",").map(String.init)
    let cpus = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    pin(to: 0)
    var configs = [
        Configuration(name: "none", describe: "no BPF program attached") { nil },
        Configuration(name: "floor", describe: "empty tp_btf/sys_enter program") {
            var o = SensorOptions(); o.benchmarkFloorOnly = true; return try Sensor(options: o)
        },
        Configuration(name: "trace", describe: "vigil trace probes (exec, fork, exit, network; no sys_enter)") {
            try Sensor()
        },
        // The same with a wakeup for every record the reader was idle for (detect mode's
        // rule, and trace's before its wakeups were batched): with `--kind connect`.
        Configuration(name: "trace, a wakeup per record", describe: "vigil trace probes, wakeups not batched") {
            var o = SensorOptions(); o.wakeupBatchBytes = 0; return try Sensor(options: o)
        },
        Configuration(name: "trace --syscalls (filtered out)", describe: "sys_enter loaded, this process filtered out in the kernel") {
            var o = SensorOptions(); o.syscalls = true; o.comm = "no-such-comm"; return try Sensor(options: o)
        },
        Configuration(name: "trace --syscalls (every call)", describe: "a ring-buffer record per syscall, batched wakeups, read by user space") {
            var o = SensorOptions(); o.syscalls = true; o.comm = "vigil-bench"; return try Sensor(options: o)
        },
        // The loop in a profile slot: every call is hashed into a 6-gram and looked up in
        // the kernel's known map; once learned (after its first calls) nothing is reported.
        Configuration(name: "learn (steady)", describe: "learn mode, the loop's profile learning in the kernel") {
            var o = SensorOptions(); o.mode = .learn
            let s = try Sensor(options: o)
            try s.setSlotMode(1, .learn)
            return s
        } attach: { sensor, pid in try sensor.assignProfile(pid: pid, slot: 1, execSeq: 1) },
        // Enforce with the loop's steady behaviour already in its baseline. The slot is named
        // for the loop's first exec (its only one): read from the kernel's marks, the exec
        // count could still be 0 here, leaving the loop pending its profile throughout.
        Configuration(name: "enforce (steady, learned)", describe: "detect mode with the exec guard, the loop's n-grams preloaded") {
            var o = SensorOptions(); o.mode = .detect; o.execGuard = true
            return try learnedLoop(Sensor(options: o))
        } attach: { sensor, pid in try sensor.assignProfile(pid: pid, slot: 1, execSeq: 1) },
        // The same with the loop's history in task storage: its vg_threads slot held by
        // another thread (as a live thread of a colliding id holds it), what every thread paid
        // before vg_threads.
        Configuration(name: "enforce (steady, learned), history in task storage", describe: "the loop's vg_threads slot taken") {
            var o = SensorOptions(); o.mode = .detect; o.execGuard = true
            return try learnedLoop(Sensor(options: o))
        } attach: { sensor, pid in
            try sensor.occupyThreadSlot(of: pid)
            try sensor.assignProfile(pid: pid, slot: 1, execSeq: 1)
        },
        // The same loop never named (user space has not matched its exec to a profile).
        Configuration(name: "enforce (pending its profile)", describe: "detect mode, the loop's slot never named") {
            var o = SensorOptions(); o.mode = .detect; o.execGuard = true
            return try learnedLoop(Sensor(options: o))
        } attach: { sensor, pid in try sensor.assignProfile(pid: pid, slot: 1, execSeq: 0) },
        // The loop named by the kernel at its exec (vg_exec_slots, as the agent publishes a
        // native program's profile): judged from its first syscall after exec, nothing
        // written for it by user space. With a short --iterations, the figure of a process
        // measured from its start.
        Configuration(name: "enforce (named at exec)", describe: "detect mode, the loop's slot named by the kernel at exec") {
            var o = SensorOptions(); o.mode = .detect; o.execGuard = true
            return try namedAtExec(learnedLoop(Sensor(options: o)))
        },
    ] + stepConfigurations() + baselineObjectConfigurations()
    // --only: the configurations whose names start with one of these (none and floor always).
    configs = configs.enumerated().filter { i, c in i < 2 || only.isEmpty || only.contains { c.name.hasPrefix($0) } }.map(\.element)
    var samples: [[Sample]] = Array(repeating: [], count: configs.count)
    for rep in 1...reps {
        for (i, c) in configs.enumerated() {
            samples[i].append(try measure(c, iterations: iterations, chunks: chunks, runTime: runTime, cpus: cpus))
        }
        FileHandle.standardError.write(Data("rep \(rep)/\(reps) done\n".utf8))
    }
    let none = median(samples[0].map(\.nsPerCall))
    let floorAdded = median(samples[1].map(\.nsPerCall)) - none
    var uname = utsname()
    uname_r: do { _ = Glibc.uname(&uname) }
    let release = withUnsafeBytes(of: &uname.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    print("\(loopKind) loop pinned to one CPU, \(iterations) rounds per run, \(reps) interleaved runs per configuration;")
    if chunks > 1 { print("each run's figure is the cheapest of its \(chunks) equal parts (--chunks);") }
    print("kernel \(release), \(cpus) CPUs. Median (min-max) ns per call; 'added' is over no probes.")
    print("")
    print("| configuration | ns/call | added ns | added / floor's | program ns/run | events read | events/s | dropped |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for (i, c) in configs.enumerated() {
        let ns = samples[i].map(\.nsPerCall)
        let m = median(ns)
        let added = m - none
        let events = samples[i].map(\.events).reduce(0, +) / reps
        let rate = Double(samples[i].map(\.events).reduce(0, +)) / samples[i].map(\.seconds).reduce(0, +)
        let drops = samples[i].map(\.drops).reduce(0, +)
        let vsFloor = i < 2 ? "-" : String(format: "%.2fx", added / floorAdded)
        let prog = samples[i].compactMap(\.programNsPerRun)
        let progText = prog.isEmpty ? "-" : String(format: "%.1f (%.1f-%.1f)", median(prog), prog.min()!, prog.max()!)
        print(String(format: "| %@ | %.1f (%.1f-%.1f) | %.1f | %@ | %@ | %d | %@ | %llu |",
                     c.name, m, ns.min()!, ns.max()!, added, vsFloor, progText, events,
                     events > 0 ? String(format: "%.0f", rate) : "-", drops))
    }
}

/// `vigil-bench sha256 [--mib N] [--reps N]`: SHA-256 throughput of VigilCore's hasher over
/// an in-memory buffer (64 KiB updates, as `SHA256.hex(ofFile:)` reads), median of reps.
func runSHA256Benchmark() {
    let mib = argument("--mib", default: 256)
    let reps = argument("--reps", default: 5)
    let chunk = [UInt8]((0..<(1 << 16)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
    var rates: [Double] = []
    var digest = ""
    for _ in 0..<reps {
        let start = monotonicNanos()
        var h = SHA256()
        for _ in 0..<(mib * 16) { chunk.withUnsafeBytes { h.update($0) } }
        digest = h.finalize().prefix(4).map { String(format: "%02x", $0) }.joined()
        let seconds = Double(monotonicNanos() - start) / 1e9
        rates.append(Double(mib) / seconds)
    }
    rates.sort()
    print(String(format: "sha256: %d MiB x %d reps: median %.0f MiB/s (min %.0f, max %.0f), digest %@...",
                 mib, reps, rates[rates.count / 2], rates.first!, rates.last!, digest))
}

switch CommandLine.arguments.dropFirst().first {
case "sha256":
    runSHA256Benchmark()
case "loop":
    runLoop()
case "floor":
    do { try runFloor() } catch {
        FileHandle.standardError.write(Data("vigil-bench: \(error)\n".utf8))
        exit(1)
    }
case "sleepers":
    runSleepers()
case "synth-profiles":
    do { try runSynthProfiles() } catch {
        FileHandle.standardError.write(Data("vigil-bench: \(error)\n".utf8))
        exit(1)
    }
case "scale-profiles":
    do { try runScaleProfiles() } catch {
        FileHandle.standardError.write(Data("vigil-bench: \(error)\n".utf8))
        exit(1)
    }
case "report":
    runReport()
case "sensor":
    do { try runSensorBenchmark() } catch {
        FileHandle.standardError.write(Data("vigil-bench: \(error)\n".utf8))
        exit(1)
    }
default:
    FileHandle.standardError.write(Data("usage: vigil-bench sensor [--reps N] [--iterations N] [--chunks K] [--only NAME,...] [--run-time] [--baseline-object FILE] [--kind getppid|connect|openclose]\n       vigil-bench sha256 [--mib N] [--reps N]\n       vigil-bench loop|floor|sleepers|synth-profiles|scale-profiles|report (see Benchmarks/README.md; used by Benchmarks/overhead.sh)\n".utf8))
    exit(2)
}

// vigil-bench-save: how long the agent loop is held by one periodic save of N learning
// profiles, and how long the save takes in all.
//
//   swift build -c release --product vigil-bench-save && .build/release/vigil-bench-save [--profiles 10,100,1000] [--ngrams 500] [--reps 3]
//
// An agent (`vigil run`, every new program learning) on a fake kernel in a temporary models
// directory learns N programs, each from `--ngrams` distinct n-grams over 60 syscalls (a
// profile file of about the size a busy service's is). The clock is moved past the save
// interval and `afterRead()` is timed: that is the time the loop could not read the ring
// buffer. "total" runs until the profiles are on disk. Two saves are measured per run: the
// first writes new files; the second, after one more n-gram in every profile, rewrites
// existing ones (the store reads the old file to compare, as every later periodic save
// does). With "counts" the fake kernel reports a count for every n-gram (what the real one
// holds for learned behaviour), so the absorption of the kernel's counts is in the figure.
import Foundation
import VigilAgent
import VigilCore
import VigilOutput
import VigilSensor

func monotonicNanos() -> UInt64 {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
}

func argument(_ name: String, default value: String) -> String {
    let args = CommandLine.arguments
    if let i = args.firstIndex(of: name), i + 1 < args.count { return args[i + 1] }
    return value
}

/// A clock the benchmark moves by hand (the save is due when it says so, not when the
/// machine is slow).
final class BenchClock: AgentClock, @unchecked Sendable {
    private let lock = NSLock()
    private var now: UInt64 = 1_000_000_000_000
    func nowNanos() -> UInt64 { lock.withLock { now } }
    func advance(seconds: Double) { lock.withLock { now += UInt64(seconds * 1e9) } }
}

/// A kernel that accepts everything and, with `reportsCounts`, reports a cumulative count
/// for every n-gram each learned process was seen with.
final class BenchKernel: KernelControl {
    var reportsCounts = true
    private var slotOfPid: [Int32: UInt32] = [:]
    /// The n-gram hashes of each process, filled by the benchmark as it sends them.
    var hashesOfPid: [Int32: [UInt64]] = [:]
    var syscallsOfPid: [Int32: Set<UInt32>] = [:]
    private var reads: UInt64 = 0

    func assignProfile(pid: Int32, slot: UInt32, execSeq: UInt32?) throws { slotOfPid[pid] = slot }
    func setMembership(pid: Int32, _ m: Sensor.Membership) throws {}
    func releaseProcess(pid: Int32) { slotOfPid[pid] = nil }
    func publishExecSlot(_ key: ExecSlotKey, slot: UInt32) throws {}
    func unpublishExecSlot(_ key: ExecSlotKey) {}
    func setResponses(pid: Int32, _ r: Sensor.Responses) throws {}
    func setKnownExecutables(_ paths: some Sequence<String>) throws {}
    func removeKnownExecutables(_ paths: some Sequence<String>) throws {}
    func ownListeners(pid: Int32) -> Int { 0 }
    func setIngress(slot: UInt32, _ peers: some Sequence<NetworkDestination>) throws -> Int { 0 }
    func setListens(slot: UInt32, _ sockets: some Sequence<ListeningSocket>) throws {}
    func setEgress(slot: UInt32, _ destinations: some Sequence<NetworkDestination>) throws -> Int { 0 }
    func setSlotMode(_ slot: UInt32, _ mode: ProfileMode) throws {}
    func preload(slot: UInt32, syscalls: some Sequence<UInt32>, ngrams: some Sequence<UInt64>) throws {}
    func replaceKnown(_ slots: [UInt32: (syscalls: Set<UInt32>, ngrams: Set<UInt64>)]) throws -> Int { 0 }
    func replaceKnownKeys(_ slots: [UInt32: Sensor.SlotKeys]) throws -> Int { 0 }
    func knownCounts() -> [UInt32: KernelCounts] {
        guard reportsCounts else { return [:] }
        reads += 1
        var out: [UInt32: KernelCounts] = [:]
        for (pid, slot) in slotOfPid {
            var c = KernelCounts()
            c.syscalls = (syscallsOfPid[pid] ?? []).map { ($0, 10 * reads, 0) }
            c.ngrams = (hashesOfPid[pid] ?? []).map { ($0, 3 * reads, 0) }
            out[slot] = c
        }
        return out
    }
    func signal(pid: Int32, _ signal: Int32) -> Int32 { 0 }
    var kernelDrops: UInt64 { 0 }
    var stats: SensorStats { SensorStats() }
    var ringBufferFill: (used: Int, size: Int) { (0, 1 << 20) }
    func programStats() -> [ProgramStats] { [] }
    var runTimeStatsEnabled: Bool { false }
    func detach() {}
}

struct SaveTimes {
    var loopNanos: UInt64
    var totalNanos: UInt64
}

struct Run {
    var first: SaveTimes
    var second: SaveTimes
    var bytesPerProfile: Int
}

let syscallPool: [UInt32] = (0..<60).map { UInt32($0) }

func novelty(pid: Int32, rng: inout SplitMix64, length: Int) -> (Event, UInt64, [UInt32]) {
    let calls = (0..<length).map { _ in syscallPool[Int(rng.next() % UInt64(syscallPool.count))] }
    let hash = NgramHash.hash(calls)
    let e = Event(timeNanos: 0, pid: pid, tid: pid, comm: "svc", payload: .novelty(.init(profileSlot: 0, calls: calls, hash: hash, newSyscall: false)))
    return (e, hash, calls)
}

/// Times one periodic save: the loop's `afterRead()` once the interval passed, then the
/// wait until the writer finished.
func timeSave(agent: Agent, clock: BenchClock, interval: Double) -> SaveTimes {
    clock.advance(seconds: interval + 1)
    let start = monotonicNanos()
    agent.afterRead()
    let loop = monotonicNanos() - start
    agent.waitForSaves()
    return SaveTimes(loopNanos: loop, totalNanos: monotonicNanos() - start)
}

func runOnce(profiles n: Int, ngrams: Int, counts: Bool) throws -> Run {
    let dir = NSTemporaryDirectory() + "vigil-bench-save-\(getpid())-\(n)"
    try? FileManager.default.removeItem(atPath: dir)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try FileManager.default.createDirectory(atPath: dir + "/models", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    var run = RunConfig(models: dir + "/models", state: dir + "/state")
    run.outputs = ["file:/dev/null"]
    run.metricsListen = nil
    var c = AgentConfiguration(command: .run, run: run, keepsState: true, policy: .standard, policyName: "bench", hostID: "bench")
    c.protectedExecutables = []
    let kernel = BenchKernel()
    kernel.reportsCounts = counts
    let clock = BenchClock()
    let stream = try EventStream(outputs: run.outputs, spoolDirectory: nil, encoder: OCSFEncoder(productVersion: "bench"))
    let agent = Agent(configuration: c, baselines: try Agent.loadBaselines(c), kernel: kernel, stream: stream, clock: clock)
    agent.start(running: [])
    var rng = SplitMix64(seed: 42)
    let length = SequenceModel.Parameters.standard.ngramLength
    for i in 0..<n {
        let pid = Int32(10_000 + i)
        let path = "/opt/vigil-bench/svc-\(i)"
        agent.handle(Event(timeNanos: 0, pid: pid, tid: pid, comm: "svc", payload: .exec(.init(ppid: 1, uid: 1000, euid: 1000, gid: 0, path: path, argv: [path]))))
        for _ in 0..<ngrams {
            let (e, hash, calls) = novelty(pid: pid, rng: &rng, length: length)
            kernel.hashesOfPid[pid, default: []].append(hash)
            kernel.syscallsOfPid[pid, default: []].formUnion(calls)
            agent.handle(e)
        }
    }
    let first = timeSave(agent: agent, clock: clock, interval: run.saveIntervalSeconds)
    for i in 0..<n {
        let pid = Int32(10_000 + i)
        let (e, hash, _) = novelty(pid: pid, rng: &rng, length: length)
        kernel.hashesOfPid[pid, default: []].append(hash)
        agent.handle(e)
    }
    let second = timeSave(agent: agent, clock: clock, interval: run.saveIntervalSeconds)
    let files = (try? FileManager.default.contentsOfDirectory(atPath: dir + "/models"))?.filter { $0.hasSuffix(".json") } ?? []
    let bytes = files.reduce(0) { sum, f in
        sum + ((try? FileManager.default.attributesOfItem(atPath: dir + "/models/" + f)[.size] as? Int) ?? 0)
    }
    agent.stop(reason: "bench")
    return Run(first: first, second: second, bytesPerProfile: files.isEmpty ? 0 : bytes / files.count)
}

func ms(_ ns: UInt64) -> String { String(format: "%.1f", Double(ns) / 1e6) }

func median(_ xs: [UInt64]) -> UInt64 { xs.sorted()[xs.count / 2] }

let sizes = argument("--profiles", default: "10,100,1000").split(separator: ",").compactMap { Int($0) }
let ngrams = Int(argument("--ngrams", default: "500")) ?? 500
let reps = max(1, Int(argument("--reps", default: "3")) ?? 3)
if sizes.isEmpty || sizes.contains(where: { $0 < 1 }) {
    FileHandle.standardError.write(Data("vigil-bench-save: --profiles wants positive counts separated by commas, e.g. 10,100,1000\n".utf8))
    exit(2)
}

print("Periodic save of N learning profiles (\(ngrams) n-grams each), median of \(reps) runs; ms")
print("")
print("| profiles | kernel counts | KiB/profile | new files: loop held | new files: total | rewrite: loop held | rewrite: total |")
print("|---|---|---|---|---|---|---|")
for n in sizes {
    for counts in [false, true] {
        var runs: [Run] = []
        for _ in 0..<reps { runs.append(try runOnce(profiles: n, ngrams: ngrams, counts: counts)) }
        let row = [
            String(n), counts ? "yes" : "no", String(runs[0].bytesPerProfile / 1024),
            ms(median(runs.map(\.first.loopNanos))), ms(median(runs.map(\.first.totalNanos))),
            ms(median(runs.map(\.second.loopNanos))), ms(median(runs.map(\.second.totalNanos))),
        ]
        print("| " + row.joined(separator: " | ") + " |")
    }
}

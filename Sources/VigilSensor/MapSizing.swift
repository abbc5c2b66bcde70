public import VigilCore

/// How big each kernel map that holds profiles or processes is made at load.
///
/// A map's built-in size (`max_entries` in BPF/maps.bpf.h) is the room to grow during the
/// run; on top of it goes what is there at start: what the loaded profiles preload, one
/// profile slot per loaded profile, one process entry per process running. So no number of
/// profiles or processes known at start is capped by a constant: a map is full only once
/// the run itself has added more than its built-in size, and that is counted and reported
/// (``KernelFailureSite``, the agent's `capacity` events). A size above ``mostEntries`` is
/// refused at load, naming the map and what it would need.
public struct MapSizing: Sendable, Equatable {
    /// Entries the start puts in each map, by map name.
    public var preload: [String: Int] = [:]

    public init() {}

    /// The most entries Vigil gives one map (2^24): beyond it, the preload alone would take
    /// gigabytes of kernel memory, and the models directory is better split across agents.
    public static let mostEntries = 1 << 24

    /// The maps sized here, with what fills each: every one a map of BPF/maps.bpf.h.
    public static let maps: [(name: String, holds: String)] = [
        ("vg_known_syscalls", "known syscalls of every profile"),
        ("vg_known_ngrams", "known n-grams of every profile"),
        ("vg_known_files", "known file writes, mappings and sensitive reads of every profile"),
        ("vg_egress", "learned destinations of every profile"),
        ("vg_unix_allowed", "learned unix-socket paths of every profile"),
        ("vg_ingress", "learned peers of every profile"),
        ("vg_listens", "learned listening ports of every profile"),
        ("vg_known_exec", "executables some profile knows"),
        ("vg_known_exec_files", "executables some profile knows, by file"),
        ("vg_known_children", "programs each profile's processes executed"),
        ("vg_slot_modes", "profile slots"),
        ("vg_exec_slots", "profiles the kernel names at exec"),
        ("vg_procs", "processes"),
        ("vg_marks", "processes"),
    ]

    /// Counts what `profiles` will put in each map when loaded (each profile one slot).
    public mutating func add(_ profiles: some Sequence<Profile>) {
        for p in profiles {
            preload["vg_slot_modes", default: 0] += 1
            if p.identity.execComm != nil { preload["vg_exec_slots", default: 0] += 1 }
            preload["vg_known_syscalls", default: 0] += p.syscalls.count
            preload["vg_known_ngrams", default: 0] += p.ngrams.count
            // A write directory is held twice: as a write and as a chmod +x (Sensor.preloadFiles).
            preload["vg_known_files", default: 0] += FileRules.kernelKeys(p).count + p.writes.count
            let unix = p.destinations.keys.filter { $0.transport == .unix }.count
            preload["vg_unix_allowed", default: 0] += unix
            preload["vg_egress", default: 0] += p.destinations.count - unix
            preload["vg_ingress", default: 0] += p.peers.count
            preload["vg_listens", default: 0] += p.listens.count
            preload["vg_known_exec", default: 0] += p.knownPaths.union(p.executes.keys).count
            preload["vg_known_exec_files", default: 0] += p.knownPaths.union(p.executes.keys).count
            preload["vg_known_children", default: 0] += p.executes.count
        }
    }

    /// Counts `count` processes running at start (each an entry of vg_procs and vg_marks).
    public mutating func addProcesses(_ count: Int) {
        preload["vg_procs", default: 0] += count
        preload["vg_marks", default: 0] += count
    }

    /// The `max_entries` to give `map`, whose built-in size is `builtIn`: the built-in size
    /// as room to grow plus what the start puts in it. Throws when that is above
    /// ``mostEntries``, naming the map, what fills it and how much.
    public func size(of map: String, builtIn: UInt32) throws(SensorError) -> UInt32 {
        let need = Int(builtIn) + max(0, preload[map] ?? 0)
        guard need <= Self.mostEntries else {
            let holds = Self.maps.first { $0.name == map }?.holds ?? "entries"
            throw SensorError("kernel map \(map) would need \(need) entries (\(preload[map] ?? 0) \(holds) at start, plus \(builtIn) to grow), "
                              + "more than the \(Self.mostEntries) Vigil gives one map",
                              remedy: "split the models directory across agents, or prune the baselines (vigil profile)")
        }
        return UInt32(need)
    }
}

import Foundation
public import VigilCore
public import VigilSensor

/// What the agent asks of the kernel side: profile slots, known behaviour, responses and
/// counters. ``Sensor`` is the real one; unit tests drive the agent with a fake.
public protocol KernelControl: AnyObject {
    /// Names the profile slot of process `pid` (0: none, watched for responses only) for the
    /// program it runs since its exec number `execSeq` (nil: the one it runs now).
    func assignProfile(pid: Int32, slot: UInt32, execSeq: UInt32?) throws
    /// Says whether the kernel may act on `pid` (guarded, protected, or neither).
    func setMembership(pid: Int32, _ membership: Sensor.Membership) throws
    /// Forgets process `pid` (not learned, not watched).
    func releaseProcess(pid: Int32)
    /// Has the kernel name slot `slot` itself for each exec whose file and command name are
    /// `key` (vg_exec_slots). Throws when the map is full.
    func publishExecSlot(_ key: ExecSlotKey, slot: UInt32) throws
    /// Takes `key` out of vg_exec_slots: its execs are pending until named again.
    func unpublishExecSlot(_ key: ExecSlotKey)
    /// Sets the responses the kernel carries out for `pid`, replacing the previous ones.
    func setResponses(pid: Int32, _ responses: Sensor.Responses) throws
    /// Adds destinations `slot` may connect to under segmentation (0: every slot).
    @discardableResult
    func setEgress(slot: UInt32, _ destinations: some Sequence<NetworkDestination>) throws -> Int
    /// Adds peers that may connect to `slot`'s listeners under ingress segmentation.
    @discardableResult
    func setIngress(slot: UInt32, _ peers: some Sequence<NetworkDestination>) throws -> Int
    /// Names `pid` the owner of the TCP listeners it holds now (for ingress segmentation).
    @discardableResult
    func ownListeners(pid: Int32) -> Int
    /// Attaches the ingress gate (left off at start, so no packet runs it while nothing is
    /// ingress-segmented); nothing when attached already.
    func attachIngressGate() throws
    /// Adds ports `slot` may bind under segmentation (0: every slot).
    func setListens(slot: UInt32, _ sockets: some Sequence<ListeningSocket>) throws
    /// Adds the programs `slot`'s processes are known to exec (flagged and counted as known at exec).
    func setKnownChildren(slot: UInt32, _ paths: some Sequence<String>) throws
    /// Adds executables some baseline knows (the exec guard lets these run).
    func setKnownExecutables(_ paths: some Sequence<String>) throws
    /// Removes executables no baseline knows any more (a deleted baseline's).
    func removeKnownExecutables(_ paths: some Sequence<String>) throws
    /// Looks again at the files behind the known executables (replaced, created, gone).
    func refreshKnownExecutableFiles() throws
    /// What the kernel does with a new n-gram of `slot`.
    func setSlotMode(_ slot: UInt32, _ mode: ProfileMode) throws
    /// Adds known syscalls and n-gram hashes of `slot`.
    func preload(slot: UInt32, syscalls: some Sequence<UInt32>, ngrams: some Sequence<UInt64>) throws
    /// Makes the given slots know exactly the given behaviour; returns entries removed.
    @discardableResult
    func replaceKnown(_ slots: [UInt32: (syscalls: Set<UInt32>, ngrams: Set<UInt64>)]) throws -> Int
    /// Makes the given slots' destinations, listening ports, children, peers and file keys
    /// exactly these (what a reload dropped is removed); returns entries removed.
    @discardableResult
    func replaceKnownKeys(_ slots: [UInt32: Sensor.SlotKeys]) throws -> Int
    /// Adds what `slot` is known to do with files (vg_known_files).
    func preloadFiles(slot: UInt32, _ keys: [FileRules.KernelKey]) throws
    /// Counts of known behaviour per slot, as the kernel holds them.
    func knownCounts() -> [UInt32: KernelCounts]
    /// Sends `signal` to `pid`; returns 0 or the errno.
    func signal(pid: Int32, _ signal: Int32) -> Int32
    /// Records the kernel dropped since it started.
    var kernelDrops: UInt64 { get }
    var stats: SensorStats { get }
    var ringBufferFill: (used: Int, size: Int) { get }
    func programStats() -> [ProgramStats]
    var runTimeStatsEnabled: Bool { get }
    /// Detaches every probe: nothing new arrives, nothing more is enforced.
    func detach()
    /// Profile slots the kernel holds: 1 ..< this. A profile whose slot is beyond has no
    /// slot in the kernel (the agent reports it).
    var profileSlotLimit: UInt32 { get }
    /// The size of each map that holds profiles or processes, by map name (for reports).
    var mapCapacities: [String: UInt32] { get }
}

extension KernelControl {
    /// A kernel without file capture (a fake in tests) holds nothing.
    public func preloadFiles(slot: UInt32, _ keys: [FileRules.KernelKey]) throws {}
    /// Nor an ingress gate to attach.
    public func attachIngressGate() throws {}
    /// Nor files behind known executables.
    public func refreshKnownExecutableFiles() throws {}
    /// Nor known children.
    public func setKnownChildren(slot: UInt32, _ paths: some Sequence<String>) throws {}
    /// A kernel that says nothing of its sizes (a fake) holds the built-in slots.
    public var profileSlotLimit: UInt32 { 65536 }
    public var mapCapacities: [String: UInt32] { [:] }
}

extension Sensor: KernelControl {
    public func signal(pid: Int32, _ signal: Int32) -> Int32 {
        kill(pid, signal) == 0 ? 0 : errno
    }
}

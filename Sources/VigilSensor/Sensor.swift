import CVigilWire
import Foundation
public import VigilBPF
public import VigilCore

/// The kernel side, loaded and attached: probes feed the ring buffer, `poll` turns its
/// records into `Event`s. Everything is detached when the sensor is released.
public final class Sensor {
    public let options: SensorOptions
    /// Things this kernel lacks that limit what the sensor reports (said once, at start).
    public private(set) var notices: [String] = []
    /// The programs attached, by hook.
    public private(set) var attachedHooks: [String] = []

    private let object: BPFObject
    private var links: [BPFLink] = []
    /// The programs loaded and attached, for their run-time statistics.
    private var attachedPrograms: [BPFProgram] = []
    /// The ingress gate, loaded and not attached yet (``attachIngressGate()``).
    private var deferredIngressGate: BPFProgram?
    private var runTimeStats: BPFRunTimeStats?
    private var ring: RingBuffer?
    private var ringGauge: RingBufferGauge?
    private let ringSizeBytes: Int
    private let counters: BPFMap
    private let procSlots: BPFMap
    /// Learned destinations and listening ports per slot, for segmentation.
    private let egress: BPFMap
    private let ingress: BPFMap
    private let sockOwner: BPFMap
    private let unixAllowed: BPFMap
    private let listens: BPFMap
    /// The programs each judged slot's processes are known to exec (vg_known_children).
    private let knownChildren: BPFMap?
    /// What the kernel decided (exec count, deviating), written only by the kernel.
    private let procMarks: BPFMap
    private let knownSyscalls: BPFMap
    private let knownNgrams: BPFMap
    private let knownExec: BPFMap
    /// The same executables by file (vg_known_exec_files): a file leaves the map only when
    /// no known path names it any more.
    private let knownExecFiles: BPFMap
    /// Every known executable path, and the file each named when last looked at (absent:
    /// not a regular file then).
    private var knownExecPaths: Set<String> = []
    private var knownExecFileOf: [String: ExecutableFileID] = [:]
    private let slotModes: BPFMap
    /// The profile slot the kernel names at exec, by file and command name (ExecSlotKey).
    private let execSlots: BPFMap
    /// What each slot is known to do with files, and the sensitive set's names (files.bpf.c).
    private let knownFiles: BPFMap?
    private let sensitiveNames: BPFMap?
    /// Moved on after each change to `procSlots`: the kernel caches each thread's entry
    /// and looks it up again only when this moved (BPF/maps.bpf.h, vg_procs_gen).
    private let procsGen: BPFMap
    private var procsGeneration: UInt64 = 1
    private var decoder: RecordDecoder
    private var sink: ((Event) -> Void)?
    /// The lock held on the pin directory for the sensor's life (``SensorOptions/pinDirectory``).
    private var pinLock: Int32 = -1
    /// What pinning did at start, in words (nil: nothing pinned).
    public private(set) var pinReport: String?
    /// Links an earlier agent had left pinned, replaced at start.
    public private(set) var replacedPins = 0

    /// Loads and attaches the probes. Throws a `SensorError` that names what is missing.
    public init(options: SensorOptions = SensorOptions()) throws(SensorError) {
        self.options = options
        try Self.checkPrivileges()
        guard KernelSupport.hasKernelBTF else {
            throw SensorError("this kernel does not publish BTF (/sys/kernel/btf/vmlinux is missing)",
                              remedy: "use a kernel built with CONFIG_DEBUG_INFO_BTF=y (standard on current distributions)")
        }
        guard let path = options.objectPath ?? BPFObjectLocator.locate() else {
            throw SensorError("the compiled BPF object (\(BPFObjectLocator.fileName)) was not found; looked in: "
                              + BPFObjectLocator.candidates().joined(separator: ", "),
                              remedy: "build Vigil with `swift build` (it compiles BPF/), or set VIGIL_BPF_OBJECT to the object's path")
        }
        do {
            object = try BPFObject(path: path)
        } catch {
            throw SensorError("cannot open the BPF object: \(error)", remedy: "rebuild Vigil; the object may be damaged")
        }
        guard let c = object.map(named: "vg_counters"), let events = object.map(named: "vg_events") else {
            throw SensorError("the BPF object at \(path) lacks Vigil's maps", remedy: "rebuild Vigil, or point VIGIL_BPF_OBJECT at the object built with this binary")
        }
        counters = c
        ringSizeBytes = Int(options.ringBufferBytes)
        // The object must speak this binary's wire format: a stale object (an old install
        // under share/, a VIGIL_BPF_OBJECT left behind) would be decoded as garbage.
        let abi = (try? object.global("vg_abi_version", as: UInt32.self)) ?? 0
        guard abi == UInt32(VG_ABI_VERSION) else {
            throw SensorError("the BPF object at \(path) speaks wire format \(abi), this vigil speaks \(VG_ABI_VERSION)",
                              remedy: "use the object built with this binary (rebuild with `swift build`, or unset VIGIL_BPF_OBJECT)")
        }
        guard let ps = object.map(named: "vg_procs"), let pm = object.map(named: "vg_marks"), let eg = object.map(named: "vg_egress"), let ig = object.map(named: "vg_ingress"), let so = object.map(named: "vg_sock_owner"), let ua = object.map(named: "vg_unix_allowed"), let ls = object.map(named: "vg_listens"), let ks = object.map(named: "vg_known_syscalls"),
              let kn = object.map(named: "vg_known_ngrams"), let ke = object.map(named: "vg_known_exec"),
              let kf = object.map(named: "vg_known_exec_files"),
              let sm = object.map(named: "vg_slot_modes"), let pg = object.map(named: "vg_procs_gen"),
              let xs = object.map(named: "vg_exec_slots") else {
            throw SensorError("the BPF object at \(path) lacks Vigil's profile maps", remedy: "rebuild Vigil")
        }
        procSlots = ps
        procMarks = pm
        egress = eg
        ingress = ig
        sockOwner = so
        unixAllowed = ua
        listens = ls
        knownSyscalls = ks
        knownNgrams = kn
        knownExec = ke
        knownExecFiles = kf
        slotModes = sm
        execSlots = xs
        procsGen = pg
        knownFiles = object.map(named: "vg_known_files")
        knownChildren = object.map(named: "vg_known_children")
        sensitiveNames = object.map(named: "vg_sensitive_names")
        decoder = RecordDecoder(monotonicToRealtimeNanos: Clock.monotonicToRealtimeOffset(), executables: .live)

        do {
            try object.setGlobal("vg_self_tgid", UInt32(getpid()))
            try object.setGlobal("vg_want_syscalls", options.syscalls)
            try object.setGlobal("vg_want_files", options.files)
            try object.setGlobal("vg_mode", options.mode.wireValue)
            try object.setGlobal("vg_exec_guard", options.execGuard && options.mode == .detect)
            try object.setGlobal("vg_guard_all", options.guardAllProcesses && options.mode == .detect)
            try object.setGlobal("vg_filter_known", options.filterKnown && options.mode == .detect)
            try object.setGlobal("vg_wakeup_batch_bytes", options.wakeupBatchBytes ?? (options.mode == .detect ? 0 : Self.wakeupBatchBytes))
            try object.setGlobal("vg_ngram_len", UInt32(SequenceModel.Parameters.standard.ngramLength))
            try object.setGlobal("vg_filter_tgid", UInt32(bitPattern: options.pid ?? 0))
            try object.setGlobalBytes("vg_filter_comm", Array((options.comm ?? "").utf8.prefix(Int(VG_COMM_LEN) - 1)), size: Int(VG_COMM_LEN))
            try events.setMaxEntries(options.ringBufferBytes)
        } catch {
            throw SensorError("cannot configure the BPF object: \(error)", remedy: "rebuild Vigil; its BPF object does not match this binary")
        }
        // Sized for what will be preloaded, plus the built-in size as room to grow: a full
        // map would leave profiles out of the kernel (their every call novel, their slots
        // unjudged there) or processes untracked. Too much to hold is refused here.
        for (name, _) in MapSizing.maps {
            guard let map = object.map(named: name) else { continue }
            let size = try options.sizing.size(of: name, builtIn: map.maxEntries)
            do { try map.setMaxEntries(size) } catch {
                throw SensorError("cannot size kernel map \(name) to \(size) entries: \(error)", remedy: "rebuild Vigil; its BPF object does not match this binary")
            }
        }

        // Tracepoint programs find their ids in tracefs: mounted here, once, if no tracefs is
        // mounted yet; the checks below only look.
        let traceFS = TraceFS.mountIfAbsent()
        // Switch off, before load, what nobody asked for and what this kernel lacks.
        for program in object.programs {
            let hook = Hook(section: program.section)
            if Self.isBenchmarkProgram(program.name) || !options.benchmarkPrograms.isEmpty {
                let wanted = options.benchmarkPrograms.contains(program.name)
                    || options.benchmarkSectionPrefixes.contains { program.section.hasPrefix($0) }
                if !wanted {
                    program.autoload = false
                    continue
                }
                if Self.isBenchmarkProgram(program.name) { continue }
            }
            // The generic sys_enter hook runs for every syscall of every task: loaded only
            // for what needs every syscall (learning, detection, the syscall stream).
            let sysEnterLoaded = options.mode != .trace || options.syscalls
            if program.name == "vg_sys_enter" && !sysEnterLoaded {
                program.autoload = false
                continue
            }
            // When it is loaded, sys_enter also takes the network and file calls' entry:
            // while any syscalls:sys_enter_* tracepoint is attached, the kernel tests every
            // other syscall of every task against them too.
            if sysEnterLoaded && Self.enterPrograms.contains(program.name) {
                program.autoload = false
                continue
            }
            // File capture (files.bpf.c): learning and detection, and `vigil trace --files`.
            if options.mode == .trace && !options.files && Self.filePrograms.contains(program.name) {
                program.autoload = false
                continue
            }
            // arm64 has only the *at forms: the classic ones' tracepoints are absent, and
            // that is no loss worth a notice.
            if Self.optionalFilePrograms.contains(program.name), hook.missing(traceFS: traceFS) != nil {
                program.autoload = false
                continue
            }
            // Responses and self-protection exist only in detect mode (monitor, enforce).
            if options.mode != .detect && (hook.kind == .cgroup || hook.name == "signal_generate") {
                program.autoload = false
                continue
            }
            // Unix-socket segmentation: a hook of Linux 6.7+, newer than libbpf 1.1's section
            // names, so its type is set here.
            if program.name == "vg_connect_unix" {
                if !KernelSupport.hasUnixSocketHooks {
                    program.autoload = false
                    let note = "kernel lacks cgroup/connect_unix (Linux 6.7+): connects to unix sockets are not segmented"
                    if !notices.contains(note) { notices.append(note) }
                    continue
                }
                do {
                    try program.setSockAddrAttachType(Self.cgroupUnixConnect)
                } catch {
                    program.autoload = false
                    notices.append("cannot prepare cgroup/connect_unix (\(error)): connects to unix sockets are not segmented")
                    continue
                }
            }
            if let missing = hook.missing(traceFS: traceFS) {
                program.autoload = false
                let note = "kernel lacks \(hook.description) (\(missing)): \(hook.feature) unavailable"
                if !notices.contains(note) { notices.append(note) }
            }
        }
        if options.benchmarkPrograms.isEmpty, object.programs.first(where: { Hook(section: $0.section).name == "sched_process_exec" })?.autoload != true {
            throw SensorError("this kernel lacks the sched_process_exec BTF tracepoint, which Vigil needs to see programs start",
                              remedy: "use Linux 5.5 or later with BTF")
        }

        do {
            try object.load()
        } catch {
            throw Self.explainLoadFailure(error)
        }
        for p in FileRules.unfilterable(options.sensitiveFiles) {
            notices.append("sensitive file pattern \(p) has '*' in both its name and its directory's: the kernel cannot filter reads by it, so reads of it are not reported")
        }
        do {
            try procsGen.update(UInt32(0), procsGeneration)
            let one: UInt8 = 1
            for name in FileRules.kernelNames(options.sensitiveFiles) {
                // The kernel hashes a name's first 31 bytes (files.bpf.c, VG_NAME_PEEK with its NUL).
                try sensitiveNames?.update(PathHash.hash(String(decoding: name.utf8.prefix(31), as: UTF8.self)), one)
            }
        } catch {
            throw SensorError("cannot initialise the BPF maps: \(error)", remedy: "report this with the kernel version (uname -r)")
        }
        var cgroupFD: Int32 = -1
        defer { if cgroupFD >= 0 { close(cgroupFD) } }
        // The ingress gate waits for ``attachIngressGate()`` (no packet on the host runs it
        // until then), unless an earlier agent pinned one: that is replaced at start like
        // its other links, so ingress segmentation has no gap across a restart.
        let gateNow = options.pinDirectory.map {
            options.mode == .detect && FileManager.default.fileExists(atPath: $0 + "/" + Self.ingressGateProgram)
        } == true
        for program in object.programs where program.autoload {
            if program.name == Self.ingressGateProgram && !gateNow {
                deferredIngressGate = program
                continue
            }
            try attach(program, cgroupFD: &cgroupFD)
        }
        if let dir = options.pinDirectory, options.mode == .detect { try pin(in: dir) }
        do {
            ring = try RingBuffer(map: events) { [unowned self] raw in
                guard let e = self.decoder.decode(raw) else { return }
                self.sink?(e)
            }
        } catch {
            throw SensorError("cannot read the ring buffer: \(error)", remedy: "check the memory lock limit (ulimit -l)")
        }
        do {
            ringGauge = try RingBufferGauge(map: events)
        } catch {
            notices.append("cannot map the ring buffer's positions (\(error)): its fill level reads as 0")
        }
    }

    /// BPF/bench.bpf.c's programs: loaded only when a benchmark names them.
    static func isBenchmarkProgram(_ name: String) -> Bool { name.hasPrefix("vg_bench_") }

    /// The syscalls:sys_enter_* programs, whose work vg_sys_enter does when it is loaded.
    static let enterPrograms: Set<String> = Set(["vg_enter_connect", "vg_enter_bind", "vg_enter_listen", "vg_enter_mmap", "vg_enter_mprotect"]
        + namedFileCalls.map { "vg_enter_" + $0 })
    /// The programs of files.bpf.c.
    static let filePrograms: Set<String> = Set(["vg_exit_openat", "vg_exit_openat2", "vg_exit_open", "vg_exit_creat", "vg_enter_mmap", "vg_enter_mprotect"]
        + namedFileCalls.flatMap { ["vg_enter_" + $0, "vg_exit_" + $0] })
    /// The calls that name a file (files.bpf.c): rename and link targets, unlink, chmod +x.
    static let namedFileCalls = ["rename", "renameat", "renameat2", "link", "linkat", "unlink", "unlinkat",
                                 "chmod", "fchmod", "fchmodat", "fchmodat2"]
    /// File programs whose tracepoint may be absent with no loss worth a notice: arm64 has
    /// only the *at forms, and fchmodat2 is Linux 6.6 and later (fchmodat covers the rest).
    static let optionalFilePrograms: Set<String> = Set(["vg_exit_open", "vg_exit_creat"]
        + ["rename", "link", "unlink", "chmod", "fchmodat2"].flatMap { ["vg_enter_" + $0, "vg_exit_" + $0] })

    /// Adds what profile `slot` is known to do with files: the kernel reports only the rest.
    public func preloadFiles(slot: UInt32, _ keys: [FileRules.KernelKey]) throws(BPFError) {
        guard let knownFiles else { return }
        let one: UInt8 = 1
        for key in Self.fileKeys(slot: slot, keys) { try knownFiles.update(key, one) }
    }

    /// The keys of vg_known_files for `keys` of `slot`.
    static func fileKeys(slot: UInt32, _ keys: [FileRules.KernelKey]) -> [vg_file_key] {
        keys.flatMap { k -> [vg_file_key] in
            let op: UInt32 = switch k.operation {
            case .write: VG_FILE_WRITE.rawValue
            case .mapExec: VG_FILE_MAP_EXEC.rawValue
            case .readSensitive: VG_FILE_READ_SENSITIVE.rawValue
            }
            let key = vg_file_key(profile: slot, op: op, hash: k.hash)
            // A learned write directory covers a chmod +x there too (kept apart in the
            // kernel so that a new write reported first cannot hide a chmod +x).
            return k.operation == .write ? [key, vg_file_key(profile: slot, op: VG_FILE_KEY_CHMOD_EXEC.rawValue, hash: k.hash)] : [key]
        }
    }

    deinit {
        if pinLock >= 0 { close(pinLock) }
    }

    /// The ingress gate's program (response.bpf.c), attached only when ingress
    /// segmentation is wanted (``attachIngressGate()``).
    static let ingressGateProgram = "vg_ingress_gate"

    /// Whether the ingress gate is attached: every TCP packet a local socket receives runs it.
    public var ingressGateAttached: Bool { attachedPrograms.contains { $0.name == Self.ingressGateProgram } }

    /// Attaches the ingress gate loaded at start but left off,
    /// and pins it with the other links when they are pinned. Does nothing when it is
    /// attached already, or was not loaded (not detect mode).
    public func attachIngressGate() throws(SensorError) {
        guard let program = deferredIngressGate else { return }
        var cgroupFD: Int32 = -1
        defer { if cgroupFD >= 0 { close(cgroupFD) } }
        try attach(program, cgroupFD: &cgroupFD)
        deferredIngressGate = nil
        if let dir = options.pinDirectory, pinLock >= 0, let link = links.last {
            do { try link.pin(dir + "/" + program.name) } catch {
                notices.append("cannot pin \(program.name) in \(dir) (\(error)): ingress segmentation stops if the agent dies")
            }
        }
    }

    /// Attaches one loaded program; `cgroupFD` is the cgroup v2 root, opened on first need.
    private func attach(_ program: BPFProgram, cgroupFD: inout Int32) throws(SensorError) {
        do {
            if Hook(section: program.section).kind == .cgroup {
                if cgroupFD < 0 {
                    guard let root = CgroupV2.root() else {
                        throw SensorError("no cgroup v2 hierarchy is mounted, which network denial needs",
                                          remedy: "mount cgroup2 (e.g. at /sys/fs/cgroup/unified) or run `vigil monitor`, which does not act")
                    }
                    cgroupFD = open(root, O_RDONLY | O_DIRECTORY)
                    guard cgroupFD >= 0 else {
                        throw SensorError("cannot open the cgroup v2 root \(root): errno \(errno)", remedy: "run as root")
                    }
                }
                links.append(try program.attachCgroup(fd: cgroupFD))
            } else {
                links.append(try program.attach())
            }
            attachedHooks.append(program.section)
            attachedPrograms.append(program)
        } catch let error as SensorError {
            throw error
        } catch let error as BPFError {
            throw SensorError("cannot attach \(program.section): \(error)",
                              remedy: error.errno == EPERM ? "this kernel refuses this kind of hook; run as root, or report the kernel version"
                                                       : "check that the hook exists on this kernel")
        } catch {
            throw SensorError("cannot attach \(program.section): \(error)", remedy: "report this with the kernel version")
        }
    }

    /// Pins this sensor's links in `dir`, replacing what an earlier agent left there: its
    /// programs stayed attached (the exec guard, kills and network denial kept working on
    /// its maps) and are detached only now that these are attached, so there is no moment
    /// without enforcement, and no program is attached twice once this returns. A lock
    /// beside the directory keeps two live agents from taking each other's pins.
    private func pin(in dir: String) throws(SensorError) {
        let lockDir = access("/run/lock", W_OK) == 0 ? "/run/lock" : "/tmp"
        let lockPath = lockDir + "/vigil-pins" + dir.map { $0 == "/" ? "-" : $0 } + ".lock"
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SensorError("cannot open \(lockPath): errno \(errno)", remedy: "run as root") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw SensorError("another Vigil agent holds the pin directory \(dir) (lock \(lockPath))",
                              remedy: "stop that agent, or give this one its own pin directory")
        }
        pinLock = fd
        do {
            let mounted = try BPFPins.prepare(dir)
            replacedPins = BPFPins.removeAll(in: dir)
            for (link, program) in zip(links, attachedPrograms) { try link.pin(dir + "/" + program.name) }
            pinReport = "pinned \(links.count) links in \(dir)" + (mounted ? " (mounted bpffs at /sys/fs/bpf)" : "")
                + (replacedPins > 0 ? "; replaced \(replacedPins) links an earlier agent left attached (the kernel kept enforcing while it was down)" : "")
        } catch {
            throw SensorError("cannot pin the probes in \(dir): \(error)", remedy: "use a directory under /sys/fs/bpf, or leave pinning off")
        }
    }

    /// The slot of a process whose profile has none in the kernel (beyond
    /// ``profileSlotLimit``): pending, so the kernel reports each distinct n-gram of it once,
    /// for user space to judge, rather than nothing (slot 0).
    public static let noKernelSlot = UInt32(VG_SLOT_PENDING)

    /// Profile slots the kernel holds: 1 ..< this (vg_slot_modes' size, set at load for the
    /// profiles loaded plus VG_MAX_SLOTS to grow). A profile given a slot beyond it has none
    /// in the kernel.
    public var profileSlotLimit: UInt32 { slotModes.maxEntries }

    /// The size (max_entries) of each map ``MapSizing`` sizes, by name, as loaded.
    public var mapCapacities: [String: UInt32] {
        Dictionary(uniqueKeysWithValues: MapSizing.maps.compactMap { m in object.map(named: m.name).map { (m.name, $0.maxEntries) } })
    }

    /// How many known syscalls and n-grams the kernel can hold (all profiles together).
    public var knownCapacity: (syscalls: UInt32, ngrams: UInt32) { (knownSyscalls.maxEntries, knownNgrams.maxEntries) }

    /// Outside detect mode the kernel wakes the reader only once this much is pending
    /// (BPF vg_wakeup_batch_bytes); ``poll(timeoutMillis:_:)`` collects the rest when it
    /// times out, so a record waits at most one poll timeout.
    public static let wakeupBatchBytes: UInt32 = 64 * 1024

    /// Waits up to `timeoutMillis` for records and hands each decoded event to `handler`;
    /// on a timeout, takes what the kernel put in without waking the reader (trace and learn
    /// batch their wakeups). Returns the number of records consumed (0: none, or a signal).
    @discardableResult
    public func poll(timeoutMillis: Int32, _ handler: (Event) -> Void) throws(BPFError) -> Int {
        try withoutActuallyEscaping(handler) { (h) throws(BPFError) -> Int in
            sink = h
            defer { sink = nil }
            let n = try ring!.poll(timeoutMillis: timeoutMillis)
            return n > 0 ? n : try ring!.drain()
        }
    }

    /// Consumes everything already in the ring buffer (call before stopping, so nothing is left behind).
    @discardableResult
    public func drain(_ handler: (Event) -> Void) throws(BPFError) -> Int {
        try withoutActuallyEscaping(handler) { (h) throws(BPFError) -> Int in
            sink = h
            defer { sink = nil }
            return try ring!.drain()
        }
    }

    // MARK: Profiles in the kernel (learn and detect modes)

    /// Tells the kernel which profile slot process `pid` belongs to (slots are ≥ 1; 0: none,
    /// watched for responses only), for the program it runs since exec number `execSeq`
    /// (``Event/Exec/execSeq``; nil: the program it runs now, for a process found running).
    /// Once the process execs again the slot no longer holds: it is pending until named (by
    /// the kernel itself when vg_exec_slots holds the new program, ``publishExecSlot(_:slot:)``,
    /// else by this call for the new exec). Responses and membership in force stay.
    public func assignProfile(pid: Int32, slot: UInt32, execSeq: UInt32? = nil) throws(BPFError) {
        var p = entry(pid)
        p.slot = slot
        p.exec_seq = execSeq ?? kernelMarks(pid: pid).execs
        try procSlots.update(UInt32(bitPattern: pid), p)
        try procsChanged()
    }

    /// User space's entry for `pid`, or an empty one. Only user space changes an entry
    /// once it exists (the kernel makes them at fork and exec and removes them at exit), so
    /// reading it back and writing it whole loses nothing the kernel decided.
    private func entry(_ pid: Int32) -> vg_proc {
        procSlots.value(UInt32(bitPattern: pid), as: vg_proc.self) ?? vg_proc(slot: 0, exec_seq: kernelMarks(pid: pid).execs, flags: 0, member: 0)
    }

    /// Gives thread `tid`'s slot in the kernel's table of thread histories (vg_threads: slot
    /// `tid` modulo its size) to another thread, as a live thread of a colliding id would
    /// hold it, so that `tid` keeps its history in task storage instead: for benchmarks and
    /// tests of that path. A slot is freed only by its owner's exit, so this one stays taken
    /// for this sensor's life.
    public func occupyThreadSlot(of tid: Int32) throws(BPFError) {
        guard let (map, key) = threadSlot(of: tid) else { return }
        var value = [UInt8](repeating: 0, count: map.valueSize)
        let owner = UInt32(bitPattern: tid) &+ map.maxEntries  // the same slot, not this thread
        withUnsafeBytes(of: owner) { value.replaceSubrange(Self.threadSlotOwnerBytes(map), with: $0) }
        var k = key
        let failure: BPFError? = value.withUnsafeBytes { v in
            do throws(BPFError) { try map.update(key: &k, value: v.baseAddress!); return nil } catch { return error }
        }
        if let failure { throw failure }
    }

    /// The thread owning `tid`'s slot in vg_threads (0: free), for tests.
    public func threadSlotOwner(of tid: Int32) -> UInt32? {
        guard let (map, key) = threadSlot(of: tid) else { return nil }
        var k = key
        var value = [UInt8](repeating: 0, count: map.valueSize)
        guard value.withUnsafeMutableBytes({ map.lookup(key: &k, value: $0.baseAddress!) }) else { return nil }
        return value[Self.threadSlotOwnerBytes(map)].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
    }

    /// vg_threads and the key of `tid`'s slot in it.
    private func threadSlot(of tid: Int32) -> (map: BPFMap, key: UInt32)? {
        object.map(named: "vg_threads").map { ($0, UInt32(bitPattern: tid) % $0.maxEntries) }
    }

    /// Where a vg_threads value holds its owner's id: the first 4 of its last 16 bytes
    /// (owner, transparent_known, owner_start: maps.bpf.h's struct vg_history ends with them).
    private static func threadSlotOwnerBytes(_ map: BPFMap) -> Range<Int> { (map.valueSize - 16)..<(map.valueSize - 12) }

    /// What the kernel itself decided about `pid`: how many execs it saw, and whether it
    /// marked the process deviating (a guarded profile slot saw something new).
    public func kernelMarks(pid: Int32) -> (execs: UInt32, deviating: Bool) {
        let m = procMarks.value(UInt32(bitPattern: pid), as: vg_marks.self)
        return (m?.execs ?? 0, (m?.marks ?? 0) & VG_RESP_DEVIATING != 0)
    }

    /// Whether the kernel may act on a process at all (``SensorOptions/guardAllProcesses``).
    /// Children inherit it at fork, exec keeps it.
    public struct Membership: OptionSet, Sendable, Hashable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// In a workload Vigil enforces: responses are carried out.
        public static let guarded = Membership(rawValue: VG_MEMBER_GUARDED)
        /// Never acted on, whatever else holds.
        public static let protected = Membership(rawValue: VG_MEMBER_PROTECTED)
        /// A guarded member whose workload's policy turns the exec guard off.
        public static let noExecGuard = Membership(rawValue: VG_MEMBER_NO_EXEC_GUARD)
        /// Segmentation: connects only to what its profile learned (``setEgress(slot:_:)``).
        public static let segment = Membership(rawValue: VG_MEMBER_SEGMENT)
        /// Ingress segmentation: the listeners it binds accept connection attempts only from
        /// the peers its profile learned (``setIngress(slot:_:)``).
        public static let segmentIngress = Membership(rawValue: VG_MEMBER_SEGMENT_INGRESS)
    }

    /// Sets where `pid` stands for the kernel's responses, replacing what it was.
    public func setMembership(pid: Int32, _ membership: Membership) throws(BPFError) {
        let existing = procSlots.value(UInt32(bitPattern: pid), as: vg_proc.self)
        if let existing, existing.member == membership.rawValue { return }
        var p = existing ?? entry(pid)
        p.member = membership.rawValue
        try procSlots.update(UInt32(bitPattern: pid), p)
        try procsChanged()
    }

    /// Tells the kernel that `procSlots`, a slot's mode or the known n-grams (a removal)
    /// changed, after the change: threads that cached their process's entry, its slot's
    /// mode and the n-grams they found known look them up again at their next syscall.
    private func procsChanged() throws(BPFError) {
        procsGeneration += 1
        try procsGen.update(UInt32(0), procsGeneration)
    }

    /// Responses the kernel carries out for a process (and, from now on, its new children).
    public struct Responses: OptionSet, Sendable, Hashable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// Refuse new connections and datagrams (the caller sees EPERM).
        public static let denyNetwork = Responses(rawValue: VG_RESP_DENY_NET)
        /// SIGKILL at the next syscall.
        public static let kill = Responses(rawValue: VG_RESP_KILL)
        /// Kill, at exec, any program no baseline knows (see `setKnownExecutables`).
        public static let killUnknownExecs = Responses(rawValue: VG_RESP_DEVIATING)
    }

    /// Sets the responses in force for `pid`, replacing the previous ones (user space's:
    /// the kernel's own deviating mark is kept apart and stays). The kernel carries them
    /// out only for a process it may act on (``Membership``).
    public func setResponses(pid: Int32, _ responses: Responses) throws(BPFError) {
        var p = entry(pid)
        p.flags = responses.rawValue
        try procSlots.update(UInt32(bitPattern: pid), p)
        try procsChanged()
    }

    /// Adds destinations profile `slot` may connect to under segmentation (slot 0: every
    /// profile, e.g. the host's resolver). CIDR entries allow their whole network; unix
    /// sockets are allowed by path (where the kernel has cgroup/connect_unix). Returns how
    /// many were added.
    @discardableResult
    public func setEgress(slot: UInt32, _ destinations: some Sequence<NetworkDestination>) throws(BPFError) -> Int {
        let one: UInt8 = 1
        let (addresses, unix) = Self.egressKeys(slot: slot, destinations)
        for key in unix { try unixAllowed.update(key, one) }
        for key in addresses { try egress.update(key, one) }
        return addresses.count + unix.count
    }

    /// The keys of vg_egress and vg_unix_allowed for `destinations` of `slot`.
    static func egressKeys(slot: UInt32, _ destinations: some Sequence<NetworkDestination>) -> (addresses: [vg_egress_key], unix: [vg_unix_key]) {
        var addresses: [vg_egress_key] = [], unix: [vg_unix_key] = []
        for d in destinations {
            if d.transport == .unix {
                unix.append(vg_unix_key(slot: slot, _pad0: 0, hash: PathHash.hash(d.address)))
            } else if let key = prefixKey(slot: slot, d) {
                addresses.append(key)
            }
        }
        return (addresses, unix)
    }

    /// Adds peers that may connect to profile `slot`'s listeners under ingress segmentation
    /// (`port`: the local port; CIDR entries allow their whole network). TCP only: the
    /// kernel judges connection attempts (SYN). Returns how many were added.
    @discardableResult
    public func setIngress(slot: UInt32, _ peers: some Sequence<NetworkDestination>) throws(BPFError) -> Int {
        let one: UInt8 = 1
        let keys = Self.ingressKeys(slot: slot, peers)
        for key in keys { try ingress.update(key, one) }
        return keys.count
    }

    /// The keys of vg_ingress for `peers` of `slot` (TCP only).
    static func ingressKeys(slot: UInt32, _ peers: some Sequence<NetworkDestination>) -> [vg_egress_key] {
        peers.filter { $0.transport == .tcp }.compactMap { prefixKey(slot: slot, $0) }
    }

    /// Names `pid` the owner of the TCP listeners it holds now, so that ingress segmentation
    /// judges connection attempts to them: sockets bound before the agent started or before
    /// the process was segmented (the kernel names the owner of later binds itself). Each
    /// listener is found from /proc/PID/net/tcp{,6} and /proc/PID/fd and reached through
    /// `pidfd_getfd`. Returns how many were named; a process that is gone names none.
    @discardableResult
    public func ownListeners(pid: Int32) -> Int {
        var listening: Set<String> = []
        for table in ["tcp", "tcp6"] {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/net/\(table)", encoding: .utf8) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                let f = line.split(separator: " ", omittingEmptySubsequences: true)
                if f.count > 9, f[3] == "0A" { listening.insert(String(f[9])) }
            }
        }
        guard !listening.isEmpty, let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else { return 0 }
        let pidfd = vg_pidfd_open(pid)
        guard pidfd >= 0 else { return 0 }
        defer { close(pidfd) }
        var named = 0
        for name in fds {
            guard let fd = Int32(name), let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(name)"),
                  link.hasPrefix("socket:["), listening.remove(String(link.dropFirst(8).dropLast())) != nil else { continue }
            let mine = vg_pidfd_getfd(pidfd, fd)
            guard mine >= 0 else { continue }
            if (try? sockOwner.update(mine, UInt32(bitPattern: pid))) != nil { named += 1 }
            close(mine)
        }
        return named
    }

    /// `BPF_CGROUP_UNIX_CONNECT` in the kernel's `enum bpf_attach_type` (Linux 6.7).
    static let cgroupUnixConnect: UInt32 = 49

    /// The LPM key of vg_egress and vg_ingress for `d` (nil for a unix socket, a transport
    /// other than TCP and UDP, which the kernel's gates never look up, or an address that is
    /// not one).
    static func prefixKey(slot: UInt32, _ d: NetworkDestination) -> vg_egress_key? {
        guard d.transport == .tcp || d.transport == .udp, let prefix = d.addressPrefix else { return nil }
        var key = vg_egress_key()
        key.prefixlen = UInt32(VG_EGRESS_FIXED_BITS) + UInt32(prefix.bits)
        key.slot = slot
        key.port = d.port
        key.proto = d.transport == .udp ? UInt8(VG_PROTO_UDP) : UInt8(VG_PROTO_TCP)
        key.family = prefix.family
        withUnsafeMutableBytes(of: &key.addr) { raw in
            for (i, b) in prefix.bytes.prefix(16).enumerated() { raw[i] = b }
        }
        return key
    }

    /// Adds ports profile `slot` may bind under segmentation (slot 0: every profile).
    public func setListens(slot: UInt32, _ sockets: some Sequence<ListeningSocket>) throws(BPFError) {
        let one: UInt8 = 1
        for key in Self.listenKeys(slot: slot, sockets) { try listens.update(key, one) }
    }

    /// The keys of vg_listens for `sockets` of `slot` (TCP and UDP).
    static func listenKeys(slot: UInt32, _ sockets: some Sequence<ListeningSocket>) -> [vg_listen_key] {
        sockets.filter { $0.transport == .tcp || $0.transport == .udp }.map {
            vg_listen_key(slot: slot, port: $0.port, proto: $0.transport == .udp ? UInt8(VG_PROTO_UDP) : UInt8(VG_PROTO_TCP), _pad0: 0)
        }
    }

    /// Adds the programs profile `slot`'s processes are known to exec (the paths as execve
    /// was given them): the kernel flags and counts an exec of one by a process of the slot
    /// as known (``SensorStats/kernelKnown``). The exec record itself still goes to user space.
    public func setKnownChildren(slot: UInt32, _ paths: some Sequence<String>) throws(BPFError) {
        guard let knownChildren else { return }
        let one: UInt8 = 1
        for key in Self.childKeys(slot: slot, paths) { try knownChildren.update(key, one) }
    }

    /// The keys of vg_known_children for `paths` of `slot`.
    static func childKeys(slot: UInt32, _ paths: some Sequence<String>) -> [vg_child_key] {
        paths.map { vg_child_key(slot: slot, _pad0: 0, hash: PathHash.hash($0)) }
    }

    /// What one profile slot's connects, binds, listens, accepted peers, execs and file
    /// operations are checked against in the kernel (``replaceKnownKeys(_:)``).
    public struct SlotKeys: Sendable, Equatable {
        public var destinations: [NetworkDestination] = []
        public var listens: [ListeningSocket] = []
        public var children: [String] = []
        public var peers: [NetworkDestination] = []
        public var files: [FileRules.KernelKey] = []
        public init() {}
    }

    /// Makes each given slot's destinations, listening ports, children, peers and file keys
    /// exactly these: what is new is added, and what the slot held and no longer does (a
    /// reload that dropped a destination from a baseline, a deleted baseline) is removed, so
    /// that the kernel neither lets it through nor counts it as known. Other slots are left
    /// as they are; slot 0 (entries for every slot: the policy's `segment-allow`) is replaced
    /// only when given. Reads each map once: for reloads, not for every event. Returns the
    /// entries removed.
    @discardableResult
    public func replaceKnownKeys(_ slots: [UInt32: SlotKeys]) throws(BPFError) -> Int {
        guard !slots.isEmpty else { return 0 }
        func perSlot<V>(_ keys: (UInt32, SlotKeys) -> V) -> [UInt32: V] {
            Dictionary(uniqueKeysWithValues: slots.map { ($0.key, keys($0.key, $0.value)) })
        }
        let egressKeys = perSlot { Self.egressKeys(slot: $0, $1.destinations) }
        var removed = try Self.replace(egress, egressKeys.mapValues(\.addresses), slot: \.slot)
        removed += try Self.replace(unixAllowed, egressKeys.mapValues(\.unix), slot: \.slot)
        removed += try Self.replace(ingress, perSlot { Self.ingressKeys(slot: $0, $1.peers) }, slot: \.slot)
        removed += try Self.replace(listens, perSlot { Self.listenKeys(slot: $0, $1.listens) }, slot: \.slot)
        removed += try Self.replace(knownChildren, perSlot { Self.childKeys(slot: $0, $1.children) }, slot: \.slot)
        removed += try Self.replace(knownFiles, perSlot { Self.fileKeys(slot: $0, $1.files) }, slot: \.profile)
        return removed
    }

    /// Makes `map`'s entries of each slot in `keys` exactly that slot's keys: adds them, then
    /// removes the slot's other entries (compared byte for byte, as the kernel compares
    /// them). Returns how many were removed.
    private static func replace<K: BitwiseCopyable>(_ map: BPFMap?, _ keys: [UInt32: [K]], slot: (K) -> UInt32) throws(BPFError) -> Int {
        guard let map else { return 0 }
        let one: UInt8 = 1
        for list in keys.values { for k in list { try map.update(k, one) } }
        func bytes(_ k: K) -> [UInt8] { withUnsafeBytes(of: k) { Array($0) } }
        let wanted = keys.mapValues { Set($0.map(bytes)) }
        var removed = 0
        for (k, _) in map.entries(K.self, UInt8.self) {
            if let set = wanted[slot(k)], !set.contains(bytes(k)), map.remove(k) { removed += 1 }
        }
        return removed
    }

    /// The executables some baseline knows: a process marked `killUnknownExecs` may exec these,
    /// by the path given (its hash) or by any other path to the same file (the file as
    /// `stat(2)` finds it now, symlinks followed: a relative path, a link). A path that does
    /// not name a regular file now is known by its path alone.
    public func setKnownExecutables(_ paths: some Sequence<String>) throws(BPFError) {
        let one: UInt8 = 1
        let paths = Array(paths)
        for path in paths {
            try knownExec.update(PathHash.hash(path), one)
            knownExecPaths.insert(path)
        }
        try lookAgain(at: paths)
    }

    /// Looks again at the file behind every known executable path: one replaced since (a
    /// package upgrade writes a new inode), created since, or gone is known by its file as it
    /// is now. The agent calls it at intervals; it costs a `stat(2)` a path.
    public func refreshKnownExecutableFiles() throws(BPFError) {
        try lookAgain(at: knownExecPaths)
    }

    /// Puts the file each of `paths` names now in vg_known_exec_files, and takes out the
    /// files they named before that no known path names any more.
    private func lookAgain(at paths: some Sequence<String>) throws(BPFError) {
        let one: UInt8 = 1
        var left: Set<ExecutableFileID> = []
        for path in paths {
            let id = ExecutableFileID(fileAt: path)
            guard knownExecFileOf[path] != id else { continue }
            if let old = knownExecFileOf[path] { left.insert(old) }
            knownExecFileOf[path] = id
            if let id { try knownExecFiles.update(id.wire, one) }
        }
        forgetUnheld(left)
    }

    /// Removes from vg_known_exec_files those of `files` no known path names now.
    private func forgetUnheld(_ files: Set<ExecutableFileID>) {
        guard !files.isEmpty else { return }
        for id in files.subtracting(knownExecFileOf.values) { _ = knownExecFiles.remove(id.wire) }
    }

    /// Removes executables from those some baseline knows (a deleted baseline's).
    public func removeKnownExecutables(_ paths: some Sequence<String>) throws(BPFError) {
        var left: Set<ExecutableFileID> = []
        for path in paths {
            _ = knownExec.remove(PathHash.hash(path))
            knownExecPaths.remove(path)
            if let id = knownExecFileOf.removeValue(forKey: path) { left.insert(id) }
        }
        forgetUnheld(left)
    }

    /// Has the kernel name profile slot `slot` at exec for every exec of the file and
    /// command name `key` (vg_exec_slots, ``ExecSlotKey``), before the process's first
    /// syscall. The caller publishes only keys whose profile the identity rule gives from
    /// the file and name alone (``ProfileIdentity/execComm``). Throws (E2BIG) when the map
    /// is full.
    public func publishExecSlot(_ key: ExecSlotKey, slot: UInt32) throws(BPFError) {
        try execSlots.update(key.wire, slot)
    }

    /// Takes `key` out of vg_exec_slots: its execs are pending until the agent names them.
    public func unpublishExecSlot(_ key: ExecSlotKey) {
        _ = execSlots.remove(key.wire)
    }

    /// The slot vg_exec_slots names for `key`, nil when it holds none (tests, diagnostics).
    public func publishedExecSlot(_ key: ExecSlotKey) -> UInt32? {
        execSlots.value(key.wire, as: UInt32.self)
    }

    /// Stops learning or watching process `pid`.
    public func releaseProcess(pid: Int32) {
        procSlots.remove(UInt32(bitPattern: pid))
        try? procsChanged()
    }

    /// Sets what the kernel does with new n-grams of `slot` (1 ..< ``profileSlotLimit``; unset slots
    /// behave as ``ProfileMode/monitor``): learn adds them to the slot's known maps, then
    /// reports each once; monitor reports them; enforce reports them and marks the process
    /// deviating at once (see ``SensorOptions/execGuard``).
    public func setSlotMode(_ slot: UInt32, _ mode: ProfileMode) throws(BPFError) {
        guard slot > 0, slot < profileSlotLimit else {
            throw BPFError("profile slot \(slot)", errno: ERANGE, detail: "vg_slot_modes holds slots 1 ..< \(profileSlotLimit) (sized at start: the profiles loaded plus \(VG_MAX_SLOTS))")
        }
        let value: UInt32 = switch mode {
        case .learn: VG_SLOT_MODE_LEARN
        case .monitor: 0
        case .enforce: VG_SLOT_MODE_GUARD
        }
        if slotModes.value(slot, as: UInt32.self) == value { return }
        try slotModes.update(slot, value)
        // Threads cache their slot's mode, and cache known hits only for judged slots.
        try procsChanged()
    }

    /// Adds known syscalls and n-gram hashes for `slot` (profiles loaded from disk), so that
    /// only what they do not hold crosses to user space. Existing entries keep their counts.
    public func preload(slot: UInt32, syscalls: some Sequence<UInt32>, ngrams: some Sequence<UInt64>) throws(BPFError) {
        let fresh = vg_seen(count: 0, last_ns: 0)
        for nr in syscalls {
            do { try knownSyscalls.update(vg_syscall_key(profile: slot, nr: nr), fresh, flags: BPFMap.createOnly) }
            catch where error.errno == EEXIST {}
        }
        for h in ngrams {
            do { try knownNgrams.update(vg_ngram_key(profile: slot, _pad0: 0, hash: h), fresh, flags: BPFMap.createOnly) }
            catch where error.errno == EEXIST {}
        }
    }

    /// Makes the kernel's known behaviour of each given slot exactly the given syscalls and
    /// n-gram hashes: adds what is missing (as ``preload(slot:syscalls:ngrams:)``, counts
    /// kept) and removes what a slot holds beyond them, so a baseline edited to know less
    /// (reviewed, pruned) also knows less in the kernel. Slots not given are untouched.
    /// Returns how many entries were removed. Reads the known maps once: for reloads, not
    /// for every event.
    @discardableResult
    public func replaceKnown(_ slots: [UInt32: (syscalls: Set<UInt32>, ngrams: Set<UInt64>)]) throws(BPFError) -> Int {
        guard !slots.isEmpty else { return 0 }
        for (slot, known) in slots { try preload(slot: slot, syscalls: known.syscalls, ngrams: known.ngrams) }
        var removed = 0
        for (k, _) in knownSyscalls.entries(vg_syscall_key.self, vg_seen.self) {
            if let keep = slots[k.profile], !keep.syscalls.contains(k.nr), knownSyscalls.remove(k) { removed += 1 }
        }
        for (k, _) in knownNgrams.entries(vg_ngram_key.self, vg_seen.self) {
            if let keep = slots[k.profile], !keep.ngrams.contains(k.hash), knownNgrams.remove(k) { removed += 1 }
        }
        // Threads remember n-grams they found known: a removed one must be looked up again.
        if removed > 0 { try procsChanged() }
        return removed
    }

    /// Counts of known behaviour, per profile slot, as the kernel holds them now: cumulative
    /// since each entry was created, with the last time each was seen (wall clock ns).
    public func knownCounts() -> [UInt32: KernelCounts] {
        var out: [UInt32: KernelCounts] = [:]
        let offset = decoder.monotonicToRealtimeNanos
        func wall(_ mono: UInt64) -> UInt64 { mono == 0 ? 0 : UInt64(clamping: Int64(bitPattern: mono) &+ offset) }
        for (k, v) in knownSyscalls.entries(vg_syscall_key.self, vg_seen.self) {
            out[k.profile, default: KernelCounts()].syscalls.append((k.nr, v.count, wall(v.last_ns)))
        }
        for (k, v) in knownNgrams.entries(vg_ngram_key.self, vg_seen.self) {
            out[k.profile, default: KernelCounts()].ngrams.append((k.hash, v.count, wall(v.last_ns)))
        }
        return out
    }

    /// Detaches every probe now (they are also detached when the sensor is released).
    public func detach() {
        // A deliberate stop takes the kernel side down with it: pins removed, links detached.
        if let dir = options.pinDirectory, pinReport != nil {
            for link in links { link.unpin() }
            rmdir(dir)
        }
        links.removeAll()
        attachedPrograms.removeAll()
    }

    // MARK: Figures for metrics

    /// Asks the kernel to count each BPF program's run time and runs (`programStats`), for
    /// the sensor's lifetime. Costs some nanoseconds per program run, so it is off until
    /// asked for. Calling it again does nothing.
    public func enableRunTimeStats() throws(BPFError) {
        if runTimeStats == nil { runTimeStats = try BPFRunTimeStats() }
    }

    /// True once `enableRunTimeStats` succeeded.
    public var runTimeStatsEnabled: Bool { runTimeStats != nil }

    /// Run time and run count of each attached program, cumulative since run-time statistics
    /// were enabled (on this host, by anyone). Zeros while they are off.
    public func programStats() -> [ProgramStats] {
        attachedPrograms.compactMap { p in
            p.runStats.map { ProgramStats(name: p.name, runTimeNanos: $0.runTimeNanos, runCount: $0.runCount) }
        }
    }

    /// Bytes of the ring buffer written by the kernel and not yet read, and its size.
    public var ringBufferFill: (used: Int, size: Int) {
        ringGauge?.fill ?? (0, ringSizeBytes)
    }

    /// Records the kernel has dropped so far because the ring buffer was full, all kinds.
    /// Cheaper than `stats`: it reads only the drop counters (they come first in the
    /// counter array, one per record kind).
    public var kernelDrops: UInt64 {
        counters.sumPerCPUCounters(count: Int(VG_CTR_DROP_BASE.rawValue) + Int(VG_KIND_MAX.rawValue)).reduce(0, +)
    }

    /// The kernel's counters and the decoder's, read now.
    public var stats: SensorStats {
        let values = counters.sumPerCPUCounters(count: Int(VG_CTR_MAX.rawValue))
        var s = SensorStats()
        for kind in Event.Kind.allCases {
            let k = Int(kind.wireKind)
            let dropped = values[Int(VG_CTR_DROP_BASE.rawValue) + k]
            if dropped > 0 { s.kernelDrops[kind] = dropped }
            let emitted = values[Int(VG_CTR_EMITTED_BASE.rawValue) + k]
            if emitted > 0 { s.kernelEmitted[kind] = emitted }
            let known = values[Int(VG_CTR_KNOWN_BASE.rawValue) + k]
            if known > 0 { s.kernelKnown[kind] = known }
        }
        for (site, counter) in Self.failureCounters where values[Int(counter.rawValue)] > 0 {
            s.failures[site] = values[Int(counter.rawValue)]
        }
        func sum(_ sites: KernelFailureSite...) -> UInt64 { sites.reduce(0) { $0 + (s.failures[$1] ?? 0) } }
        s.readFailures = sum(.argvRead, .sockaddrRead, .unixPathRead)
        s.pendingLost = sum(.pendingFull)
        s.knownMapFull = sum(.knownNgramsFull, .knownSyscallsFull, .knownFilesFull)
        s.historyFailures = sum(.historyStorage)
        s.decoder = decoder.counters
        return s
    }

    /// Each failure site's counter in `vg_counters`: one row per site.
    static let failureCounters: [(KernelFailureSite, vg_counter)] = [
        (.argvRead, VG_CTR_READ_FAIL_ARGS),
        (.sockaddrRead, VG_CTR_READ_FAIL_SOCKADDR),
        (.unixPathRead, VG_CTR_READ_FAIL_UNIX_PATH),
        (.pendingFull, VG_CTR_PENDING_FULL),
        (.knownNgramsFull, VG_CTR_KNOWN_FULL),
        (.knownSyscallsFull, VG_CTR_KNOWN_SYSCALLS_FULL),
        (.knownFilesFull, VG_CTR_KNOWN_FILES_FULL),
        (.historyStorage, VG_CTR_HISTORY_FAIL),
        (.filePathTruncated, VG_CTR_PATH_TRUNCATED),
        (.namedPathTruncated, VG_CTR_PATH_TRUNCATED_NAMED),
        (.procsFull, VG_CTR_PROCS_FULL),
    ]

    private static func checkPrivileges() throws(SensorError) {
        if geteuid() != 0 {
            throw SensorError("vigil needs root to load eBPF programs (running as uid \(geteuid()))",
                              remedy: "run it with sudo, or grant CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE")
        }
    }

    private static func explainLoadFailure(_ error: BPFError) -> SensorError {
        switch error.errno {
        case EPERM:
            SensorError("the kernel refused to load Vigil's BPF programs (EPERM)\n\(error.detail)",
                        remedy: "run as root; check that kernel lockdown or a security module does not forbid BPF")
        case ENOMEM:
            SensorError("not enough locked memory for BPF maps (ENOMEM)", remedy: "raise the memlock limit (ulimit -l unlimited) or use a smaller ring buffer")
        default:
            SensorError("the kernel's verifier rejected a BPF program: \(error)",
                        remedy: "report this with the kernel version (uname -r); set VIGIL_DEBUG_BPF=1 for libbpf's log")
        }
    }
}

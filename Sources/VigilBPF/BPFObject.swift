import CLibbpf
import Glibc

/// A BPF object file opened with libbpf: its programs and maps, loaded into the kernel
/// by `load()`. Owns the libbpf handle and closes it (detaching nothing it does not own)
/// in `deinit`; links returned by `attach` own their own attachment.
public final class BPFObject {
    let handle: OpaquePointer
    public let path: String

    /// Opens (parses, does not load) the object at `path`.
    public init(path: String) throws(BPFError) {
        self.path = path
        BPFLog.install()
        guard let h = bpf_object__open(path) else {
            throw BPFError("opening BPF object \(path)", errno: errno)
        }
        handle = h
    }

    deinit {
        bpf_object__close(handle)
    }

    /// Sets a `const volatile` global of the object's `.rodata` (or another data section)
    /// before load. `value` must have exactly the variable's size.
    public func setGlobal<T: BitwiseCopyable>(_ name: String, _ value: T, section: String = ".rodata") throws(BPFError) {
        var v = value
        let rc = withUnsafeBytes(of: &v) { vigil_set_global(handle, section, name, $0.baseAddress, $0.count) }
        if rc != 0 { throw BPFError("setting \(section) variable \(name)", errno: -rc) }
    }

    /// Reads a global of a data section of the opened object (before load: its initial value).
    public func global<T: BitwiseCopyable>(_ name: String, as: T.Type, section: String = ".rodata") throws(BPFError) -> T {
        let buf = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<T>.size, alignment: MemoryLayout<T>.alignment)
        defer { buf.deallocate() }
        let rc = vigil_get_global(handle, section, name, buf, MemoryLayout<T>.size)
        if rc != 0 { throw BPFError("reading \(section) variable \(name)", errno: -rc) }
        return buf.load(as: T.self)
    }

    /// Sets a fixed-size byte array global (e.g. a `char[16]` filter) before load; shorter
    /// values are zero-padded.
    public func setGlobalBytes(_ name: String, _ bytes: [UInt8], size: Int, section: String = ".rodata") throws(BPFError) {
        var buf = [UInt8](repeating: 0, count: size)
        for (i, b) in bytes.prefix(size).enumerated() { buf[i] = b }
        let rc = buf.withUnsafeBytes { vigil_set_global(handle, section, name, $0.baseAddress, $0.count) }
        if rc != 0 { throw BPFError("setting \(section) variable \(name)", errno: -rc) }
    }

    public var programs: [BPFProgram] {
        var out: [BPFProgram] = []
        var p = bpf_object__next_program(handle, nil)
        while let prog = p {
            out.append(BPFProgram(handle: prog, owner: self))
            p = bpf_object__next_program(handle, prog)
        }
        return out
    }

    public func program(named name: String) -> BPFProgram? {
        bpf_object__find_program_by_name(handle, name).map { BPFProgram(handle: $0, owner: self) }
    }

    public func map(named name: String) -> BPFMap? {
        bpf_object__find_map_by_name(handle, name).map { BPFMap(handle: $0, owner: self) }
    }

    /// Loads every program whose autoload is on, verifying it against this kernel.
    /// On failure the error carries the tail of the verifier's log.
    public func load() throws(BPFError) {
        BPFLog.shared.clear()
        let rc = bpf_object__load(handle)
        if rc != 0 {
            throw BPFError("loading BPF object \(path)", errno: -rc, detail: BPFLog.shared.tail())
        }
    }
}

/// One program of a `BPFObject`.
public struct BPFProgram {
    let handle: OpaquePointer
    let owner: BPFObject

    public var name: String { String(cString: bpf_program__name(handle)) }
    /// The ELF section, e.g. `tp_btf/sched_process_exec`: says which hook it attaches to.
    public var section: String { String(cString: bpf_program__section_name(handle)) }

    /// Whether `load()` loads this program. Switch off before load what a kernel lacks or
    /// what nobody asked for.
    public var autoload: Bool {
        get { bpf_program__autoload(handle) }
        nonmutating set { _ = bpf_program__set_autoload(handle, newValue) }
    }

    public var fd: Int32 { bpf_program__fd(handle) }

    /// Makes this a cgroup sock_addr program for the raw attach type `attach`, for a hook
    /// this libbpf does not know by its section name. Before `load()` only.
    public func setSockAddrAttachType(_ attach: UInt32) throws(BPFError) {
        let rc = vigil_program_set_sock_addr_attach(handle, attach)
        if rc != 0 { throw BPFError("setting the attach type of program \(name)", errno: -rc) }
    }

    /// Attaches to the hook named by its section.
    public func attach() throws(BPFError) -> BPFLink {
        guard let link = bpf_program__attach(handle) else {
            throw BPFError("attaching program \(name) (\(section))", errno: errno)
        }
        return BPFLink(handle: link, owner: owner)
    }

    /// Attaches a cgroup program (e.g. `cgroup/connect4`) to the cgroup at `cgroupFD`.
    public func attachCgroup(fd cgroupFD: Int32) throws(BPFError) -> BPFLink {
        guard let link = bpf_program__attach_cgroup(handle, cgroupFD) else {
            throw BPFError("attaching program \(name) to a cgroup", errno: errno)
        }
        return BPFLink(handle: link, owner: owner)
    }
}

/// An attachment. Detaches in `deinit`.
public final class BPFLink {
    let handle: OpaquePointer
    let owner: BPFObject

    init(handle: OpaquePointer, owner: BPFObject) {
        self.handle = handle
        self.owner = owner
    }

    deinit {
        bpf_link__destroy(handle)
    }
}

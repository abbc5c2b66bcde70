import CLibbpf
import Glibc

/// A map of a `BPFObject`. Before load its size can change; after load its entries can be
/// read and written from user space.
public struct BPFMap {
    let handle: OpaquePointer
    let owner: BPFObject

    public var name: String { String(cString: bpf_map__name(handle)) }
    public var fd: Int32 { bpf_map__fd(handle) }
    public var keySize: Int { Int(bpf_map__key_size(handle)) }
    public var valueSize: Int { Int(bpf_map__value_size(handle)) }

    public var maxEntries: UInt32 {
        get { bpf_map__max_entries(handle) }
    }

    /// Sets the capacity (for a ring buffer: its size in bytes, a power of two). Before load only.
    public func setMaxEntries(_ n: UInt32) throws(BPFError) {
        let rc = bpf_map__set_max_entries(handle, n)
        if rc != 0 { throw BPFError("resizing map \(name)", errno: -rc) }
    }

    /// Reads the value at `key` into `value` (for per-CPU maps: one value per possible CPU,
    /// each rounded up to 8 bytes). Returns false when the key is absent.
    public func lookup(key: UnsafeRawPointer, value: UnsafeMutableRawPointer) -> Bool {
        bpf_map_lookup_elem(fd, key, value) == 0
    }

    public func update(key: UnsafeRawPointer, value: UnsafeRawPointer, flags: UInt64 = 0) throws(BPFError) {
        if bpf_map_update_elem(fd, key, value, flags) != 0 {
            throw BPFError("updating map \(name)", errno: errno)
        }
    }

    @discardableResult
    public func delete(key: UnsafeRawPointer) -> Bool {
        bpf_map_delete_elem(fd, key) == 0
    }

    /// Sums a per-CPU array of `UInt64` counters into one value per index.
    public func sumPerCPUCounters(count: Int) -> [UInt64] {
        let cpus = max(Int(libbpf_num_possible_cpus()), 1)
        var values = [UInt64](repeating: 0, count: cpus)
        var out = [UInt64](repeating: 0, count: count)
        for i in 0..<count {
            var key = UInt32(i)
            let ok = values.withUnsafeMutableBytes { buf in
                withUnsafeBytes(of: &key) { bpf_map_lookup_elem(fd, $0.baseAddress, buf.baseAddress) == 0 }
            }
            if ok { out[i] = values.reduce(0, &+) }
        }
        return out
    }
}

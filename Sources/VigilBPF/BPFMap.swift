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

    /// `BPF_NOEXIST` (linux/bpf.h) as `update`'s flags: create the entry, never overwrite one.
    public static let createOnly = UInt64(BPF_NOEXIST)

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

extension BPFMap {
    /// Writes `value` at `key`; both must have exactly the map's key and value sizes.
    public func update<K: BitwiseCopyable, V: BitwiseCopyable>(_ key: K, _ value: V, flags: UInt64 = 0) throws(BPFError) {
        precondition(MemoryLayout<K>.size == keySize && MemoryLayout<V>.size == valueSize, "key/value size mismatch for map \(name)")
        var k = key, v = value
        let rc = withUnsafeBytes(of: &k) { kp in withUnsafeBytes(of: &v) { vp in bpf_map_update_elem(fd, kp.baseAddress, vp.baseAddress, flags) } }
        if rc != 0 { throw BPFError("updating map \(name)", errno: errno) }
    }

    /// The value at `key`, or nil when absent.
    public func value<K: BitwiseCopyable, V: BitwiseCopyable>(_ key: K, as: V.Type) -> V? {
        precondition(MemoryLayout<K>.size == keySize && MemoryLayout<V>.size == valueSize, "key/value size mismatch for map \(name)")
        var k = key
        let buf = UnsafeMutableRawPointer.allocate(byteCount: valueSize, alignment: 8)
        defer { buf.deallocate() }
        let ok = withUnsafeBytes(of: &k) { bpf_map_lookup_elem(fd, $0.baseAddress, buf) } == 0
        return ok ? buf.loadUnaligned(as: V.self) : nil
    }

    /// Removes `key`; false when it was not there.
    @discardableResult
    public func remove<K: BitwiseCopyable>(_ key: K) -> Bool {
        var k = key
        return withUnsafeBytes(of: &k) { bpf_map_delete_elem(fd, $0.baseAddress) } == 0
    }

    /// Every entry of a hash map, read now. Entries added or removed meanwhile may or may not appear.
    public func entries<K: BitwiseCopyable, V: BitwiseCopyable>(_: K.Type, _: V.Type) -> [(key: K, value: V)] {
        precondition(MemoryLayout<K>.size == keySize && MemoryLayout<V>.size == valueSize, "key/value size mismatch for map \(name)")
        var out: [(key: K, value: V)] = []
        let kbuf = UnsafeMutableRawPointer.allocate(byteCount: keySize, alignment: 8)
        let next = UnsafeMutableRawPointer.allocate(byteCount: keySize, alignment: 8)
        let vbuf = UnsafeMutableRawPointer.allocate(byteCount: valueSize, alignment: 8)
        defer { kbuf.deallocate(); next.deallocate(); vbuf.deallocate() }
        var rc = bpf_map_get_next_key(fd, nil, next)
        while rc == 0 {
            kbuf.copyMemory(from: next, byteCount: keySize)
            if bpf_map_lookup_elem(fd, kbuf, vbuf) == 0 {
                out.append((kbuf.loadUnaligned(as: K.self), vbuf.loadUnaligned(as: V.self)))
            }
            rc = bpf_map_get_next_key(fd, kbuf, next)
        }
        return out
    }
}

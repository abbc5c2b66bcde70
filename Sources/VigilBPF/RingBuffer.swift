import CLibbpf
import Glibc

/// Reads a BPF ring buffer. Each record is handed to `handler` as raw bytes, valid only
/// during the call; decoding belongs to the caller.
public final class RingBuffer {
    private var handle: OpaquePointer?
    private let context: Unmanaged<Box>
    private let map: BPFMap

    final class Box {
        let handler: (UnsafeRawBufferPointer) -> Void
        init(_ handler: @escaping (UnsafeRawBufferPointer) -> Void) { self.handler = handler }
    }

    public init(map: BPFMap, handler: @escaping (UnsafeRawBufferPointer) -> Void) throws(BPFError) {
        self.map = map
        context = Unmanaged.passRetained(Box(handler))
        let callback: ring_buffer_sample_fn = { ctx, data, size in
            guard let ctx, let data else { return 0 }
            let box = Unmanaged<Box>.fromOpaque(ctx).takeUnretainedValue()
            box.handler(UnsafeRawBufferPointer(start: data, count: Int(size)))
            return 0
        }
        guard let rb = ring_buffer__new(map.fd, callback, context.toOpaque(), nil) else {
            context.release()
            throw BPFError("opening ring buffer \(map.name)", errno: errno)
        }
        handle = rb
    }

    deinit {
        if let handle { ring_buffer__free(handle) }
        context.release()
    }

    /// Waits up to `timeoutMillis` for records and consumes what is there. Returns the
    /// number of records consumed; 0 on timeout or when interrupted by a signal.
    @discardableResult
    public func poll(timeoutMillis: Int32) throws(BPFError) -> Int {
        let n = ring_buffer__poll(handle, timeoutMillis)
        if n == -EINTR { return 0 }
        if n < 0 { throw BPFError("polling ring buffer \(map.name)", errno: -n) }
        return Int(n)
    }

    /// Consumes whatever is in the buffer without waiting.
    @discardableResult
    public func drain() throws(BPFError) -> Int {
        let n = ring_buffer__consume(handle)
        if n < 0 { throw BPFError("draining ring buffer \(map.name)", errno: -n) }
        return Int(n)
    }
}

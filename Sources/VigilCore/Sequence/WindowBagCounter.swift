/// Counts a trace's 1/2-gram bag window by window, for the windowed neighbour view
/// (``WindowedNeighbour``): consecutive windows of ``length`` calls, the remainder at the end
/// of the trace merged into the last full window, so every window of a trace of `L >= length`
/// calls holds `length` to `2 length - 1` calls and a trace has `max(1, L / length)` windows
/// (a shorter trace is one window of its own length).
///
/// Windows, not the whole trace, because a whole bag changes with length alone: the calls a
/// process makes once weigh less in a longer bag, and a sublinear tf flattens it, so a normal
/// process longer than every training one drifts from all of them. A window of fixed size is
/// compared with training windows of the same size.
///
/// Fed by ``SequenceScanner`` (the same keys as its whole-trace bag) and streamed: each
/// finished window goes to ``onWindow`` one window late (a window is held until it is known
/// whether the remainder will join it), so memory is two windows whatever the trace length.
final class WindowBagCounter {
    /// Calls per window (before the remainder joins the last one).
    let length: Int
    /// Receives each finished window's bag (keys distinct, order unspecified).
    var onWindow: ([(key: UInt64, count: UInt32)]) -> Void

    private let keys: UnsafeMutablePointer<UInt64>
    private let counts: UnsafeMutablePointer<UInt32>
    /// Slots in use, to read and clear a window without a pass over the whole table.
    private let used: UnsafeMutablePointer<Int32>
    private var usedCount = 0
    private let mask: Int
    private var calls = 0
    private var pending: [(key: UInt64, count: UInt32)]?

    init(length: Int, onWindow: @escaping ([(key: UInt64, count: UInt32)]) -> Void = { _ in }) {
        precondition(length >= 1, "a window holds at least one call")
        self.length = length
        self.onWindow = onWindow
        // At most two keys per call (its 1-gram and 2-gram), kept under half full.
        var capacity = 16
        while capacity < 4 * length { capacity *= 2 }
        mask = capacity - 1
        keys = .allocate(capacity: capacity)
        keys.initialize(repeating: 0, count: capacity)
        counts = .allocate(capacity: capacity)
        counts.initialize(repeating: 0, count: capacity)
        used = .allocate(capacity: 2 * length)
    }

    deinit {
        keys.deallocate()
        counts.deallocate()
        used.deallocate()
    }

    /// Counts one key (non-zero) of the current call.
    @inline(__always)
    func count(_ key: UInt64) {
        var i = Int(truncatingIfNeeded: key >> 17) & mask
        while true {
            let k = keys[i]
            if k == key { counts[i] &+= 1; return }
            if k == 0 { break }
            i = (i + 1) & mask
        }
        keys[i] = key
        counts[i] = 1
        used[usedCount] = Int32(i)
        usedCount += 1
    }

    /// Ends the current call (after its keys were counted).
    @inline(__always)
    func endCall() {
        calls += 1
        if calls == length {
            let window = take()
            if let p = pending { onWindow(p) }
            pending = window
        }
    }

    /// Ends the trace: delivers its last window (the remainder merged into the held window).
    func finishTrace() {
        if calls > 0 {
            let rest = take()
            if var p = pending {
                var at: [UInt64: Int] = [:]
                for (i, f) in p.enumerated() { at[f.key] = i }
                for f in rest {
                    if let i = at[f.key] { p[i].count &+= f.count } else { p.append(f) }
                }
                onWindow(p)
            } else {
                onWindow(rest)
            }
        } else if let p = pending {
            onWindow(p)
        }
        pending = nil
    }

    /// Forgets the current trace without delivering anything.
    func discard() {
        _ = take()
        pending = nil
    }

    /// The current window's bag; clears it.
    private func take() -> [(key: UInt64, count: UInt32)] {
        var bag: [(key: UInt64, count: UInt32)] = []
        bag.reserveCapacity(usedCount)
        for j in 0..<usedCount {
            let i = Int(used[j])
            bag.append((keys[i], counts[i]))
            keys[i] = 0
            counts[i] = 0
        }
        usedCount = 0
        calls = 0
        return bag
    }
}

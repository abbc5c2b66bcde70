import Foundation

/// Counters of one output, as `OutputRouter.stats` reports them.
public struct SinkStats: Sendable, Hashable {
    /// The output's name (credentials masked).
    public var name: String
    /// Lines offered to this output after its filter.
    public var accepted: Int = 0
    /// Lines the sink confirmed delivered.
    public var delivered: Int = 0
    /// Lines written to the disk spool (over the whole run).
    public var spooled: Int = 0
    /// Bytes waiting in the spool now.
    public var spoolPendingBytes: Int = 0
    /// Lines waiting in memory now.
    public var queued: Int = 0
    /// Lines lost: the memory queue and spool were both full, or left undelivered at close
    /// without a spool.
    public var lost: Int = 0
    /// Failed delivery attempts (each is retried).
    public var failures: Int = 0
    /// The last delivery error, if the last attempt failed.
    public var lastError: String?
    /// True while the sink is failing (its events go to the spool).
    public var down: Bool = false
}

/// Drives one sink on its own thread: a bounded in-memory queue in front, the disk spool
/// behind it, retries with exponential backoff.
///
/// Order is kept by one rule: everything in memory is older than everything in the spool.
/// Once a line goes to the spool, later lines follow it there until the spool is drained;
/// when a batch from memory fails, memory is moved to the front of the spool.
final class SinkWorker: @unchecked Sendable {
    let spec: OutputSpec?
    private let sink: any Sink
    private let spool: Spool?
    private let cond = NSCondition()
    private var queue: [OutputLine] = []
    private let capacity: Int
    private let batchSize: Int
    private var closing = false
    private var finished = false
    private var counters: SinkStats
    private let retryInitial: Double
    private let retryMax: Double
    private let drainTimeout: Double
    private var closeDeadline: Date?
    private var thread: Thread?

    init(sink: any Sink, spec: OutputSpec?, spool: Spool?, capacity: Int, batchSize: Int,
         retryInitial: Double, retryMax: Double, drainTimeout: Double) {
        self.sink = sink
        self.spec = spec
        self.spool = spool
        self.capacity = capacity
        self.batchSize = batchSize
        self.retryInitial = retryInitial
        self.retryMax = retryMax
        self.drainTimeout = drainTimeout
        self.counters = SinkStats(name: spec?.redacted ?? sink.name)
        queue.reserveCapacity(min(capacity, 65_536))
        let t = Thread { [self] in run() }
        t.name = "vigil-sink"
        thread = t
        t.start()
    }

    /// Offers one line. Never blocks on the sink: at worst it is written to the spool file.
    func publish(_ line: OutputLine) {
        cond.lock()
        defer { cond.unlock() }
        counters.accepted += 1
        if closing {
            counters.lost += 1
        } else if let spool, spool.hasPending || queue.count >= capacity {
            if spool.append(line) { counters.spooled += 1 } else { counters.lost += 1 }
        } else if queue.count < capacity {
            queue.append(line)
        } else {
            counters.lost += 1
        }
        cond.signal()
    }

    /// Makes spooled lines durable; called by the router's housekeeping at batch boundaries.
    func sync() {
        cond.lock()
        spool?.sync()
        cond.unlock()
    }

    var stats: SinkStats {
        cond.lock()
        defer { cond.unlock() }
        var s = counters
        s.queued = queue.count
        s.spoolPendingBytes = spool?.pendingBytes ?? 0
        s.lost += spool?.lostOnWrite ?? 0
        return s
    }

    /// Stops accepting, delivers what it can within the drain timeout, spools the rest, and
    /// closes the sink. Returns when the worker thread has finished.
    func close() {
        cond.lock()
        closing = true
        closeDeadline = Date().addingTimeInterval(drainTimeout)
        cond.broadcast()
        while !finished { cond.wait() }
        cond.unlock()
    }

    private func run() {
        var backoff = retryInitial
        cond.lock()
        while true {
            while queue.isEmpty && !(spool?.hasPending ?? false) && !closing { cond.wait() }
            if queue.isEmpty && !(spool?.hasPending ?? false) { break }  // closing, all delivered
            // Past the drain timeout, stop if the rest can wait on disk (or the sink is down):
            // a large backlog must not hold up the agent's shutdown.
            if closing, counters.down || spool != nil, let deadline = closeDeadline, Date() >= deadline { break }
            let fromSpool = queue.isEmpty
            let batch: [OutputLine]
            if fromSpool {
                spool!.sync()  // never deliver what a crash could un-write
                batch = spool!.peek(max: batchSize)
            } else {
                batch = Array(queue.prefix(batchSize))
            }
            cond.unlock()
            var failure: (any Error)?
            do { try sink.deliver(batch[...]) } catch { failure = error }
            cond.lock()
            if let failure {
                counters.failures += 1
                counters.lastError = String(describing: failure)
                counters.down = true
                if !fromSpool, let spool {
                    // Outage: move what memory holds to disk, in front of anything spooled.
                    let moved = spool.prepend(queue[...])
                    counters.spooled += moved
                    counters.lost += queue.count - moved
                    queue.removeAll(keepingCapacity: true)
                }
                if closing, let deadline = closeDeadline, Date() >= deadline { break }
                // Sleep out the whole backoff: new lines signal the condition, and waking for each
                // would hammer a dead receiver with connection attempts. Only closing cuts it short.
                let wake = Date().addingTimeInterval(backoff)
                let wasClosing = closing
                while Date() < wake && closing == wasClosing {
                    _ = cond.wait(until: min(wake, closeDeadline ?? wake))
                    if let deadline = closeDeadline, Date() >= deadline { break }
                }
                backoff = min(backoff * 2, retryMax)
            } else {
                backoff = retryInitial
                counters.down = false
                counters.lastError = nil
                counters.delivered += batch.count
                if fromSpool { spool!.ack() } else { queue.removeFirst(batch.count) }
            }
        }
        // Undelivered at close: keep it on disk for the next run, or count it lost.
        if !queue.isEmpty {
            if let spool {
                let moved = spool.prepend(queue[...])
                counters.spooled += moved
                counters.lost += queue.count - moved
            } else {
                counters.lost += queue.count
            }
            queue.removeAll()
        }
        spool?.sync()
        cond.unlock()
        sink.close()
        cond.lock()
        finished = true
        cond.broadcast()
        cond.unlock()
    }
}

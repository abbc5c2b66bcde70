import Foundation

/// Counters of one output, as `OutputRouter.stats` reports them.
public struct SinkStats: Sendable, Hashable {
    /// The output's name (credentials masked).
    public var name: String
    /// Lines offered to this output after its filter.
    public var accepted: Int = 0
    /// Lines the sink confirmed delivered (for `_bulk`, including items the receiver already
    /// held: 409 on a `create` with the same `_id`).
    public var delivered: Int = 0
    /// Lines written to the disk spool (over the whole run).
    public var spooled: Int = 0
    /// Bytes waiting in the spool now.
    public var spoolPendingBytes: Int = 0
    /// Lines waiting in memory now.
    public var queued: Int = 0
    /// Lines lost: the memory queue and spool were both full, left undelivered at close
    /// without a spool, rejected by the receiver with no room in the dead-letter file, or
    /// refused by the receiver without being named (OTLP `partialSuccess`).
    public var lost: Int = 0
    /// Lines the receiver rejected for good (HTTP 4xx), kept in the dead-letter file. They
    /// are missing at the receiver, so they are reported like losses.
    public var deadLettered: Int = 0
    /// The dead-letter file, when the output has one.
    public var deadLetterPath: String?
    /// Why the receiver rejected the last dead-lettered lines.
    public var lastRejection: String?
    /// Failed delivery attempts (each is retried).
    public var failures: Int = 0
    /// The last delivery error, if the last attempt failed.
    public var lastError: String?
    /// True while the sink is failing (its events go to the spool).
    public var down: Bool = false
    /// True once the output is closing: it delivers what it can within the drain timeout.
    public var draining: Bool = false
    /// Set while the receiver refuses the output's credentials (HTTP 401/403): the output
    /// is failing until an operator fixes them; its events stay spooled.
    public var unauthorized: String?
}

/// Drives one sink on its own thread: a bounded in-memory queue in front, the disk spool
/// behind it, retries with jittered exponential backoff (``RetryBackoff``; the receiver's
/// `Retry-After` as its floor), and a
/// dead-letter file for lines the receiver rejects for good.
///
/// Order is kept by one rule: everything in memory is older than everything in the spool.
/// Once a line goes to the spool, later lines follow it there until the spool is drained;
/// when a batch from memory fails, memory is moved to the front of the spool.
///
/// What a failure means is the sink's to say (`DeliveryFailure`): transient failures are
/// retried; rejected lines go to the dead-letter file and the next batch flows; a 413 splits
/// the batch; a partial delivery retries only the lines not taken. All timing (backoff,
/// batch wait, drain timeout) is read from the injected `OutputClock`.
final class SinkWorker: @unchecked Sendable {
    /// Tuning of one worker.
    struct Settings {
        var capacity: Int
        var batchSize: Int
        var batchBytes: Int
        var batchWaitSeconds: Double
        var retryInitial: Double
        var retryMax: Double
        /// Longest `Retry-After` honoured (a receiver asking for more gets this).
        var retryAfterMax: Double = 300
        var drainTimeout: Double
        /// The randomness of the backoff (``RetryJitter/random()`` in production).
        var jitter: RetryJitter = .random()
    }

    let spec: OutputSpec?
    private let sink: any Sink
    private let spool: Spool?
    private let deadLetter: DeadLetterFile?
    private let clock: any OutputClock
    private let settings: Settings
    private let cond = NSCondition()
    private var queue: [OutputLine] = []
    private var queueBytes = 0
    /// When the lines in memory must go even if the batch is not full (nil: at once).
    private var lingerUntil: UInt64?
    private var closing = false
    /// Phase one of the router's close (`drain()`): deliver or spool what is held, then go on.
    private var draining = false
    private var drained = false
    private var finished = false
    private var counters: SinkStats
    private var closeDeadline: UInt64?
    private var thread: Thread?

    /// The batch being delivered and retried: the lines still to send, and where they came
    /// from (the spool's last `peek`, or the first `taken` lines of the memory queue).
    private struct Batch { var lines: [OutputLine]; var fromSpool: Bool; var taken: Int }
    private var current: Batch?

    init(sink: any Sink, spec: OutputSpec?, spool: Spool?, deadLetter: DeadLetterFile?, clock: any OutputClock, settings: Settings) {
        self.sink = sink
        self.spec = spec
        self.spool = spool
        self.deadLetter = deadLetter
        self.clock = clock
        self.settings = settings
        self.counters = SinkStats(name: spec?.redacted ?? sink.name)
        counters.deadLetterPath = deadLetter?.path
        queue.reserveCapacity(min(settings.capacity, 65_536))
        let t = Thread { [self] in run() }
        t.name = "vigil-sink"
        thread = t
        t.start()
    }

    /// Room a report of the outputs' own losses has beyond the bounds (``reserved`` lines):
    /// lines in memory past the queue's capacity, bytes in the spool past its bound. An output
    /// whose queue and spool are full still takes the report of what it lost, so the last one,
    /// at close, is not itself a loss that nothing reports; a dozen of them at most.
    static let reservedLines = 16
    static let reservedSpoolBytes = 16 << 10

    /// Offers one line. Never blocks on the sink: at worst it is written to the spool file.
    /// A `reserved` line (a loss report) may use the room kept beyond the bounds.
    func publish(_ line: OutputLine, reserved: Bool = false) {
        cond.lock()
        defer { cond.unlock() }
        counters.accepted += 1
        let capacity = settings.capacity + (reserved ? Self.reservedLines : 0)
        if closing {
            counters.lost += 1
        } else if let spool, spool.hasPending || queue.count >= settings.capacity {
            if spool.append(line, beyondBound: reserved ? Self.reservedSpoolBytes : 0) { counters.spooled += 1 } else { counters.lost += 1 }
        } else if queue.count < capacity {
            if queue.isEmpty && settings.batchWaitSeconds > 0 { lingerUntil = clock.deadline(after: settings.batchWaitSeconds) }
            queue.append(line)
            queueBytes += line.bytes.count
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
        s.draining = closing || draining
        s.queued = queue.count
        s.spoolPendingBytes = spool?.pendingBytes ?? 0
        s.lost += spool?.lostOnWrite ?? 0
        return s
    }

    /// Phase one of a close: delivers what it holds within the drain timeout and spools (or,
    /// without room, counts lost) the rest, as `close()` would, but keeps the sink open and
    /// goes on taking lines. So every loss of the close is counted before the router's last
    /// report of them. Returns when done.
    func drain() {
        cond.lock()
        defer { cond.unlock() }
        guard !closing, !finished else { return }
        draining = true
        drained = false
        closeDeadline = clock.deadline(after: settings.drainTimeout)
        cond.broadcast()
        while !drained && !finished { cond.wait() }
    }

    /// Stops accepting, delivers what it can within the drain timeout, spools the rest, and
    /// closes the sink. Returns when the worker thread has finished. After `drain()` it
    /// delivers only what came since (the router's last report), within a second at most;
    /// the spool waits for the next run, and an output down at the end of the drain only
    /// spools.
    func close() {
        cond.lock()
        closing = true
        closeDeadline = clock.deadline(after: drained ? min(settings.drainTimeout, Self.afterDrainSeconds) : settings.drainTimeout)
        cond.broadcast()
        while !finished { cond.wait() }
        cond.unlock()
    }

    static let afterDrainSeconds = 1.0

    private var stopping: Bool { closing || draining }

    private var pastCloseDeadline: Bool {
        guard let d = closeDeadline else { return false }
        return clock.monotonicNanos() >= d
    }

    private var memoryBatchFull: Bool { queue.count >= settings.batchSize || queueBytes >= settings.batchBytes }

    private func run() {
        var backoff = RetryBackoff(initial: settings.retryInitial, maximum: settings.retryMax,
                                   retryAfterMax: settings.retryAfterMax, jitter: settings.jitter)
        cond.lock()
        while true {
            deliver(&backoff)
            keepUndelivered()
            guard draining && !closing else { break }
            // Drained: nothing more is delivered until the close, which delivers only what
            // comes in the meantime (the router's last report), so a close still takes about
            // the drain timeout, not two.
            draining = false
            drained = true
            closeDeadline = nil
            cond.broadcast()
            while !closing { cond.wait() }
        }
        spool?.sync()
        cond.unlock()
        sink.close()
        cond.lock()
        finished = true
        cond.broadcast()
        cond.unlock()
    }

    /// Delivers until stopping (drain or close) with nothing left or past the deadline; a
    /// close after a drain, only what is in memory. Called and returns with `cond` held.
    private func deliver(_ backoff: inout RetryBackoff) {
        while true {
            while current == nil && queue.isEmpty && !(spool?.hasPending ?? false) && !stopping { cond.wait() }
            let spoolWaits = (spool?.hasPending ?? false) && !(closing && drained)
            if current == nil && queue.isEmpty && !spoolWaits { break }  // stopping, all delivered
            // Past the drain timeout, stop if the rest can wait on disk (or the sink is down):
            // a large backlog must not hold up the agent's shutdown.
            if stopping, counters.down || spool != nil, pastCloseDeadline { break }
            // Down when the drain ended: the close only keeps what came since.
            if closing, drained, counters.down { break }
            // A batch not yet full waits for more lines, at most `batchWaitSeconds` after its first.
            if current == nil, !queue.isEmpty, !stopping, !memoryBatchFull, let until = lingerUntil, clock.monotonicNanos() < until {
                clock.wait(cond, until: until)
                continue
            }
            if current == nil { current = takeBatch() }
            let batch = current!
            cond.unlock()
            let result = attempt(batch.lines)
            cond.lock()
            counters.delivered += result.delivered
            if !result.rejected.isEmpty { deadLetter(result.rejected) }
            if let refused = result.unattributed {
                counters.lost += refused.count
                counters.lastRejection = refused.reason
            }
            guard let failure = result.failure else {
                backoff.reset()
                counters.down = false
                counters.lastError = nil
                counters.unauthorized = nil
                if batch.fromSpool { spool!.ack() } else { dropFromQueue(batch.taken) }
                current = nil
                continue
            }
            counters.failures += 1
            counters.lastError = failure.message
            counters.down = true
            counters.unauthorized = failure.kind == .unauthorized ? failure.message : nil
            current!.lines = result.retry
            if !batch.fromSpool, let spool {
                // Outage: move what memory holds to disk, in front of anything spooled.
                let rest = result.retry + queue[batch.taken...]
                let moved = spool.prepend(rest[...])
                counters.spooled += moved
                counters.lost += rest.count - moved
                queue.removeAll(keepingCapacity: true)
                queueBytes = 0
                current = nil
            }
            if stopping, pastCloseDeadline { break }
            var retryAfter: Double?
            if case .transient(let after?) = failure.kind { retryAfter = after }
            var wait = backoff.next(retryAfter: retryAfter)
            if failure.kind == .unauthorized { wait = settings.retryMax }  // an operator must act; do not hammer
            // Sleep out the whole wait: new lines signal the condition, and waking for each
            // would hammer a dead receiver with connection attempts. Only a drain or close cuts it short.
            let wake = clock.deadline(after: wait)
            let wasStopping = stopping
            while clock.monotonicNanos() < wake && stopping == wasStopping && !pastCloseDeadline {
                clock.wait(cond, until: min(wake, closeDeadline ?? wake))
            }
        }
    }

    /// Undelivered when stopping: keep it on disk for the next run, or count it lost.
    private func keepUndelivered() {
        if let c = current, !c.fromSpool {
            queue = c.lines + queue[c.taken...]
        }
        current = nil
        if !queue.isEmpty {
            if let spool {
                let moved = spool.prepend(queue[...])
                counters.spooled += moved
                counters.lost += queue.count - moved
            } else {
                counters.lost += queue.count
            }
            queue.removeAll()
            queueBytes = 0
        }
    }

    /// The next batch: from memory (older) or else the spool, capped by count and bytes.
    private func takeBatch() -> Batch {
        if queue.isEmpty {
            spool!.sync()  // never deliver what a crash could un-write
            return Batch(lines: spool!.peek(max: settings.batchSize, maxBytes: settings.batchBytes), fromSpool: true, taken: 0)
        }
        var bytes = 0
        var n = 0
        for l in queue.prefix(settings.batchSize) {
            if n > 0 && bytes + l.bytes.count > settings.batchBytes { break }
            bytes += l.bytes.count
            n += 1
        }
        return Batch(lines: Array(queue[..<n]), fromSpool: false, taken: n)
    }

    private func dropFromQueue(_ n: Int) {
        for l in queue[..<n] { queueBytes -= l.bytes.count }
        queue.removeFirst(n)
        // What is left was waiting already: it goes in the next batch without lingering.
        lingerUntil = nil
    }

    private func deadLetter(_ rejected: [(line: OutputLine, reason: String)]) {
        let kept = deadLetter?.append(rejected, output: counters.name, timeNanos: clock.wallNanos()) ?? 0
        counters.deadLettered += kept
        counters.lost += rejected.count - kept
        counters.lastRejection = rejected.last?.reason
    }

    /// What one delivery attempt achieved, line by line.
    struct AttemptResult {
        var delivered = 0
        var rejected: [(line: OutputLine, reason: String)] = []
        /// Lines still to deliver, in order; non-empty exactly when `failure` is set.
        var retry: [OutputLine] = []
        var failure: DeliveryFailure?
        /// Events the receiver refused without naming them (counted lost, not retried).
        var unattributed: UnattributedRejection?
    }

    /// Delivers `lines`, splitting on 413 and sorting a partial answer into delivered,
    /// rejected and retry.
    func attempt(_ lines: [OutputLine]) -> AttemptResult {
        do {
            try sink.deliver(lines[...])
            return AttemptResult(delivered: lines.count)
        } catch let refused as UnattributedRejection {
            return AttemptResult(delivered: lines.count - refused.count, unattributed: refused)
        } catch let partial as PartialDelivery {
            var r = AttemptResult()
            for (i, l) in lines.enumerated() {
                guard let f = partial.failed[i] else { r.delivered += 1; continue }
                switch f.kind {
                case .rejected, .tooLarge: r.rejected.append((l, f.message))
                case .transient, .unauthorized:
                    r.retry.append(l)
                    if r.failure == nil { r.failure = f }
                }
            }
            return r
        } catch let f as DeliveryFailure {
            switch f.kind {
            case .rejected:
                return AttemptResult(rejected: lines.map { ($0, f.message) })
            case .tooLarge:
                guard lines.count > 1 else { return AttemptResult(rejected: [(lines[0], f.message)]) }
                let mid = lines.count / 2
                var first = attempt(Array(lines[..<mid]))
                if first.failure != nil {
                    first.retry += lines[mid...]
                    return first
                }
                let second = attempt(Array(lines[mid...]))
                first.delivered += second.delivered
                first.rejected += second.rejected
                first.retry = second.retry
                first.failure = second.failure
                return first
            case .transient, .unauthorized:
                return AttemptResult(retry: lines, failure: f)
            }
        } catch {
            return AttemptResult(retry: lines, failure: DeliveryFailure(.transient(retryAfter: nil), String(describing: error)))
        }
    }
}

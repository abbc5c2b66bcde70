import Foundation
import VigilCore

/// Writes profiles on a serial queue of its own, so that the agent loop (the one thread
/// that reads the ring buffer and pings the watchdog) never waits for disk: encoding,
/// comparing with the old file and the fsyncs of a hundred profiles take seconds.
///
/// The loop hands over snapshots (profiles are values) and later collects what was
/// written. One batch is written at a time; a snapshot handed over while an earlier one of
/// the same profile still waits replaces it, so a profile is never written twice in a row
/// with stale content. Each write is the store's atomic one (temporary file, fsync, rename).
final class ProfileWriter: @unchecked Sendable {
    /// One profile the writer finished with.
    struct Outcome: Sendable {
        var id: String
        /// The revision the file holds (the store's), or nil when the save failed.
        var revision: UInt64?
        /// Whether the file was written (false: unchanged, or the save failed).
        var wrote: Bool
        /// The file as the writer left it: the agent's own change, not tampering.
        var stamp: Agent.FileStamp?
    }

    private let store: ProfileStore
    private let queue = DispatchQueue(label: "vigil.profile-writer", qos: .utility)
    private let group = DispatchGroup()
    private let lock = NSLock()
    private var pending: [String: Profile] = [:]
    private var writing: Set<String> = []
    private var scheduled = false
    private var outcomes: [Outcome] = []

    /// Called on the writer's queue before each profile is written (tests hold the writer
    /// with it to see the loop go on meanwhile).
    private let beforeWrite: (@Sendable (String) -> Void)?

    init(store: ProfileStore, beforeWrite: (@Sendable (String) -> Void)? = nil) {
        self.store = store
        self.beforeWrite = beforeWrite
    }

    /// Queues `profiles` for writing; returns at once.
    func submit(_ profiles: [Profile]) {
        guard !profiles.isEmpty else { return }
        lock.withLock {
            for p in profiles { pending[p.id] = p }
            guard !scheduled else { return }
            scheduled = true
            queue.async(group: group) { [self] in drain() }
        }
    }

    /// Drops the queued snapshot of profile `id` (its file was deleted and it was removed);
    /// a write already under way finishes.
    func cancel(_ id: String) {
        lock.withLock { _ = pending.removeValue(forKey: id) }
    }

    /// What finished since the last call, and the file names (`<id>.json`) queued or being
    /// written now, read together: a file in neither was last changed by someone else or
    /// is reported in the outcomes.
    func collect() -> (outcomes: [Outcome], busy: Set<String>) {
        lock.withLock {
            let out = outcomes
            outcomes.removeAll()
            return (out, Set(pending.keys).union(writing).reduce(into: Set<String>()) { $0.insert($1 + ".json") })
        }
    }

    /// Blocks until everything handed over is on disk (the final save at stop).
    func waitUntilIdle() {
        group.wait()
    }

    private func drain() {
        while let batch = takeBatch() {
            for id in batch.keys.sorted() { write(batch[id]!) }
        }
    }

    private func takeBatch() -> [String: Profile]? {
        lock.withLock {
            guard !pending.isEmpty else {
                scheduled = false
                return nil
            }
            let batch = pending
            pending.removeAll()
            writing = Set(batch.keys)
            return batch
        }
    }

    private func write(_ profile: Profile) {
        beforeWrite?(profile.id)
        var p = profile
        var outcome = Outcome(id: p.id, revision: nil, wrote: false, stamp: nil)
        do {
            outcome.wrote = try store.save(&p)
            outcome.revision = p.revision
        } catch {
            Diagnostics.error("saving profile \(p.id): \(error)")
        }
        outcome.stamp = Agent.stamp(of: store.path(for: p.id))
        lock.withLock {
            outcomes.append(outcome)
            writing.remove(p.id)
        }
    }
}

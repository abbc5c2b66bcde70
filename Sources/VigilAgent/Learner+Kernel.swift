import Foundation
import VigilCore

/// The learner's way to the kernel's counts and to disk, shared by `vigil learn` and `vigil run`.
extension Learner {
    /// Folds the kernel's counts of known behaviour into profiles `ids` (nil: every profile
    /// with a slot).
    func absorbKernelCounts(from sensor: any KernelControl, ids: [String]?, now: UInt64) {
        let counts = sensor.knownCounts()
        let slots = ids.map { $0.map { profileSlot(for: $0) } } ?? counts.keys.filter { profileID(forSlot: $0) != nil }
        for slot in slots {
            guard let c = counts[slot] else { continue }
            absorbKernelCounts(slot: slot, syscalls: c.syscalls, ngrams: c.ngrams, now: now)
        }
    }

    /// Takes the finished binary hashes and the kernel's counts, then returns the changed
    /// profiles among `ids` (nil: all) that may be written, as they are now, and forgets that
    /// those changed: a change from here on makes a profile dirty again, for the next save,
    /// and so does a failed write (``markUnsaved(_:)``). Profiles not returned stay dirty.
    /// The writing is the caller's (``ProfileWriter``, off the agent loop).
    func absorbAndSnapshot(ids: [String]?, sensor: any KernelControl, hasher: BackgroundHasher,
                           refused: Set<String>, final: Bool, now t: UInt64) -> [Profile] {
        if final { hasher.waitForPending(seconds: 10) }
        for (path, hash) in hasher.completed() { noteBinary(path: path, sha256: hash, now: t) }
        absorbKernelCounts(from: sensor, ids: ids, now: t)
        tick(t)
        let candidates = ids.map { Set($0).intersection(dirty) } ?? dirty
        let snapshot = candidates.sorted().filter { !refused.contains($0) }.compactMap { profiles[$0] }
        markSaved(snapshot.map(\.id))
        return snapshot
    }
}

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

    /// Writes profile `id` if it changed, unless its file was refused at load; true when written.
    @discardableResult
    func save(_ id: String, to store: ProfileStore, refused: Set<String>) -> Bool {
        guard !refused.contains(id), var p = profiles[id] else { return false }
        do {
            let wrote = try store.save(&p)
            setRevision(p.revision, for: id)
            return wrote
        } catch {
            Diagnostics.error("saving profile \(id): \(error)")
            return false
        }
    }

    /// Takes the finished binary hashes and the kernel's counts, then writes the changed
    /// profiles among `ids` (nil: all). Returns how many were written.
    @discardableResult
    func absorbAndSave(ids: [String]?, sensor: any KernelControl, store: ProfileStore, hasher: BackgroundHasher,
                       refused: Set<String>, final: Bool, now t: UInt64) -> Int {
        if final { hasher.waitForPending(seconds: 10) }
        for (path, hash) in hasher.completed() { noteBinary(path: path, sha256: hash, now: t) }
        absorbKernelCounts(from: sensor, ids: ids, now: t)
        tick(t)
        let candidates = ids.map { Set($0).intersection(dirty) } ?? dirty
        let saved = candidates.sorted().filter { save($0, to: store, refused: refused) }.count
        markSaved()
        return saved
    }
}

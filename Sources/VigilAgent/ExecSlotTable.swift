import VigilSensor

/// Which profile slots the kernel names at exec (vg_exec_slots): each profile that has an
/// ``ExecSlotKey`` claims it, and a key is published only while exactly one profile claims
/// it. Two profiles on one key (two paths to one file, e.g. through a bind mount) would make
/// the kernel's answer a guess, so neither is published and their processes are pending
/// until the agent names them from the exec record, as without this map.
///
/// Pure bookkeeping: ``claim(_:key:slot:)`` and ``release(_:)`` say what to write, the
/// agent writes it through ``KernelControl``.
struct ExecSlotTable {
    /// A change to make to the kernel's map.
    enum Write: Equatable {
        case publish(ExecSlotKey, slot: UInt32)
        case unpublish(ExecSlotKey)
    }

    private var keyOf: [String: ExecSlotKey] = [:]
    private var claims: [ExecSlotKey: [String: UInt32]] = [:]

    /// Keys published now (claimed by one profile).
    var published: Int { claims.values.filter { $0.count == 1 }.count }

    /// Profile `id` (slot `slot`) has key `key` now (nil: none, e.g. its file is gone or
    /// cannot have one): the writes that bring the kernel's map in line.
    mutating func claim(_ id: String, key: ExecSlotKey?, slot: UInt32) -> [Write] {
        if let key, keyOf[id] == key, claims[key]?[id] == slot { return [] }
        var writes = release(id)
        guard let key else { return writes }
        keyOf[id] = key
        claims[key, default: [:]][id] = slot
        switch claims[key]!.count {
        case 1: writes.append(.publish(key, slot: slot))
        case 2: writes.append(.unpublish(key)) // it named the other profile's slot
        default: break
        }
        return Self.collapse(writes)
    }

    /// Profile `id` is gone (or no longer in the kernel): the writes that take its key out,
    /// and that publish the one profile left on it, if one is.
    mutating func release(_ id: String) -> [Write] {
        guard let key = keyOf.removeValue(forKey: id), var holders = claims[key] else { return [] }
        let had = holders.count
        holders[id] = nil
        claims[key] = holders.isEmpty ? nil : holders
        switch (had, holders.count) {
        case (1, 0): return [.unpublish(key)]
        case (2, 1): return [.publish(key, slot: holders.first!.value)]
        default: return []
        }
    }

    /// A key unpublished and published again in one claim (a new slot for the same file) is
    /// one publish: the kernel's map never goes without it in between.
    private static func collapse(_ writes: [Write]) -> [Write] {
        var out: [Write] = []
        for w in writes {
            if case .publish(let k, _) = w, case .unpublish(let prev)? = out.last, prev == k { out.removeLast() }
            out.append(w)
        }
        return out
    }
}

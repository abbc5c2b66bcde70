import CVigilWire
import VigilCore

/// The one table between the wire format's record kinds (`enum vg_kind` in `vigil_wire.h`)
/// and `Event.Kind`. `RecordDecoder` reads it to name a record, `Sensor` to index the
/// per-kind counters; `WireKindTests` checks it against every `VG_KIND_*` the header declares.
enum WireKind {
    /// Each wire kind with the event kind it decodes to: one row per kind, both ways.
    static let table: [(wire: vg_kind, kind: Event.Kind)] = [
        (VG_KIND_EXEC, .exec),
        (VG_KIND_FORK, .fork),
        (VG_KIND_EXIT, .exit),
        (VG_KIND_SYSCALL, .syscall),
        (VG_KIND_CONNECT, .connect),
        (VG_KIND_BIND, .bind),
        (VG_KIND_LISTEN, .listen),
        (VG_KIND_ACCEPT, .accept),
        (VG_KIND_NOVELTY, .novelty),
        (VG_KIND_ACTION, .action),
        (VG_KIND_TAMPER, .tamper),
        (VG_KIND_FILE, .file),
    ]

    /// Indexed by wire number (`vg_header.kind`, below `VG_KIND_MAX`).
    private static let byWire: [Event.Kind?] = {
        var t = [Event.Kind?](repeating: nil, count: Int(VG_KIND_MAX.rawValue))
        for row in table { t[Int(row.wire.rawValue)] = row.kind }
        return t
    }()

    private static let byKind: [Event.Kind: UInt32] = Dictionary(uniqueKeysWithValues: table.map { ($0.kind, $0.wire.rawValue) })

    /// The event kind of a record's `vg_header.kind`; nil for a number this build does not know.
    static func kind(_ wire: UInt32) -> Event.Kind? {
        wire < UInt32(byWire.count) ? byWire[Int(wire)] : nil
    }

    /// The wire number of an event kind.
    static func wire(_ kind: Event.Kind) -> UInt32 { byKind[kind]! }
}

extension Event.Kind {
    /// The wire format's number for this kind.
    var wireKind: UInt32 { WireKind.wire(self) }
}

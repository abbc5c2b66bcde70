import CVigilWire
public import VigilCore

extension Event.Kind {
    /// The wire format's number for this kind.
    var wireKind: UInt32 {
        switch self {
        case .exec: VG_KIND_EXEC.rawValue
        case .fork: VG_KIND_FORK.rawValue
        case .exit: VG_KIND_EXIT.rawValue
        case .syscall: VG_KIND_SYSCALL.rawValue
        case .connect: VG_KIND_CONNECT.rawValue
        case .bind: VG_KIND_BIND.rawValue
        case .listen: VG_KIND_LISTEN.rawValue
        case .accept: VG_KIND_ACCEPT.rawValue
        case .novelty: VG_KIND_NOVELTY.rawValue
        case .action: VG_KIND_ACTION.rawValue
        case .tamper: VG_KIND_TAMPER.rawValue
        case .file: VG_KIND_FILE.rawValue
        }
    }
}

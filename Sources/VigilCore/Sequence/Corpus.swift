import Foundation

/// A directory of labelled traces: `train/`, `validation/` and `attack/<case>/` (or ADFA-LD's
/// `Training_Data_Master`, `Validation_Data_Master`, `Attack_Data_Master`), any depth below
/// them, one process per file. Files directly under the attack directory are one case each.
public struct Corpus: Sendable {
    /// One intrusion: every process recorded while it ran.
    public struct AttackCase: Sendable, Hashable {
        public var name: String
        public var files: [String]
    }

    public var root: String
    public var train: [String]
    /// nil when the corpus has no validation directory.
    public var validation: [String]?
    public var attacks: [AttackCase]
    /// What the corpus's numbers are (``manifestName``): opaque symbols unless it says so.
    public var numbering: Numbering = .opaque

    /// What a corpus's syscall numbers are, which decides whether n-gram histories restart
    /// at request boundaries (``SyscallBoundaries``) and look through thread-timing calls
    /// (``SyscallTransparency``) when it is evaluated or replayed.
    public enum Numbering: String, Sendable, Hashable, CaseIterable {
        /// Symbols with no known meaning (UNM's SunOS 4.1 numbers, a corpus that does not
        /// say): no boundaries, every n-gram spans every call.
        case opaque
        /// Linux x86_64 syscall numbers (``SyscallTable``): the boundaries and transparent
        /// calls the kernel uses.
        case linuxX86_64 = "linux-x86_64"

        /// The boundary numbers this numbering implies.
        public var boundaries: [UInt32] {
            switch self {
            case .opaque: []
            case .linuxX86_64: SyscallBoundaries.linuxNumbers
            }
        }

        /// The calls n-grams look through under this numbering (``SyscallTransparency``).
        public var transparent: [UInt32] {
            switch self {
            case .opaque: []
            case .linuxX86_64: SyscallTransparency.linuxNumbers
            }
        }
    }

    /// The optional corpus description at the corpus root: a JSON object whose `"syscalls"`
    /// is `"linux-x86_64"` or `"opaque"` (the default without the file), e.g.
    /// `{"syscalls": "linux-x86_64"}`. Other keys are ignored.
    public static let manifestName = "corpus.json"

    /// The parameters to read this corpus with: `parameters`, with the boundaries and the
    /// transparent calls of the corpus's ``numbering`` where `parameters` names none.
    public func parameters(_ parameters: SequenceModel.Parameters) -> SequenceModel.Parameters {
        var p = parameters
        if p.boundaries.isEmpty { p = p.withBoundaries(numbering.boundaries) }
        if p.transparent.isEmpty { p = p.withTransparent(numbering.transparent) }
        return p
    }

    /// Reads ``manifestName`` under `root`; ``Numbering/opaque`` when there is none.
    /// - Throws: ``TraceInputError`` (`.badManifest`) naming the file and what was expected.
    public static func numbering(at root: String) throws -> Numbering {
        let path = root + "/" + manifestName
        guard FileManager.default.fileExists(atPath: path) else { return .opaque }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TraceInputError(path: path, reason: .unreadable("permission denied or not a file"))
        }
        let accepted = Numbering.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: " or ")
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw TraceInputError(path: path, reason: .badManifest("expected a JSON object such as {\"syscalls\": \"linux-x86_64\"}"))
        }
        guard let value = object["syscalls"] else {
            throw TraceInputError(path: path, reason: .badManifest("missing key \"syscalls\" (expected \(accepted))"))
        }
        guard let name = value as? String, let n = Numbering(rawValue: name) else {
            throw TraceInputError(path: path, reason: .badManifest("\"syscalls\": expected \(accepted), found \(value)"))
        }
        return n
    }

    public static let trainNames = ["train", "Training_Data_Master"]
    public static let validationNames = ["validation", "Validation_Data_Master"]
    public static let attackNames = ["attack", "Attack_Data_Master"]

    /// Finds the parts of a corpus. `train/` is required, the others may be missing
    /// (``validation`` is then nil and ``attacks`` empty); callers decide what they need.
    /// - Throws: ``TraceInputError`` for a missing root or train directory.
    public static func load(at root: String) throws -> Corpus {
        guard isDirectory(root) else {
            throw TraceInputError(path: root, reason: .missingDirectory("corpus directory not found"))
        }
        guard let trainDir = subdirectory(of: root, named: trainNames) else {
            throw TraceInputError(path: root, reason: .missingDirectory("no train/ or Training_Data_Master/ inside"))
        }
        let train = try traceFiles(under: trainDir)
        let validation = try subdirectory(of: root, named: validationNames).map { try traceFiles(under: $0) }
        var attacks: [AttackCase] = []
        if let attackDir = subdirectory(of: root, named: attackNames) {
            for entry in try sortedEntries(attackDir) {
                let path = attackDir + "/" + entry
                if isDirectory(path) {
                    let files = try traceFiles(under: path)
                    if !files.isEmpty { attacks.append(AttackCase(name: entry, files: files)) }
                } else {
                    attacks.append(AttackCase(name: entry, files: [path]))
                }
            }
        }
        var corpus = Corpus(root: root, train: train, validation: validation, attacks: attacks)
        corpus.numbering = try numbering(at: root)
        return corpus
    }

    /// Every regular, non-hidden file below `dir`, in a stable (sorted) order.
    public static func traceFiles(under dir: String) throws -> [String] {
        guard isDirectory(dir) else {
            // A single file is a trace list of one.
            if FileManager.default.fileExists(atPath: dir) { return [dir] }
            throw TraceInputError(path: dir, reason: .missingDirectory("not found"))
        }
        var out: [String] = []
        for entry in try sortedEntries(dir) {
            let path = dir + "/" + entry
            if isDirectory(path) { out += try traceFiles(under: path) } else { out.append(path) }
        }
        return out
    }

    static func subdirectory(of root: String, named names: [String]) -> String? {
        for name in names where isDirectory(root + "/" + name) { return root + "/" + name }
        // Accept other capitalisations (Train/, ATTACK/) too.
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        let wanted = Set(names.map { $0.lowercased() })
        for e in entries.sorted() where wanted.contains(e.lowercased()) && isDirectory(root + "/" + e) {
            return root + "/" + e
        }
        return nil
    }

    static func sortedEntries(_ dir: String) throws -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: dir).filter { !$0.hasPrefix(".") }.sorted()
        } catch {
            throw TraceInputError(path: dir, reason: .unreadable("cannot list directory"))
        }
    }

    static func isDirectory(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
    }
}

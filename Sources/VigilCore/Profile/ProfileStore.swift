import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Profiles on disk: one `<id>.json` per profile in a directory (the Models format).
///
/// Saves are atomic: the new text goes to a temporary file in the same directory, is
/// fsynced, renamed over `<id>.json`, and the directory is fsynced, so a crash at any
/// point leaves the old or the new file, never a torn one. Temporary files start with `.`
/// and are never read as profiles.
public struct ProfileStore: Sendable {
    public let directory: String

    public init(directory: String) { self.directory = directory }

    /// Removes the temporary files of saves that never finished (a writer killed mid-save:
    /// the profile itself is the old one or the new one, never torn); returns how many.
    @discardableResult
    public func sweepAbandonedWrites() -> Int { AtomicFile.sweepAbandoned(in: directory) }

    /// Why a save was refused or failed.
    public struct SaveError: Error, Sendable, CustomStringConvertible {
        public var file: String
        public var reason: String
        public var description: String { "\(file): \(reason)" }
    }

    public func path(for id: String) -> String { (directory as NSString).appendingPathComponent(id + ".json") }

    /// Reads every `*.json` profile in the directory. Files that are corrupt, truncated, of
    /// an unknown version or invalid are reported in `errors` (file, field, reason); the
    /// others load. A missing directory holds no profiles.
    public func loadAll() -> (profiles: [Profile], errors: [ProfileLoadError]) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), !isDir.boolValue {
                return ([], [ProfileLoadError(file: directory, field: "(file)", reason: "not a directory")])
            }
            return ([], [])
        }
        var profiles: [Profile] = []
        var errors: [ProfileLoadError] = []
        for name in names.sorted() where name.hasSuffix(".json") && !name.hasPrefix(".") {
            do { profiles.append(try load(file: (directory as NSString).appendingPathComponent(name))) }
            catch { errors.append(error) }
        }
        return (profiles, errors)
    }

    /// Reads one profile file; its name must be `<id>.json`.
    ///
    /// A file other users can write is refused: anyone could plant a baseline through it.
    public func load(file: String) throws(ProfileLoadError) -> Profile {
        var st = stat()
        if stat(file, &st) == 0, st.st_mode & 0o022 != 0 {
            throw ProfileLoadError(file: file, field: "(file)",
                                   reason: "writable by users other than its owner (mode \(String(st.st_mode & 0o777, radix: 8))); refusing to load it. Fix: chmod go-w \(file)")
        }
        return try Self.load(file: file)
    }

    /// Reads one profile file anywhere; its name must be `<id>.json`.
    public static func load(file: String) throws(ProfileLoadError) -> Profile {
        let bytes: [UInt8]
        switch AtomicFile.read(file) {
        case .success(let b): bytes = b
        case .failure(let e):
            throw ProfileLoadError(file: file, field: "(file)", reason: e.code == .ENOENT ? "no such file" : "cannot be read: \(e.localizedDescription)")
        }
        let p = try ProfileCodec.decode(bytes, file: file)
        let expected = p.id + ".json"
        guard (file as NSString).lastPathComponent == expected else {
            throw ProfileLoadError(file: file, field: "id", reason: "\"\(p.id)\" does not match the file name (expected \(expected))")
        }
        return p
    }

    /// Writes `profile` if it differs from the file on disk, incrementing its revision
    /// (the in-memory profile gets the new revision). Returns whether it wrote.
    ///
    /// Refuses to overwrite a file that does not load (so a damaged baseline is not silently
    /// replaced) unless `force` is set.
    @discardableResult
    public func save(_ profile: inout Profile, force: Bool = false) throws -> Bool {
        try save(&profile, force: force, crash: nil)
    }

    /// Writes `profile` in the current format even when its content equals the file's (an
    /// older-format file is rewritten: `vigil profile upgrade`), incrementing its revision.
    public func rewrite(_ profile: inout Profile) throws {
        _ = try save(&profile, force: false, crash: nil, always: true)
    }

    /// The step after which a simulated crash stops a save (tests only).
    enum CrashPoint { case afterTempWrite, afterTempSync }

    func save(_ profile: inout Profile, force: Bool, crash: CrashPoint?, always: Bool = false) throws -> Bool {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let final = path(for: profile.id)
        var base: UInt64 = 0
        if FileManager.default.fileExists(atPath: final) {
            do {
                let old = try load(file: final)
                var same = profile
                same.revision = old.revision
                if !always, ProfileCodec.encode(same) == ProfileCodec.encode(old) {
                    profile.revision = old.revision
                    return false
                }
                base = old.revision
            } catch {
                guard force else {
                    throw SaveError(file: final, reason: "the existing file does not load (\(error.field): \(error.reason)); not overwriting it without force")
                }
            }
        }
        var next = profile
        next.revision = max(base, profile.revision) + 1
        try writeAtomically(ProfileCodec.encode(next), to: final, crash: crash)
        profile.revision = next.revision
        return true
    }

    func writeAtomically(_ bytes: [UInt8], to final: String, crash: CrashPoint?) throws {
        do { try AtomicFile.write(bytes, to: final, crash: crash) } catch let e as AtomicFile.WriteError {
            throw SaveError(file: e.file, reason: e.reason)
        }
    }
}

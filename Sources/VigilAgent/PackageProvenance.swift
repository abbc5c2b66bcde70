import Foundation
import VigilCore

/// Whether a file is exactly as an installed package put it: its MD5 matches the digest dpkg
/// recorded at install (`/var/lib/dpkg/info/PACKAGE.md5sums`). A changed binary that passes
/// is an upgrade, not an attack (docs/policy.md). The index is read on first use and again
/// whenever the package database changes (its directory's modification time moves).
public final class PackageProvenance {
    private let infoDirectory: String
    private var index: [String: (md5: String, package: String)] = [:]
    private var indexedAt: Date?

    public init(infoDirectory: String = "/var/lib/dpkg/info") {
        self.infoDirectory = infoDirectory
    }

    /// The package that installed `path` as it is now (its name, `bash`, `redis-server:amd64`),
    /// or nil: no package lists it, or the file differs from what the package installed.
    public func package(installing path: String) -> String? {
        refresh()
        let resolved = ContextProviders.resolved(path)
        // Merged-/usr systems: dpkg lists /bin/bash, the program runs as /usr/bin/bash.
        var candidates = [path, resolved]
        for p in [path, resolved] {
            if p.hasPrefix("/usr/") { candidates.append(String(p.dropFirst(4))) } else { candidates.append("/usr" + p) }
        }
        for candidate in candidates {
            guard let entry = index[candidate] else { continue }
            guard let md5 = Self.md5(ofFile: resolved), md5 == entry.md5 else { return nil }
            return entry.package
        }
        return nil
    }

    private func refresh() {
        let mtime = (try? FileManager.default.attributesOfItem(atPath: infoDirectory)[.modificationDate]) as? Date
        guard mtime != indexedAt || indexedAt == nil else { return }
        indexedAt = mtime
        index = [:]
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: infoDirectory) else { return }
        for name in names where name.hasSuffix(".md5sums") {
            guard let text = try? String(contentsOfFile: infoDirectory + "/" + name, encoding: .utf8) else { continue }
            let package = String(name.dropLast(".md5sums".count))
            for line in text.split(separator: "\n") {
                // "<32 hex digits>  <path without its leading slash>"
                guard line.count > 34, line.utf8.prefix(32).allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) else { continue }
                let md5 = String(line.prefix(32))
                let file = "/" + line.dropFirst(34)
                index[file] = (md5, package)
            }
        }
    }

    static func md5(ofFile path: String) -> String? {
        guard let h = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? h.close() }
        var m = MD5()
        while let chunk = try? h.read(upToCount: 1 << 16), !chunk.isEmpty { m.update(chunk) }
        return m.hexDigest()
    }
}

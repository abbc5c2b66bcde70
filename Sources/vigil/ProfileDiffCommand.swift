import ArgumentParser
import Foundation
import VigilAgent
import VigilCore
import VigilOutput
import VigilSensor

extension ProfileCommand {
    struct Diff: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what B adds to and removes from A, per kind of item.",
            discussion: "A and B are both profile files or both directories (profiles matched by id).")
        @Argument(help: "The old profile or directory.") var a: String
        @Argument(help: "The new profile or directory.") var b: String
        @Flag(help: "Print JSON instead of text.") var json = false

        func run() throws {
            var isDirA: ObjCBool = false, isDirB: ObjCBool = false
            let existsA = FileManager.default.fileExists(atPath: a, isDirectory: &isDirA)
            let existsB = FileManager.default.fileExists(atPath: b, isDirectory: &isDirB)
            guard existsA, existsB else { throw ValidationError("\(existsA ? b : a): no such file or directory") }
            guard isDirA.boolValue == isDirB.boolValue else { throw ValidationError("compare two profile files or two directories") }
            var bad = false
            var left: [String: Profile] = [:], right: [String: Profile] = [:]
            if isDirA.boolValue {
                let (pa, ba) = ProfileCommand.loadWarning(ProfileStore(directory: a))
                let (pb, bb) = ProfileCommand.loadWarning(ProfileStore(directory: b))
                bad = ba || bb
                for p in pa { left[p.id] = p }
                for p in pb { right[p.id] = p }
            } else {
                for (path, side) in [(a, 0), (b, 1)] {
                    do {
                        let p = try ProfileStore.load(file: path)
                        if side == 0 { left[p.id] = p } else { right[p.id] = p }
                    } catch {
                        Diagnostics.error("refused \(error)")
                        throw ExitCode(2)
                    }
                }
                if left.keys.first != right.keys.first {
                    // Two different programs: compare them item by item anyway.
                    right = [left.keys.first!: right.values.first!]
                }
            }
            var out: [[String: Any]] = []
            for id in Set(left.keys).union(right.keys).sorted() {
                switch (left[id], right[id]) {
                case (nil, _?): out.append(["id": id, "profile": "added"])
                case (_?, nil): out.append(["id": id, "profile": "removed"])
                case let (x?, y?):
                    let d = ProfileMerge.diff(x, y)
                    if !d.isEmpty {
                        out.append(["id": id, "profile": "changed",
                                    "kinds": d.map { ["kind": $0.kind, "added": $0.added, "removed": $0.removed] as [String: Any] }])
                    }
                default: break
                }
            }
            if json {
                ProfileCommand.printJSON(out)
            } else {
                for entry in out {
                    let id = entry["id"] as! String
                    switch entry["profile"] as! String {
                    case "added": print("+ profile \(id)")
                    case "removed": print("- profile \(id)")
                    default:
                        print("~ profile \(id)")
                        for k in entry["kinds"] as! [[String: Any]] {
                            for item in k["added"] as! [String] { print("  + \(k["kind"]!): \(item)") }
                            for item in k["removed"] as! [String] { print("  - \(k["kind"]!): \(item)") }
                        }
                    }
                }
            }
            if bad { throw ExitCode(2) }
        }
    }
}

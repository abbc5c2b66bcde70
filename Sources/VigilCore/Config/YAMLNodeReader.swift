internal import Yams

/// A configuration file that cannot be used: where, and what was expected there.
public struct YAMLFileError: Error, Sendable, Hashable, CustomStringConvertible {
    public var file: String
    /// 1-based line and column (libyaml counts columns in Unicode scalars); 0 when unknown.
    public var line: Int
    public var column: Int
    public var message: String

    public init(file: String, line: Int, column: Int, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String { "\(file):\(line):\(column): \(message)" }
}

/// The policy file's errors (the same shape as every YAML file Vigil reads).
public typealias PolicyError = YAMLFileError

/// Typed access to a composed YAML tree for Vigil's configuration files (the policy, the
/// agent's configuration), so every complaint points at the node it is about.
protocol YAMLNodeReading {
    /// The file's name in errors.
    var file: String { get }
}

enum YAMLNodeReader {
    /// The document's root node; nil for an empty document.
    static func compose(_ yaml: String, file: String) throws(YAMLFileError) -> Node? {
        do {
            return try Yams.compose(yaml: yaml)
        } catch let e as YamlError {
            switch e {
            case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
                throw YAMLFileError(file: file, line: mark.line, column: mark.column, message: "malformed YAML: \(problem)")
            case .duplicatedKeysInMapping(let duplicates, let context):
                throw YAMLFileError(file: file, line: context.mark.line, column: context.mark.column,
                                    message: "duplicate key \(duplicates.joined(separator: ", ")); expected each key once")
            default:
                throw YAMLFileError(file: file, line: 0, column: 0, message: "malformed YAML: \(e)")
            }
        } catch {
            throw YAMLFileError(file: file, line: 0, column: 0, message: "\(error)")
        }
    }
}

extension YAMLNodeReading {
    func fail(_ node: Node, _ message: String) -> YAMLFileError {
        YAMLFileError(file: file, line: node.mark?.line ?? 0, column: node.mark?.column ?? 0, message: message)
    }

    func isNull(_ node: Node) -> Bool {
        if case .scalar(let s) = node, s.style == .plain { return ["", "~", "null", "Null", "NULL"].contains(s.string) }
        return false
    }

    /// The pairs of a mapping (null counts as empty), each key checked against `allowed` (nil: any).
    func pairs(_ node: Node, _ what: String, allowed: [String]?) throws(YAMLFileError) -> [(key: String, keyNode: Node, value: Node)] {
        if isNull(node) { return [] }
        guard case .mapping(let m) = node else { throw fail(node, "\(what) must be a mapping") }
        var out: [(String, Node, Node)] = []
        for (k, v) in m {
            guard case .scalar(let ks) = k else { throw fail(k, "keys of \(what) must be plain names") }
            if let allowed, !allowed.contains(ks.string) {
                let hint = closestKey(to: ks.string, in: allowed).map { "did you mean '\($0)'? " } ?? ""
                throw fail(k, "unknown key '\(ks.string)' in \(what); \(hint)expected one of: \(allowed.joined(separator: ", "))")
            }
            out.append((ks.string, k, v))
        }
        return out
    }

    func number(_ node: Node, _ what: String, in range: ClosedRange<Double>, positive: Bool = false) throws(YAMLFileError) -> Double {
        let expectation = positive ? "a number greater than 0 and at most \(range.upperBound.clean)"
                                   : "a number from \(range.lowerBound.clean) to \(range.upperBound.clean)"
        guard case .scalar(let s) = node, s.style == .plain, let v = Double(s.string), v.isFinite else {
            throw fail(node, "\(what): expected \(expectation), found '\(node.text)'")
        }
        guard range.contains(v), !positive || v > 0 else { throw fail(node, "\(what): expected \(expectation), found \(s.string)") }
        return v
    }

    func integer(_ node: Node, _ what: String, in range: ClosedRange<Int>) throws(YAMLFileError) -> Int {
        guard case .scalar(let s) = node, let v = Int(s.string), range.contains(v) else {
            throw fail(node, "\(what): expected a whole number from \(range.lowerBound) to \(range.upperBound), found '\(node.text)'")
        }
        return v
    }

    func bool(_ node: Node, _ what: String) throws(YAMLFileError) -> Bool {
        guard case .scalar(let s) = node, ["true", "false"].contains(s.string) else {
            throw fail(node, "\(what): expected true or false, found '\(node.text)'")
        }
        return s.string == "true"
    }

    /// A non-empty string scalar.
    func string(_ node: Node, _ what: String) throws(YAMLFileError) -> String {
        guard case .scalar(let s) = node, !isNull(node), !s.string.isEmpty else {
            throw fail(node, "\(what): expected a non-empty text, found '\(node.text)'")
        }
        return s.string
    }

    /// One of `choices`.
    func choice(_ node: Node, _ what: String, _ choices: [String]) throws(YAMLFileError) -> String {
        guard case .scalar(let s) = node, choices.contains(s.string) else {
            throw fail(node, "\(what): expected one of \(choices.joined(separator: ", ")), found '\(node.text)'")
        }
        return s.string
    }

    func strings(_ node: Node, _ what: String) throws(YAMLFileError) -> [(String, Node)] {
        if isNull(node) { return [] }
        guard case .sequence(let seq) = node else { throw fail(node, "\(what): expected a list, e.g. [a, b]") }
        var out: [(String, Node)] = []
        for item in seq {
            guard case .scalar(let s) = item, !s.string.isEmpty else { throw fail(item, "\(what): expected a non-empty name") }
            out.append((s.string, item))
        }
        return out
    }
}

/// The allowed key nearest to `key` by edit distance (insertions, deletions, substitutions;
/// `_` and `-` count as the same), if it is near enough to be a typo: at most 2 edits, and
/// fewer than half the key's length.
func closestKey(to key: String, in allowed: [String]) -> String? {
    func norm(_ s: String) -> [Character] { Array(s.lowercased().replacingOccurrences(of: "_", with: "-")) }
    let a = norm(key)
    var best: (String, Int)?
    for candidate in allowed {
        let b = norm(candidate)
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var row = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(b.count, 1) where !b.isEmpty {
                row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = row
        }
        let d = a.isEmpty ? b.count : previous[b.count]
        if best == nil || d < best!.1 { best = (candidate, d) }
    }
    guard let best, best.1 <= 2, best.1 * 2 < max(a.count, 1) else { return nil }
    return best.0
}

extension Node {
    /// The node as it might appear in a message.
    var text: String {
        switch self {
        case .scalar(let s): s.string
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }
}

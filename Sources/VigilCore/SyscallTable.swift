/// Syscall numbers and names of the architecture Vigil watches. The sensor reports numbers;
/// profiles, findings and seccomp exports show names.
public enum SyscallTable {
    /// The name of syscall `number` on x86_64, or `syscall_<n>` when it has none.
    public static func name(_ number: Int) -> String {
        if number >= 0, number < x86_64Names.count, !x86_64Names[number].isEmpty { return x86_64Names[number] }
        return "syscall_\(number)"
    }

    /// The number of a syscall by name (also accepts `syscall_<n>`); nil if unknown.
    public static func number(_ name: String) -> Int? {
        if let n = byName[name] { return n }
        if name.hasPrefix("syscall_"), let n = Int(name.dropFirst(8)), n >= 0 { return n }
        return nil
    }

    /// Count of numbers in the table (the highest assigned number plus one).
    public static var count: Int { x86_64Names.count }

    private static let byName: [String: Int] = {
        var d: [String: Int] = [:]
        for (i, n) in x86_64Names.enumerated() where !n.isEmpty { d[n] = i }
        return d
    }()
}

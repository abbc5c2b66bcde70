/// RFC 3339 UTC timestamps with whole seconds (`2024-05-01T12:00:00Z`), converted without
/// locale or time-zone machinery so output is identical everywhere.
public enum RFC3339 {
    /// Formats ns since the Unix epoch (sub-second part dropped).
    public static func format(_ nanos: UInt64) -> String { format(nanos, millis: false) }

    /// Formats ns since the Unix epoch with milliseconds (`2024-05-01T12:00:00.123Z`), as
    /// RFC 5424 syslog headers and the JSON log lines use.
    public static func formatMillis(_ nanos: UInt64) -> String { format(nanos, millis: true) }

    static func format(_ nanos: UInt64, millis: Bool) -> String {
        let secs = Int64(nanos / 1_000_000_000)
        let days = secs / 86_400, rem = secs % 86_400
        let (y, m, d) = civil(days)
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let year = String(y)
        return "\(String(repeating: "0", count: max(0, 4 - year.count)))\(year)-\(two(m))-\(two(d))T\(two(rem / 3600)):\(two(rem % 3600 / 60)):\(two(rem % 60))\(millis ? fraction(nanos) : "")Z"
    }

    private static func fraction(_ nanos: UInt64) -> String {
        let ms = String(nanos / 1_000_000 % 1000)
        return "." + String(repeating: "0", count: 3 - ms.count) + ms
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.frac](Z|+00:00)` into ns since the epoch; nil otherwise.
    public static func parse(_ text: String) -> UInt64? {
        let b = Array(text.utf8)
        guard b.count >= 20, b[4] == 0x2D, b[7] == 0x2D, b[10] == 0x54 || b[10] == 0x74, b[13] == 0x3A, b[16] == 0x3A else { return nil }
        func num(_ r: Range<Int>) -> Int64? {
            var v: Int64 = 0
            for i in r { guard (0x30...0x39).contains(b[i]) else { return nil }; v = v * 10 + Int64(b[i] - 0x30) }
            return v
        }
        guard let y = num(0..<4), let mo = num(5..<7), let d = num(8..<10), let h = num(11..<13), let mi = num(14..<16),
              let s = num(17..<19), (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, s < 61, y >= 1970 else { return nil }
        var i = 19
        var frac: UInt64 = 0
        if b[i] == 0x2E {
            i += 1
            var digits = 0
            while i < b.count, (0x30...0x39).contains(b[i]) {
                if digits < 9 { frac = frac * 10 + UInt64(b[i] - 0x30) }
                digits += 1; i += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<9 where digits < 9 { frac *= 10 }
        }
        let rest = String(decoding: b[i...], as: UTF8.self)
        guard rest == "Z" || rest == "z" || rest == "+00:00" else { return nil }
        let days = daysFromCivil(y, mo, d)
        guard civil(days) == (y, mo, d) else { return nil }
        // Nanoseconds since 1970 fit in a UInt64 only until 2554: later times are refused.
        let (ns, over) = UInt64(days * 86_400 + h * 3600 + mi * 60 + s).multipliedReportingOverflow(by: 1_000_000_000)
        let (total, carry) = ns.addingReportingOverflow(frac)
        guard !over, !carry else { return nil }
        return total
    }

    // Howard Hinnant's days-from-civil algorithms.
    static func civil(_ z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    static func daysFromCivil(_ y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}

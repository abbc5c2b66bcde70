import CVigilWire
import Foundation
import Testing
import VigilCore
@testable import VigilSensor

/// The kind table against the header it must follow: every record kind `vigil_wire.h`
/// declares has exactly one `Event.Kind`, every `Event.Kind` exactly one record kind, and
/// the decoder and the sensor's counters read that one table.
@Suite struct WireKindTests {
    static let header = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/CVigilWire/include/vigil_wire.h")

    /// `VG_KIND_NAME = N` inside `enum vg_kind { ... }`, the size marker VG_KIND_MAX left out.
    static func declaredKinds() throws -> [String: UInt32] {
        let text = try String(contentsOf: header, encoding: .utf8)
        guard let start = text.range(of: "enum vg_kind {"), let end = text.range(of: "};", range: start.upperBound..<text.endIndex) else {
            Issue.record("\(header.path): no `enum vg_kind { ... };`")
            return [:]
        }
        var kinds: [String: UInt32] = [:]
        for line in text[start.upperBound..<end.lowerBound].split(separator: "\n") {
            let code = line.split(separator: "/*").first.map(String.init) ?? ""
            let parts = code.split(separator: "=").map { $0.trimmingCharacters(in: .whitespaces.union(CharacterSet(charactersIn: ","))) }
            guard parts.count == 2, parts[0].hasPrefix("VG_KIND_"), parts[0] != "VG_KIND_MAX" else { continue }
            let value = try #require(UInt32(parts[1]), "\(header.lastPathComponent): \(parts[0]) = '\(parts[1])' is not a number")
            kinds[parts[0]] = value
        }
        return kinds
    }

    @Test func everyHeaderKindMapsToExactlyOneEventKindAndBack() throws {
        let declared = try Self.declaredKinds()
        #expect(declared.count >= 12, "the header parse found \(declared.count) kinds")
        let tableWires = WireKind.table.map(\.wire.rawValue)
        #expect(Set(tableWires) == Set(declared.values), "table \(tableWires.sorted()) vs header \(declared.values.sorted())")
        #expect(tableWires.count == Set(tableWires).count, "a wire kind appears twice in the table")
        let tableKinds = WireKind.table.map(\.kind)
        #expect(tableKinds.count == Set(tableKinds).count, "an Event.Kind appears twice in the table")
        #expect(Set(tableKinds) == Set(Event.Kind.allCases), "every Event.Kind has a wire kind")
        for (name, number) in declared {
            let kind = try #require(WireKind.kind(number), "\(name) (\(number)) has no Event.Kind")
            #expect(kind.wireKind == number, "\(name): \(kind) maps back to \(kind.wireKind)")
        }
        // Every number below VG_KIND_MAX that the header leaves free names nothing.
        for n in 0..<VG_KIND_MAX.rawValue + 4 where !declared.values.contains(n) {
            #expect(WireKind.kind(n) == nil, "\(n) is not a kind of the header")
        }
    }

    /// The decoder names records by that table: a header-only record of each known kind is
    /// counted as truncated (known, too short), of an unknown number as an unknown kind.
    @Test func decoderNamesRecordsByTheTable() throws {
        for n in UInt32(0)..<VG_KIND_MAX.rawValue {
            var h = vg_header()
            h.kind = UInt16(n)
            h.size = UInt16(MemoryLayout<vg_header>.size)
            var d = RecordDecoder(monotonicToRealtimeNanos: 0)
            let event = withUnsafeBytes(of: &h) { d.decode($0) }
            #expect(event == nil)
            if WireKind.kind(n) != nil {
                #expect(d.counters.truncated == 1 && d.counters.unknownKind == 0, "kind \(n): \(d.counters)")
            } else {
                #expect(d.counters.unknownKind == 1 && d.counters.truncated == 0, "kind \(n): \(d.counters)")
            }
        }
    }
}

/// Every failure counter `vigil_wire.h` declares (`enum vg_counter`, the per-kind bases and
/// the size left out) is exactly one `KernelFailureSite`, read by the sensor's table.
@Suite struct FailureCounterTests {
    @Test func everyFailureCounterOfTheHeaderIsOneSite() throws {
        let text = try String(contentsOf: WireKindTests.header, encoding: .utf8)
        let start = try #require(text.range(of: "enum vg_counter {"))
        let end = try #require(text.range(of: "};", range: start.upperBound..<text.endIndex))
        var declared: [String: UInt32] = [:]
        for line in text[start.upperBound..<end.lowerBound].split(separator: "\n") {
            let code = line.split(separator: "/*").first.map(String.init) ?? ""
            let parts = code.split(separator: "=").map { $0.trimmingCharacters(in: .whitespaces.union(CharacterSet(charactersIn: ","))) }
            guard parts.count == 2, parts[0].hasPrefix("VG_CTR_"), !parts[0].hasSuffix("_BASE"), parts[0] != "VG_CTR_MAX" else { continue }
            let value: UInt32 = try #require(UInt32(parts[1]), "\(parts[0]) = '\(parts[1])'")
            declared[parts[0]] = value  // (assigned directly, the optional subscript made the #require a no-op)
        }
        #expect(declared.count >= 10, "parsed \(declared)")
        let counters = Sensor.failureCounters.map(\.1.rawValue)
        #expect(Set(counters) == Set(declared.values), "table \(counters.sorted()) vs header \(declared.values.sorted())")
        #expect(counters.count == Set(counters).count, "a counter read for two sites")
        let sites = Sensor.failureCounters.map(\.0)
        #expect(sites.count == Set(sites).count && Set(sites) == Set(KernelFailureSite.allCases), "one row per site")
        for (_, counter) in Sensor.failureCounters {
            #expect(counter.rawValue < VG_CTR_MAX.rawValue && counter.rawValue >= VG_CTR_EMITTED_BASE.rawValue + VG_KIND_MAX.rawValue)
            #expect(!(VG_CTR_KNOWN_BASE.rawValue..<VG_CTR_KNOWN_BASE.rawValue + VG_KIND_MAX.rawValue).contains(counter.rawValue),
                    "\(counter) falls among the per-kind known counters")
        }
    }
}

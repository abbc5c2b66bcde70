import Foundation
import Testing
@testable import VigilCore

/// Timestamps read from baselines: what found by fuzzing (scripts/fuzz.sh profile) stays fixed.
@Suite struct RFC3339Tests {
    @Test func roundTripsAndRejectsMalformedTimes() {
        #expect(RFC3339.parse("2023-11-14T22:14:01Z") == 1_700_000_041_000_000_000)
        #expect(RFC3339.format(1_700_000_041_000_000_000) == "2023-11-14T22:14:01Z")
        #expect(RFC3339.parse("2023-11-14T22:14:01.5+00:00") == 1_700_000_041_500_000_000)
        #expect(RFC3339.parse("2023-02-30T00:00:00Z") == nil)
        #expect(RFC3339.parse("1969-12-31T23:59:59Z") == nil)
    }

    /// Syslog headers and JSON log lines carry milliseconds, truncated and zero-padded.
    @Test func formatsMillisecondsTruncatedAndPadded() {
        #expect(RFC3339.formatMillis(1_700_000_041_007_900_000) == "2023-11-14T22:14:01.007Z")
        #expect(RFC3339.formatMillis(1_700_000_041_999_999_999) == "2023-11-14T22:14:01.999Z")
        #expect(RFC3339.formatMillis(0) == "1970-01-01T00:00:00.000Z")
    }

    /// Nanoseconds since 1970 run out of UInt64 in July 2554; a later time in a profile used
    /// to trap on overflow (a crash of `vigil` on a hand-edited or corrupt baseline).
    @Test func aTimeBeyondTheLastRepresentableNanosecondIsRefusedNotATrap() {
        #expect(RFC3339.parse("2554-07-21T23:34:33.709551615Z") == UInt64.max)
        #expect(RFC3339.parse("2554-07-21T23:34:33.709551616Z") == nil)
        #expect(RFC3339.parse("2554-07-21T23:34:34Z") == nil)
        #expect(RFC3339.parse("9999-12-31T23:59:59Z") == nil)
    }

    @Test func aProfileWithAFarFutureSightingNamesTheField() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/profiles/usr-bin-python3.11--opt-shop-api.py.json").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let future = text.replacingOccurrences(of: "\"first_seen\": \"2023-11-14T22:14:01Z\"", with: "\"first_seen\": \"9026-11-21T11:29:29Z\"")
        #expect(future != text)
        #expect(throws: ProfileLoadError.self) { try ProfileCodec.decode(Array(future.utf8), file: "p.json") }
        do { _ = try ProfileCodec.decode(Array(future.utf8), file: "p.json") } catch {
            #expect(error.file == "p.json")
            #expect(error.field.hasSuffix("first_seen"), "\(error)")
            #expect(error.reason.contains("RFC 3339"), "\(error)")
        }
    }
}

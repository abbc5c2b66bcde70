import Foundation
import VigilTestSupport

/// A numbered test line in the shape of an OCSF event (the sinks never look inside).
func testLine(_ i: Int, classUID: Int = 1007) -> [UInt8] {
    Array(#"{"time":\#(1_767_225_600_000 + i),"class_uid":\#(classUID),"seq":\#(i)}"#.utf8)
}

/// The `seq` of a test line.
func seq(_ line: some StringProtocol) -> Int? {
    guard let r = line.range(of: #""seq":"#) else { return nil }
    return Int(line[r.upperBound...].prefix { $0.isNumber })
}


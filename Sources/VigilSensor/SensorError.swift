import CVigilWire
import Foundation
import VigilCore

/// Why the sensor could not start, with what to do about it.
public struct SensorError: Error, CustomStringConvertible, Sendable {
    public var problem: String
    public var remedy: String
    public init(_ problem: String, remedy: String) {
        self.problem = problem
        self.remedy = remedy
    }
    public var description: String { "\(problem)\n  what to do: \(remedy)" }
}

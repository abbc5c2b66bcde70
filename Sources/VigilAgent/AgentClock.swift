import Foundation
import VigilCore
import VigilSensor

/// The agent's time: CLOCK_MONOTONIC nanoseconds, as the kernel stamps events.
public protocol AgentClock: Sendable {
    func nowNanos() -> UInt64
}

/// The real clock.
public struct SystemClock: AgentClock {
    public init() {}
    public func nowNanos() -> UInt64 { Clock.nowNanos() }
}

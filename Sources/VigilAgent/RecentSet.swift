import Foundation
import VigilCore
import VigilOutput
import VigilSensor

/// A set of recent members in two generations: a member stays at least `generationNanos`
/// (until the generation after the one it joined is retired), and each generation holds at
/// most `capacity` members (a full one retires early). Memory: at most 2 × capacity members.
struct RecentSet<Element: Hashable> {
    static var capacity: Int { 65_536 }
    var generationNanos: UInt64 = 30_000_000_000
    private var current: Set<Element> = []
    private var previous: Set<Element> = []
    private var since: UInt64 = 0

    var count: Int { current.count + previous.count }

    func contains(_ e: Element) -> Bool { current.contains(e) || previous.contains(e) }

    mutating func insert(_ e: Element, now: UInt64) {
        if current.count >= Self.capacity { retire(now: now) }
        current.insert(e)
    }

    mutating func remove(_ e: Element) {
        current.remove(e)
        previous.remove(e)
    }

    /// Retires the older generation once the current one is `generationNanos` old.
    mutating func age(now: UInt64) {
        if since == 0 { since = now }
        if now &- since >= generationNanos { retire(now: now) }
    }

    private mutating func retire(now: UInt64) {
        previous = current
        current = []
        since = now
    }
}

import Testing
@testable import VigilAgent
import VigilCore

/// A profile learned before n-grams looked through futex and sched_yield is named at the
/// start of monitor, enforce and run, with what to do about it.
@Suite struct OutdatedProfileTests {
    static func profile(_ exe: String, _ grams: [[String]]) -> Profile {
        var p = Profile(identity: ProfileIdentity(executable: exe))
        for g in grams {
            let calls = g.map { UInt32(SyscallTable.number($0)!) }
            p.ngrams[NgramHash.hash(calls)] = NgramItem(calls: calls, seen: Sighting(host: "h", at: 1))
        }
        return p
    }

    @Test func onlyProfilesWithNgramsHoldingTransparentCallsAreNamed() {
        let current = Self.profile("/usr/sbin/nginx", [["read", "write", "read", "write", "close", "epoll_wait"]])
        let old = Self.profile("/usr/bin/redis-server", [["read", "futex", "write", "read", "write", "write"],
                                                         ["read", "read", "read", "read", "write", "write"]])
        let warnings = Agent.outdatedSequenceWarnings([current, old])
        #expect(warnings.count == 1)
        let w = try! #require(warnings.first)
        #expect(w.hasPrefix("profile \(old.id) was learned before n-grams looked through futex and sched_yield (1 of its 2 n-grams hold one)"))
        #expect(w.contains("vigil learn") && w.contains("vigil profile prune --older-than"))
        #expect(Agent.outdatedSequenceWarnings([current]).isEmpty)
    }
}

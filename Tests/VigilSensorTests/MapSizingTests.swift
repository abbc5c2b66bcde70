import Testing
import VigilCore
@testable import VigilSensor

@Suite struct MapSizingTests {
    static func profile(_ path: String, ngrams: Int, syscalls: Int, destinations: Int) -> Profile {
        var p = Profile(identity: ProfileIdentity(executable: path))
        let seen = Sighting(host: "h", at: 1)
        for i in 0..<ngrams { p.ngrams[UInt64(i) &* 0x9E37_79B9_7F4A_7C15 | 1] = NgramItem(calls: [1, 2, 3, 4, 5, 6], seen: seen) }
        for i in 0..<syscalls { p.syscalls[UInt32(i)] = seen }
        for i in 0..<destinations { p.destinations[NetworkDestination(transport: .tcp, address: "10.0.0.\(i)", port: 443)] = seen }
        p.destinations[NetworkDestination(transport: .unix, address: path + ".sock", port: 0)] = seen
        return p
    }

    @Test func eachMapHoldsWhatTheStartPutsInItPlusItsBuiltInSize() throws {
        var s = MapSizing()
        s.add((0..<1000).map { Self.profile("/usr/bin/p\($0)", ngrams: 200, syscalls: 40, destinations: 3) })
        s.addProcesses(10_000)
        #expect(try s.size(of: "vg_known_ngrams", builtIn: 262_144) == 262_144 + 200_000)
        #expect(try s.size(of: "vg_known_syscalls", builtIn: 65_536) == 65_536 + 40_000)
        #expect(try s.size(of: "vg_egress", builtIn: 65_536) == 65_536 + 3_000, "tcp destinations go to the LPM trie")
        #expect(try s.size(of: "vg_unix_allowed", builtIn: 16_384) == 16_384 + 1_000, "unix ones to the path map")
        #expect(try s.size(of: "vg_slot_modes", builtIn: 65_536) == 65_536 + 1_000, "one slot per profile loaded")
        #expect(try s.size(of: "vg_procs", builtIn: 65_536) == 65_536 + 10_000)
        #expect(try s.size(of: "vg_known_exec", builtIn: 16_384) == 16_384 + 1_000)
        #expect(try s.size(of: "vg_listens", builtIn: 16_384) == 16_384, "nothing preloaded: the built-in size")
        #expect(try s.size(of: "vg_exec_slots", builtIn: 16_384) == 16_384 + 1_000, "one key per native program's profile")
        // Profiles the kernel never names at exec (an interpreter's, a named one) take no key.
        var t = MapSizing()
        var named = Self.profile("/usr/bin/redis-check-rdb", ngrams: 1, syscalls: 1, destinations: 0)
        named.identity.name = "redis-server"
        t.add([Self.profile("/usr/bin/python3", ngrams: 1, syscalls: 1, destinations: 0), named,
               Self.profile("/usr/bin/redis-check-rdb", ngrams: 1, syscalls: 1, destinations: 0)])
        #expect(try t.size(of: "vg_exec_slots", builtIn: 16_384) == 16_384 + 1)
        #expect(try s.size(of: "vg_known_children", builtIn: 16_384) == 16_384, "no children learned")
        var p = Self.profile("/usr/bin/parent", ngrams: 0, syscalls: 0, destinations: 0)
        for c in ["/bin/sh", "/usr/bin/env", "/bin/true"] { p.executes[c] = Sighting(host: "h", at: 1) }
        s.add([p, p])
        #expect(try s.size(of: "vg_known_children", builtIn: 16_384) == 16_384 + 6, "each profile's children, per slot")
    }

    @Test func tooMuchForOneMapIsRefusedNamingIt() {
        var s = MapSizing()
        s.preload["vg_known_ngrams"] = MapSizing.mostEntries
        #expect(throws: SensorError.self) { try s.size(of: "vg_known_ngrams", builtIn: 262_144) }
        do {
            _ = try s.size(of: "vg_known_ngrams", builtIn: 262_144)
        } catch {
            #expect(error.problem.contains("vg_known_ngrams") && error.problem.contains("16777216") && error.problem.contains("n-grams"), "\(error)")
        }
    }

    @Test func everySizedMapIsOneTheSensorNames() {
        #expect(Set(MapSizing.maps.map(\.name)).count == MapSizing.maps.count)
        #expect(MapSizing.maps.allSatisfy { $0.name.hasPrefix("vg_") })
    }
}

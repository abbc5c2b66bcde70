import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import VigilCore
import VigilTestSupport
import Yams

@Suite struct FlowMapTests {
    static let t0: UInt64 = 1_000_000_000_000

    /// A client that calls a local cache and two addresses of one outside network, and the
    /// cache, which listens on 6379.
    static func profiles() -> [Profile] {
        let learner = Learner(hostID: "t", profiles: [], now: t0, binaryHash: { _ in nil })
        var table = ProcessTable()
        func ev(_ pid: Int32, _ p: Event.Payload) -> Event { Event(timeNanos: t0, pid: pid, tid: pid, comm: "t", payload: p) }
        func net(_ op: Event.Network.Operation, local: Endpoint? = nil, remote: Endpoint? = nil) -> Event.Payload {
            .network(.init(operation: op, result: 0, fd: 3, transport: .tcp, local: local, remote: remote))
        }
        let events = [
            ev(10, .exec(.init(ppid: 1, uid: 0, euid: 0, gid: 0, path: "/opt/t/cache", argv: ["/opt/t/cache"]))),
            ev(10, net(.listen, local: .ipv4(IPv4Address(0, 0, 0, 0), port: 6379))),
            ev(20, .exec(.init(ppid: 1, uid: 0, euid: 0, gid: 0, path: "/opt/t/web", argv: ["/opt/t/web"]))),
            ev(20, net(.connect, remote: .ipv4(IPv4Address(127, 0, 0, 1), port: 6379))),
            ev(20, net(.connect, remote: .ipv4(IPv4Address(203, 0, 113, 7), port: 443))),
            ev(20, net(.connect, remote: .ipv4(IPv4Address(203, 0, 113, 9), port: 443))),
        ]
        for e in events { learner.apply(e, process: table.apply(e), now: t0) }
        return learner.profiles.values.sorted { $0.id < $1.id }
    }

    @Test func aDestinationAnotherProfileServesJoinsThemAndTheRestCollapse() throws {
        let map = FlowMap(profiles: Self.profiles())
        let web = try #require(map.nodes.first { $0.label == "/opt/t/web" })
        let cache = try #require(map.nodes.first { $0.label == "/opt/t/cache" })
        #expect(cache.listens == ["tcp 6379"])
        #expect(map.nodes.filter { $0.kind == .external }.map(\.label) == ["203.0.113.0/24"])
        #expect(map.edges.contains { $0.from == web.id && $0.to == cache.id && $0.port == 6379 }, "the cache call joins the cache's profile")
        let out = try #require(map.edges.first { $0.from == web.id && $0.to == "net:203.0.113.0/24" })
        #expect(out.port == 443 && out.count == 2, "two addresses of one /24: one edge")
    }

    @Test func everyRenderingParses() throws {
        let map = FlowMap(profiles: Self.profiles())
        let json = try #require(try JSONSerialization.jsonObject(with: Data(map.json().utf8)) as? [String: Any])
        #expect((json["nodes"] as? [Any])?.count == 3 && (json["edges"] as? [Any])?.count == 2)
        let dot = map.dot()
        #expect(dot.hasPrefix("digraph vigil {") && dot.components(separatedBy: " -> ").count == 3)
        final class Counter: NSObject, XMLParserDelegate {
            var elements: [String: Int] = [:]
            func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
                elements[name, default: 0] += 1
            }
        }
        let parser = XMLParser(data: Data(map.svg().utf8))
        let counter = Counter()
        parser.delegate = counter
        #expect(parser.parse(), "the SVG is well-formed XML: \(parser.parserError.map { "\($0)" } ?? "")")
        #expect(counter.elements["svg"] == 1 && counter.elements["rect"] == 3, "one box per node: \(counter.elements)")
        #expect((counter.elements["line"] ?? 0) + (counter.elements["path"] ?? 0) >= 3, "one arrow per flow (and the marker's path)")
    }
}

@Suite struct NftablesExportTests {
    @Test func theLearnedFlowsAreAcceptedAndTheRestDroppedByCgroup() throws {
        let web = try #require(FlowMapTests.profiles().first { $0.identity.executable == "/opt/t/web" })
        let rules = NftablesExport.ruleset(web, cgroup: "system.slice/web.service")
        let match = "socket cgroupv2 level 2 \"system.slice/web.service\""
        #expect(rules.contains("\(match) ip daddr 127.0.0.1 tcp dport 6379 accept"))
        #expect(rules.contains("\(match) ip daddr 203.0.113.7 tcp dport 443 accept"))
        #expect(rules.contains("\(match) ct state established,related accept"))
        let lines = rules.split(separator: "\n")
        #expect(lines.last { $0.contains(match) }?.hasSuffix("counter drop") == true, "everything else is dropped, last")
    }

    @Test func nftAcceptsTheRuleset() throws {
        guard let nft = Tools.which("nft") else {
            #expect(!Tools.required, "VIGIL_REQUIRE_TOOLS=1 but nft is missing (apt-get install -y nftables)")
            return
        }
        guard geteuid() == 0 else { return }
        // nft resolves the cgroup path under /sys/fs/cgroup when it checks: name one that exists.
        let root = "/sys/fs/cgroup"
        let existing = try #require(try FileManager.default.contentsOfDirectory(atPath: root).sorted().first { name in
            var dir: ObjCBool = false
            return FileManager.default.fileExists(atPath: root + "/" + name, isDirectory: &dir) && dir.boolValue
        })
        let web = try #require(FlowMapTests.profiles().first { $0.identity.executable == "/opt/t/web" })
        let file = try makeTempDirectory("vigil-nft") + "/web.nft"
        try NftablesExport.ruleset(web, cgroup: existing).write(toFile: file, atomically: false, encoding: .utf8)
        let r = try Tools.run(nft, ["-c", "-f", file])
        #expect(r.status == 0, "nft -c: \(r.output)")
    }
}

@Suite struct NetworkPolicyExportTests {
    @Test func theLearnedFlowsBecomeAValidNetworkPolicy() throws {
        let profiles = FlowMapTests.profiles()
        let web = try #require(profiles.first { $0.identity.executable == "/opt/t/web" })
        let cache = try #require(profiles.first { $0.identity.executable == "/opt/t/cache" })
        let text = NetworkPolicyExport.yaml(web, name: "web", namespace: "shop", podLabels: [("app", "web")])
        let doc = try #require(try Yams.load(yaml: text) as? [String: Any], "parses as YAML")
        #expect(doc["apiVersion"] as? String == "networking.k8s.io/v1" && doc["kind"] as? String == "NetworkPolicy")
        let spec = try #require(doc["spec"] as? [String: Any])
        #expect((spec["podSelector"] as? [String: Any])?["matchLabels"] as? [String: String] == ["app": "web"])
        #expect(spec["policyTypes"] as? [String] == ["Ingress", "Egress"])
        let egress = try #require(spec["egress"] as? [[String: Any]])
        let cidrs = egress.compactMap { (($0["to"] as? [[String: Any]])?.first?["ipBlock"] as? [String: Any])?["cidr"] as? String }
        #expect(Set(cidrs) == ["127.0.0.1/32", "203.0.113.7/32", "203.0.113.9/32"])
        #expect(egress.allSatisfy { (($0["ports"] as? [[String: Any]])?.first?["protocol"] as? String) == "TCP" })
        let server = try #require(try Yams.load(yaml: NetworkPolicyExport.yaml(cache, name: "cache", namespace: nil, podLabels: [])) as? [String: Any])
        let ingress = try #require((server["spec"] as? [String: Any])?["ingress"] as? [[String: Any]])
        #expect((ingress.first?["ports"] as? [[String: Any]])?.first?["port"] as? Int == 6379)
    }
}

/// Two hosts' baselines merged, as a fleet's are: the map joins a client on one host to the
/// server that answered it on the other, keeps loopback on its host, and groups by workload.
@Suite struct FleetFlowMapTests {
    static let t0 = FlowMapTests.t0

    static func host(_ name: String, _ script: (inout [Event], (Int32, Event.Payload) -> Event) -> Void,
                     workloads: [Int32: String]) -> [Profile] {
        let learner = Learner(hostID: name, profiles: [], now: t0, binaryHash: { _ in nil })
        var table = ProcessTable()
        var events: [Event] = []
        script(&events) { pid, p in Event(timeNanos: t0, pid: pid, tid: pid, comm: "t", payload: p) }
        for e in events {
            learner.apply(e, process: table.apply(e), now: t0)
            if case .exec = e.payload, let w = workloads[e.pid] { learner.noteWorkload(pid: e.pid, w, now: t0) }
        }
        return Array(learner.profiles.values)
    }

    static func exec(_ path: String) -> Event.Payload { .exec(.init(ppid: 1, uid: 0, euid: 0, gid: 0, path: path, argv: [path])) }
    static func net(_ op: Event.Network.Operation, local: Endpoint? = nil, remote: Endpoint? = nil) -> Event.Payload {
        .network(.init(operation: op, result: 0, fd: 3, transport: .tcp, local: local, remote: remote))
    }

    /// Host a runs the web front end; host b the database, a cache and a web server of its own.
    static func fleet() -> [Profile] {
        let a = host("host-a", { events, ev in
            events += [
                ev(20, exec("/opt/t/web")),
                ev(20, net(.connect, remote: .ipv4(IPv4Address(10, 0, 0, 7), port: 5432))),
                ev(20, net(.connect, remote: .ipv4(IPv4Address(127, 0, 0, 1), port: 6379))),
                ev(20, net(.connect, remote: .ipv4(IPv4Address(203, 0, 113, 7), port: 443))),
            ]
        }, workloads: [20: "shop"])
        let b = host("host-b", { events, ev in
            events += [
                ev(30, exec("/opt/t/db")),
                ev(30, net(.listen, local: .ipv4(IPv4Address(0, 0, 0, 0), port: 5432))),
                ev(30, net(.accept, local: .ipv4(IPv4Address(10, 0, 0, 7), port: 5432), remote: .ipv4(IPv4Address(10, 0, 0, 3), port: 41000))),
                ev(31, exec("/opt/t/cache")),
                ev(31, net(.listen, local: .ipv4(IPv4Address(0, 0, 0, 0), port: 6379))),
                ev(32, exec("/opt/t/frontdoor")),
                ev(32, net(.listen, local: .ipv4(IPv4Address(0, 0, 0, 0), port: 443))),
            ]
        }, workloads: [30: "data", 31: "data"])
        return ProfileMerge.merge(a, b)
    }

    @Test func aClientJoinsTheServerThatAnsweredItOnAnotherHost() throws {
        let map = FlowMap(profiles: Self.fleet())
        let web = try #require(map.nodes.first { $0.label == "/opt/t/web" })
        let db = try #require(map.nodes.first { $0.label == "/opt/t/db" })
        let cache = try #require(map.nodes.first { $0.label == "/opt/t/cache" })
        #expect(map.edges.contains { $0.from == web.id && $0.to == db.id && $0.port == 5432 }, "db accepted on 10.0.0.7:5432, where web connects")
        #expect(!map.edges.contains { $0.to == cache.id }, "web's loopback 6379 is on host a; the cache listens on host b")
        #expect(map.edges.contains { $0.from == web.id && $0.to == "net:127.0.0.0/24" && $0.port == 6379 })
        #expect(map.edges.contains { $0.from == web.id && $0.to == "net:203.0.113.0/24" && $0.port == 443 },
                "an outside address is not served by a local wildcard listener on the same port: \(map.edges)")
    }

    @Test func profilesAreGroupedByTheirWorkload() throws {
        let map = FlowMap(profiles: Self.fleet())
        #expect(map.workloadGroups.map(\.name) == ["data", "shop"])
        #expect(map.workloadGroups.first?.nodes.map(\.label) == ["/opt/t/cache", "/opt/t/db"])
        #expect(map.nodes.first { $0.label == "/opt/t/frontdoor" }?.workload == nil)
        let dot = map.dot()
        #expect(dot.components(separatedBy: "subgraph cluster_").count == 3 && dot.contains("label=\"workload shop\""))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(map.json().utf8)) as? [String: Any])
        let workloads = (json["nodes"] as? [[String: Any]])?.compactMap { $0["workload"] as? String }
        #expect(workloads == ["data", "data", "shop"])
        final class Texts: NSObject, XMLParserDelegate {
            var texts: [String] = [], current = ""
            func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
                current = ""
            }
            func parser(_ parser: XMLParser, foundCharacters string: String) { current += string }
            func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
                if name == "text" { texts.append(current) }
                current = ""
            }
        }
        let parser = XMLParser(data: Data(map.svg().utf8))
        let texts = Texts()
        parser.delegate = texts
        #expect(parser.parse())
        #expect(texts.texts.contains("workload data") && texts.texts.contains("workload shop"))
    }

    @Test func servedAddressesAndWorkloadsSurviveTheFile() throws {
        let db = try #require(Self.fleet().first { $0.identity.executable == "/opt/t/db" })
        #expect(db.servedOn.keys.map(\.description) == ["tcp 10.0.0.7 port 5432"])
        #expect(db.workloads.keys.sorted() == ["data"])
        let back = try ProfileCodec.decode(ProfileCodec.encode(db), file: "db.json")
        #expect(back.servedOn == db.servedOn && back.workloads == db.workloads)
        let text = String(decoding: ProfileCodec.encode(db), as: UTF8.self)
        #expect(text.contains("\"served_on\"") && text.contains("\"workloads\""))
    }

    /// The fleet example the README draws: the client on web-1 joins the server on files-1.
    @Test func theShippedFleetExampleDrawsTheJoin() throws {
        let dir = Tools.packageRoot.appendingPathComponent("Models/examples/fleet").path
        let (profiles, errors) = ProfileStore(directory: dir).loadAll()
        #expect(errors.isEmpty && profiles.count == 2, "\(errors)")
        let map = FlowMap(profiles: profiles)
        #expect(map.edges.count == 1 && map.nodes.allSatisfy { $0.kind == .profile }, "one flow, between the two profiles: \(map.edges)")
        #expect(map.workloadGroups.map(\.name) == ["file-service", "shop-frontend"])
    }
}

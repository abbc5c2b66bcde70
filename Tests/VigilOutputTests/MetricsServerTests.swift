import Foundation
import Testing
import VigilTestSupport
@testable import VigilOutput
#if canImport(Glibc)
import Glibc
#endif

@Suite(.timeLimit(.minutes(1)))
struct MetricsServerTests {
    static let families = [
        MetricFamily(name: "vigil_events", help: "Events.", kind: .counter, samples: [MetricSample([("kind", "exec")], value: 3)]),
    ]

    @Test func servesTheLatestMetricsOverHTTP() throws {
        let server = try MetricsServer(listen: "127.0.0.1:0")
        defer { server.stop() }
        #expect(server.port != 0)
        server.update(Self.families)
        let expected = PrometheusText.render(Self.families)
        #expect(try MetricsClient.fetch("127.0.0.1:\(server.port)") == expected)

        let raw = try RawClient.exchange(port: server.port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        let (head, body) = split(raw)
        #expect(head.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(head.contains("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"))
        #expect(head.contains("\r\nContent-Length: \(expected.utf8.count)\r\n"))
        #expect(head.contains("\r\nConnection: close"))
        #expect(body == expected)

        // A later update replaces what is served.
        var m = AgentMetrics()
        m.mode = "monitor"
        server.update(m.families())
        let text = try MetricsClient.fetch("127.0.0.1:\(server.port)")
        #expect(try PrometheusText.parse(text).contains { $0.name == "vigil_info" && $0.labels["mode"] == "monitor" })

        // HEAD: the headers only; a query string is ignored; bare LF line ends are accepted.
        let headOnly = try RawClient.exchange(port: server.port, "HEAD /metrics?x=1 HTTP/1.0\n\n")
        #expect(headOnly.hasPrefix("HTTP/1.1 200 OK"))
        #expect(split(headOnly).1.isEmpty)
    }

    @Test func indexPointsAtMetrics() throws {
        let server = try MetricsServer(listen: "127.0.0.1:0")
        defer { server.stop() }
        let raw = try RawClient.exchange(port: server.port, "GET / HTTP/1.1\r\n\r\n")
        #expect(raw.hasPrefix("HTTP/1.1 200 OK"))
        #expect(split(raw).1.contains("/metrics"))
    }

    @Test func unknownPathsWrongMethodsAndMalformedRequestsAreRefused() throws {
        let server = try MetricsServer(listen: "127.0.0.1:0")
        defer { server.stop() }
        server.update(Self.families)
        #expect(try RawClient.exchange(port: server.port, "GET /nope HTTP/1.1\r\n\r\n").hasPrefix("HTTP/1.1 404 Not Found"))
        let post = try RawClient.exchange(port: server.port, "POST /metrics HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi")
        #expect(post.hasPrefix("HTTP/1.1 405 Method Not Allowed"))
        #expect(post.contains("\r\nAllow: GET, HEAD\r\n"))
        for bad in ["garbage\r\n\r\n", "GET /metrics\r\n\r\n", "GET metrics HTTP/1.1\r\n\r\n", "GET /metrics SPDY/3\r\n\r\n",
                    "get /metrics HTTP/1.1\r\n\r\n", "GET /met\u{1}rics HTTP/1.1\r\n\r\n", "\r\n\r\n"] {
            let answer = try RawClient.exchange(port: server.port, bad)
            #expect(answer.hasPrefix("HTTP/1.1 400 Bad Request"), "\(bad.debugDescription) -> \(answer.prefix(40).debugDescription)")
        }
        // Headers past 8 KiB, with or without an end.
        let huge = "GET /metrics HTTP/1.1\r\nX-Filler: " + String(repeating: "a", count: 9000)
        #expect(try RawClient.exchange(port: server.port, huge).hasPrefix("HTTP/1.1 400 Bad Request"))
        #expect(try RawClient.exchange(port: server.port, huge + "\r\n\r\n").hasPrefix("HTTP/1.1 400 Bad Request"))
        // After all that, it still serves.
        #expect(try MetricsClient.fetch("127.0.0.1:\(server.port)") == PrometheusText.render(Self.families))
    }

    /// Two clients that never finish their request: updates and other scrapes go on (the
    /// test would hang otherwise), and the 408 comes when the server's clock passes 2 s,
    /// not before.
    @Test func aStalledClientBlocksNeitherUpdateNorOtherScrapers() throws {
        let clock = ManualOutputClock()
        let server = try MetricsServer(listen: "127.0.0.1:0", clock: clock)
        defer { server.stop() }
        server.update(Self.families)
        // Connects, sends half a request, and then nothing.
        let stalled = try RawClient(port: server.port)
        stalled.send("GET /met")
        let silent = try RawClient(port: server.port)
        #expect(waitFor(10) { server.activeConnections == 2 }, "both accepted (their deadlines fixed at accept)")

        for _ in 0..<100 { server.update(Self.families) }
        #expect(try MetricsClient.fetch("127.0.0.1:\(server.port)") == PrometheusText.render(Self.families))
        #expect(!stalled.hasData && !silent.hasData, "no answer before the clock passes the timeout")

        clock.advance(by: 1.9)
        #expect(!stalled.hasData && !silent.hasData)
        clock.advance(by: 0.1)
        #expect(stalled.readAll().hasPrefix("HTTP/1.1 408"))
        #expect(silent.readAll().hasPrefix("HTTP/1.1 408"))
    }

    @Test func aClientThatVanishesMidAnswerDoesNotHurtTheServer() throws {
        let server = try MetricsServer(listen: "127.0.0.1:0")
        defer { server.stop() }
        // A big body, and clients that close without reading it.
        let many = (0..<20_000).map { MetricSample([("kind", "k\($0)")], value: Double($0)) }
        server.update([MetricFamily(name: "big", help: "", kind: .gauge, samples: many)])
        for _ in 0..<5 {
            let c = try RawClient(port: server.port)
            c.send("GET /metrics HTTP/1.1\r\n\r\n")
        }
        // Every one of them served (and failed to be written to) before the next scrape.
        #expect(waitFor(10) { server.activeConnections == 0 })
        #expect(try MetricsClient.fetch("127.0.0.1:\(server.port)").hasPrefix("# HELP big"))
    }

    @Test func addressInUseIsAClearError() throws {
        let first = try MetricsServer(listen: "127.0.0.1:0")
        defer { first.stop() }
        let address = "127.0.0.1:\(first.port)"
        #expect {
            _ = try MetricsServer(listen: address)
        } throws: { error in
            let text = String(describing: error)
            return text.contains(address) && text.contains("already in use")
        }
    }

    @Test(arguments: ["9464", "127.0.0.1", "127.0.0.1:99999", "127.0.0.1:http", "::1:9464", "[::1", "[]:80", "[::1]9464", "a b:80", "127.0.0.1:-1", "127.0.0.1:+80", ""])
    func malformedAddressesAreClearErrors(address: String) {
        #expect {
            _ = try MetricsServer(listen: address)
        } throws: { error in
            let text = String(describing: error)
            return text.contains("'\(address)'") && text.contains("HOST:PORT")
        }
    }

    @Test func foreignAddressesAreClearErrors() {
        #expect {
            _ = try MetricsServer(listen: "192.0.2.1:0")  // TEST-NET-1: not this host's address
        } throws: { error in
            String(describing: error).contains("not an address of this host")
        }
    }

    @Test func listensOnEveryInterfaceAndLocalhost() throws {
        let all = try MetricsServer(listen: ":0")
        defer { all.stop() }
        all.update(Self.families)
        #expect(try MetricsClient.fetch("127.0.0.1:\(all.port)") == PrometheusText.render(Self.families))
        #expect(try MetricsClient.fetch(":\(all.port)") == PrometheusText.render(Self.families))

        let local = try MetricsServer(listen: "localhost:0")
        defer { local.stop() }
        local.update(Self.families)
        #expect(try MetricsClient.fetch("127.0.0.1:\(local.port)") == PrometheusText.render(Self.families))
    }

    /// True when this host has IPv6 loopback (containers may not).
    static var hasIPv6Loopback: Bool {
        let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var a = sockaddr_in6()
        a.sin6_family = sa_family_t(AF_INET6)
        a.sin6_addr = in6addr_loopback
        return withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) == 0 } }
    }

    @Test(.enabled(if: hasIPv6Loopback)) func servesOverIPv6() throws {
        let six = try MetricsServer(listen: "[::1]:0")
        defer { six.stop() }
        six.update(Self.families)
        #expect(try MetricsClient.fetch("[::1]:\(six.port)") == PrometheusText.render(Self.families))

        let all = try MetricsServer(listen: ":0")  // dual stack
        defer { all.stop() }
        all.update(Self.families)
        #expect(try MetricsClient.fetch("[::1]:\(all.port)") == PrometheusText.render(Self.families))
    }

    @Test func stopClosesTheListener() throws {
        let server = try MetricsServer(listen: "127.0.0.1:0")
        let port = server.port
        server.stop()
        server.stop()  // twice is fine
        #expect(throws: (any Error).self) { try RawClient(port: port) }
        #expect {
            _ = try MetricsClient.fetch("127.0.0.1:\(port)")
        } throws: { error in
            (error as? MetricsClientError)?.kind == .unreachable
        }
    }

    @Test func clientReportsNonMetricsAnswers() throws {
        let server = try MetricsServer(listen: "127.0.0.1:0")
        defer { server.stop() }
        #expect {
            _ = try MetricsClient.fetch("127.0.0.1:\(server.port)", path: "/elsewhere")
        } throws: { error in
            guard let e = error as? MetricsClientError else { return false }
            return e.kind == .badResponse && e.message.contains("404")
        }
    }

    private func split(_ raw: String) -> (String, String) {
        guard let r = raw.range(of: "\r\n\r\n") else { return (raw, "") }
        return (String(raw[..<r.upperBound]), String(raw[r.upperBound...]))
    }
}

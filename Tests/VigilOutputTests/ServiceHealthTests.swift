import Foundation
import Testing
import VigilTestSupport
@testable import VigilOutput

/// `/healthz`: judged when asked, against the server's clock (here a manual one).
@Suite(.timeLimit(.minutes(1)))
struct ServiceHealthTests {
    static func object(_ body: [UInt8]) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
    }

    @Test func healthyWhileTheLoopRunsAndOutputsDeliver() throws {
        var h = ServiceHealth(startedNanos: 1_000_000_000)
        let (starting, startingBody) = h.response(now: 2_000_000_000)
        #expect(starting == 503)
        #expect(try Self.object(startingBody)["reason"] as? String == "starting: the agent loop has not run yet")

        h.noteLoop(atNanos: 3_000_000_000, failingOutputs: [])
        let (ok, body) = h.response(now: 4_500_000_000)
        #expect(ok == 200)
        let o = try Self.object(body)
        #expect(o["status"] as? String == "ok")
        #expect(o["reason"] == nil)
        #expect(o["uptime_seconds"] as? Double == 3.5)
        #expect(o["last_loop_seconds_ago"] as? Double == 1.5)
        #expect((o["outputs_failing"] as? [String]) == [])
        #expect(String(decoding: body, as: UTF8.self).hasPrefix("{\"status\":\"ok\",\"uptime_seconds\":3.500,"), "fields in a fixed order")
    }

    @Test func aLoopThatStopsPassingTurnsItUnhealthyByItself() throws {
        var h = ServiceHealth(startedNanos: 0)
        h.noteLoop(atNanos: 10_000_000_000, failingOutputs: [])
        #expect(h.response(now: 15_000_000_000).status == 200, "5 s without a pass is still within the limit")
        let (status, body) = h.response(now: 16_200_000_000)
        #expect(status == 503)
        let o = try Self.object(body)
        #expect(o["status"] as? String == "unhealthy")
        #expect(o["reason"] as? String == "the agent loop last ran 6.2 s ago (more than 5 s): it may be wedged")
        #expect(o["last_loop_seconds_ago"] as? Double == 6.2)
    }

    @Test func aFailingOutputIsNamed() throws {
        var h = ServiceHealth(startedNanos: 0)
        h.noteLoop(atNanos: 1_000_000_000, failingOutputs: ["syslog+tcp://siem:514", "http://a:9200/_bulk"])
        let (status, body) = h.response(now: 1_000_000_000)
        #expect(status == 503)
        let o = try Self.object(body)
        #expect(o["outputs_failing"] as? [String] == ["http://a:9200/_bulk", "syslog+tcp://siem:514"])
        #expect(o["reason"] as? String == "outputs failing (their events go to the spool): http://a:9200/_bulk, syslog+tcp://siem:514")
        h.noteLoop(atNanos: 2_000_000_000, failingOutputs: [])
        #expect(h.response(now: 2_000_000_000).status == 200, "healthy again once it delivers")
    }

    @Test func servedOnTheMetricsPortAgainstTheServersClock() throws {
        let clock = ManualOutputClock()
        let server = try MetricsServer(listen: "127.0.0.1:0", clock: clock)
        defer { server.stop() }
        let starting = try RawClient.exchange(port: server.port, "GET /healthz HTTP/1.1\r\n\r\n")
        #expect(starting.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"), "\(starting)")
        #expect(starting.contains("\r\nContent-Type: application/json\r\n"))

        clock.advance(by: 2)
        server.noteLoop(failingOutputs: [])
        clock.advance(by: 1)
        let ok = try RawClient.exchange(port: server.port, "GET /healthz HTTP/1.1\r\n\r\n")
        #expect(ok.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(ok)")
        #expect(ok.hasSuffix("{\"status\":\"ok\",\"uptime_seconds\":3.000,\"last_loop_seconds_ago\":1.000,\"outputs_failing\":[]}\n"), "\(ok)")
        #expect(try RawClient.exchange(port: server.port, "HEAD /healthz HTTP/1.1\r\n\r\n").hasSuffix("\r\n\r\n"), "HEAD: no body")

        // Nobody reports for 6 s: the server alone decides the agent is wedged.
        clock.advance(by: 5.5)
        let stale = try RawClient.exchange(port: server.port, "GET /healthz HTTP/1.1\r\n\r\n")
        #expect(stale.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"), "\(stale)")
        #expect(stale.contains("the agent loop last ran 6.5 s ago"))
        #expect(try RawClient.exchange(port: server.port, "POST /healthz HTTP/1.1\r\n\r\n").hasPrefix("HTTP/1.1 405"))
    }
}

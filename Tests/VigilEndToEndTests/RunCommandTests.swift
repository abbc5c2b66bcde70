import Foundation
import Testing
import VigilTestSupport
import VigilCore
import VigilOutput

/// `vigil run` as operators run it: one configuration file, a service learned, promoted to
/// enforce on its own, metrics scraped over HTTP, SIGHUP with a broken policy refused and
/// with a pruned baseline taken, in the kernel too.
@Suite(.serialized, .enabled(if: BPFTestGate.shouldRun), .timeLimit(.minutes(3)))
struct RunCommandTests {
    @Test func learnsAServicePromotesItToEnforceAndSurvivesABrokenReload() throws {
        try BPFTestGate.check()
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-run-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: base) }
        let svc = base + "/svc"
        try FileManager.default.copyItem(atPath: try vigilExecutable().path, toPath: svc)
        let port = try freeLoopbackPort()
        let policy = base + "/policy.yaml"
        try writeFile("half-life-seconds: 120\n", to: policy)
        let config = base + "/vigil.yaml"
        try writeFile("""
            models: models
            state: state
            policy: policy.yaml
            outputs: [file:\(base)/events.jsonl]
            learn: { only: [\(svc)], save-interval-seconds: 2, bucket-seconds: 2, window-buckets: 2,
                     min-observed-seconds: 4, min-observations: 10 }
            promotion: { stable-seconds: 2, quiet-seconds: 3 }
            metrics: { listen: 127.0.0.1:\(port), bpf-run-time: true }
            """, to: config)

        let agent = try Background(try vigilExecutable().path, ["run", "--config", config])
        defer { agent.kill() }
        Thread.sleep(forTimeInterval: 1.5)
        let (service, servicePort) = try startDemoService(svc)
        defer { if service.isRunning { kill(service.processIdentifier, SIGKILL); service.waitUntilExit() } }
        try #require(servicePort != 0)

        // Normal work until the service's profile has gone learn -> monitor -> enforce.
        let id = ProfileIdentity.resolve(path: svc, argv: [svc, "demo-service"]).id
        var metrics: [ParsedSample] = []
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            try normalRequest(servicePort)
            Thread.sleep(forTimeInterval: 0.2)
            metrics = (try? PrometheusText.parse(MetricsClient.fetch("127.0.0.1:\(port)"))) ?? []
            if value(metrics, "vigil_promotions_total", ["from": "monitor", "to": "enforce"]) == 1 { break }
        }
        #expect(value(metrics, "vigil_promotions_total", ["from": "learn", "to": "monitor"]) == 1, "metrics: \(metrics)")
        #expect(value(metrics, "vigil_promotions_total", ["from": "monitor", "to": "enforce"]) == 1)
        #expect(metrics.contains { $0.name == "vigil_profiles" && $0.labels["mode"] == "enforce" && $0.value == 1 })
        #expect(value(metrics, "vigil_kernel_drops_total", nil) == 0)
        #expect((value(metrics, "vigil_bpf_program_runs_total", ["program": "vg_sys_enter"]) ?? 0) > 0)
        // The service keeps working under enforcement.
        #expect(try normalRequest(servicePort) == 0)
        #expect(service.isRunning)

        // A broken policy: refused, reported, the running one stays.
        try writeFile("bands: { alert: 90, kill: 10 }\n", to: policy)
        kill(agent.pid, SIGHUP)
        try waitFor { value(try PrometheusText.parse(MetricsClient.fetch("127.0.0.1:\(port)")), "vigil_reloads_total", ["result": "refused"]) == 1 }
        metrics = try PrometheusText.parse(MetricsClient.fetch("127.0.0.1:\(port)"))
        #expect(value(metrics, "vigil_last_reload_success", nil) == 0)
        #expect(try normalRequest(servicePort) == 0)
        // Fixed: the next SIGHUP takes it.
        try writeFile("half-life-seconds: 60\n", to: policy)
        kill(agent.pid, SIGHUP)
        try waitFor { value(try PrometheusText.parse(MetricsClient.fetch("127.0.0.1:\(port)")), "vigil_reloads_total", ["result": "ok"]) == 1 }

        // A reviewed baseline, pruned by hand (same revision): after SIGHUP what it no longer
        // holds is new again, in the kernel too, so the next normal request is a finding.
        let file = base + "/models/\(id).json"
        var pruned = try ProfileStore(directory: base + "/models").load(file: file)
        let keep = try #require(pruned.ngrams.keys.min())
        pruned.ngrams = pruned.ngrams.filter { $0.key == keep }
        try Data(ProfileCodec.encode(pruned)).write(to: URL(fileURLWithPath: file))
        kill(agent.pid, SIGHUP)
        try waitFor { value(try PrometheusText.parse(MetricsClient.fetch("127.0.0.1:\(port)")), "vigil_reloads_total", ["result": "ok"]) == 2 }
        func serviceFindings() -> Int {
            let events = jsonLines((try? String(contentsOfFile: base + "/events.jsonl", encoding: .utf8)) ?? "")
            return events.filter { e in
                e["class_uid"] as? Int == 2004 && ((dig(e, "evidences") as? [[String: Any]])?.contains {
                    dig($0, "process.pid") as? Int == Int(service.processIdentifier) } ?? false)
            }.count
        }
        let before = serviceFindings()
        try waitFor {
            _ = try? normalRequest(servicePort)
            return serviceFindings() > before
        }

        // SIGTERM: a clean stop with everything saved.
        let (status, err) = agent.terminate()
        #expect(status == 0, "stderr: \(err)")
        #expect(err.contains("reload refused, the running configuration stays: invalid policy: \(policy):1:"), "stderr: \(err)")
        #expect(err.contains("profile \(id): learn -> monitor"))
        #expect(err.contains("1 outputs, 0 baselines updated"), "the fixed reload changes no baseline: \(err)")
        #expect(err.contains("1 outputs, 1 baselines updated"), "the pruned one is taken: \(err)")
        #expect(err.contains("0 dropped in the kernel"))
        let modes = try ProfileModes.decode(Array(try Data(contentsOf: URL(fileURLWithPath: base + "/state/modes.json"))), policy: PromotionPolicy())
        #expect(modes.mode(of: id) == .enforce)
        let saved = try ProfileStore(directory: base + "/models").load(file: base + "/models/\(id).json")
        #expect(!saved.ngrams.isEmpty && !saved.listens.isEmpty)
        // Owner-only directories.
        for dir in ["models", "state"] {
            let attrs = try FileManager.default.attributesOfItem(atPath: base + "/" + dir)
            #expect((attrs[.posixPermissions] as? Int) == 0o700, "\(dir)")
        }
        // The stream holds every mode change and the refused reload.
        let events = jsonLines(try String(contentsOfFile: base + "/events.jsonl", encoding: .utf8))
        let changes = events.filter { $0["activity_name"] as? String == "Mode Change" }
        #expect(changes.compactMap { dig($0, "unmapped.to_mode") as? String } == ["learn", "monitor", "enforce"])
        #expect(events.contains { $0["class_uid"] as? Int == 6008 && ($0["message"] as? String ?? "").contains("reload refused") })
        #expect(events.contains { $0["activity_name"] as? String == "Reload" })
    }

    /// deploy/vigil.service's capability set is enough to run, and each hook's need shows:
    /// without CAP_NET_ADMIN the deny-network hooks cannot load and the agent says so.
    @Test func theSystemdUnitsCapabilitiesAreEnough() throws {
        try BPFTestGate.check()
        let unit = try String(contentsOf: RunCommandTests.repo.appendingPathComponent("deploy/vigil.service"), encoding: .utf8)
        let line = try #require(unit.split(separator: "\n").first { $0.hasPrefix("CapabilityBoundingSet=") })
        let caps = line.dropFirst("CapabilityBoundingSet=".count).split(separator: " ").map { $0.dropFirst(4).lowercased() }
        #expect(caps.contains("bpf") && !caps.contains("sys_admin"), "\(caps)")
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-caps-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: base) }
        let config = base + "/vigil.yaml"
        try writeFile("models: models\nstate: state\nduration: 3\noutputs: [file:\(base)/events.jsonl]\nmetrics: { listen: null }\n", to: config)
        func run(_ caps: [String]) throws -> (status: Int32, err: String) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            p.arguments = ["--bounding-set", "-all," + caps.map { "+" + $0 }.joined(separator: ","), "--inh-caps=-all",
                           try vigilExecutable().path, "run", "--config", config]
            let err = Pipe()
            p.standardError = err
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            return (p.terminationStatus, text)
        }
        let ok = try run(caps)
        #expect(ok.status == 0, "\(ok.err)")
        #expect(ok.err.contains("0 dropped in the kernel"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: base + "/models").count > 0, "profiles were learned and saved")
        let without = try run(caps.filter { $0 != "net_admin" })
        #expect(without.status == 1)
        // The first cgroup hook the kernel refuses is named (bind or connect, by load order).
        #expect(["vg_bind4", "vg_connect4"].contains { without.err.contains($0) }, "\(without.err)")
    }

    static let repo = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func aBadConfigurationIsRefusedWithLineAndColumn() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-run-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        let config = base + "/vigil.yaml"
        try writeFile("models: m\npromotion:\n  up-to: production\n", to: config)
        let bad = try runVigil(["run", "--config", config, "--check"])
        #expect(bad.status == 2)
        #expect(bad.err.contains("\(config):3:10: promotion.up-to: expected one of learn, monitor, enforce, found 'production'"), "\(bad.err)")
        try writeFile("models: m\noutputs: [stdout, carrier-pigeon://loft]\n", to: config)
        let badOutput = try runVigil(["run", "--config", config, "--check"])
        #expect(badOutput.status == 2 && badOutput.err.contains("\(config):2:"), "\(badOutput.err)")
        try writeFile("models: m\n", to: config)
        let good = try runVigil(["run", "--config", config, "--check"])
        #expect(good.status == 0, "\(good.err)")
        // Others can write it: refused before anything is read from it.
        chmod(config, 0o666)
        let open = try runVigil(["run", "--config", config, "--check"])
        #expect(open.status == 2)
        #expect(open.err.contains("writable by users other than its owner"), "\(open.err)")
    }
}

private func value(_ samples: [ParsedSample], _ name: String, _ labels: [String: String]?) -> Double? {
    samples.first { $0.name == name && (labels == nil || $0.labels == labels!) }?.value
}

private func waitFor(seconds: Double = 10, _ condition: () throws -> Bool) throws {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if (try? condition()) == true { return }
        Thread.sleep(forTimeInterval: 0.2)
    }
    Issue.record("condition not met within \(seconds) s")
}

/// A vigil process in the background, with its stderr kept in a file.
private final class Background {
    let process = Process()
    let errURL = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-bg-\(UUID().uuidString).err")
    var pid: Int32 { process.processIdentifier }

    init(_ path: String, _ args: [String]) throws {
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = args
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: errURL)
        try process.run()
    }

    func terminate() -> (Int32, String) {
        Glibc.kill(pid, SIGTERM)
        process.waitUntilExit()
        let err = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(at: errURL)
        return (process.terminationStatus, err)
    }

    func kill() {
        if process.isRunning { Glibc.kill(pid, SIGKILL); process.waitUntilExit() }
        try? FileManager.default.removeItem(at: errURL)
    }
}

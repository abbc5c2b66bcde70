import Foundation
import Testing
import VigilAgent
import VigilCore
import VigilOutput
import VigilTestSupport

/// Holds the agent's background profile writer at its next write until released, and
/// counts the writes it let through.
final class WriterGate: @unchecked Sendable {
    private let lock = NSLock()
    private let entered = DispatchSemaphore(value: 0)
    private let release = DispatchSemaphore(value: 0)
    private var holding = true
    private var written: [String] = []

    /// The hook to give the agent.
    var hook: @Sendable (String) -> Void {
        { [self] id in
            if lock.withLock({ holding }) {
                entered.signal()
                _ = release.wait(timeout: .now() + 30)
            }
            lock.withLock { written.append(id) }
        }
    }

    /// Waits until the writer is held at a write; false when it never got there.
    func waitUntilHeld() -> Bool { entered.wait(timeout: .now() + 10) == .success }

    /// Lets the held write (and every later one) through.
    func open() {
        lock.withLock { holding = false }
        release.signal()
    }

    var writes: [String] { lock.withLock { written } }
}

/// A flag set on one thread and read on another.
final class Verdict: @unchecked Sendable {
    private let lock = NSLock()
    private var flag: Bool?
    func set(_ v: Bool) { lock.withLock { flag = v } }
    var value: Bool? { lock.withLock { flag } }
}

@Suite struct BackgroundSaveTests {
    static let svc = "/opt/vigil-test/svc"
    static let other = "/opt/vigil-test/other"

    struct Setup {
        let dir: String
        let agent: Agent
        let clock: SteppingClock
        let gate: WriterGate
        var file: String { dir + "/models/" + ProfileIdentity(executable: BackgroundSaveTests.svc).id + ".json" }
        var otherFile: String { dir + "/models/" + ProfileIdentity(executable: BackgroundSaveTests.other).id + ".json" }

        /// Moves the clock past the save interval and runs the loop's after-read work.
        func periodicSave() {
            clock.advance(seconds: 31)
            agent.afterRead()
        }
    }

    /// `vigil run` on a fake kernel, every new program learning, its writer behind `gate`
    /// (or `hook`, run before each write, when given).
    static func setup(_ gate: WriterGate = WriterGate(), hook: (@Sendable (String) -> Void)? = nil) throws -> Setup {
        let dir = try makeTempDirectory("vigil-bgsave")
        var run = RunConfig(models: dir + "/models", state: dir + "/state")
        run.outputs = ["file:" + dir + "/out.jsonl"]
        run.metricsListen = nil
        var c = AgentConfiguration(command: .run, run: run, keepsState: true, policy: .standard, policyName: "test", hostID: "test")
        c.protectedExecutables = []
        let stream = try EventStream(outputs: run.outputs, spoolDirectory: nil, encoder: OCSFEncoder(productVersion: "test"))
        let clock = SteppingClock(Rig.t0)
        let agent = Agent(configuration: c, baselines: try Agent.loadBaselines(c), kernel: FakeKernel(), stream: stream, clock: clock,
                          beforeProfileWrite: hook ?? gate.hook)
        agent.start(running: [])
        return Setup(dir: dir, agent: agent, clock: clock, gate: gate)
    }

    static func ngrams(_ file: String) throws -> Set<UInt64> {
        Set(try ProfileStore.load(file: file).ngrams.keys)
    }

    /// `names` padded to an n-gram of the learner's length (shorter ones are not learned).
    static func gram(_ names: [String]) -> [String] {
        names + Array(repeating: "close", count: SequenceModel.Parameters.standard.ngramLength - names.count)
    }

    static func novelty(_ pid: Int32, _ names: [String]) -> Event { Events.novelty(pid, gram(names)) }

    static func hash(_ names: [String]) -> UInt64 { NgramHash.hash(gram(names).map { UInt32(SyscallTable.number($0)!) }) }

    @Test func theLoopKeepsHandlingEventsWhileASaveIsInFlight() throws {
        let s = try Self.setup()
        defer { try? FileManager.default.removeItem(atPath: s.dir) }
        s.agent.handle(Events.exec(500, ppid: 1, Self.svc))
        s.agent.handle(Self.novelty(500, ["openat", "read", "close"]))
        s.periodicSave()
        #expect(s.gate.waitUntilHeld(), "the save went to the writer")
        // The writer is held mid-save; the loop goes on: a new program, its behaviour, the
        // once-a-second work, another save due.
        s.agent.handle(Events.exec(501, ppid: 1, Self.other))
        s.agent.handle(Self.novelty(501, ["socket", "connect", "close"]))
        for _ in 0..<3 {
            s.clock.advance(seconds: 1)
            s.agent.afterRead()
        }
        s.periodicSave()
        #expect(s.gate.writes.isEmpty, "nothing written yet: the loop never waited for the held writer")
        #expect(!FileManager.default.fileExists(atPath: s.file))
        s.gate.open()
        s.agent.waitForSaves()
        // The directory checked again now that the writer's files are there.
        s.clock.advance(seconds: 1)
        s.agent.afterRead()
        #expect(try Self.ngrams(s.file).contains(Self.hash(["openat", "read", "close"])))
        #expect(try Self.ngrams(s.otherFile).contains(Self.hash(["socket", "connect", "close"])), "what the loop handled meanwhile is saved too")
        s.agent.stop(reason: "test")
        let text = (try? String(contentsOfFile: s.dir + "/out.jsonl", encoding: .utf8)) ?? ""
        #expect(!text.contains("changed while Vigil runs"), "the writer's files are the agent's own: \(text)")
    }

    @Test func aProfileChangedDuringItsSaveIsWrittenAgainNextTime() throws {
        let s = try Self.setup()
        defer { try? FileManager.default.removeItem(atPath: s.dir) }
        s.agent.handle(Events.exec(500, ppid: 1, Self.svc))
        s.agent.handle(Self.novelty(500, ["openat", "read", "close"]))
        s.periodicSave()
        #expect(s.gate.waitUntilHeld())
        // Changed while its snapshot is being written.
        s.agent.handle(Self.novelty(500, ["openat", "write", "close"]))
        s.gate.open()
        s.agent.waitForSaves()
        let first = try ProfileStore.load(file: s.file)
        #expect(first.ngrams[Self.hash(["openat", "write", "close"])] == nil, "the snapshot is the profile as the save began")
        #expect(first.revision == 1)
        s.periodicSave()
        s.agent.waitForSaves()
        let second = try ProfileStore.load(file: s.file)
        #expect(second.ngrams[Self.hash(["openat", "write", "close"])] != nil, "still dirty after its save: written at the next one")
        #expect(second.revision == 2)
        #expect(s.gate.writes == [first.id, first.id])
        s.agent.stop(reason: "test")
    }

    @Test func aLaterSnapshotSupersedesAPendingOne() throws {
        let s = try Self.setup()
        defer { try? FileManager.default.removeItem(atPath: s.dir) }
        s.agent.handle(Events.exec(500, ppid: 1, Self.svc))
        s.agent.handle(Events.exec(501, ppid: 1, Self.other))
        s.agent.handle(Self.novelty(500, ["openat", "read", "close"]))
        s.agent.handle(Self.novelty(501, ["socket", "connect", "close"]))
        s.periodicSave()
        #expect(s.gate.waitUntilHeld(), "held at the first of the two profiles")
        // Two more saves of `other` while the writer is held: one write of it follows, the last.
        s.agent.handle(Self.novelty(501, ["socket", "sendto", "close"]))
        s.periodicSave()
        s.agent.handle(Self.novelty(501, ["socket", "recvfrom", "close"]))
        s.periodicSave()
        s.gate.open()
        s.agent.waitForSaves()
        let otherID = ProfileIdentity(executable: Self.other).id
        #expect(s.gate.writes.filter { $0 == otherID }.count == 2, "the first batch's, then the latest snapshot only: \(s.gate.writes)")
        let saved = try Self.ngrams(s.otherFile)
        #expect(saved.contains(Self.hash(["socket", "recvfrom", "close"])) && saved.contains(Self.hash(["socket", "sendto", "close"])))
        s.agent.stop(reason: "test")
    }

    /// A save that fails is not forgotten: the final one at stop tries it again. (Before,
    /// the profile counted as saved, and what it learned since its last good save was lost
    /// unless it changed again.)
    @Test func aFailedSaveIsTriedAgainBeforeTheAgentStops() throws {
        final class Once: @unchecked Sendable {
            let lock = NSLock()
            var calls = 0
            var path = ""
        }
        let once = Once()
        // The first write finds an unreadable file where the profile goes (the store will not
        // overwrite a file it cannot load); the second finds it gone.
        let s = try Self.setup(hook: { _ in
            once.lock.withLock {
                once.calls += 1
                if once.calls == 1 { FileManager.default.createFile(atPath: once.path, contents: Data("not json".utf8)) }
                else { try? FileManager.default.removeItem(atPath: once.path) }
            }
        })
        defer { try? FileManager.default.removeItem(atPath: s.dir) }
        once.lock.withLock { once.path = s.file }
        s.agent.handle(Events.exec(500, ppid: 1, Self.svc))
        s.agent.handle(Self.novelty(500, ["openat", "read", "close"]))
        s.agent.stop(reason: "test")
        #expect(once.lock.withLock { once.calls } == 2, "one failed write, one more")
        let saved = try ProfileStore.load(file: s.file)
        #expect(saved.ngrams[Self.hash(["openat", "read", "close"])] != nil, "what it learned is on disk")
    }

    @Test func stopWaitsForTheWriter() throws {
        let s = try Self.setup()
        defer { try? FileManager.default.removeItem(atPath: s.dir) }
        s.agent.handle(Events.exec(500, ppid: 1, Self.svc))
        s.agent.handle(Self.novelty(500, ["openat", "read", "close"]))
        s.periodicSave()
        #expect(s.gate.waitUntilHeld())
        s.agent.handle(Self.novelty(500, ["openat", "write", "close"]))
        // Another thread holds the write until stop returns or half a second passed, and
        // notes which came first: stop must not return while a write is held. (The half
        // second bounds how long a correct stop is kept waiting; it decides nothing then.)
        let gate = s.gate
        let returned = DispatchSemaphore(value: 0)
        let verdict = Verdict()
        let released = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            verdict.set(returned.wait(timeout: .now() + 0.5) == .success)
            gate.open()
            released.signal()
        }
        s.agent.stop(reason: "test")
        returned.signal()
        released.wait()
        #expect(verdict.value == false, "stop returned while the writer still held a save")
        let saved = try ProfileStore.load(file: s.file)
        #expect(saved.ngrams[Self.hash(["openat", "write", "close"])] != nil, "the final save is complete when stop returns")
        #expect(saved.revision == 2)
    }

    /// A reload while a promotion's save is held: the baseline is neither taken as deleted
    /// (its file is not there yet) nor replaced by an older file, nor counted as updated.
    @Test func aReloadWhileAPromotionsSaveIsHeldNeitherDropsNorRewindsTheBaseline() throws {
        let s = try Self.setup()
        defer { try? FileManager.default.removeItem(atPath: s.dir) }
        s.agent.handle(Events.exec(500, ppid: 1, Self.svc))
        s.agent.handle(Self.novelty(500, ["openat", "read", "close"]))
        let id = ProfileIdentity(executable: Self.svc).id
        var next = s.agent.configuration.run
        next.modes = [id: .monitor]
        s.agent.reload(to: LoadedConfig(config: next, policy: .standard), from: "test.yaml")
        #expect(s.gate.waitUntilHeld(), "leaving learning, the profile is saved by the writer")
        s.agent.reload(to: LoadedConfig(config: next, policy: .standard), from: "test.yaml")
        s.gate.open()
        s.agent.waitForSaves()
        s.agent.reload(to: LoadedConfig(config: next, policy: .standard), from: "test.yaml")
        s.agent.stop(reason: "test")
        let text = (try? String(contentsOfFile: s.dir + "/out.jsonl", encoding: .utf8)) ?? ""
        let reloads = text.split(separator: "\n").filter { $0.contains("\"Vigil reloaded") || $0.contains("baselines updated") }
        #expect(reloads.count == 3, "\(reloads)")
        #expect(reloads.allSatisfy { $0.contains(" 0 baselines updated") && !$0.contains("removed") }, "\(reloads)")
        #expect(try ProfileStore.load(file: s.file).ngrams[Self.hash(["openat", "read", "close"])] != nil)
    }
}

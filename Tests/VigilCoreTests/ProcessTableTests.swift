import Testing
import VigilCore

@Suite struct ProcessTableTests {
    func event(_ pid: Int32, _ payload: Event.Payload, at t: UInt64 = 1) -> Event {
        Event(timeNanos: t, pid: pid, tid: pid, comm: "c\(pid)", payload: payload)
    }

    @Test func seededProcessesResolveWithAncestry() {
        let t = ProcessTable(seed: [
            ProcessRecord(pid: 1, ppid: 0, path: "/sbin/init"),
            ProcessRecord(pid: 10, ppid: 1, path: "/usr/sbin/sshd"),
            ProcessRecord(pid: 20, ppid: 10, path: "/bin/bash"),
        ])
        #expect(t[20]?.path == "/bin/bash")
        #expect(t.ancestry(of: 20).map(\.pid) == [10, 1])
        #expect(t.ancestry(of: 1).isEmpty)
    }

    @Test func forkCopiesTheParentUntilExec() {
        var t = ProcessTable(seed: [ProcessRecord(pid: 10, ppid: 1, uid: 5, path: "/bin/bash", argv: ["bash"])])
        t.apply(event(10, .fork(.init(childPid: 11)), at: 100))
        #expect(t[11]?.path == "/bin/bash")
        #expect(t[11]?.ppid == 10)
        #expect(t[11]?.uid == 5)
        #expect(t[11]?.startNanos == 100)
        t.apply(event(11, .exec(.init(ppid: 10, uid: 5, euid: 5, gid: 5, path: "/bin/echo", argv: ["echo", "hi"])), at: 200))
        #expect(t[11]?.path == "/bin/echo")
        #expect(t[11]?.commandLine == "echo hi")
        #expect(t[11]?.startNanos == 100, "exec keeps the process's start time")
        #expect(t.ancestry(of: 11).map(\.path) == ["/bin/bash"])
    }

    @Test func exitedProcessesStayResolvableForLateEvents() {
        var t = ProcessTable(seed: [ProcessRecord(pid: 10, ppid: 1, path: "/bin/x")])
        t.apply(event(10, .exit(.init(status: 0))))
        #expect(t.count == 0)
        #expect(t[10]?.path == "/bin/x")
    }

    @Test func unknownProcessesAreLearnedFromTheirEvents() {
        var t = ProcessTable()
        let r = t.apply(event(77, .syscall(.init(number: 1))))
        #expect(r?.pid == 77)
        #expect(r?.comm == "c77")
    }

    @Test func ancestryStopsOnCycles() {
        let t = ProcessTable(seed: [ProcessRecord(pid: 5, ppid: 6), ProcessRecord(pid: 6, ppid: 5)])
        #expect(t.ancestry(of: 5).map(\.pid) == [6])
    }
}

@Suite struct AddressTests {
    @Test func ipv6TextFollowsRFC5952() {
        func v6(_ groups: [UInt16]) -> String {
            IPv6Address(bytes: groups.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] }).description
        }
        #expect(v6([0, 0, 0, 0, 0, 0, 0, 1]) == "::1")
        #expect(v6([0, 0, 0, 0, 0, 0, 0, 0]) == "::")
        #expect(v6([0x2001, 0xdb8, 0, 0, 1, 0, 0, 1]) == "2001:db8::1:0:0:1")
        #expect(v6([0x2001, 0xdb8, 0, 1, 1, 1, 1, 1]) == "2001:db8:0:1:1:1:1:1")
        #expect(v6([0, 0, 0, 0, 0, 0xffff, 0x7f00, 1]) == "::ffff:127.0.0.1")
    }

    @Test func ipv4ParsingIsStrict() {
        #expect(IPv4Address("10.1.2.3")?.value == 0x0A01_0203)
        #expect(IPv4Address("10.1.2") == nil)
        #expect(IPv4Address("10.1.2.256") == nil)
        #expect(IPv4Address("a.b.c.d") == nil)
        #expect(IPv4Address("1..2.3") == nil)
    }
}

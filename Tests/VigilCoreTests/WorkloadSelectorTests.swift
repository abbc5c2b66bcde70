import Testing
import VigilCore

@Suite struct WorkloadSelectorTests {
    @Test func parsesEachKindAndRefusesWhatIsNotOne() throws {
        #expect(try WorkloadSelector.parse("exe:/usr/bin/redis-server") == WorkloadSelector(kind: .exe, value: "/usr/bin/redis-server"))
        #expect(try WorkloadSelector.parse("user:www-data").kind == .user)
        #expect(try WorkloadSelector.parse("unit:nginx").unitName == "nginx.service")
        #expect(try WorkloadSelector.parse("unit:backup.timer").unitName == "backup.timer")
        for bad in ["nginx", "pid:1", "exe:redis", "cgroup:system.slice", "container:xyz", "unit:a/b", "user:"] {
            #expect(throws: WorkloadSelectorError.self, "\(bad)") { try WorkloadSelector.parse(bad) }
        }
    }

    @Test func cgroupUnitAndContainerMatchThePathsRuntimesUse() throws {
        let cg = try WorkloadSelector.parse("cgroup:/system.slice/nginx.service")
        #expect(cg.matches(cgroupPath: "/system.slice/nginx.service"))
        #expect(cg.matches(cgroupPath: "/system.slice/nginx.service/worker"))
        #expect(!cg.matches(cgroupPath: "/system.slice/nginx.service2"), "whole components only")
        let unit = try WorkloadSelector.parse("unit:redis-server")
        #expect(unit.matches(cgroupPath: "/system.slice/redis-server.service"))
        #expect(!unit.matches(cgroupPath: "/system.slice/redis-sentinel.service"))
        let id = "4f1c2a9be0d3" + String(repeating: "a", count: 52)
        let c = try WorkloadSelector.parse("container:4F1C2A9BE0D3")
        #expect(c.matches(cgroupPath: "/system.slice/docker-\(id).scope"))
        #expect(c.matches(cgroupPath: "/kubepods.slice/kubepods-pod1.slice/cri-containerd-\(id).scope"))
        #expect(c.matches(cgroupPath: "/docker/\(id)"))
        #expect(!c.matches(cgroupPath: "/system.slice/docker-0\(id.dropFirst()).scope"))
        #expect(ProcessContext.container(ofCgroupPath: "/machine.slice/libpod-\(id).scope") == id)
        #expect(ProcessContext.unit(ofCgroupPath: "/system.slice/nginx.service") == "nginx.service")
    }

    @Test func aContextMatchesByExecutableUserOrCgroup() throws {
        let ctx = ProcessContext(pid: 9, executable: "/usr/bin/redis-check-rdb", uid: 33, user: "www-data", cgroupPath: "/system.slice/redis-server.service")
        #expect(ctx.matches(try .parse("exe:/usr/bin/redis-check-rdb")))
        #expect(!ctx.matches(try .parse("exe:/usr/bin/redis-server")), "selectors are resolved before matching, contexts hold the file that runs")
        #expect(ctx.matches(try .parse("user:www-data")))
        #expect(ctx.matches(try .parse("user:33")))
        #expect(!ctx.matches(try .parse("user:root")))
        #expect(ctx.matches(try .parse("unit:redis-server")))
    }
}

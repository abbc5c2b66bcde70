import Foundation
import VigilCore
import VigilSensor

/// Carries out response effects on processes through the kernel (enforce mode only). It
/// keeps user space's copy of each process's responses; the kernel's own marks (a process
/// it found deviating) live in a field only the kernel writes, so a rewrite here never
/// wipes them.
final class ActionExecutor {
    let kernel: any KernelControl
    private var responses: [Int32: Sensor.Responses] = [:]
    private var stopped: Set<Int32> = []

    init(kernel: any KernelControl) {
        self.kernel = kernel
    }

    /// Marks `pid` as deviating: its children that exec a program no baseline knows are
    /// killed before they run.
    func markDeviating(_ pid: Int32) {
        guard !(responses[pid]?.contains(.killUnknownExecs) ?? false) else { return }
        set(pid, responses[pid, default: []].union(.killUnknownExecs))
    }

    func apply(_ step: ResponseStep) -> ResponseOutcome {
        var failures: [String] = []
        let pid = step.pid
        for effect in step.effects {
            switch effect {
            case .denyNetwork:
                if !set(pid, responses[pid, default: []].union(.denyNetwork)) { failures.append("deny network") }
            case .allowNetwork:
                if !set(pid, responses[pid, default: []].subtracting(.denyNetwork)) { failures.append("allow network") }
            case .stop:
                let e = kernel.signal(pid: pid, SIGSTOP)
                if e == 0 { stopped.insert(pid) } else { failures.append("SIGSTOP: \(String(cString: strerror(e)))") }
            case .resume:
                let e = kernel.signal(pid: pid, SIGCONT)
                if e == 0 { stopped.remove(pid) } else { failures.append("SIGCONT: \(String(cString: strerror(e)))") }
            case .kill:
                // In the kernel at its next syscall; a process blocked in a syscall, or
                // stopped, is also sent SIGKILL now so that it cannot linger.
                _ = set(pid, responses[pid, default: []].union(.kill))
                let e = kernel.signal(pid: pid, SIGKILL)
                if e != 0 && e != ESRCH { failures.append("SIGKILL: \(String(cString: strerror(e)))") }
            }
        }
        return failures.isEmpty ? .succeeded : .failed(failures.joined(separator: "; "))
    }

    @discardableResult
    private func set(_ pid: Int32, _ r: Sensor.Responses) -> Bool {
        responses[pid] = r
        do { try kernel.setResponses(pid: pid, r); return true } catch { return false }
    }

    func forget(_ pid: Int32) {
        responses[pid] = nil
        stopped.remove(pid)
    }

    /// Resumes those of `pids` that Vigil stopped (an operator's `vigil resume`, a workload
    /// falling back to monitor); returns those resumed.
    func resume(_ pids: [Int32]) -> [Int32] {
        var done: [Int32] = []
        for pid in pids where stopped.contains(pid) {
            if kernel.signal(pid: pid, SIGCONT) == 0 { done.append(pid) }
            stopped.remove(pid)
        }
        return done
    }

    /// On the way out: nothing stays stopped because the agent that would release it is gone.
    func releaseAll() {
        for pid in stopped { _ = kernel.signal(pid: pid, SIGCONT) }
        stopped.removeAll()
    }
}

import ArgumentParser
import Foundation
import VigilCore
import VigilOutput
import VigilAgent
import VigilSensor

struct Enforce: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Detect departures from the learned baselines and answer them on the response ladder (needs root).",
        discussion: Help.enforce
    )
    @OptionGroup var options: WatchOptions

    @Flag(name: .customLong("dry-run"), help: "Decide everything enforce would, with the same scope, and act on nothing (as `vigil monitor`).")
    var dryRun = false

    @Flag(help: "Segmentation: the workloads' processes may connect only to destinations their profile learned (and the policy's segment-allow) bind only ports it listened on, and connect only to unix sockets it used (Linux 6.7+); anything else is refused in the kernel (EPERM) and reported. Applies to stable profiles (or those enforce-learning names).")
    var segment = false

    @Flag(name: .customLong("segment-ingress"), help: "Ingress segmentation: a TCP connection attempt to a port the workloads' processes bound is dropped in the kernel unless their profile learned that peer on that port (a port reached from 8 or more networks is learned as open to anyone); reported as new-peer. Same conditions as --segment.")
    var segmentIngress = false

    func run() throws {
        options.logging.apply()
        var s = options.settings
        (s.dryRun, s.segment, s.segmentIngress) = (dryRun, segment, segmentIngress)
        try AgentRunner.run(.watching(s, command: .enforce))
    }
}

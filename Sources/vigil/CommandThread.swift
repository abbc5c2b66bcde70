import ArgumentParser
import Foundation
import VigilAgent
import VigilCore
import VigilSensor

/// Runs a vigil subcommand in this process, on its own thread (the demo drives the
/// workload meanwhile). Errors are reported as the command would report them.
final class CommandThread: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)

    init(_ arguments: [String]) {
        let t = Thread { [done] in
            do {
                var command = try Vigil.parseAsRoot(arguments)
                try command.run()
            } catch {
                Diagnostics.error("vigil \(arguments.first ?? ""): \(Vigil.fullMessage(for: error))")
            }
            done.signal()
        }
        t.start()
    }

    func wait() { done.wait() }
}

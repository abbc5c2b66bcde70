public import Foundation

/// A process a test drives line by line: ``send(_:)`` writes a line to its standard input,
/// ``line()`` reads its standard output up to the next newline. ``stop()`` (or release)
/// kills it with SIGKILL and reaps it.
public final class ScriptedProcess {
    public let process = Process()
    private let input = Pipe(), output = Pipe()
    /// Read from the output and not yet returned by ``line()``.
    private var pending = Data()
    public var pid: Int32 { process.processIdentifier }

    /// Starts `executable` with `arguments`; its standard error stays the test's.
    public init(_ executable: String, _ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = input
        process.standardOutput = output
        try process.run()
    }

    deinit { stop() }

    /// Writes `text` and a newline to the process's standard input.
    public func send(_ text: String) {
        input.fileHandleForWriting.write(Data((text + "\n").utf8))
    }

    /// The next line of the process's standard output, without its newline; what is left
    /// when the output ends first ("" if nothing).
    public func line() -> String {
        while !pending.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            pending.append(chunk)
        }
        guard let newline = pending.firstIndex(of: UInt8(ascii: "\n")) else {
            defer { pending.removeAll() }
            return String(decoding: pending, as: UTF8.self)
        }
        let text = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
        pending.removeSubrange(pending.startIndex...newline)
        return text
    }

    /// Kills the process if it still runs, and waits for it.
    public func stop() {
        if process.isRunning { kill(pid, SIGKILL) }
        if process.processIdentifier != 0 { process.waitUntilExit() }
    }
}

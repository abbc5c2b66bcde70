import ArgumentParser
import Foundation
import VigilCore
import VigilOutput
import VigilAgent
import VigilSensor

/// One request to a running agent, its answer on stdout (or the error, exit 1).
enum AgentControl {
    static func ask(_ path: String, _ request: String) throws {
        let answer: String
        do { answer = try ControlClient.ask(path, request) } catch {
            Diagnostics.error("\(error)")
            throw ExitCode.failure
        }
        if answer.hasPrefix("ok") {
            Console.line(String(answer.dropFirst(2)).trimmingCharacters(in: .whitespaces))
        } else {
            Diagnostics.error(String(answer.dropFirst(answer.hasPrefix("error") ? 5 : 0)).trimmingCharacters(in: .whitespaces))
            throw ExitCode.failure
        }
    }
}

import ArgumentParser

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Score recorded syscall traces against a model.")
    func run() throws {}
}

import ArgumentParser

struct Trace: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stream process and network events as OCSF JSON lines.")
}

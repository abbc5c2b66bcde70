public import Foundation

/// External tools some tests need. A missing tool skips its tests, unless
/// `VIGIL_REQUIRE_TOOLS=1` (CI) says the tools must be there, when the tests fail instead.
public enum Tools {
    public static let required = ProcessInfo.processInfo.environment["VIGIL_REQUIRE_TOOLS"] == "1"

    /// The package root (tests run from anywhere; scripts live beside Sources/).
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    public struct Result: Sendable { public var status: Int32; public var output: String }

    /// Runs a program to completion, feeding it `input`, and returns its exit status and
    /// its standard output and error together.
    @discardableResult
    public static func run(_ path: String, _ args: [String], input: Data? = nil) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        let inPipe = Pipe()
        p.standardInput = input == nil ? FileHandle.nullDevice : inPipe
        try p.run()
        if let input {
            // Write from another thread so a large input cannot deadlock against the output pipe.
            let writer = Thread {
                inPipe.fileHandleForWriting.write(input)
                try? inPipe.fileHandleForWriting.close()
            }
            writer.start()
        }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }

    /// The first executable of that name on PATH (or in the usual sbin directories).
    public static func which(_ name: String) -> String? {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/sbin:/sbin:/usr/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// python3 with `jsonschema` and `ocsf-json-schema` importable.
    public static let pythonWithOCSF: String? = {
        guard let py = which("python3"),
              let r = try? run(py, ["-c", "import jsonschema, ocsf_json_schema"]), r.status == 0 else { return nil }
        return py
    }()

    /// python3 with the official OTLP definitions (PyPI `opentelemetry-proto`) importable.
    public static let pythonWithOTLP: String? = {
        guard let py = which("python3"),
              let r = try? run(py, ["-c", "import opentelemetry.proto.collector.logs.v1.logs_service_pb2, google.protobuf.json_format"]),
              r.status == 0 else { return nil }
        return py
    }()

    public static let rsyslogd: String? = which("rsyslogd")
    public static let openssl: String? = which("openssl")

    /// rsyslog's GnuTLS network stream driver, needed for the TLS test.
    public static let rsyslogGnuTLS: Bool = ["/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so", "/usr/lib/aarch64-linux-gnu/rsyslog/lmnsd_gtls.so",
                                      "/usr/lib/rsyslog/lmnsd_gtls.so"].contains { FileManager.default.fileExists(atPath: $0) }
}

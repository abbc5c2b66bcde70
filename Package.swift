// swift-tools-version:6.0
import PackageDescription

// Strict settings for every Swift target.
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "vigil",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "vigil", targets: ["vigil"]),
        .executable(name: "acme-notes", targets: ["acme-notes"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // The wire format shared with the kernel side (BPF/ includes the same header).
        .target(name: "CVigilWire", path: "Sources/CVigilWire"),
        // libbpf from Debian's libbpf-dev; only VigilBPF imports it.
        .systemLibrary(name: "CLibbpf", path: "Sources/CLibbpf"),
        // OpenSSL 3 from Debian's libssl-dev: TLS outputs, SHA-256, ed25519 signatures.
        .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL"),
        // The thin owner of libbpf: objects, programs, maps, links, ring buffers.
        .target(name: "VigilBPF", dependencies: ["CLibbpf"], swiftSettings: strict),
        // The domain: events, process table, sequence model, profiles. Swift, with libcrypto
        // (COpenSSL) for SHA-256 and ed25519 signatures.
        .target(
            name: "VigilCore",
            dependencies: ["COpenSSL", .product(name: "Yams", package: "Yams")],
            swiftSettings: strict
        ),
        // Kernel -> typed events: record decoding, /proc seeding, the running sensor.
        .target(
            name: "VigilSensor",
            dependencies: ["CVigilWire", "VigilBPF", "VigilCore"],
            swiftSettings: strict,
            plugins: ["BPFCompiler"]
        ),
        // Compiles BPF/ with the toolchain's clang -target bpf during `swift build`.
        .plugin(name: "BPFCompiler", capability: .buildTool()),
        // zlib from Debian's zlib1g-dev: gzip request bodies; only VigilOutput imports it.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        // The NATS C client from Debian's libnats-dev: the nats:// output and fleet baselines
        // (JetStream); only VigilOutput and the tests' NATS helpers import it.
        .systemLibrary(name: "CNats", path: "Sources/CNats", pkgConfig: "libnats"),
        // OCSF mapping and sinks.
        .target(name: "VigilOutput", dependencies: ["VigilCore", "CZlib", "COpenSSL", "CNats"], swiftSettings: strict),
        // The agent pipeline every agent command runs: kernel -> process table -> learner |
        // detector -> responder -> outputs. Talks to the kernel through a protocol, so its
        // unit tests need no root.
        .target(
            name: "VigilAgent",
            dependencies: ["VigilCore", "VigilSensor", "VigilOutput", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "vigil",
            dependencies: [
                "VigilCore", "VigilSensor", "VigilOutput", "VigilAgent",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        // The demo's service: a small C TCP server with a command-injection flaw, visibly not Vigil.
        .executableTarget(name: "acme-notes", path: "Sources/acme-notes"),
        // Benchmarks print figures; they are not tests. See Benchmarks/README.md.
        .executableTarget(
            name: "vigil-bench",
            dependencies: ["VigilSensor", "VigilCore"],
            path: "Benchmarks/VigilBench",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "vigil-bench-sinks",
            dependencies: ["VigilOutput", "VigilCore"],
            path: "Benchmarks/SinkBench",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "vigil-bench-save",
            dependencies: ["VigilAgent", "VigilOutput", "VigilSensor", "VigilCore"],
            path: "Benchmarks/SaveBench",
            swiftSettings: strict
        ),
        // Helpers every test target shares (temp dirs, loopback sockets, the test HTTP
        // server, a manual clock, external tools); only test targets depend on it.
        .target(name: "VigilTestSupport", dependencies: ["VigilOutput", "CZlib", "CNats"], path: "Tests/VigilTestSupport", swiftSettings: strict),
        .testTarget(name: "VigilCoreTests", dependencies: ["VigilCore", "VigilTestSupport", .product(name: "Yams", package: "Yams")], resources: [.copy("Fixtures")], swiftSettings: strict),
        .testTarget(name: "VigilSensorTests", dependencies: ["VigilSensor", "CVigilWire", "VigilCore", "VigilTestSupport"], swiftSettings: strict),
        .testTarget(name: "VigilOutputTests", dependencies: ["VigilOutput", "VigilCore", "VigilTestSupport"], resources: [.copy("Golden")], swiftSettings: strict),
        .testTarget(name: "VigilAgentTests", dependencies: ["VigilAgent", "VigilCore", "VigilSensor", "VigilOutput", "VigilTestSupport", .product(name: "Logging", package: "swift-log")], swiftSettings: strict),
        .testTarget(name: "VigilEndToEndTests", dependencies: ["VigilSensor", "VigilCore", "VigilOutput", "VigilTestSupport"], swiftSettings: strict),
    ]
)

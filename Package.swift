// swift-tools-version: 6.1
import PackageDescription

// No target uses unsafe flags: SwiftPM refuses a dependency resolved by version
// whose products contain one, and public values are safe to hold across `await`
// in unoptimised builds (Documentation/Architecture.md, "A library first").

let package = Package(
    name: "ForgeChain",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "LedgerCore", targets: ["LedgerCore"]),
        .library(name: "LedgerCrypto", targets: ["LedgerCrypto"]),
        .library(name: "LedgerModel", targets: ["LedgerModel"]),
        .library(name: "LedgerStorage", targets: ["LedgerStorage"]),
        .library(name: "LedgerConsensus", targets: ["LedgerConsensus"]),
        .library(name: "LedgerCoreTesting", targets: ["LedgerCoreTesting"]),
        .library(name: "AppAPI", targets: ["AppAPI"]),
        .library(name: "Net", targets: ["Net"]),
        .library(name: "ChainRuntime", targets: ["ChainRuntime"]),
        .library(name: "Contracts", targets: ["Contracts"]),
        .library(name: "Gateway", targets: ["Gateway"]),
        .executable(name: "forgechain", targets: ["forgechain"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/CoreOffice/XMLCoder", exact: "0.18.2"),
        .package(url: "https://github.com/yaslab/CSV.swift", exact: "2.5.2"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", exact: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl", exact: "2.37.6"),
        .package(url: "https://github.com/apple/swift-metrics", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
        // The project's HTTP server library: the HTTPS gateway (Gateway) and the Examples/MetricsService executable.
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1"),
        // The gateway's tests drive it as an HTTPS client would (already in the graph through Hummingbird's own tests).
        .package(url: "https://github.com/swift-server/async-http-client", exact: "1.37.0"),
        // Stops the gateway's server gracefully (already in the graph through Hummingbird).
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", exact: "2.13.0"),
        // `swift package generate-documentation` (Scripts/check-docs.sh, Scripts/api-summary.sh); a command plugin, nothing is linked.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", exact: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        .systemLibrary(
            name: "CSecp256k1",
            pkgConfig: "libsecp256k1",
            providers: [.apt(["libsecp256k1-dev"])]
        ),
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        // The core, lowest first (Documentation/Architecture.md, "Module map"). Each
        // depends only on modules above it in this list; none on a later one.
        // Hashes, signatures, ciphers, key derivation, randomness, `LedgerError`, hex.
        .target(name: "LedgerCrypto", dependencies: ["COpenSSL", "CSecp256k1"]),
        // Blocks, transactions, RLP, Merkle trees, world state, execution, validation, commit certificates.
        .target(name: "LedgerModel", dependencies: ["LedgerCrypto", "COpenSSL"]),
        // The SQLite ledger store.
        .target(
            name: "LedgerStorage",
            dependencies: ["LedgerModel", "LedgerCrypto", "CSQLite", .product(name: "Logging", package: "swift-log")]
        ),
        // The consensus engines (PBFT, Raft, PoW, PoS) and their configuration.
        .target(name: "LedgerConsensus", dependencies: ["LedgerModel", "LedgerCrypto"]),
        // Re-exports the four above: `import LedgerCore` imports all of them.
        .target(name: "LedgerCore", dependencies: ["LedgerCrypto", "LedgerModel", "LedgerStorage", "LedgerConsensus"]),
        // Project Wycheproof's test-vector runner (`forgechain conformance`, ConformanceTests): not a product.
        .target(name: "LedgerConformance", dependencies: ["LedgerCrypto"]),
        // The contract layer: the EVM (host protocol, opcode table, interpreter), Ethereum tries and the
        // conformance runner, the ABI, the bytecode audit. Depends on the core's crypto and model only.
        .target(name: "Contracts", dependencies: ["LedgerCrypto", "LedgerModel"]),
        // The simulator, workloads and seeded (deterministic, so not secret) node configurations: tests, probes, benchmarks.
        .target(
            name: "LedgerCoreTesting",
            dependencies: ["LedgerCore", "ChainRuntime"]
        ),
        .target(
            name: "AppAPI",
            dependencies: [
                "LedgerCore",
                "ChainRuntime",
                "Contracts",
                "Net",
                .product(name: "XMLCoder", package: "XMLCoder"),
                .product(name: "CSV", package: "CSV.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .target(name: "Net", dependencies: ["LedgerCore", .product(name: "NIOCore", package: "swift-nio"),
                                            .product(name: "NIOPosix", package: "swift-nio"),
                                            .product(name: "NIOSSL", package: "swift-nio-ssl"),
                                            .product(name: "Logging", package: "swift-log"),
                                            .product(name: "Metrics", package: "swift-metrics")]),
        .target(name: "ChainRuntime", dependencies: ["LedgerCore", "Net", .product(name: "Logging", package: "swift-log"),
                                                    .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                                                    .product(name: "NIOSSL", package: "swift-nio-ssl"),
                                                    .product(name: "Metrics", package: "swift-metrics")]),
        // The HTTPS gateway (REST over the records platform, D-5, D-7..D-10), on Hummingbird with TLS.
        .target(
            name: "Gateway",
            dependencies: [
                "AppAPI",
                "ChainRuntime",
                "LedgerCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "XMLCoder", package: "XMLCoder"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "forgechain",
            dependencies: [
                "LedgerCore",
                "AppAPI",
                "Gateway",
                "LedgerCoreTesting",
                "LedgerConformance",
                "ChainRuntime",
                "Contracts",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // Appends blocks to a store and reports each committed height; the
        // store crash test kills it with SIGKILL (Tests/LedgerCoreTests/Store).
        .executableTarget(
            name: "forgechain-crash-probe",
            dependencies: ["LedgerCore", "LedgerCoreTesting"]
        ),
        // Runs a one-node chain under load and prints each returned receipt's
        // transaction ID; the node crash test kills it with SIGKILL (Tests/ChainRuntimeTests).
        .executableTarget(
            name: "forgechain-node-probe",
            dependencies: ["LedgerCore", "ChainRuntime", "LedgerCoreTesting"]
        ),
        // Keeps digests across awaits in many tasks; run unoptimised under AddressSanitizer (Architecture.md).
        .executableTarget(name: "forgechain-await-probe", dependencies: ["LedgerCore"]),
        .executableTarget(
            name: "PlantUploader",
            dependencies: ["AppAPI", "LedgerCore"],
            path: "Examples/PlantUploader"
        ),
        .executableTarget(
            name: "InMemoryCluster",
            dependencies: ["LedgerCore", "ChainRuntime"],
            path: "Examples/InMemoryCluster"
        ),
        // A one-node platform taking uploads while its metrics are exported in Prometheus's text format,
        // served by a Hummingbird route.
        .executableTarget(
            name: "MetricsService",
            dependencies: [
                "AppAPI",
                "ChainRuntime",
                "LedgerCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            path: "Examples/MetricsService"
        ),
        .testTarget(
            name: "LedgerCoreTests",
            dependencies: ["LedgerCore", "LedgerCrypto", "LedgerModel", "LedgerStorage", "LedgerConsensus",
                           "LedgerConformance", "LedgerCoreTesting", "forgechain-crash-probe"]
        ),
        .testTarget(name: "AppAPITests", dependencies: ["AppAPI", "LedgerCore", "ChainRuntime", "Net", "Contracts"]),
        // Runs the `forgechain` binary as a child process (operator commands on a data folder).
        .testTarget(name: "CLITests", dependencies: ["AppAPI", "ChainRuntime", "LedgerCore", "forgechain"]),
        .testTarget(name: "ConformanceTests", dependencies: ["LedgerCore", "LedgerCrypto", "LedgerConformance", "LedgerCoreTesting", "Contracts"]),
        .testTarget(name: "SimulationTests", dependencies: ["LedgerCore", "LedgerCoreTesting"]),
        .testTarget(name: "NetTests", dependencies: ["Net", "LedgerCore", "LedgerCoreTesting"]),
        // The code of the DocC articles and of the README, compiled and run; a checker keeps the Markdown and these sources identical.
        .testTarget(name: "DocumentationTests", dependencies: ["LedgerCore", "LedgerCoreTesting", "AppAPI", "ChainRuntime", "Net"]),
        // Captures log records and metrics with in-memory handlers (node, store, platform, identity) and runs the CLI's --log-level.
        .testTarget(
            name: "ObservabilityTests",
            dependencies: [
                "AppAPI",
                "CSQLite",
                "Net",
                "forgechain",
                "ChainRuntime",
                "LedgerCore",
                "LedgerCoreTesting",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ]
        ),
        .testTarget(
            name: "GatewayTests",
            dependencies: ["Gateway", "AppAPI", "ChainRuntime", "LedgerCore", "Net", "forgechain",
                           .product(name: "AsyncHTTPClient", package: "async-http-client"),
                           .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOPosix", package: "swift-nio"),
                           .product(name: "NIOHTTP1", package: "swift-nio"),
                           .product(name: "NIOSSL", package: "swift-nio-ssl")]
        ),
        .testTarget(name: "ContractsTests", dependencies: ["Contracts", "LedgerCrypto", "LedgerModel", "LedgerCore", "ChainRuntime"]),
        .testTarget(name: "ChainRuntimeTests", dependencies: ["ChainRuntime", "Net", "LedgerCore", "LedgerCoreTesting", "forgechain-node-probe"]),
    ],
    swiftLanguageModes: [.v6]
)

// swift-tools-version: 6.1
import PackageDescription

/// The core targets are compiled with optimisation in debug builds too: the
/// test suite runs hundreds of seeded consensus simulations, millions of
/// hashes and thousands of signatures, which take minutes unoptimised on a
/// 2-core machine and seconds optimised. Release builds are unaffected.
let optimizedEvenInDebug: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug))]

/// Every other target (the network, the node, the tools, the examples and all tests) is optimised in debug
/// builds for another reason: with Swift 6.3.1, unoptimised async functions that keep a SIMD-backed value (`Digest` is a
/// `SIMD32<UInt8>`) across an `await` get an async context too small for what they write (AddressSanitizer,
/// with `SWIFT_DEBUG_ENABLE_TASK_SLAB_ALLOCATOR=false`: writes 0–16 bytes past the context), which corrupted
/// the task allocator or the heap ("freed pointer was not the last allocation", malloc aborts, segfaults)
/// in about one test run in three. The same code built with `-O` is clean.
let asyncSafeInDebug: [SwiftSetting] = optimizedEvenInDebug

let package = Package(
    name: "ForgeChain",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "LedgerCore", targets: ["LedgerCore"]),
        .library(name: "LedgerCoreTesting", targets: ["LedgerCoreTesting"]),
        .library(name: "AppAPI", targets: ["AppAPI"]),
        .library(name: "Net", targets: ["Net"]),
        .library(name: "ChainRuntime", targets: ["ChainRuntime"]),
        .executable(name: "forgechain", targets: ["forgechain"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/CoreOffice/XMLCoder", exact: "0.18.2"),
        .package(url: "https://github.com/yaslab/CSV.swift", exact: "2.5.2"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
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
        .target(
            name: "LedgerCore",
            dependencies: ["COpenSSL", "CSecp256k1", "CSQLite", .product(name: "Logging", package: "swift-log")],
            swiftSettings: optimizedEvenInDebug
        ),
        .target(
            name: "LedgerCoreTesting",
            dependencies: ["LedgerCore"],
            swiftSettings: optimizedEvenInDebug
        ),
        .target(
            name: "AppAPI",
            dependencies: [
                "LedgerCore",
                "ChainRuntime",
                "Net",
                .product(name: "XMLCoder", package: "XMLCoder"),
                .product(name: "CSV", package: "CSV.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: asyncSafeInDebug
        ),
        .target(name: "Net", dependencies: ["LedgerCore"], swiftSettings: asyncSafeInDebug),
        .target(name: "ChainRuntime", dependencies: ["LedgerCore", "Net", .product(name: "Logging", package: "swift-log"),
                                                    .product(name: "Metrics", package: "swift-metrics")], swiftSettings: asyncSafeInDebug),
        .executableTarget(
            name: "forgechain",
            dependencies: [
                "LedgerCore",
                "AppAPI",
                "LedgerCoreTesting",
                "ChainRuntime",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: asyncSafeInDebug
        ),
        // Appends blocks to a store and reports each committed height; the
        // store crash test kills it with SIGKILL (Tests/LedgerCoreTests/Store).
        .executableTarget(
            name: "forgechain-crash-probe",
            dependencies: ["LedgerCore", "LedgerCoreTesting"],
            swiftSettings: asyncSafeInDebug
        ),
        // Runs a one-node chain under load and prints each returned receipt's
        // transaction ID; the node crash test kills it with SIGKILL (Tests/ChainRuntimeTests).
        .executableTarget(
            name: "forgechain-node-probe",
            dependencies: ["LedgerCore", "ChainRuntime"],
            swiftSettings: asyncSafeInDebug
        ),
        .executableTarget(
            name: "PlantUploader",
            dependencies: ["AppAPI", "LedgerCore"],
            path: "Examples/PlantUploader",
            swiftSettings: asyncSafeInDebug
        ),
        .executableTarget(
            name: "InMemoryCluster",
            dependencies: ["LedgerCore", "ChainRuntime"],
            path: "Examples/InMemoryCluster",
            swiftSettings: asyncSafeInDebug
        ),
        // A one-node platform taking uploads while its metrics are exported in Prometheus's text format.
        .executableTarget(
            name: "MetricsService",
            dependencies: [
                "AppAPI",
                "ChainRuntime",
                "LedgerCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            path: "Examples/MetricsService",
            swiftSettings: asyncSafeInDebug
        ),
        .testTarget(name: "LedgerCoreTests", dependencies: ["LedgerCore", "LedgerCoreTesting", "forgechain-crash-probe"], swiftSettings: asyncSafeInDebug),
        .testTarget(name: "AppAPITests", dependencies: ["AppAPI", "LedgerCore", "ChainRuntime"], swiftSettings: asyncSafeInDebug),
        // Runs the `forgechain` binary as a child process (operator commands on a data folder).
        .testTarget(name: "CLITests", dependencies: ["AppAPI", "forgechain"], swiftSettings: asyncSafeInDebug),
        .testTarget(name: "ConformanceTests", dependencies: ["LedgerCore", "LedgerCoreTesting"], swiftSettings: asyncSafeInDebug),
        .testTarget(name: "SimulationTests", dependencies: ["LedgerCore", "LedgerCoreTesting"], swiftSettings: asyncSafeInDebug),
        .testTarget(name: "NetTests", dependencies: ["Net", "LedgerCore", "LedgerCoreTesting"], swiftSettings: asyncSafeInDebug),
        // Captures log records and metrics with in-memory handlers (node, store, platform, identity).
        .testTarget(
            name: "ObservabilityTests",
            dependencies: [
                "AppAPI",
                "CSQLite",
                "Net",
                "forgechain",
                "ChainRuntime",
                "LedgerCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: asyncSafeInDebug
        ),
        .testTarget(name: "ChainRuntimeTests", dependencies: ["ChainRuntime", "Net", "LedgerCore", "LedgerCoreTesting", "forgechain-node-probe"], swiftSettings: asyncSafeInDebug),
    ],
    swiftLanguageModes: [.v6]
)

// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "ForgeChain",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "LedgerCore", targets: ["LedgerCore"]),
        .library(name: "LedgerCoreTesting", targets: ["LedgerCoreTesting"]),
        .executable(name: "forgechain", targets: ["forgechain"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
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
        .target(
            name: "LedgerCore",
            dependencies: ["COpenSSL", "CSecp256k1"]
        ),
        .target(
            name: "LedgerCoreTesting",
            dependencies: ["LedgerCore"]
        ),
        .executableTarget(
            name: "forgechain",
            dependencies: [
                "LedgerCore",
                "LedgerCoreTesting",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "LedgerCoreTests", dependencies: ["LedgerCore", "LedgerCoreTesting"]),
        .testTarget(name: "ConformanceTests", dependencies: ["LedgerCore", "LedgerCoreTesting"]),
        .testTarget(name: "SimulationTests", dependencies: ["LedgerCore", "LedgerCoreTesting"]),
    ],
    swiftLanguageModes: [.v6]
)

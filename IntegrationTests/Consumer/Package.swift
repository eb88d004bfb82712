// swift-tools-version: 6.1
// A package that uses ForgeChain the way a plant team's service does: by
// version, from a git URL. `.ci/run` tags a clone of the checkout and points
// FORGECHAIN_GIT_URL at it, then builds and runs this in debug and release.
import PackageDescription

let url = Context.environment["FORGECHAIN_GIT_URL"] ?? "https://github.com/forgechain/forgechain"

let package = Package(
    name: "Consumer",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: url, from: "0.1.0"),
    ],
    targets: [
        .executableTarget(
            name: "Consumer",
            dependencies: [
                .product(name: "LedgerCore", package: "ForgeChain"),
                .product(name: "AppAPI", package: "ForgeChain"),
                .product(name: "Contracts", package: "ForgeChain"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)

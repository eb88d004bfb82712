// swift-tools-version: 6.1
// package-benchmark suites for ForgeChain. Run from this folder:
//   swift package benchmark                     # all suites
//   swift package benchmark --target HashingBenchmarks
import PackageDescription

let package = Package(
    name: "ForgeChainBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "ForgeChain", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "HashingBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "LedgerCore", package: "ForgeChain"),
                .product(name: "LedgerCoreTesting", package: "ForgeChain"),
            ],
            path: "Benchmarks/HashingBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "ValidationBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "LedgerCore", package: "ForgeChain"),
                .product(name: "LedgerCoreTesting", package: "ForgeChain"),
            ],
            path: "Benchmarks/ValidationBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "ConsensusBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "LedgerCore", package: "ForgeChain"),
                .product(name: "LedgerCoreTesting", package: "ForgeChain"),
            ],
            path: "Benchmarks/ConsensusBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "RuntimeBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "LedgerCore", package: "ForgeChain"),
                .product(name: "ChainRuntime", package: "ForgeChain"),
                .product(name: "Net", package: "ForgeChain"),
            ],
            path: "Benchmarks/RuntimeBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "StoreBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "LedgerCore", package: "ForgeChain"),
                .product(name: "LedgerCoreTesting", package: "ForgeChain"),
            ],
            path: "Benchmarks/StoreBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)

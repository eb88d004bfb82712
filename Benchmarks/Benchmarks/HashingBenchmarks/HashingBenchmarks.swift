import Benchmark
import LedgerCore
import LedgerCoreTesting

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.throughput, .wallClock, .mallocCountTotal],
                                           maxDuration: .seconds(5), maxIterations: 1_000)

    // SHA-256 (and the other chain hashes) over distinct 64-byte messages;
    // compare with `merkle_baseline hash64 1000000 3 lowlevel`.
    for algorithm in HashAlgorithm.allCases {
        let count = 100_000
        let messages = Workloads.messages64(count: count)
        Benchmark("hash.\(algorithm.rawValue).64B x100k") { benchmark in
            for _ in benchmark.scaledIterations {
                var fold: UInt64 = 0
                messages.withUnsafeBytes { all in
                    for i in 0..<count {
                        let d = algorithm.hash(UnsafeRawBufferPointer(start: all.baseAddress! + i * 64, count: 64))
                        fold ^= d.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
                    }
                }
                blackHole(fold)
            }
        }
    }

    // RFC 6962 root of 2^20 leaves; compare with `merkle_baseline root 1048576 lowlevel 1`.
    let leaves = Workloads.merkleLeaves(count: 1 << 20)
    for (label, concurrency) in [("serial", MerkleConcurrency.serial), ("threads2", .threads(2))] {
        Benchmark("merkle.root.2^20.\(label)", configuration: .init(maxIterations: 20)) { benchmark in
            for _ in benchmark.scaledIterations {
                let root = try leaves.withUnsafeBytes { raw in
                    try MerkleTree.root(leafData: raw, leafSize: 32, algorithm: .sha256, concurrency: concurrency)
                }
                blackHole(root)
            }
        }
    }
}

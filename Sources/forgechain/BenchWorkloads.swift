import Foundation
import LedgerCore
import LedgerCoreTesting

/// The measured operations of `forgechain bench`.
enum Benchmarks {
    /// Hashing of distinct 64-byte messages with each algorithm.
    static func hash(_ r: BenchReporter, scale: Double) throws {
        let count = max(1_000, Int(1_000_000 * scale))
        let messages = Workloads.messages64(count: count)
        for algorithm in HashAlgorithm.allCases {
            let n = algorithm == .sha256 ? count : max(1_000, count / 4)
            var fold: UInt64 = 0
            let seconds = measure {
                messages.withUnsafeBytes { all in
                    for i in 0..<n {
                        let d = algorithm.hash(UnsafeRawBufferPointer(start: all.baseAddress! + i * 64, count: 64))
                        fold ^= d.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
                    }
                }
            }
            r.report("hash.\(algorithm.rawValue).64B", count: n, seconds: seconds,
                     extra: ["ns_per_message": seconds / Double(n) * 1e9, "fold_low_byte": Double(fold & 0xff)])
        }
    }

    /// RFC 6962 root of 2^20 baseline leaves, serial and on all cores.
    static func merkle(_ r: BenchReporter, scale: Double) throws {
        let count = max(1_024, Int(Double(1 << 20) * scale))
        let leaves = Workloads.merkleLeaves(count: count)
        var root = Digest.zero
        let cores = ProcessInfo.processInfo.activeProcessorCount
        for (label, concurrency) in [("serial", MerkleConcurrency.serial), ("threads\(cores)", .threads(cores))] {
            let seconds = try measure(repetitions: 5) {
                root = try leaves.withUnsafeBytes { raw in
                    try MerkleTree.root(leafData: raw, leafSize: 32, algorithm: .sha256, concurrency: concurrency)
                }
            }
            r.report("merkle.root.sha256.\(label)", count: count, seconds: seconds)
        }
        if !r.json { print("root=\(root.hex)") }
    }

    /// Full validation of a block of 10,000 P-256-signed transactions.
    static func validate(_ r: BenchReporter, scale: Double) throws {
        let count = max(100, Int(10_000 * scale))
        let producer = try PrivateKey.generate(.p256)
        let txs = try Workloads.signedTransactions(count: count, senders: 100)
        let block = try Block.make(parent: nil, transactions: txs, producerKey: producer, chainID: 1,
                                   hashAlgorithm: .sha256, timestamp: .now())
        let cores = ProcessInfo.processInfo.activeProcessorCount
        for parallelism in Set([1, cores]).sorted() {
            let validator = BlockValidator(chainID: 1, parallelism: parallelism)
            let t = try measureWallAndCPU { try validator.validate(block, parent: nil) }
            r.report("validate.block.p256.threads\(parallelism)", count: count, seconds: t.wall,
                     extra: ["cpu_seconds": t.cpu, "ops_per_cpu_sec": Double(count) / t.cpu])
        }
        // Signature verification alone, one core, for comparison with `openssl speed ecdsap256`.
        let digest = txs[0].signingDigest(using: .sha256).bytes
        let key = txs[0].sender, sig = txs[0].signature!
        let n = count
        let t = measureWallAndCPU { for _ in 0..<n { _ = key.isValidSignature(sig, for: digest) } }
        r.report("verify.p256.single", count: n, seconds: t.wall, extra: ["cpu_seconds": t.cpu, "ops_per_cpu_sec": Double(n) / t.cpu])
    }
}

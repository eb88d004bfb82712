import LedgerCore
import LedgerCoreTesting
import Testing

// The code of `Sources/LedgerModel/LedgerModel.docc/BenchmarkTheCore.md`, verbatim. The test runs it with the
// article's sizes (a fraction of a second optimised) and checks results, not speeds.

/// Operations per second, from a count and the time they took.
func perSecond(_ count: Int, _ elapsed: Duration) -> Int {
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    return Int(Double(count) / max(seconds, 1e-9))
}

struct BenchmarkTheCoreTests {
    @Test func hashingMerkleRootsAndBlockValidationRunAndAgreeAcrossThreadCounts() throws {
        let clock = ContinuousClock()

        // 1. SHA-256 of 100,000 distinct 64-byte messages (Workloads makes the same bytes every run).
        let count = 100_000
        let messages = Workloads.messages64(count: count)
        var fold: UInt8 = 0
        let hashing = clock.measure {
            messages.withUnsafeBytes { all in
                for i in 0..<count {
                    let digest = HashAlgorithm.sha256.hash(UnsafeRawBufferPointer(rebasing: all[(i * 64)..<(i * 64 + 64)]))
                    fold ^= digest.withUnsafeBytes { $0[0] }   // keeps the optimiser from dropping the work
                }
            }
        }
        print("sha256 64 B: \(perSecond(count, hashing)) hashes/s (fold \(fold))")

        // 2. The RFC 6962 root of 2^16 leaf hashes, on one thread and on two; the root is the same.
        let leaves = Workloads.merkleLeaves(count: 1 << 16)
        var roots = [Digest]()
        for concurrency in [MerkleConcurrency.serial, .threads(2)] {
            let elapsed = clock.measure {
                roots.append(MerkleTree.root(leafHashes: leaves, algorithm: .sha256, concurrency: concurrency))
            }
            print("merkle root 2^16 \(concurrency): \(elapsed)")
        }
        precondition(roots[0] == roots[1])

        // 3. Full validation (K-V-1..4 and every transaction's signature) of a block of 2,000 P-256 transactions.
        let producer = try PrivateKey.generate(.p256)
        let transactions = try Workloads.signedTransactions(count: 2_000, senders: 100)
        let block = try Block.make(parent: nil, transactions: transactions, producerKey: producer, chainID: 1,
                                   hashAlgorithm: .sha256, timestamp: .now())
        for threads in [1, 2] {
            let validator = BlockValidator(chainID: 1, parallelism: threads)
            let elapsed = try clock.measure { try validator.validate(block, parent: nil) }
            print("validate 2,000 tx, \(threads) thread(s): \(perSecond(transactions.count, elapsed)) tx/s")
        }

        #expect(roots.count == 2 && roots[0] == MerkleTree(leafHashes: leaves).root)
        #expect(perSecond(10, .seconds(2)) == 5)
    }
}

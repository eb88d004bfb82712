import Benchmark
import LedgerCore
import LedgerCoreTesting

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.throughput, .wallClock, .mallocCountTotal],
                                           maxDuration: .seconds(10), maxIterations: 20)

    // Full validation of a block of 10,000 P-256-signed transactions;
    // compare with `openssl speed -seconds 2 ecdsap256` verify/s x cores.
    let producer = try! PrivateKey.generate(.p256)
    let txs = try! Workloads.signedTransactions(count: 10_000, senders: 100)
    let block = try! Block.make(parent: nil, transactions: txs, producerKey: producer, chainID: 1,
                                hashAlgorithm: .sha256, timestamp: .now())
    for threads in [1, 2] {
        let validator = BlockValidator(chainID: 1, parallelism: threads)
        Benchmark("validate.block.10k.p256.threads\(threads)") { benchmark in
            for _ in benchmark.scaledIterations {
                try validator.validate(block, parent: nil)
            }
        }
    }
}

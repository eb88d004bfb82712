import Benchmark
import Foundation
import LedgerCore
import LedgerCoreTesting

/// The ledger store's append path (blocks of 1,000 transactions, with
/// receipts and 1,000 state writes each), state reads and proofs. Compare
/// with `forgechain bench append`, which runs the raw C-API baseline with
/// the same rows side by side.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.throughput, .wallClock, .mallocCountTotal],
                                           maxDuration: .seconds(10), maxIterations: 10)
    let chain = try! Workloads.ledgerChain(blocks: 10)
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fc-store-bench-\(UUID().uuidString)").path
    try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)

    Benchmark("store.append.10x1000tx") { benchmark in
        for i in benchmark.scaledIterations {
            let path = dir + "/append-\(i)-\(UUID().uuidString).sqlite"
            let store = try LedgerStore(path: path)
            benchmark.startMeasurement()
            for p in chain { try store.append(p.block, receipts: p.receipts, stateChanges: p.stateChanges) }
            benchmark.stopMeasurement()
        }
    }

    let readStore = try! LedgerStore(path: dir + "/read.sqlite")
    for p in chain { try! readStore.append(p.block, receipts: p.receipts, stateChanges: p.stateChanges) }
    let keys = (0..<5_000).map { Array("batch/\($0)".utf8) }

    Benchmark("store.state.read.head x10k", configuration: .init(maxIterations: 100)) { benchmark in
        for _ in benchmark.scaledIterations {
            for i in 0..<10_000 { blackHole(try readStore.stateValue(forKey: keys[(i &* 7919) % keys.count])) }
        }
    }
    Benchmark("store.state.proof x1k", configuration: .init(maxIterations: 100)) { benchmark in
        for _ in benchmark.scaledIterations {
            for i in 0..<1_000 { blackHole(try readStore.stateProof(key: keys[(i &* 7919) % keys.count])) }
        }
    }
}

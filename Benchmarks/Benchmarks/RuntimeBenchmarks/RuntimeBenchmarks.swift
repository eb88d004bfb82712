import Benchmark
import ChainRuntime
import Foundation
import LedgerCore
import Net

// Committed transactions per second of a full node and of a 4-node PBFT
// cluster in one process: each iteration enqueues 2,000 pre-signed
// (Ed25519) key-value transactions and waits until the node holds every
// receipt. Signatures are checked at intake (off the node's actor, once per
// process for a transaction relayed between in-process nodes) and in
// validated blocks.
// Throughput is batches/s: multiply by 2,000 for tx/s. `forgechain bench tps`
// measures the same with commit latency percentiles.

/// Signed transactions from fresh accounts, nonces from 0 (so every iteration is independent).
func batch(_ iteration: Int, count: Int, chainID: UInt64) -> [Transaction] {
    var txs = [Transaction]()
    let senders = 16
    var accounts = (0..<senders).map { s -> SigningAccount in
        var raw = [UInt8](repeating: 0, count: 32)
        withUnsafeBytes(of: UInt64(iteration * senders + s + 1).littleEndian) { raw.replaceSubrange(0..<8, with: $0) }
        return SigningAccount(key: try! PrivateKey(scheme: .ed25519, rawRepresentation: raw), chainID: chainID)
    }
    for i in 0..<count { txs.append(try! accounts[i % senders].set(key: Array("k\(i)".utf8), value: Array("v\(i)".utf8))) }
    return txs
}

func commitAll(_ node: any ChainNode, _ txs: [Transaction]) async throws {
    let ids = try await node.enqueue(txs).map { try $0.get() }
    for id in ids { _ = try await node.waitForReceipt(id, timeout: .seconds(60)) }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.throughput, .wallClock], maxDuration: .seconds(20), maxIterations: 10)

    Benchmark("node1.commit.2000tx") { benchmark in
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("forgechain-bench-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var config = try NodeConfiguration.singleNode(storePath: dir + "/ledger.sqlite", maximumTransactionsPerBlock: 2_000)
        config.tickInterval = .milliseconds(5)
        let network = InMemoryNetwork()
        let node = try await Node<RaftEngine>(configuration: config, transport: try network.attach(0))
        await node.start()
        let batches = (0..<benchmark.scaledIterations.count).map { batch($0, count: 2_000, chainID: config.genesis.header.chainID) }
        benchmark.startMeasurement()
        for txs in batches { try await commitAll(node, txs) }
        benchmark.stopMeasurement()
        await node.stop()
    }

    Benchmark("pbft4.commit.2000tx") { benchmark in
        var config = ClusterConfiguration(nodes: 4, consensus: .pbft, seed: 5)
        config.maximumTransactionsPerBlock = 2_000
        config.tickInterval = .milliseconds(5)
        // As `bench tps`: a round outlasts PBFT's default 20 ticks (100 ms) under load.
        config.customize = { node in
            guard case .pbft(var pbft) = node.schedule.initial else { return }
            pbft.viewChangeTimeoutTicks = 100
            node.schedule = ConsensusSchedule(initial: .pbft(pbft))
        }
        let cluster = try await Cluster.start(config)
        let node = try await cluster.node(0)
        let batches = (0..<benchmark.scaledIterations.count).map { batch($0, count: 2_000, chainID: config.chainID) }
        benchmark.startMeasurement()
        for txs in batches { try await commitAll(node, txs) }
        benchmark.stopMeasurement()
        await cluster.shutdown()
    }
}

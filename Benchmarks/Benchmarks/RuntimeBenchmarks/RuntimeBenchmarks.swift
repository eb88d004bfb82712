import Benchmark
import ChainRuntime
import Foundation
import LedgerCore
import Net

// Committed transactions per second of a full node and of a 4-node PBFT
// cluster in one process. `*.commit.2000tx`: each iteration enqueues 2,000
// pre-signed (Ed25519) key-value transactions and waits until the node holds
// every receipt (one block at a time: latency-bound); throughput is
// batches/s, multiply by 2,000 for tx/s. `node1.stream.20000tx.<scheme>`:
// each iteration enqueues 20,000 transactions in chunks of 1,000 without
// waiting in between (blocks built while earlier ones are written, as under
// sustained load); multiply by 20,000 for tx/s. Signatures are checked at
// intake (off the node's actor, once per process for a transaction relayed
// between in-process nodes) and in validated blocks. `forgechain bench tps`
// measures the stream with commit latency percentiles.

/// Signed transactions from fresh accounts, nonces from 0 (so every iteration is independent).
func batch(_ iteration: Int, count: Int, chainID: UInt64, scheme: SignatureScheme = .ed25519, senders: Int = 16) -> [Transaction] {
    var txs = [Transaction]()
    var accounts = (0..<senders).map { s -> SigningAccount in
        var raw = [UInt8](repeating: 0, count: 32)
        withUnsafeBytes(of: UInt64(iteration * senders + s + 1).littleEndian) { raw.replaceSubrange(0..<8, with: $0) }
        return SigningAccount(key: try! PrivateKey(scheme: scheme, rawRepresentation: raw), chainID: chainID)
    }
    for i in 0..<count { txs.append(try! accounts[i % senders].set(key: Array("k\(i)".utf8), value: Array("v\(i)".utf8))) }
    return txs
}

func commitAll(_ node: any ChainNode, _ txs: [Transaction]) async throws {
    let ids = try await node.enqueue(txs).map { try $0.get() }
    for id in ids { _ = try await node.waitForReceipt(id, timeout: .seconds(60)) }
}

/// Enqueues `txs` in chunks without waiting in between and returns once the node's commit notices
/// (sent after each block's append) have covered all of them: what `forgechain bench tps` measures.
func streamAll(_ node: any ChainNode, _ txs: [Transaction], chunk: Int) async throws {
    let commits = await node.commits()
    let total = txs.count
    let consumer = Task {
        var committed = 0
        for await notice in commits {
            committed += notice.transactionIDs.count
            if committed >= total { break }
        }
    }
    for start in stride(from: 0, to: txs.count, by: chunk) {
        _ = try await node.enqueue(Array(txs[start..<min(txs.count, start + chunk)])).map { try $0.get() }
    }
    await consumer.value
}

/// A single node on a fresh store in a temporary folder; `body` runs with it started.
func withSingleNode(_ body: (Node<RaftEngine>, UInt64) async throws -> Void) async throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("forgechain-bench-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    var config = try NodeConfiguration.singleNode(storePath: dir + "/ledger.sqlite", nodeKey: try .generate(.ed25519), genesisKey: try .generate(.ed25519),
                                                maximumTransactionsPerBlock: 2_000)
    config.tickInterval = .milliseconds(5)
    let network = InMemoryNetwork()
    let node = try await Node<RaftEngine>(configuration: config, transport: try network.attach(0))
    await node.start()
    try await body(node, config.genesis.header.chainID)
    await node.stop()
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.throughput, .wallClock], maxDuration: .seconds(20), maxIterations: 10)

    Benchmark("node1.commit.2000tx") { benchmark in
        try await withSingleNode { node, chainID in
            let batches = (0..<benchmark.scaledIterations.count).map { batch($0, count: 2_000, chainID: chainID) }
            benchmark.startMeasurement()
            for txs in batches { try await commitAll(node, txs) }
            benchmark.stopMeasurement()
        }
    }

    for scheme in [SignatureScheme.p256, .ed25519] {
        Benchmark("node1.stream.20000tx.\(scheme.rawValue)", configuration: .init(maxIterations: 5)) { benchmark in
            try await withSingleNode { node, chainID in
                let batches = (0..<benchmark.scaledIterations.count).map {
                    batch($0, count: 20_000, chainID: chainID, scheme: scheme, senders: 40)
                }
                benchmark.startMeasurement()
                for txs in batches { try await streamAll(node, txs, chunk: 1_000) }
                benchmark.stopMeasurement()
            }
        }
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

    // What `TCPTransport` does per message before the socket: encode a frame (header, payload copy, CRC-32C) and,
    // on the other side, decode it from the byte stream (`forgechain bench net` measures the sockets with it).
    // 1,000 frames an iteration: throughput × 1,000 = frames/s, × payload bytes = bytes/s.
    for size in [256, 4_096, 65_536] {
        Benchmark("frame.encode+decode.\(size)B.x1000", configuration: .init(metrics: [.throughput, .wallClock, .mallocCountTotal])) { benchmark in
            let configuration = FrameConfiguration(maxFrameBytes: 1 << 20)
            let encoder = try FrameEncoder(configuration: configuration)
            let frame = Frame(kind: .message, sender: NodeID(1), payload: (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31) })
            for _ in benchmark.scaledIterations {
                var decoder = try FrameDecoder(configuration: configuration)
                var decoded = 0
                for _ in 0..<1_000 {
                    decoder.append(try encoder.encode(frame))
                    while let received = try decoder.next() { decoded += received.payload.count }
                }
                blackHole(decoded)
            }
        }
    }
}

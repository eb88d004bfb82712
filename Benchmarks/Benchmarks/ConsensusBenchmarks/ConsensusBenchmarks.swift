import Benchmark
import LedgerCore
import LedgerCoreTesting

/// Four PBFT engines in one thread exchanging messages through an in-memory
/// queue (no faults): each iteration commits one 1,000-transaction block on
/// every engine (pre-prepare, 3 prepares, 4 commits, all Ed25519-signed and
/// verified). Throughput = committed blocks per second of the whole cluster.
final class PBFTCluster {
    let keys: [PrivateKey]
    var engines: [PBFTEngine]
    var queue: [(to: Int, from: NodeID, message: PBFTMessage)] = []
    var head = 0
    let transactions: [Transaction]
    var committed = 0

    init(transactionsPerBlock: Int) throws {
        let keys = try (0..<4).map { i in try PrivateKey(scheme: .ed25519, rawRepresentation: [UInt8](repeating: UInt8(i + 1), count: 32)) }
        let set = try ValidatorSet((0..<4).map { Validator(id: NodeID(UInt32($0)), publicKey: keys[$0].publicKey) })
        let genesis = try Block.make(parent: nil, transactions: [], producerKey: keys[0], chainID: 1, hashAlgorithm: .sha256,
                                     timestamp: Timestamp(millisecondsSince1970: 1_000))
        let config = ConsensusConfig.pbft(PBFTConfig(validators: set, viewChangeTimeoutTicks: 1_000, checkpointIntervalBlocks: 10,
                                                      watermarkWindowBlocks: 40, maximumTransactionsPerBlock: 1_000, blockIntervalTicks: 0))
        self.keys = keys
        engines = try (0..<4).map { i in
            try PBFTEngine(context: ConsensusContext(node: NodeID(UInt32(i)), signingKey: keys[i], genesis: genesis, chainID: 1,
                                                     schedule: ConsensusSchedule(initial: config)))
        }
        transactions = try Workloads.signedTransactions(count: transactionsPerBlock, senders: 100, scheme: .ed25519, chainID: 1)
    }

    private func deliver(_ i: Int, _ fx: ConsensusEffects<PBFTMessage>) throws {
        committed += fx.commits.count
        for m in fx.messages {
            switch m.to {
            case .node(let to): queue.append((Int(to.rawValue), engines[i].id, m.message))
            case .broadcast: for j in 0..<4 where j != i { queue.append((j, engines[i].id, m.message)) }
            }
        }
        for r in fx.proposalRequests {
            let block = try Block.make(parent: r.parent, transactions: transactions, producerKey: keys[i], hashAlgorithm: .sha256,
                                       timestamp: r.parent.timestamp.adding(milliseconds: 1))
            try deliver(i, engines[i].step(.proposal(block)))
        }
    }

    /// Runs until `blocks` more blocks are committed on all four engines.
    func commit(blocks: Int) throws {
        let target = committed + 4 * blocks
        while committed < target {
            if head == queue.count {
                queue.removeAll(keepingCapacity: true)
                head = 0
                for i in 0..<4 { try deliver(i, engines[i].step(.tick)) }
                continue
            }
            let (to, from, message) = queue[head]
            head += 1
            try deliver(to, engines[to].step(.receive(from: from, message)))
        }
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.throughput, .wallClock, .mallocCountTotal],
                                           maxDuration: .seconds(10), maxIterations: 200)
    // One iteration = one block committed by all 4 engines; throughput is blocks/s.
    Benchmark("pbft.4nodes.block.1000tx") { benchmark in
        let cluster = try PBFTCluster(transactionsPerBlock: 1_000)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { try cluster.commit(blocks: 1) }
    }
}

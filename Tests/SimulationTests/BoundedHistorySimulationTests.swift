@testable import LedgerCore
import LedgerCoreTesting
import Testing

/// Engines keep only recent history in memory and read older blocks through
/// their `ConsensusStorage` (issue: memory that does not grow with the chain).
/// Long runs under every fault kind: the chain grows well past what an engine
/// keeps, restarted nodes come back from the last blocks only, and a node
/// that joins at healing catches up on the whole chain (Raft and PoW engines
/// serve it from their storage, PBFT and PoS hosts from their stores); the
/// checkers must still pass.
struct BoundedHistorySimulationTests {
    static let longFaults = FaultPlan(kinds: [.drop, .delay, .partition, .crash], faultTicks: 2_400, quietTicks: 400)

    func run<E: SimulatableEngine>(_: E.Type, nodes: Int, byzantine: Int, seeds: ClosedRange<UInt64>, faults: FaultPlan = longFaults) throws
        -> (heights: [UInt64], peak: Int, reads: Int, synced: Int) {
        var options = SimulationOptions()
        options.byzantine = byzantine
        options.lateJoiners = 1
        var heights = [UInt64](), peak = 0, reads = 0, synced = 0
        for seed in seeds {
            var sim = try Simulator<E>(nodes: nodes, seed: seed, faults: faults, options: options)
            let report = sim.run()
            #expect(report.passed, "\(E.self) seed \(seed): \(report)")
            heights.append(report.committedHeights.map(\.rawValue).max() ?? 0)
            peak = max(peak, report.peakBlocksInMemory)
            reads += report.storageReads
            synced += report.syncedBlocks
        }
        return (heights, peak, reads, synced)
    }

    /// PBFT and PoS engines never read old history: a late joiner's catch-up is its host's (blocks with
    /// certificates from a peer's store, then a restart from its own), so the engines' memory stays bounded
    /// while the joiner takes in the whole chain.
    @Test func pbftKeepsABoundedWindowAndALateJoinerCatchesUpThroughItsHost() throws {
        // The late joiner is the one fault f = 1 allows (with a Byzantine replica too, nothing commits until healing),
        // so no crash happens either; partitions hold PBFT back longest: drops and delays only, so the chain
        // outgrows the window before healing and the joiner's catch-up reaches below it.
        let r = try run(PBFTEngine.self, nodes: 4, byzantine: 0, seeds: 1...3,
                        faults: FaultPlan(kinds: [.drop, .delay], faultTicks: 2_400, quietTicks: 400))
        #expect(r.heights.allSatisfy { $0 > UInt64(2 * ConsensusRecovery.recentBlocks) }, "\(r.heights)")
        #expect(r.peak <= 2 * ConsensusRecovery.recentBlocks, "peak \(r.peak)")
        #expect(r.synced > 2 * ConsensusRecovery.recentBlocks, "synced \(r.synced)")
    }

    @Test func posKeepsABoundedWindowAndALateJoinerCatchesUpThroughItsHost() throws {
        // Partitions hold PoS back longest: drops and delays only, so the chain outgrows the window before healing.
        let r = try run(PoSEngine.self, nodes: 4, byzantine: 0, seeds: 1...3,
                        faults: FaultPlan(kinds: [.drop, .delay], faultTicks: 2_400, quietTicks: 400))
        #expect(r.heights.allSatisfy { $0 > UInt64(2 * ConsensusRecovery.recentBlocks) }, "\(r.heights)")
        #expect(r.peak <= 2 * ConsensusRecovery.recentBlocks, "peak \(r.peak)")
        #expect(r.synced > 2 * ConsensusRecovery.recentBlocks, "synced \(r.synced)")
    }

    @Test func raftCompactsItsLogAndSendsOlderEntriesFromStorage() throws {
        let r = try run(RaftEngine.self, nodes: 5, byzantine: 0, seeds: 1...3)
        #expect(r.heights.allSatisfy { $0 > UInt64(2 * ConsensusRecovery.recentBlocks) }, "\(r.heights)")
        // The committed window plus the uncommitted suffix (at most the in-flight limit).
        #expect(r.peak <= 2 * ConsensusRecovery.recentBlocks + 1 + 64, "peak \(r.peak)")
        #expect(r.reads > 0)
    }

    @Test func powPrunesItsBlockTreeBelowTheRetainedDepth() throws {
        // PoW mines a block every 20 ticks or so: a longer run, fewer faults (a late joiner needs no crash tolerance beyond one).
        let r = try run(PoWEngine.self, nodes: 4, byzantine: 0, seeds: 1...2,
                        faults: FaultPlan(kinds: [.drop, .delay, .partition], faultTicks: 5_000, quietTicks: 600))
        guard case .pow(let config) = PoWEngine.simulationConfig(validators: try ValidatorSet([Validator(id: 0, publicKey: try PrivateKey.generate(.ed25519).publicKey)])) else {
            Issue.record("not a pow configuration")
            return
        }
        let retained = Int(PoWEngine.retainedBlocks(confirmationDepth: config.confirmationDepth))
        #expect(r.heights.allSatisfy { $0 > UInt64(2 * retained) }, "\(r.heights)")
        // Twice the retained chain, plus the side branches forks leave above the root.
        #expect(r.peak <= 3 * retained, "peak \(r.peak)")
        #expect(r.reads > 0)
    }
}

/// `CommittedHistory` and `InMemoryConsensusStorage` on their own.
struct CommittedHistoryTests {
    static func genesis(_ key: PrivateKey) throws -> Block {
        try Block.make(parent: nil, transactions: [], producerKey: key, chainID: 7, hashAlgorithm: .sha256, timestamp: Timestamp(rawValue: 1_000))
    }

    static func chain(_ n: Int) throws -> (genesis: Block, blocks: [CommittedBlock]) {
        let key = try PrivateKey.generate(.ed25519)
        let genesis = try genesis(key)
        var parent = genesis
        var out = [CommittedBlock]()
        for _ in 1...n {
            let block = try Block.make(parent: parent.header, transactions: [], producerKey: key, hashAlgorithm: .sha256,
                                       timestamp: parent.header.timestamp.adding(milliseconds: 1))
            out.append(CommittedBlock(block: block, certificate: CommitCertificate(kind: .raft, height: block.header.height,
                                                                                    blockHash: block.headerHash, round: 0, votes: [])))
            parent = block
        }
        return (genesis, out)
    }

    @Test func memoryIsBoundedAndOlderBlocksComeFromStorage() throws {
        let blocks = try Self.chain(200).blocks
        let storage = InMemoryConsensusStorage()
        var history = CommittedHistory(storage: storage)
        for b in blocks {
            try storage.append(b)
            history.append(b)
            #expect(history.recentCount <= 2 * ConsensusRecovery.recentBlocks)
        }
        // Entirely older than the window, straddling it, inside it, past the head.
        #expect(history.blocks(from: 5, limit: 10).map(\.height.rawValue) == Array(5...14))
        #expect(history.blocks(from: 160, limit: 30).map(\.height.rawValue) == Array(160...189))
        #expect(history.blocks(from: 195, limit: 30).map(\.height.rawValue) == Array(195...200))
        #expect(history.blocks(from: 201, limit: 5).isEmpty)
        #expect(history.block(at: 1)?.hash == blocks[0].hash)
        let readsBefore = storage.reads
        _ = history.block(at: 200)
        #expect(storage.reads == readsBefore, "the newest block is in memory")
        // Without storage only the window is served.
        var bare = CommittedHistory(storage: nil)
        for b in blocks { bare.append(b) }
        #expect(bare.blocks(from: 5, limit: 10).isEmpty)
        #expect(bare.block(at: 200)?.hash == blocks[199].hash)
    }

    @Test func loadTakesASuffixAndRefusesABrokenLink() throws {
        let (genesis, blocks) = try Self.chain(50)
        var history = CommittedHistory(storage: nil)
        var header = genesis.header
        var hash = Digest.zero
        try history.load(Array(blocks[40...]), head: &header, hash: &hash)
        #expect(header.height == 50)
        #expect(hash == blocks[49].hash)
        var broken = Array(blocks[40...])
        broken.remove(at: 3)
        var h2 = genesis.header
        var d2 = Digest.zero
        var other = CommittedHistory(storage: nil)
        #expect(throws: LedgerError.self) { try other.load(broken, head: &h2, hash: &d2) }
    }

    @Test func storageRefusesAGapAndChangesNothing() throws {
        let blocks = try Self.chain(3).blocks
        let storage = InMemoryConsensusStorage([blocks[0]])
        let error = #expect(throws: LedgerError.self) { try storage.append(blocks[2]) }
        #expect(error?.code == .consensusStateCorrupt)
        #expect(storage.height == 1)
        try storage.append(blocks[1])
        storage.truncate(toHeight: 1)
        #expect(storage.all.map(\.hash) == [blocks[0].hash])
    }
}

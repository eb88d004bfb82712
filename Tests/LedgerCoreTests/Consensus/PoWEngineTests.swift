import Foundation
import Testing
import LedgerCore

/// Mines a PoW child of `parent` by hand (nonces from 0), signed by `key`.
func powChild(of parent: Block, difficulty: UInt64, key: PrivateKey, tag: String, millis: UInt64 = 100,
              algorithm: HashAlgorithm = .sha256, meetsTarget: Bool = true) throws -> Block {
    var tx = Transaction(chainID: 1, sender: key.publicKey, nonce: parent.header.height.rawValue,
                         timestamp: parent.header.timestamp, payload: TransactionPayload(kind: "kv", body: Array(tag.utf8)))
    try tx.sign(with: key, hashAlgorithm: algorithm)
    var header = BlockHeader(chainID: 1, height: parent.header.height.next, parentHash: parent.headerHash,
                             timestamp: parent.header.timestamp.adding(milliseconds: millis),
                             transactionRoot: Block.transactionRoot(of: [tx], using: algorithm),
                             stateRoot: .zero, receiptRoot: .zero, producer: key.publicKey)
    var nonce: UInt64 = 0
    while true {
        header.consensusData = PoWSeal(difficulty: difficulty, nonce: nonce).encoded
        if ProofOfWork.meets(hash: header.hash(using: algorithm), difficulty: difficulty) == meetsTarget { break }
        nonce += 1
    }
    try header.sign(with: key, hashAlgorithm: algorithm)
    return Block(header: header, headerHash: header.hash(using: algorithm), transactions: [tx])
}

/// A chain of `count` hand-mined blocks on `parent`.
func powBranch(from parent: Block, count: Int, difficulty: UInt64, key: PrivateKey, tag: String) throws -> [Block] {
    var out: [Block] = []
    var p = parent
    for i in 0..<count {
        p = try powChild(of: p, difficulty: difficulty, key: key, tag: "\(tag)\(i)")
        out.append(p)
    }
    return out
}

struct PoWEngineTests {
    static let slowRetarget = PoWConfig(initialDifficulty: 4, retargetIntervalBlocks: 1_000, targetBlockIntervalTicks: 10,
                                        hashesPerTick: 1, confirmationDepth: 5)

    func engine(_ config: PoWConfig = slowRetarget, node: UInt32 = 0) throws -> (PoWEngine, PoWTestCluster) {
        let cluster = try PoWTestCluster(nodes: 1, config: config)
        return (try PoWEngine(context: cluster.context(Int(node), config: config)), cluster)
    }

    static func feed(_ engine: inout PoWEngine, _ blocks: [Block], from: NodeID = 9) -> ConsensusEffects<PoWMessage> {
        var all = ConsensusEffects<PoWMessage>()
        for b in blocks { all.append(engine.step(.receive(from: from, .block(b)))) }
        return all
    }

    @Test func singleMinerCommitsBlocksOnceTheyAreConfirmationDepthDeep() throws {
        let config = PoWConfig(initialDifficulty: 8, retargetIntervalBlocks: 1_000, targetBlockIntervalTicks: 10,
                               hashesPerTick: 2, confirmationDepth: 3)
        var cluster = try PoWTestCluster(nodes: 1, config: config)
        try cluster.run(ticks: 300)
        let engine = cluster.engines[0]
        let commits = cluster.commits[0]
        #expect(engine.headHeight.rawValue >= 10)
        #expect(commits.map(\.height.rawValue) == Array(1...(engine.headHeight.rawValue - 3)))
        #expect(engine.status.committedHeight.rawValue == engine.headHeight.rawValue - 3)
        #expect(engine.status.role == .miner)
        #expect(engine.status.lastCommitLatencyTicks != nil)
        let validators = try ValidatorSet([Validator(id: 0, publicKey: cluster.keys[0].publicKey)])
        for c in commits {
            #expect(ProofOfWork.meets(hash: c.hash, difficulty: 8))
            #expect(c.certificate.kind == .pow && c.certificate.difficulty == 8)
            try c.certificate.verify(block: c.block, validators: validators, hashAlgorithm: .sha256)
            try PoWEngine.verifyCertificate(c, config: config, hashAlgorithm: .sha256)
            try BlockValidator(chainID: 1, hashAlgorithm: .sha256, parallelism: 1)
                .validate(c.block, parent: c.height.rawValue == 1 ? cluster.genesis.header : commits[Int(c.height.rawValue) - 2].block.header,
                          now: Timestamp(millisecondsSince1970: .max))
        }
    }

    @Test func connectedMinersCommitTheSameBlocksAtEveryHeight() throws {
        let config = PoWConfig(initialDifficulty: 24, retargetIntervalBlocks: 1_000, targetBlockIntervalTicks: 10,
                               hashesPerTick: 1, confirmationDepth: 4)
        var cluster = try PoWTestCluster(nodes: 3, config: config)
        try cluster.run(ticks: 600)
        let chains = (0..<3).map { cluster.committedChain($0) }
        #expect(chains.allSatisfy { $0.count >= 8 }, "\(chains.map(\.count))")
        // Nodes may have committed to different heights: every height all of them committed holds one block,
        // and there are enough such heights for that to mean something.
        let shared = chains.dropFirst().reduce(Set(chains[0].keys)) { $0.intersection($1.keys) }
        #expect(shared.count >= 8, "\(shared.count) heights committed by every node")
        for h in shared.sorted(by: { $0.rawValue < $1.rawValue }) {
            let hashes = chains.map { $0[h] }
            #expect(Set(hashes).count == 1, "height \(h): \(hashes)")
        }
        // Every node mined some of the committed blocks' parents? At least two producers appear.
        let producers = Set(cluster.commits[0].map(\.block.header.producer))
        #expect(producers.count >= 2)
    }

    @Test func sameSeedGivesTheSameCommitsAndAnotherSeedDoesNot() throws {
        let config = PoWConfig(initialDifficulty: 16, retargetIntervalBlocks: 8, targetBlockIntervalTicks: 10,
                               hashesPerTick: 1, confirmationDepth: 2)
        func run(_ seed: UInt64) throws -> [Digest] {
            var c = try PoWTestCluster(nodes: 3, config: config, seed: seed)
            try c.run(ticks: 300)
            return c.commits.flatMap { $0.map(\.hash) }
        }
        let a = try run(5)
        #expect(!a.isEmpty)
        #expect(try run(5) == a)
        #expect(try run(6) != a)
    }

    @Test func heavierBranchTriggersRollbackReturningTheAbandonedTransactionsInOrder() throws {
        var (engine, cluster) = try engine()
        let key = try PoWTestCluster.key(5)
        let x = try powBranch(from: cluster.genesis, count: 2, difficulty: 4, key: key, tag: "x")
        let y = try powBranch(from: cluster.genesis, count: 3, difficulty: 4, key: key, tag: "y")
        let first = Self.feed(&engine, x)
        #expect(engine.headHash == x[1].headerHash)
        #expect(first.rollbacks.isEmpty)
        let tie = Self.feed(&engine, Array(y.prefix(2)))
        // Equal work: the lower tip hash wins, whichever arrived first.
        let yWinsTie = y[1].headerHash < x[1].headerHash
        #expect(engine.headHash == (yWinsTie ? y[1].headerHash : x[1].headerHash))
        let heavier = Self.feed(&engine, [y[2]])
        #expect(engine.headHash == y[2].headerHash)
        // Branch x is abandoned exactly once: at the tie when y's tip hash is lower, else when y outweighs it.
        #expect(tie.rollbacks.count == (yWinsTie ? 1 : 0))
        #expect(heavier.rollbacks.count == (yWinsTie ? 0 : 1))
        let rollbacks = tie.rollbacks + heavier.rollbacks
        let rollback = try #require(rollbacks.first)
        #expect(rollbacks.count == 1)
        #expect(rollback.height == 0)
        #expect(rollback.undone.map(\.headerHash) == [x[1].headerHash, x[0].headerHash])
        #expect(rollback.transactions == x[0].transactions + x[1].transactions)
        #expect(engine.tentativeBlocks.map(\.headerHash) == y.map(\.headerHash))
    }

    @Test func rollbackListsExactlyTheAbandonedBranchAboveTheForkPoint() throws {
        var (engine, cluster) = try engine()
        let key = try PoWTestCluster.key(5)
        let common = try powBranch(from: cluster.genesis, count: 2, difficulty: 4, key: key, tag: "c")
        let x = try powBranch(from: common[1], count: 3, difficulty: 4, key: key, tag: "x")
        let y = try powBranch(from: common[1], count: 4, difficulty: 4, key: key, tag: "y")
        _ = Self.feed(&engine, common + x)
        #expect(engine.headHash == x[2].headerHash)
        let fx = Self.feed(&engine, y)
        #expect(engine.headHash == y[3].headerHash)
        let undone = fx.rollbacks.flatMap(\.undone).map(\.headerHash)
        #expect(fx.rollbacks.count == 1)
        #expect(fx.rollbacks[0].height == 2)
        #expect(undone == x.reversed().map(\.headerHash))
        #expect(fx.rollbacks[0].transactions == x.flatMap(\.transactions))
        // Height 6 now, depth 5: only the shared block 1 is final.
        #expect(fx.commits.map(\.hash) == [common[0].headerHash])
    }

    @Test func forkChoiceDoesNotDependOnArrivalOrder() throws {
        let cluster = try PoWTestCluster(nodes: 1, config: Self.slowRetarget)
        let key = try PoWTestCluster.key(5)
        let a = try powBranch(from: cluster.genesis, count: 3, difficulty: 4, key: key, tag: "a")
        let b = try powBranch(from: cluster.genesis, count: 3, difficulty: 4, key: key, tag: "b")
        let c = try powBranch(from: a[0], count: 3, difficulty: 4, key: key, tag: "c")
        let blocks = a + b + c
        var heads: [Digest] = []
        var rng = SplitMix64(seed: 3)
        for _ in 0..<5 {
            var e = try PoWEngine(context: cluster.context(0, config: Self.slowRetarget))
            for blk in blocks.shuffled(using: &rng) { _ = e.step(.receive(from: 9, .blocks([blk]))) }
            heads.append(e.headHash)
        }
        #expect(Set(heads).count == 1)
        #expect(heads[0] == c[2].headerHash)   // 4 blocks of work beats 3
    }

    @Test func outOfOrderBlockIsKeptAndItsParentRequestedFromTheSender() throws {
        var (engine, cluster) = try engine()
        let key = try PoWTestCluster.key(5)
        let chain = try powBranch(from: cluster.genesis, count: 3, difficulty: 4, key: key, tag: "o")
        let fx = engine.step(.receive(from: 7, .block(chain[2])))
        #expect(engine.headHeight == 0)
        // By hash and height (the parent of a block at 3 is at 2), so a peer that pruned it can answer from storage.
        #expect(fx.messages == [OutboundMessage(to: .node(7), message: .getBlocksAt(hash: chain[1].headerHash, count: PoWMessage.maximumBlocksPerReply,
                                                                                    height: 2))])
        _ = engine.step(.receive(from: 7, .blocks([chain[0], chain[1]])))
        #expect(engine.headHash == chain[2].headerHash)
    }

    @Test func getBlocksIsAnsweredWithAncestorsLowestFirst() throws {
        var (engine, cluster) = try engine()
        let key = try PoWTestCluster.key(5)
        let chain = try powBranch(from: cluster.genesis, count: 4, difficulty: 4, key: key, tag: "g")
        _ = Self.feed(&engine, chain)
        let fx = engine.step(.receive(from: 3, .getBlocks(hash: chain[3].headerHash, count: 2)))
        #expect(fx.messages == [OutboundMessage(to: .node(3), message: .blocks([chain[2], chain[3]]))])
    }

    @Test func blockWithInsufficientWorkIsRejected() throws {
        var (engine, cluster) = try engine()
        let bad = try powChild(of: cluster.genesis, difficulty: 4, key: PoWTestCluster.key(5), tag: "w", meetsTarget: false)
        let fx = engine.step(.receive(from: 1, .block(bad)))
        #expect(fx.rejections.map(\.code) == [.powInsufficientWork])
        #expect(engine.headHeight == 0)
    }

    @Test func blockDeclaringAnotherDifficultyThanTheRuleIsRejected() throws {
        var (engine, cluster) = try engine()
        let harder = try powChild(of: cluster.genesis, difficulty: 8, key: PoWTestCluster.key(5), tag: "d")
        let fx = engine.step(.receive(from: 1, .block(harder)))
        #expect(fx.rejections.map(\.code) == [.powDifficultyMismatch])
        #expect(engine.headHeight == 0)
    }

    @Test func blockWithMalformedSealOrAlteredHeaderIsRejected() throws {
        var (engine, cluster) = try engine()
        let good = try powChild(of: cluster.genesis, difficulty: 4, key: PoWTestCluster.key(5), tag: "m")
        var altered = good
        altered.header.stateRoot = Digest(repeating: 7)
        var unsealed = good
        unsealed.header.consensusData = [0xC0]
        unsealed.headerHash = unsealed.header.hash(using: .sha256)
        let fx = Self.feed(&engine, [altered, unsealed])
        #expect(fx.rejections.map(\.code) == [.headerHashMismatch, .powMalformedSeal])
        _ = Self.feed(&engine, [good])
        #expect(engine.headHash == good.headerHash)
    }

    @Test func hostValidatorRejectionKeepsTheBlockOut() throws {
        let cluster = try PoWTestCluster(nodes: 1, config: Self.slowRetarget)
        var context = cluster.context(0, config: Self.slowRetarget)
        context.proposalValidator = ProposalValidator { _, _ in LedgerError(.transactionRootMismatch, "refused by test") }
        var engine = try PoWEngine(context: context)
        let b = try powChild(of: cluster.genesis, difficulty: 4, key: PoWTestCluster.key(5), tag: "v")
        let fx = engine.step(.receive(from: 1, .block(b)))
        #expect(fx.rejections.map(\.code) == [.transactionRootMismatch])
        #expect(engine.headHeight == 0)
    }

    @Test func difficultyRisesWhenBlocksComeTooFastAndFallsWhenTooSlow() throws {
        // Fast: 8 attempts per tick at difficulty 4, target 10 ticks per block.
        let fast = PoWConfig(initialDifficulty: 4, retargetIntervalBlocks: 4, targetBlockIntervalTicks: 10,
                             maximumRetargetFactor: 4, hashesPerTick: 8, confirmationDepth: 1)
        var c = try PoWTestCluster(nodes: 1, config: fast)
        try c.run(ticks: 40)
        let seals = try c.commits[0].map { try PoWSeal(decoding: $0.block.header.consensusData).difficulty }
        #expect(seals.count >= 5)
        #expect(Array(seals.prefix(4)) == [4, 4, 4, 4])
        #expect(seals[4] > 4 && seals[4] <= 16)
        // Slow: 1 attempt per tick at difficulty 64, target 2 ticks per block.
        let slow = PoWConfig(initialDifficulty: 64, minimumDifficulty: 1, retargetIntervalBlocks: 2, targetBlockIntervalTicks: 2,
                             maximumRetargetFactor: 4, hashesPerTick: 1, confirmationDepth: 1)
        var s = try PoWTestCluster(nodes: 1, config: slow)
        try s.run(ticks: 800)
        let slowSeals = try s.commits[0].map { try PoWSeal(decoding: $0.block.header.consensusData).difficulty }
        #expect(slowSeals.count >= 3)
        #expect(slowSeals[2] < 64 && slowSeals[2] >= 16)
    }

    @Test func engineRestartedFromCommittedBlocksResumesOnTheSameChain() throws {
        let config = PoWConfig(initialDifficulty: 8, retargetIntervalBlocks: 3, targetBlockIntervalTicks: 5,
                               hashesPerTick: 2, confirmationDepth: 2)
        var c = try PoWTestCluster(nodes: 1, config: config)
        try c.run(ticks: 150)
        let committed = c.commits[0]
        #expect(committed.count >= 5)
        let restarted = try PoWEngine(context: c.context(0, config: config),
                                      recovery: ConsensusRecovery(persistentState: nil, committed: committed))
        #expect(restarted.headHash == committed.last!.hash)
        #expect(restarted.status.committedHeight == committed.last!.height)
        var broken = committed
        broken.remove(at: 1)
        #expect(throws: LedgerError.self) {
            _ = try PoWEngine(context: c.context(0, config: config), recovery: ConsensusRecovery(persistentState: nil, committed: broken))
        }
    }

    /// A restart passes only the last blocks: the persisted state (the last committed block's work and
    /// difficulty period) roots the tree there; without it the engine replays the chain from storage.
    @Test func engineRestartedFromASuffixResumesWithTheSameWorkAndDifficulty() throws {
        let config = PoWConfig(initialDifficulty: 8, retargetIntervalBlocks: 3, targetBlockIntervalTicks: 5,
                               hashesPerTick: 2, confirmationDepth: 2)
        var c = try PoWTestCluster(nodes: 1, config: config)
        try c.run(ticks: 400)
        let committed = c.commits[0]
        #expect(committed.count >= 12)
        let state = try #require(c.persisted[0])
        // The full-history engine as the reference.
        let full = try PoWEngine(context: c.context(0, config: config), recovery: ConsensusRecovery(persistentState: nil, committed: committed))
        let storage = InMemoryConsensusStorage(committed)
        var context = c.context(0, config: config)
        context.storage = storage
        let fromState = try PoWEngine(context: context, recovery: ConsensusRecovery(persistentState: state, committed: Array(committed.suffix(4))))
        #expect(fromState.headHash == full.headHash)
        #expect(fromState.headWork == full.headWork)
        #expect(fromState.nextDifficulty == full.nextDifficulty)
        #expect(fromState.blocksInMemory <= 4)
        #expect(storage.reads == 0, "the persisted root needs no history")
        // The head alone, with a state that names an older block (saved before the last appends): the
        // blocks from it up come from storage.
        #expect(c.persistedLog.count >= 4)
        let older = c.persistedLog[c.persistedLog.count - 4]
        let recording = RecordingStorage(storage)
        var recordingContext = context
        recordingContext.storage = recording
        let fromOlder = try PoWEngine(context: recordingContext,
                                      recovery: ConsensusRecovery(persistentState: older, committed: Array(committed.suffix(1))))
        #expect(fromOlder.headHash == full.headHash)
        #expect(fromOlder.headWork == full.headWork)
        #expect(fromOlder.nextDifficulty == full.nextDifficulty)
        // The block the state names (its second field), below the head: read from there up, not replayed from genesis.
        let rootHeight = Height(try RLP.decode(older).list("powState")[1].uint64("powState.height"))
        #expect(rootHeight > 1 && rootHeight < committed.last!.height)
        #expect(recording.requestedFrom.min() == rootHeight, "\(recording.requestedFrom)")
        // No persisted state (a store from before it existed): replayed through storage.
        let replayed = try PoWEngine(context: context, recovery: ConsensusRecovery(persistentState: nil, committed: Array(committed.suffix(4))))
        #expect(replayed.headHash == full.headHash)
        #expect(replayed.headWork == full.headWork)
        #expect(storage.reads > 0)
        // Garbage state is refused, not guessed around.
        let error = #expect(throws: LedgerError.self) {
            _ = try PoWEngine(context: context, recovery: ConsensusRecovery(persistentState: [0xC1, 0x05], committed: Array(committed.suffix(4))))
        }
        #expect(error?.code == .consensusStateCorrupt)
    }

    @Test func engineRefusesANonPoWSchedule() throws {
        let c = try PoWTestCluster(nodes: 1, config: Self.slowRetarget)
        var context = c.context(0, config: Self.slowRetarget)
        context.schedule = ConsensusSchedule(initial: .raft(RaftConfig(members: try ValidatorSet([Validator(id: 0, publicKey: c.keys[0].publicKey)]))))
        let error = #expect(throws: LedgerError.self) { _ = try PoWEngine(context: context) }
        #expect(error?.code == .consensusEngineMismatch)
    }

    @Test func staleProposalIsIgnoredAndMiningStartsOnTheAnsweredTemplate() throws {
        var (engine, cluster) = try engine()
        let fx = engine.step(.tick)
        let request = try #require(fx.proposalRequests.first)
        #expect(request.height == 1 && request.parent == cluster.genesis.header)
        #expect(try PoWSeal(decoding: request.consensusData).difficulty == 4)
        #expect(engine.status.phase == .proposing)
        let stale = try powChild(of: try powChild(of: cluster.genesis, difficulty: 4, key: cluster.keys[0], tag: "s"),
                                 difficulty: 4, key: cluster.keys[0], tag: "t")
        #expect(engine.step(.proposal(stale)).rejections.map(\.code) == [.consensusInputIgnored])
        var c2 = cluster
        c2.tick = 1
        let fresh = try c2.buildProposal(node: 0, request: request, serial: 1)
        let after = engine.step(.proposal(fresh))
        #expect(after.rejections.isEmpty)
        #expect(engine.status.phase == .mining)
    }
}

/// A storage that records where each read started.
final class RecordingStorage: ConsensusStorage, @unchecked Sendable {
    private let inner: any ConsensusStorage
    private let lock = NSLock()
    private var starts: [Height] = []
    init(_ inner: any ConsensusStorage) { self.inner = inner }
    var requestedFrom: [Height] { lock.withLock { starts } }
    func committedBlocks(from height: Height, limit: Int) -> [CommittedBlock] {
        lock.withLock { starts.append(height) }
        return inner.committedBlocks(from: height, limit: limit)
    }
}

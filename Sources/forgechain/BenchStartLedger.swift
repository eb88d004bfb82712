import Foundation
import ChainRuntime
import LedgerCore
import Logging

/// What a generated `bench start` ledger holds, written beside its store once the store is complete: a folder
/// without it (an interrupted run) is generated again.
struct StartBenchManifest: Codable, Equatable, Sendable {
    /// Bumped when the generator writes different blocks, so older folders are generated again.
    static let currentFormat = 1

    var format = Self.currentFormat
    var engine: String
    var blocks: Int
    var transactionsPerBlock: Int
    var seed: UInt64
    /// The store's head height (`blocks`: genesis is height 0).
    var height: UInt64
    /// Seconds the generation took.
    var generationSeconds: Double

    /// Whether this ledger is the one asked for (the generation time aside).
    func matches(_ other: StartBenchManifest) -> Bool {
        format == other.format && engine == other.engine && blocks == other.blocks
            && transactionsPerBlock == other.transactionsPerBlock && seed == other.seed && height == other.height
    }
}

/// Writes a `bench start` ledger straight into a `LedgerStore`, as the chain's validators would have committed it,
/// without running consensus: blocks of Ed25519-signed key-value transactions (100 senders, nonces in order),
/// executed with `KeyValueExecutor` into receipts and state changes (with the sender nonces a node keeps in its
/// state), state and receipt roots, the block producer the engine would pick, and the engine's commit certificate:
///
/// - pbft: COMMIT votes of the first `2f+1` validators in view 0 (the primary of view 0 produces every block);
/// - raft: acknowledgements of a majority in term 1, the leader (validator 0) producing every block with the term
///   in its consensus data;
/// - pos: precommits of validators holding more than 2/3 of the stake, the block produced by the proposer that
///   `PoSEngine.proposer(height:round:)` draws for round 0;
/// - pow: a block mined at the difficulty retargeting gives (a seal meeting it), the miners taking turns, and
///   the headers of the `confirmationDepth` blocks mined on top as evidence (`PoWEngine.verifyCertificate`);
///   the last blocks are confirmed by empty blocks that stay out of the store, as a node's tentative blocks do.
///
/// Block times start at genesis and advance by the engine's block interval (1 s; PoW: its target interval), so
/// they lie in the past and the node's next block follows them.
enum StartBenchLedger {
    static let senders = 100

    /// Generates the ledger of `manifest` into a new store at `path` and returns the manifest with its generation time.
    /// - Parameters:
    ///   - manifest: Required. Engine, size and seed.
    ///   - path: Required. A store file that does not exist yet; its folder must exist.
    ///   - progress: Optional. Told each block appended.
    /// - Throws: `LedgerError` from signing and the store, `ValidationError` for an unknown engine.
    static func generate(_ manifest: StartBenchManifest, at path: String, progress: ProgressReporter? = nil) async throws -> StartBenchManifest {
        let began = ContinuousClock.now
        guard let engine = ConsensusEngineKind(rawValue: manifest.engine) else {
            throw LedgerError(.invalidConsensusConfig, "unknown engine '\(manifest.engine)'", details: ["field": "engine"])
        }
        let chain = try StartBenchChain(engine: engine, seed: manifest.seed, maximumTransactionsPerBlock: manifest.transactionsPerBlock)
        var rng = SplitMix64(seed: manifest.seed ^ 0x5E_4D_E2_5)
        let accounts = try (0..<senders).map { _ in try StartBenchChain.ed25519Key(&rng) }
        var writer = try Writer(chain: chain, path: path)
        let perBlock = manifest.transactionsPerBlock
        // Signing is most of the work: the next block's transactions are signed while this one is appended.
        var next: Task<[Transaction], any Error>? = manifest.blocks > 0 ? signTask(chain, accounts, block: 0, perBlock: perBlock) : nil
        defer { next?.cancel() }
        for b in 0..<manifest.blocks {
            guard let signing = next else { break }
            let transactions = try await signing.value
            next = b + 1 < manifest.blocks ? signTask(chain, accounts, block: b + 1, perBlock: perBlock) : nil
            try writer.add(transactions)
            progress?.update(completed: b + 1)
        }
        try writer.finish()
        var done = manifest
        done.height = UInt64(manifest.blocks)
        let elapsed = ContinuousClock.now - began
        done.generationSeconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        return done
    }

    /// Signs block `block`'s transactions on every core.
    private static func signTask(_ chain: StartBenchChain, _ accounts: [PrivateKey], block: Int, perBlock: Int) -> Task<[Transaction], any Error> {
        Task {
            let parts = max(1, min(ProcessInfo.processInfo.activeProcessorCount, perBlock / 64))
            let first = block * perBlock
            let timestamp = blockTimestamp(chain, height: UInt64(block + 1))
            return try await withThrowingTaskGroup(of: (Int, [Transaction]).self) { group in
                for part in 0..<parts {
                    let range = (first + perBlock * part / parts)..<(first + perBlock * (part + 1) / parts)
                    group.addTask {
                        (part, try range.map { i in try transaction(i, accounts: accounts, chain: chain, timestamp: timestamp) })
                    }
                }
                var slices = [[Transaction]](repeating: [], count: parts)
                for try await (part, txs) in group { slices[part] = txs }
                return slices.flatMap { $0 }
            }
        }
    }

    /// Transaction `i` of the ledger: sender `i % senders` with nonce `i / senders`, setting record `lot-i`.
    static func transaction(_ i: Int, accounts: [PrivateKey], chain: StartBenchChain, timestamp: Timestamp) throws -> Transaction {
        let key = accounts[i % accounts.count]
        let digits = String(i)
        let record = "lot-" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
        let body = KeyValueExecutor.setBody(key: Array(record.utf8),
                                            value: Array("inspection passed; line \(i % 7), station \(i % 31), batch \(i / 1_000)".utf8))
        var tx = Transaction(chainID: StartBenchChain.chainID, sender: key.publicKey, nonce: UInt64(i / accounts.count),
                             timestamp: timestamp, payload: TransactionPayload(kind: KeyValueExecutor.kind, body: body))
        try tx.sign(with: key, hashAlgorithm: chain.hashAlgorithm)
        return tx
    }

    /// Milliseconds between two blocks: PoW's target interval (its engine stamps 1 s per tick), else 1 s.
    static func blockIntervalMillis(_ chain: StartBenchChain) -> UInt64 {
        if case .pow(let c) = chain.schedule.initial { return c.targetBlockIntervalTicks * PoWEngine.millisecondsPerTick }
        return 1_000
    }

    static func blockTimestamp(_ chain: StartBenchChain, height: UInt64) -> Timestamp {
        chain.genesis.header.timestamp.adding(milliseconds: height * blockIntervalMillis(chain))
    }

    /// The sender-nonce state key and value a node writes with each transaction (ChainRuntime's `BlockProcessor`):
    /// `nonce/<scheme>/<public key>` holding the next nonce, 8 bytes big-endian.
    static func nonceWrite(_ tx: Transaction) -> (key: [UInt8], value: [UInt8]) {
        let next = tx.nonce + 1
        return (BlockProcessor.nonceKey(tx.sender),
                (0..<8).map { UInt8(truncatingIfNeeded: next >> (56 - 8 * UInt64($0))) })
    }

    /// Builds, certifies and appends blocks one after another.
    struct Writer {
        let chain: StartBenchChain
        let store: LedgerStore
        let executor = KeyValueExecutor()
        /// Blocks built but not appended yet (PoW: until `confirmationDepth` blocks are mined on top).
        var pending: [(block: Block, receipts: [Receipt], changes: StateChangeSet, transition: StateTransition, difficulty: UInt64)] = []
        var parent: BlockHeader
        var parentRoot: Digest
        /// PoW retargeting: the parent's difficulty, its period's first height and the timestamp before that period.
        var difficulty: UInt64 = 0
        var periodStartHeight: UInt64 = 1
        var periodStartTimestamp: Timestamp
        /// The PoS proposer draw (the engine's own).
        let pos: PoSEngine?
        var powNonce: UInt64 = 0

        init(chain: StartBenchChain, path: String) throws {
            self.chain = chain
            store = try LedgerStore(path: path, configuration: LedgerStore.Configuration(hashAlgorithm: chain.hashAlgorithm))
            try store.append(chain.genesis)
            parent = chain.genesis.header
            parentRoot = chain.genesis.header.stateRoot
            periodStartTimestamp = chain.genesis.header.timestamp
            if case .pow(let c) = chain.schedule.initial { difficulty = c.initialDifficulty }
            let context = ConsensusContext(node: StartBenchChain.probedNode, signingKey: chain.keys[0], genesis: chain.genesis,
                                           hashAlgorithm: chain.hashAlgorithm, schedule: chain.schedule)
            pos = chain.engine == .pos ? try PoSEngine(context: context, recovery: nil) : nil
        }

        var powConfig: PoWConfig? {
            if case .pow(let c) = chain.schedule.initial { return c }
            return nil
        }

        /// Executes `transactions` as the next block, builds it and appends what is final.
        mutating func add(_ transactions: [Transaction]) throws {
            let height = parent.height.next
            let timestamp = StartBenchLedger.blockTimestamp(chain, height: height.rawValue)
            let algorithm = chain.hashAlgorithm
            let ids = transactions.map { $0.id(using: algorithm) }
            var receipts = [Receipt]()
            receipts.reserveCapacity(transactions.count)
            var changes = StateChangeSet()
            let state = NoState()
            for (i, tx) in transactions.enumerated() {
                let nonce = StartBenchLedger.nonceWrite(tx)
                changes.set(nonce.key, to: nonce.value)
                let context = ExecutionContext(chainID: StartBenchChain.chainID, height: height, timestamp: timestamp,
                                               hashAlgorithm: algorithm, transactionIndex: i, transactionID: ids[i])
                let outcome = try executor.execute(tx, context: context, state: state)
                changes.changes += outcome.writes.changes
                receipts.append(Receipt(transactionID: ids[i], status: outcome.status, output: outcome.output, logs: outcome.logs,
                                        costUnits: outcome.costUnits))
            }
            try build(transactions, ids: ids, receipts: receipts, changes: changes, timestamp: timestamp)
            try appendFinal()
        }

        private mutating func build(_ transactions: [Transaction], ids: [Digest], receipts: [Receipt], changes: StateChangeSet,
                                    timestamp: Timestamp) throws {
            let algorithm = chain.hashAlgorithm
            let height = parent.height.next
            let transition = try store.stateTransition(applying: changes, from: parentRoot, pending: pending.map(\.transition))
            let receiptRoot = Receipt.root(of: receipts, using: algorithm)
            let block: Block
            var blockDifficulty: UInt64 = 0
            switch chain.engine {
            case .pbft, .raft, .pos:
                let producer: PrivateKey
                var consensusData = [UInt8]()
                switch chain.engine {
                case .pos: producer = chain.keys[Int(pos!.proposer(height: height, round: 0).rawValue)]
                case .raft:
                    producer = chain.keys[Int(StartBenchChain.probedNode.rawValue)]
                    consensusData = RLP.encode(.uint(StartBenchChain.raftTerm.rawValue))
                default: producer = chain.keys[Int(StartBenchChain.probedNode.rawValue)]
                }
                block = try Block.make(parent: parent, transactions: transactions, stateRoot: transition.update.root,
                                       receiptRoot: receiptRoot, consensusData: consensusData, producerKey: producer,
                                       chainID: StartBenchChain.chainID, hashAlgorithm: algorithm, timestamp: timestamp,
                                       transactionIDs: ids)
            case .pow:
                blockDifficulty = retarget(height: height.rawValue)
                block = try mine(transactions, ids: ids, stateRoot: transition.update.root, receiptRoot: receiptRoot,
                                 timestamp: timestamp, difficulty: blockDifficulty)
            }
            pending.append((block, receipts, changes, transition, blockDifficulty))
            parent = block.header
            parentRoot = transition.update.root
        }

        /// The difficulty of the block at `height` on top of `parent` (PoW's retargeting rule), advancing the period.
        private mutating func retarget(height: UInt64) -> UInt64 {
            guard let config = powConfig else { return 0 }
            if height - periodStartHeight >= config.retargetIntervalBlocks {
                let end = parent.timestamp.rawValue, start = periodStartTimestamp.rawValue
                let ticks = end > start ? (end - start) / PoWEngine.millisecondsPerTick : 1
                difficulty = PoWDifficulty.retarget(difficulty, actualTicks: ticks, config: config)
                periodStartHeight = height
                periodStartTimestamp = parent.timestamp
            }
            return difficulty
        }

        /// A block whose header hash meets `difficulty`, signed by the miner whose turn it is.
        private mutating func mine(_ transactions: [Transaction], ids: [Digest], stateRoot: Digest, receiptRoot: Digest,
                                   timestamp: Timestamp, difficulty: UInt64) throws -> Block {
            let algorithm = chain.hashAlgorithm
            let miner = chain.keys[Int(parent.height.next.rawValue % UInt64(chain.keys.count))]
            let template = try Block.make(parent: parent, transactions: transactions, stateRoot: stateRoot, receiptRoot: receiptRoot,
                                          consensusData: PoWSeal(difficulty: difficulty, nonce: 0).encoded, producerKey: miner,
                                          chainID: StartBenchChain.chainID, hashAlgorithm: algorithm, timestamp: timestamp,
                                          transactionIDs: ids)
            var header = template.header
            var hash: Digest
            repeat {
                powNonce &+= 1
                header.consensusData = PoWSeal(difficulty: difficulty, nonce: powNonce).encoded
                hash = header.hash(using: algorithm)
            } while !ProofOfWork.meets(hash: hash, difficulty: difficulty)
            try header.sign(with: miner, hashAlgorithm: algorithm)
            return Block(header: header, headerHash: hash, transactions: transactions)
        }

        /// Appends every pending block that is final: all of them, or under PoW those buried `confirmationDepth` deep.
        private mutating func appendFinal() throws {
            let depth = Int(powConfig?.confirmationDepth ?? 0)
            while pending.count > depth {
                let p = pending.removeFirst()
                try store.append(p.block, receipts: p.receipts, stateChanges: p.changes, stateTransition: p.transition,
                                 certificate: try certificate(p.block, difficulty: p.difficulty))
            }
        }

        /// The certificate of `block`, the first of the pending blocks once it is taken out of them (PoW: those left, then
        /// `extra`, confirm it).
        private func certificate(_ block: Block, difficulty: UInt64, confirmedBy extra: [BlockHeader] = []) throws -> CommitCertificate {
            let h = block.header.height
            let signers: [NodeID]
            let kind: CertificateKind
            var round: Round = 0
            switch chain.engine {
            case .pbft:
                kind = .pbft
                signers = Array(chain.validators.ids.prefix(chain.validators.byzantineQuorum))
            case .raft:
                kind = .raft
                round = StartBenchChain.raftTerm
                signers = Array(chain.validators.ids.prefix(chain.validators.majority))
            case .pos:
                kind = .pos
                // Equal stakes: more than 2/3 of the stake is the same count as PBFT's 2f+1.
                signers = Array(chain.validators.ids.prefix(chain.validators.byzantineQuorum))
            case .pow:
                let depth = Int(powConfig?.confirmationDepth ?? 0)
                let above = pending.map(\.block.header) + extra
                let evidence = RLP.encode(.list(above.prefix(depth).map(\.item)))
                return CommitCertificate(kind: .pow, height: h, blockHash: block.headerHash, round: 0, difficulty: difficulty,
                                         evidence: evidence)
            }
            let votes = try signers.map { signer in
                try CommitCertificate.vote(kind: kind, chainID: StartBenchChain.chainID, height: h, round: round,
                                           blockHash: block.headerHash, signer: signer, key: chain.keys[Int(signer.rawValue)])
            }
            return CommitCertificate(kind: kind, height: h, blockHash: block.headerHash, round: round, votes: votes)
        }

        /// PoW: mines the empty blocks that confirm the last pending ones (kept out of the store) and appends those.
        mutating func finish() throws {
            guard let config = powConfig, !pending.isEmpty else { return }
            var confirmations = [BlockHeader]()
            for _ in 0..<config.confirmationDepth {
                let height = parent.height.next
                let block = try mine([], ids: [], stateRoot: parent.stateRoot,
                                     receiptRoot: Receipt.root(of: [], using: chain.hashAlgorithm),
                                     timestamp: StartBenchLedger.blockTimestamp(chain, height: height.rawValue),
                                     difficulty: retarget(height: height.rawValue))
                confirmations.append(block.header)
                parent = block.header
            }
            while !pending.isEmpty {
                let p = pending.removeFirst()
                try store.append(p.block, receipts: p.receipts, stateChanges: p.changes, stateTransition: p.transition,
                                 certificate: try certificate(p.block, difficulty: p.difficulty, confirmedBy: confirmations))
            }
            try savePoWState()
        }

        /// The state a PoW node saves as it commits (its last committed block's cumulative work and
        /// difficulty period), so the probe measures a node restarting on its own ledger: an engine
        /// recovered once over the whole chain, a batch at a time through the store, emits it on its first step.
        private func savePoWState() throws {
            guard let head = store.head?.height, head.rawValue >= 1 else { return }
            let context = ConsensusContext(node: StartBenchChain.probedNode, signingKey: chain.keys[0], genesis: chain.genesis,
                                           hashAlgorithm: chain.hashAlgorithm, schedule: chain.schedule,
                                           storage: StoreConsensusStorage(store: store, logger: Logger(label: "forgechain.bench")))
            var engine = try PoWEngine(context: context, recovery: ConsensusRecovery(persistentState: nil,
                                                                                    committed: try store.committedBlocks(from: head, through: head)))
            guard let state = engine.step(.tick).persistentState else {
                throw LedgerError(.consensusStateCorrupt, "the PoW engine recovered at height \(head) saved no state")
            }
            try store.saveConsensusState(state)
        }
    }

    /// The state a set reads: nothing (`KeyValueExecutor` reads only for deletes).
    private struct NoState: StateReader {
        func value(forKey key: [UInt8]) throws(LedgerError) -> [UInt8]? { nil }
    }
}

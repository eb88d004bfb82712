import LedgerCrypto
import LedgerModel

/// Proof-of-work consensus (K-A-1, K-R-3): hash-target mining over the
/// chain's hash algorithm, difficulty retargeting, heaviest-chain fork
/// choice and reorganisation, as a pure state machine.
///
/// **Mining.** On every tick the engine tries ``PoWConfig/hashesPerTick``
/// nonces (drawn from a `SplitMix64` seeded from the context seed and the
/// node ID) on a block template: the host's answer to the engine's
/// ``ProposalRequest`` with a ``PoWSeal`` in `BlockHeader.consensusData`.
/// A header is a proof of work when its hash under the chain's algorithm
/// meets the difficulty (`ProofOfWork.meets(hash:difficulty:)`); the
/// engine then signs the header with the node's key and broadcasts the block.
///
/// **Difficulty.** Block 1 has ``PoWConfig/initialDifficulty``. Every
/// ``PoWConfig/retargetIntervalBlocks`` blocks the difficulty is scaled by
/// expected over actual time of the last window (block timestamps, at
/// ``millisecondsPerTick`` per tick), clamped to ÷/× ``PoWConfig/maximumRetargetFactor``
/// (``PoWDifficulty/retarget(_:actualTicks:config:)``). A scheduled
/// configuration change of a difficulty rule starts a new window at its height.
///
/// **Fork choice.** The tip with the most cumulative work (sum of block
/// difficulties) wins; equal work goes to the lower header hash. Blocks whose
/// parent is unknown are kept aside and the parent is asked from the sender
/// (``PoWMessage/getBlocks(hash:count:)``).
///
/// **Commits and reorganisations.** A block is committed, with a `.pow`
/// `CommitCertificate` whose `evidence` holds the `confirmationDepth`
/// headers on top of it (``verifyCertificate(_:config:hashAlgorithm:)``), once
/// it is ``PoWConfig/confirmationDepth`` blocks deep on the heaviest chain.
/// Whenever the heaviest chain switches branch, the step's effects carry a
/// ``Rollback`` to the fork height whose `undone` blocks are the abandoned
/// branch (highest first) so the host returns their transactions to its
/// mempool (K-R-3). Reorganisations above the committed height are normal;
/// one that reaches below it reverts committed blocks: proof-of-work
/// finality is probabilistic, and that happens when a partition outlasts the
/// confirmation depth or an attacker holds most of the hash power.
///
/// **Memory.** The block tree keeps the blocks above a root: the committed
/// block ``retainedBlocks(confirmationDepth:)`` below the tip, moved up as
/// the chain grows, so a reorganisation deeper than that (far beyond the
/// confirmation depth) is no longer followed. Older committed blocks are
/// served to peers from ``ConsensusContext/storage``. The persisted state is
/// the last committed block's work and difficulty period, so a restart
/// rebuilds the tree from the last few blocks, not from genesis.
///
/// ```swift
/// var engine = try PoWEngine(context: ConsensusContext(node: 1, signingKey: key, genesis: genesis,
///                                                      schedule: ConsensusSchedule(initial: .pow(PoWConfig())), seed: 7))
/// let effects = engine.step(.tick)   // asks the host for a block template
/// ```
/// - Note: A value type, deterministic for its context and inputs; not for
///   concurrent use (own it from one actor or thread).
public struct PoWEngine: ConsensusEngine {
    public typealias Message = PoWMessage
    public static let certificateKind: CertificateKind = .pow

    /// Block-timestamp milliseconds per tick, used to turn timestamp spans
    /// into ticks for retargeting and to advance a template's timestamp while
    /// mining: 1,000 (one tick is one second of block time, as in the simulator,
    /// whose hosts stamp proposals with `genesis + tick × 1,000 ms`).
    public static let millisecondsPerTick: UInt64 = 1_000
    /// Ticks between announcements of this node's tip (``PoWMessage/tip(hash:height:)``): 20.
    public static let tipAnnouncementIntervalTicks: UInt64 = 20
    /// Ticks after which an unanswered proposal request or block request is repeated: 40.
    public static let requestRetryTicks: UInt64 = 40

    /// How many blocks below the tip the block tree keeps (between this and
    /// twice this): 8 × the confirmation depth, at least 64.
    /// - Parameter confirmationDepth: The configuration's ``PoWConfig/confirmationDepth``.
    public static func retainedBlocks(confirmationDepth: UInt64) -> UInt64 { max(64, 8 &* confirmationDepth) }

    public let id: NodeID
    public private(set) var status: ConsensusStatus

    private struct Template: Sendable {
        var header: BlockHeader
        var transactions: [Transaction]
        var difficulty: UInt64
        var baseTimestamp: Timestamp
        var startTick: UInt64
    }

    private let signingKey: PrivateKey
    private let chainID: UInt64
    private let hashAlgorithm: HashAlgorithm
    private var verdicts: ProposalVerdicts
    /// Blocks whose parent is known, waiting for the host's verdict (``ProposalValidator/deferred``).
    private var awaitingVerdict: [Digest: [(block: Block, from: NodeID)]] = [:]
    private var verdictsForgottenAt: Height = 0
    private var tree: PoWBlockTree
    private var rng: SplitMix64
    private var ticks: UInt64 = 0
    private var committedHeight: Height
    private var template: Template?
    private var proposalRequested: (parent: Digest, tick: UInt64)?
    /// Tick at which each block was first seen (lookups only).
    private var firstSeen: [Digest: UInt64] = [:]
    /// Tick at which each missing block was last asked for (lookups only).
    private var requested: [Digest: UInt64] = [:]
    private var lastCommitLatencyTicks: UInt64?
    private let storage: (any ConsensusStorage)?
    /// The committed block whose data was last persisted (height, hash).
    private var persistedRoot: (height: Height, hash: Digest)?

    /// Starts an engine, fresh or after a restart.
    /// - Parameters:
    ///   - context: Required. Its schedule must be `.pow`; `seed` and the node ID seed the nonce stream;
    ///     older committed blocks are read through its `storage`.
    ///   - recovery: Optional, default nil. The last committed blocks the host holds (a suffix ending at
    ///     its head; the head alone will do) and the last `persistentState` saved, which names a committed
    ///     block and its cumulative work and difficulty period: the tree is rebuilt from that block up,
    ///     read from the suffix or, when the suffix starts above it, from `storage`. Without such a state (a
    ///     store written before it existed), or with one naming a block the store no longer holds (after a
    ///     manual rollback below it), the engine replays the
    ///     chain from genesis through `storage` once, keeping only the retained blocks. Unconfirmed blocks
    ///     are fetched again from peers.
    /// - Throws: `LedgerError` `.consensusEngineMismatch` (1702), `.invalidConsensusConfig` (1701),
    ///   `.consensusScheduleOrder` (1704), `.consensusStateCorrupt` (1724) when the recovered
    ///   blocks do not form a chain or the persisted state does not decode.
    public init(context: ConsensusContext, recovery: ConsensusRecovery?) throws(LedgerError) {
        guard context.schedule.engine == .pow else {
            throw LedgerError(.consensusEngineMismatch, "PoWEngine needs a pow schedule, got \(context.schedule.engine)",
                              details: ["field": "schedule.initial.engine"])
        }
        try context.schedule.validate()
        id = context.node
        signingKey = context.signingKey
        chainID = context.chainID
        hashAlgorithm = context.hashAlgorithm
        verdicts = ProposalVerdicts(context.proposalValidator)
        storage = context.storage
        rng = SplitMix64(seed: context.seed ^ (UInt64(context.node.rawValue) &* 0x9E37_79B9_7F4A_7C15))
        let genesisHash = context.genesis.header.hash(using: context.hashAlgorithm)
        tree = PoWBlockTree(genesis: context.genesis, genesisHash: genesisHash, schedule: context.schedule,
                            millisecondsPerTick: Self.millisecondsPerTick)
        committedHeight = context.genesis.header.height
        status = ConsensusStatus(node: context.node, committedHeight: committedHeight, round: 0, role: .miner, phase: .proposing)
        var suffix = recovery?.committed ?? []
        if let bytes = recovery?.persistentState {
            let root = try Self.decodeRoot(bytes)
            // The state is saved after the blocks it follows, so it may name a block below the suffix: then from storage.
            let rootBlock = suffix.first { $0.height == root.height }
                ?? (root.height.rawValue >= 1 ? storage?.committedBlocks(from: root.height, limit: 1).first : nil)
            if let rootBlock, rootBlock.height == root.height, rootBlock.hash == root.hash {
                tree = PoWBlockTree(root: .init(block: rootBlock.block, hash: root.hash, cumulativeWork: root.work, difficulty: root.difficulty,
                                                periodStartHeight: root.periodStartHeight, periodStartTimestamp: root.periodStartTimestamp),
                                    schedule: context.schedule, millisecondsPerTick: Self.millisecondsPerTick)
                committedHeight = root.height
                persistedRoot = (root.height, root.hash)
                suffix.removeAll { $0.height <= root.height }
            }
        }
        if let first = suffix.first, first.height > committedHeight.next {
            // The blocks between the tree's root (the persisted one, else genesis: a store written before that
            // state existed, or rolled back below it) and the suffix, from storage, pruning as it goes.
            var next = committedHeight.next
            while next < first.height {
                let batch = storage?.committedBlocks(from: next, limit: Int(min(256, first.height.rawValue - next.rawValue))) ?? []
                guard !batch.isEmpty else {
                    throw LedgerError(.consensusStateCorrupt, "recovering from height \(first.height) needs blocks from \(next) and the storage has none",
                                      details: ["height": next.description])
                }
                try recoverCommitted(batch)
                next = committedHeight.next
                pruneTree()
            }
        }
        try recoverCommitted(suffix)
        pruneTree()
        status = ConsensusStatus(node: context.node, committedHeight: committedHeight, round: 0, role: .miner, phase: .proposing)
    }

    private mutating func recoverCommitted(_ blocks: [CommittedBlock]) throws(LedgerError) {
        for committed in blocks {
            let block = committed.block
            let hash = block.header.hash(using: hashAlgorithm)
            guard block.header.parentHash == tree.tip.hash, block.header.height == tree.tip.height.next else {
                throw LedgerError(.consensusStateCorrupt, "recovered block at height \(block.header.height) does not extend the chain at \(tree.tip.height)",
                                  details: ["height": block.header.height.description])
            }
            tree.insert(block, hash: hash)
            _ = tree.setTip(hash)
            committedHeight = block.header.height
        }
    }

    // MARK: Observation

    /// The height of the heaviest chain's tip (committed or not).
    public var headHeight: Height { tree.tip.height }
    /// The header hash of the heaviest chain's tip.
    public var headHash: Digest { tree.tip.hash }
    /// The blocks on the heaviest chain above the committed height, lowest
    /// first: the tentative head a host may show as "pending".
    public var tentativeBlocks: [Block] {
        var out: [Block] = []
        var h = committedHeight.next
        while let node = tree.onChain(at: h) { out.append(node.block); h = h.next }
        return out
    }
    /// Blocks in the block tree (every branch above its root).
    package var blocksInMemory: Int { tree.nodes.count }
    /// The cumulative work (sum of difficulties) of the heaviest chain.
    public var headWork: UInt128 { tree.tip.cumulativeWork }
    /// The difficulty the next block on the heaviest chain must have.
    public var nextDifficulty: UInt64 { tree.childDifficulty(of: tree.tip).difficulty }

    // MARK: Step

    public mutating func step(_ input: ConsensusInput<PoWMessage>) -> ConsensusEffects<PoWMessage> {
        var fx = ConsensusEffects<PoWMessage>()
        switch input {
        case .tick:
            onTick(&fx)
        case .receive(let from, let message):
            onMessage(message, from: from, &fx)
        case .proposal(let block):
            onProposal(block, &fx)
        case .configChange(let change):
            do throws(LedgerError) {
                try tree.schedule.schedule(change.config, atHeight: change.height)
            } catch {
                fx.rejections.append(error)
            }
        case .synced:
            break   // not adopted: the host restarts a PoW engine from its store after a catch-up
        case .validated(let request, let error):
            if verdicts.record(request, error), var waiting = awaitingVerdict[request.hash],
               let i = waiting.firstIndex(where: { $0.block == request.block }) {
                let w = waiting.remove(at: i)
                awaitingVerdict[request.hash] = waiting.isEmpty ? nil : waiting
                receive([w.block], from: w.from, &fx)
            }
        }
        persistCommitted(&fx)
        if committedHeight > verdictsForgottenAt {
            verdictsForgottenAt = committedHeight
            verdicts.forget(through: committedHeight)
            awaitingVerdict = awaitingVerdict.filter { ($0.value.first?.block.header.height ?? 0) > committedHeight }
        }
        let phase: ConsensusPhase = template != nil ? .mining : .proposing
        let next = ConsensusStatus(node: id, committedHeight: committedHeight, round: 0, role: .miner, phase: phase,
                                   leader: nil, lastCommitLatencyTicks: lastCommitLatencyTicks)
        if next != status {
            status = next
            fx.status = next
        }
        return fx
    }

    private func config(at height: Height) -> PoWConfig { tree.config(at: height) }

    // MARK: Persistence and pruning

    private struct Root {
        var height: Height
        var hash: Digest
        var work: UInt128
        var difficulty: UInt64
        var periodStartHeight: UInt64
        var periodStartTimestamp: Timestamp
    }

    /// RLP `[1, height, hash, work (16 bytes, big-endian), difficulty, periodStartHeight, periodStartTimestamp]`
    /// of the last committed block.
    private static func encodeRoot(_ node: PoWBlockTree.Node) -> [UInt8] {
        let work = (0..<16).map { UInt8(truncatingIfNeeded: node.cumulativeWork >> (8 * (15 - $0))) }
        return RLP.encode(.list([.uint(1), .uint(node.height.rawValue), .bytes(node.hash.bytes), .bytes(work), .uint(node.difficulty),
                                 .uint(node.periodStartHeight), .uint(node.periodStartTimestamp.rawValue)]))
    }

    private static func decodeRoot(_ bytes: [UInt8]) throws(LedgerError) -> Root {
        do throws(LedgerError) {
            let f = try RLP.decode(bytes).list("powState", count: 7)
            guard try f[0].uint64("powState.version") == 1 else {
                throw LedgerError(.consensusStateCorrupt, "unknown pow state version")
            }
            let workBytes = try f[3].bytes("powState.work")
            guard workBytes.count == 16 else { throw LedgerError(.consensusStateCorrupt, "pow state work is not 16 bytes") }
            let work = workBytes.reduce(UInt128(0)) { $0 << 8 | UInt128($1) }
            return Root(height: Height(try f[1].uint64("powState.height")), hash: try Digest(bytes: try f[2].bytes("powState.hash")),
                        work: work, difficulty: try f[4].uint64("powState.difficulty"),
                        periodStartHeight: try f[5].uint64("powState.periodStartHeight"),
                        periodStartTimestamp: Timestamp(rawValue: try f[6].uint64("powState.periodStartTimestamp")))
        } catch {
            throw LedgerError(.consensusStateCorrupt, "pow persistent state: \(error.message)", details: error.details)
        }
    }

    /// Saves the committed block's data when it changed, and prunes the tree.
    private mutating func persistCommitted(_ fx: inout ConsensusEffects<PoWMessage>) {
        guard committedHeight > tree.genesis.height || persistedRoot != nil, let node = tree.onChain(at: committedHeight) else { return }
        if persistedRoot?.height != node.height || persistedRoot?.hash != node.hash {
            fx.persistentState = Self.encodeRoot(node)
            persistedRoot = (node.height, node.hash)
        }
        pruneTree()
    }

    /// Moves the root up once the tree holds twice the retained blocks (never above the committed height).
    private mutating func pruneTree() {
        let tip = tree.tip.height.rawValue, root = tree.genesis.height.rawValue
        let retained = Self.retainedBlocks(confirmationDepth: config(at: tree.tip.height).confirmationDepth)
        guard tip - root > 2 * retained else { return }
        let newRoot = Height(min(committedHeight.rawValue, tip - retained))
        guard newRoot.rawValue > root else { return }
        for hash in tree.reroot(at: newRoot) { firstSeen[hash] = nil }
        requested = requested.filter { ticks &- $0.value < 4 * Self.requestRetryTicks }
    }

    private mutating func onTick(_ fx: inout ConsensusEffects<PoWMessage>) {
        ticks += 1
        if ticks % Self.tipAnnouncementIntervalTicks == 0 {
            fx.broadcast(.tip(hash: tree.tip.hash, height: tree.tip.height))
        }
        guard var t = template else {
            requestProposal(&fx)
            return
        }
        let parent = tree.tip
        let elapsed = (ticks - t.startTick) &* Self.millisecondsPerTick
        t.header.timestamp = max(t.baseTimestamp.adding(milliseconds: elapsed), parent.block.header.timestamp.adding(milliseconds: 1))
        for _ in 0..<config(at: t.header.height).hashesPerTick {
            t.header.consensusData = PoWSeal(difficulty: t.difficulty, nonce: rng.next()).encoded
            let hash = t.header.hash(using: hashAlgorithm)
            if ProofOfWork.meets(hash: hash, difficulty: t.difficulty) {
                template = nil
                mined(t, hash: hash, &fx)
                return
            }
        }
        template = t
    }

    private mutating func mined(_ t: Template, hash: Digest, _ fx: inout ConsensusEffects<PoWMessage>) {
        var header = t.header
        do throws(LedgerError) {
            try header.sign(with: signingKey, hashAlgorithm: hashAlgorithm)
        } catch {
            fx.rejections.append(error)
            return
        }
        let block = Block(header: header, headerHash: hash, transactions: t.transactions)
        fx.broadcast(.block(block))
        tree.insert(block, hash: hash)
        firstSeen[hash] = ticks
        adoptIfHeavier([hash], &fx)
    }

    private mutating func requestProposal(_ fx: inout ConsensusEffects<PoWMessage>) {
        let tip = tree.tip
        if let r = proposalRequested, r.parent == tip.hash, ticks - r.tick < Self.requestRetryTicks { return }
        let cfg = config(at: tip.height.next)
        let difficulty = tree.childDifficulty(of: tip).difficulty
        fx.proposalRequests.append(ProposalRequest(height: tip.height.next, parent: tip.block.header, round: 0,
                                                   consensusData: PoWSeal(difficulty: difficulty, nonce: 0).encoded,
                                                   maximumTransactions: cfg.maximumTransactionsPerBlock))
        proposalRequested = (tip.hash, ticks)
    }

    private mutating func onProposal(_ block: Block, _ fx: inout ConsensusEffects<PoWMessage>) {
        let tip = tree.tip
        guard let r = proposalRequested, r.parent == tip.hash, block.header.parentHash == tip.hash,
              block.header.height == tip.height.next else {
            fx.rejections.append(LedgerError(.consensusInputIgnored, "stale proposal for height \(block.header.height) on \(block.header.parentHash.hex)",
                                             details: ["height": block.header.height.description]))
            return
        }
        guard block.header.producer == signingKey.publicKey, block.header.chainID == chainID else {
            fx.rejections.append(LedgerError(.proposalRejected, "proposal is not produced by this node's key for chain \(chainID)",
                                             details: ["height": block.header.height.description]))
            return
        }
        proposalRequested = nil
        var header = block.header
        header.signature = nil
        let base = max(header.timestamp, tip.block.header.timestamp.adding(milliseconds: 1))
        header.timestamp = base
        template = Template(header: header, transactions: block.transactions,
                            difficulty: tree.childDifficulty(of: tip).difficulty, baseTimestamp: base, startTick: ticks)
    }

    // MARK: Messages

    private mutating func onMessage(_ message: PoWMessage, from: NodeID, _ fx: inout ConsensusEffects<PoWMessage>) {
        switch message {
        case .block(let block):
            receive([block], from: from, &fx)
        case .blocks(let blocks):
            receive(Array(blocks.prefix(Int(PoWMessage.maximumBlocksPerReply))), from: from, &fx)
        case .getBlocks(let hash, let count):
            answerGetBlocks(hash: hash, count: count, height: nil, from: from, &fx)
        case .getBlocksAt(let hash, let count, let height):
            answerGetBlocks(hash: hash, count: count, height: height, from: from, &fx)
        case .tip(let hash, let height):
            if let missing = tree.missingAncestor(of: hash) {
                requestBlocks(missing, height: missing == hash ? height : tree.heightOfMissingParent(below: hash), from: from, &fx)
            }
        }
    }

    /// Block `hash` and up to `count - 1` ancestors, lowest first: from the block tree and, below its
    /// root (or from the start, when `hash` is a committed block at `height` below it), from storage.
    private func answerGetBlocks(hash: Digest, count: UInt64, height: Height?, from: NodeID, _ fx: inout ConsensusEffects<PoWMessage>) {
        var out: [Block] = []
        let limit = Int(min(count, PoWMessage.maximumBlocksPerReply))
        // Where committed history in storage takes over: the block expected at the top of what is read there.
        var continueAt: (height: Height, hash: Digest)?
        if var cursor = tree.node(hash) {
            // Down to the root, the root included unless it is genesis (every node has that).
            while out.count < limit, cursor.height.rawValue >= 1 {
                out.append(cursor.block)
                guard let parent = tree.node(cursor.parentHash) else {
                    continueAt = (Height(cursor.height.rawValue - 1), cursor.parentHash)
                    break
                }
                cursor = parent
            }
        } else if let height, height <= tree.genesis.height {
            continueAt = (height, hash)
        }
        if let c = continueAt, c.height.rawValue >= 1, out.count < limit {
            let wanted = min(limit - out.count, Int(c.height.rawValue))
            let older = storage?.committedBlocks(from: Height(c.height.rawValue - UInt64(wanted) + 1), limit: wanted) ?? []
            if older.count == wanted, older.last?.height == c.height, older.last?.hash == c.hash {
                out += older.reversed().map(\.block)
            }
        }
        if !out.isEmpty { fx.send(.blocks(out.reversed()), to: from) }
    }

    private mutating func requestBlocks(_ hash: Digest, height: Height?, from: NodeID, _ fx: inout ConsensusEffects<PoWMessage>) {
        if let at = requested[hash], ticks - at < Self.requestRetryTicks { return }
        requested[hash] = ticks
        if let height {
            fx.send(.getBlocksAt(hash: hash, count: PoWMessage.maximumBlocksPerReply, height: height), to: from)
        } else {
            fx.send(.getBlocks(hash: hash, count: PoWMessage.maximumBlocksPerReply), to: from)
        }
    }

    /// Checks what can be checked without the parent: header hash, seal, work, chain.
    private func checkAlone(_ block: Block, hash: Digest) -> LedgerError? {
        let details = ["height": block.header.height.description, "block": hash.hex]
        guard block.headerHash == hash else {
            return LedgerError(.headerHashMismatch, "declared header hash does not match the computed \(hash.hex)", details: details)
        }
        guard block.header.chainID == chainID else {
            return LedgerError(.chainIDMismatch, "chain ID \(block.header.chainID), expected \(chainID)", details: details)
        }
        let seal: PoWSeal
        do throws(LedgerError) { seal = try PoWSeal(decoding: block.header.consensusData) } catch { return error }
        guard ProofOfWork.meets(hash: hash, difficulty: seal.difficulty) else {
            return LedgerError(.powInsufficientWork, "block hash \(hash.hex) does not meet its difficulty \(seal.difficulty)", details: details)
        }
        return nil
    }

    /// Checks a block against its known parent: height, time, difficulty rule, then the host's validator
    /// (pending while a deferred validator's verdict is out).
    private mutating func checkAgainstParent(_ block: Block, hash: Digest, parent: PoWBlockTree.Node,
                                             _ fx: inout ConsensusEffects<PoWMessage>) -> ProposalVerdicts.Verdict {
        if let error = checkRules(block, hash: hash, parent: parent) { return .invalid(error) }
        return verdicts.check(block, hash: hash, parent: parent.block.header, &fx.validations)
    }

    private func checkRules(_ block: Block, hash: Digest, parent: PoWBlockTree.Node) -> LedgerError? {
        let details = ["height": block.header.height.description, "block": hash.hex]
        guard block.header.height == parent.height.next else {
            return LedgerError(.heightMismatch, "height \(block.header.height), expected \(parent.height.next)", details: details)
        }
        guard block.header.timestamp > parent.block.header.timestamp else {
            return LedgerError(.timestampNotAfterParent, "timestamp \(block.header.timestamp.rawValue) is not after the parent's \(parent.block.header.timestamp.rawValue)", details: details)
        }
        let expected = tree.childDifficulty(of: parent).difficulty
        // The seal decoded in checkAlone.
        let declared = (try? PoWSeal(decoding: block.header.consensusData))?.difficulty ?? 0
        guard declared == expected else {
            return LedgerError(.powDifficultyMismatch, "difficulty \(declared), expected \(expected)", details: details)
        }
        return nil
    }

    private mutating func receive(_ blocks: [Block], from: NodeID, _ fx: inout ConsensusEffects<PoWMessage>) {
        var inserted: [Digest] = []
        for block in blocks {
            let hash = block.header.hash(using: hashAlgorithm)
            if tree.contains(hash) { continue }
            if tree.isOrphan(hash) {
                if let missing = tree.missingAncestor(of: hash) {
                    requestBlocks(missing, height: tree.heightOfMissingParent(below: hash), from: from, &fx)
                }
                continue
            }
            if let error = checkAlone(block, hash: hash) {
                fx.rejections.append(error)
                continue
            }
            guard tree.contains(block.header.parentHash) else {
                // Keep it aside and ask the sender for the first block missing below it
                // (again after requestRetryTicks, so a lost request or reply does not stall sync).
                _ = tree.addOrphan(block, hash: hash)
                if let missing = tree.missingAncestor(of: block.header.parentHash) {
                    let height = missing == block.header.parentHash ? Height(block.header.height.rawValue &- 1) : tree.heightOfMissingParent(below: block.header.parentHash)
                    requestBlocks(missing, height: height, from: from, &fx)
                }
                continue
            }
            // Connect the block, then every orphan waiting on it (depth first, children by hash).
            var stack = [(block, hash)]
            while let (b, h) = stack.popLast() {
                switch checkAgainstParent(b, hash: h, parent: tree.node(b.header.parentHash)!, &fx) {
                case .valid:
                    break
                case .invalid(let error):
                    fx.rejections.append(error)
                    continue
                case .pending:
                    // `.validated` receives it again.
                    if awaitingVerdict[h]?.contains(where: { $0.block == b }) != true { awaitingVerdict[h, default: []].append((b, from)) }
                    continue
                }
                tree.insert(b, hash: h)
                if firstSeen[h] == nil { firstSeen[h] = ticks }
                inserted.append(h)
                for child in tree.takeOrphans(childrenOf: h).reversed() { stack.append((child, child.headerHash)) }
            }
        }
        adoptIfHeavier(inserted, &fx)
    }

    // MARK: Fork choice and commits

    private mutating func adoptIfHeavier(_ candidates: [Digest], _ fx: inout ConsensusEffects<PoWMessage>) {
        var best = tree.tip
        for hash in candidates {
            if let node = tree.node(hash), PoWBlockTree.isHeavier(node, than: best) { best = node }
        }
        guard best.hash != tree.tip.hash else { return }
        let change = tree.setTip(best.hash)
        if !change.undone.isEmpty {
            fx.rollbacks.append(Rollback(height: change.forkHeight, undone: change.undone.reversed()))
        }
        if change.forkHeight < committedHeight {
            // Committed blocks were reverted: proof-of-work finality did not hold.
            committedHeight = change.forkHeight
        }
        template = nil
        proposalRequested = nil
        commitConfirmed(&fx)
        requestProposal(&fx)
    }

    private mutating func commitConfirmed(_ fx: inout ConsensusEffects<PoWMessage>) {
        let tipHeight = tree.tip.height.rawValue
        while true {
            let height = committedHeight.next
            let depth = config(at: height).confirmationDepth
            guard tipHeight >= height.rawValue + depth, let node = tree.onChain(at: height) else { return }
            var confirmations: [RLP.Item] = []
            var h = height.next
            while confirmations.count < Int(depth), let c = tree.onChain(at: h) {
                confirmations.append(c.block.header.item)
                h = h.next
            }
            let certificate = CommitCertificate(kind: .pow, height: height, blockHash: node.hash, round: 0,
                                                difficulty: node.difficulty, evidence: RLP.encode(.list(confirmations)))
            fx.commits.append(CommittedBlock(block: node.block, certificate: certificate))
            committedHeight = height
            lastCommitLatencyTicks = ticks - (firstSeen[node.hash] ?? ticks)
        }
    }
}

extension PoWEngine: ChainMemoryReporting {}

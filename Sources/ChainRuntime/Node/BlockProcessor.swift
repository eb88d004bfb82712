import Foundation
import LedgerCore
import Logging

/// One block's execution result, kept until the block is committed.
struct ExecutedBlock: Sendable {
    var hash: Digest
    var parentHash: Digest
    var height: Height
    var receipts: [Receipt]
    var changes: StateChangeSet
    var overlay: [[UInt8]: [UInt8]?]
    var stateRoot: Digest
    var receiptRoot: Digest
    /// The state-tree update from the parent's state root (the store's head, or
    /// an executed block not yet appended), handed to the store's append so the
    /// tree update is not computed twice.
    var transition: StateTransition
}

/// Builds, validates (K-V-1..4 plus re-execution) and executes blocks for a
/// node: the executors keyed by payload kind, the per-sender nonces in the
/// world state, and a cache of executed but uncommitted blocks (so a block is
/// executed once, and a child can be built on an uncommitted parent).
///
/// Pipelined commits: a node may execute block N+1 while block N is still being
/// written. The processor's *base* is the last block whose write it was told
/// of (``didCommit(_:transactionIDs:)``); executions between the base and a
/// new block's parent (committed or not) are read through, and each block's
/// state-tree update starts from its parent's, reading the nodes of pending
/// updates before the store's. ``willCommit(_:)`` marks a block decided but
/// not yet written, so ``nextNonce(for:)`` already counts its transactions.
///
/// Nonces: the state key ``nonceKey(_:)`` of a sender holds its next nonce
/// (8 bytes big-endian, absent = 0). A block whose transaction carries
/// another nonce is invalid (`.nonceMismatch`, 1903), so a transaction is
/// never committed twice. Failed transactions consume their nonce.
///
/// - Note: `@unchecked Sendable`: every mutable field is guarded by `lock`.
///   The node calls it from its actor; the consensus engine's proposal
///   validator calls ``validate(_:parent:)`` from inside `step`, on the same actor.
package final class BlockProcessor: @unchecked Sendable {
    let chainID: UInt64
    let hashAlgorithm: HashAlgorithm
    let validator: BlockValidator
    private let executors: [String: any TransactionExecutor]
    /// The key that signed the genesis block, handed to the executors (``ExecutionContext/genesisProducer``).
    private let genesisProducer: PublicKey
    /// The chain's consensus engine, handed to the executors (``ExecutionContext/consensusEngine``).
    private let consensusEngine: String?

    private let lock = NSLock()
    // Guarded by lock:
    private var store: LedgerStore
    private var executed: [Digest: ExecutedBlock] = [:]
    private var committed: [[UInt8]: [UInt8]?] = [:]
    private var verified = Set<Digest>()
    /// Execution hash by content (header without consensus data, timestamp and signature), so a block
    /// whose seal and timestamp the engine changed after building (PoW mining) finds its execution.
    /// Under PoW an executor must therefore not depend on the block timestamp.
    private var byContent: [Digest: Digest] = [:]
    private var forgeProposals = false
    private var rejectedProposals = 0
    /// The last block known written: the store's head, or the last one ``didCommit(_:transactionIDs:)`` named.
    private var base: (hash: Digest, root: Digest)
    /// Blocks decided but not yet written, oldest first (their executions stay in `executed` meanwhile).
    private var deciding: [Digest] = []

    static let maximumCachedKeys = 400_000
    /// The time blocks are checked against (K-V-2): the wall clock, or the node simulator's.
    private let clock: @Sendable () -> Timestamp
    /// Where a failed nonce read is reported (``nextNonce(for:)`` has no caller to throw to).
    private let logger: Logger

    init(store: LedgerStore, chainID: UInt64, hashAlgorithm: HashAlgorithm, maximumClockDriftMillis: UInt64,
         executors: [any TransactionExecutor], genesisProducer: PublicKey, consensusEngine: String? = nil, clock: @escaping @Sendable () -> Timestamp = { .now() },
         logger: Logger = Logger(label: "forgechain.node")) {
        self.store = store
        self.genesisProducer = genesisProducer
        self.consensusEngine = consensusEngine
        self.clock = clock
        self.logger = logger
        base = Self.base(of: store)
        self.chainID = chainID
        self.hashAlgorithm = hashAlgorithm
        validator = BlockValidator(chainID: chainID, hashAlgorithm: hashAlgorithm, maximumClockDriftMillis: maximumClockDriftMillis)
        var table = [String: any TransactionExecutor]()
        for e in executors { for k in e.payloadKinds where table[k] == nil { table[k] = e } }
        self.executors = table
    }

    /// The state key holding `sender`'s next nonce.
    package static func nonceKey(_ sender: PublicKey) -> [UInt8] {
        Array("nonce/\(sender.scheme.rawValue)/".utf8) + sender.rawRepresentation
    }

    private static func decodeNonce(_ v: [UInt8]?) -> UInt64 {
        guard let v, v.count == 8 else { return 0 }
        return v.reduce(0) { $0 << 8 | UInt64($1) }
    }

    private static func encodeNonce(_ n: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: n >> (56 - 8 * UInt64($0))) } }

    // MARK: Store and caches

    private static func base(of store: LedgerStore) -> (hash: Digest, root: Digest) {
        store.head.map { ($0.hash, $0.stateRoot) } ?? (.zero, StateTree(store.hashAlgorithm).emptyRoot)
    }

    func replaceStore(_ newStore: LedgerStore) {
        lock.lock()
        store = newStore
        base = Self.base(of: newStore)
        executed = [:]
        committed = [:]
        deciding = []
        lock.unlock()
    }

    /// Forgets cached committed state and takes the store's head as the base (after a rollback,
    /// or a failed write); with `executions`, also every execution (after a restore).
    /// - Note: Call only while no write of this store is pending.
    func reset(executions: Bool = false) {
        lock.lock()
        if executions {
            executed = [:]
            byContent = [:]
        }
        committed = [:]
        deciding = []
        base = Self.base(of: store)
        lock.unlock()
    }

    private func contentKey(_ h: BlockHeader) -> Digest {
        hashAlgorithm.hash(RLP.encode(.list([.uint(h.height.rawValue), .digest(h.parentHash), .digest(h.transactionRoot),
                                             .digest(h.stateRoot), .digest(h.receiptRoot)])))
    }

    /// The execution of the block with this header, found by hash or by content.
    private func execution(of header: BlockHeader, hash: Digest) -> ExecutedBlock? {
        if let e = executed[hash] { return e }
        guard let alias = byContent[contentKey(header)], var e = executed[alias] else { return nil }
        e.hash = hash
        executed[hash] = e
        return e
    }

    func markVerified(_ ids: some Sequence<Digest>) {
        lock.lock()
        verified.formUnion(ids)
        lock.unlock()
    }

    func setForgeProposals(_ on: Bool) {
        lock.lock()
        forgeProposals = on
        lock.unlock()
    }

    var proposalRejections: Int {
        lock.lock()
        defer { lock.unlock() }
        return rejectedProposals
    }

    /// The sender's next nonce in the committed state, counting blocks decided but not yet written.
    ///
    /// A store that cannot be read answers 0 (a transaction admitted on it fails its nonce check in the block, it
    /// is never committed twice); the failure is logged at error level with its code.
    func nextNonce(for sender: PublicKey) -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        let key = Self.nonceKey(sender)
        for h in deciding.reversed() {
            if let v = executed[h]?.overlay[key] { return Self.decodeNonce(v) }
        }
        do {
            return Self.decodeNonce(try committedValue(key))
        } catch {
            logger.error("reading a sender's nonce failed; admission assumes nonce 0", metadata: [
                "code": "\(error.numericCode)", "error": "\(error.message)",
            ])
            return 0
        }
    }

    /// Why the executor of `tx`'s payload kind refuses it on admission (``TransactionExecutor/admit(_:genesisProducer:state:)``),
    /// judged on the committed state and the blocks decided but not yet written; nil when it accepts it or no
    /// executor handles the kind (the block then records the failure). A store that cannot be read refuses with its
    /// error: nothing is admitted on a state the node cannot see.
    func admissionRefusal(for tx: Transaction) -> LedgerError? {
        guard let executor = executors[tx.payload.kind] else { return nil }
        lock.lock()
        defer { lock.unlock() }
        // Admission runs for every transaction; executors that admit everyone never read, so nothing is gathered up
        // front: a read looks through the decided blocks, newest first, then the committed state (as nextNonce does).
        let reader = Reader(layers: []) { (k) throws(LedgerError) -> [UInt8]? in
            for h in self.deciding.reversed() { if let v = self.executed[h]?.overlay[k] { return v } }
            return try self.committedValue(k)
        }
        do {
            try executor.admit(tx, genesisProducer: genesisProducer, state: reader)
            return nil
        } catch {
            return error
        }
    }

    /// Marks an executed block (one ``executionForCommit(_:parent:)`` returned) as decided: its write
    /// is pending. Call in commit order, before the write.
    func willCommit(_ e: ExecutedBlock) {
        lock.lock()
        defer { lock.unlock() }
        deciding.append(e.hash)
    }

    private func committedValue(_ key: [UInt8]) throws(LedgerError) -> [UInt8]? {
        if let v = committed[key] { return v }
        let v = try store.stateValue(forKey: key)
        if committed.count >= Self.maximumCachedKeys { committed.removeAll(keepingCapacity: true) }
        committed[key] = .some(v)
        return v
    }

    /// The executed ancestors above the base of a block whose parent is `parentHash`, oldest first.
    private func pendingChain(to parentHash: Digest) throws(LedgerError) -> [ExecutedBlock] {
        guard store.head != nil else { throw LedgerError(.heightNotFound, "the store is empty") }
        var chain = [ExecutedBlock]()
        var h = parentHash
        while h != base.hash {
            guard let e = executed[h], chain.count < 4_096 else {
                throw LedgerError(.parentHashMismatch, "parent \(h.hex.prefix(16)) is neither the head nor an executed pending block",
                                  details: ["parentHash": h.hex])
            }
            chain.append(e)
            h = e.parentHash
        }
        return chain.reversed()
    }

    /// Reads through the current block's writes, its pending ancestors', the committed cache and the store.
    private final class Reader: StateReader {
        var local: [[UInt8]: [UInt8]?] = [:]
        let layers: [[[UInt8]: [UInt8]?]]
        let base: (([UInt8]) throws(LedgerError) -> [UInt8]?)
        init(layers: [[[UInt8]: [UInt8]?]], base: @escaping ([UInt8]) throws(LedgerError) -> [UInt8]?) {
            self.layers = layers
            self.base = base
        }
        func value(forKey key: [UInt8]) throws(LedgerError) -> [UInt8]? {
            if let v = local[key] { return v }
            for layer in layers { if let v = layer[key] { return v } }
            return try base(key)
        }
    }

    // MARK: Execution

    /// Executes `transactions` as the block at `height`; with `filter`, transactions whose nonce is
    /// out of order are left out (building) instead of failing the block (validating).
    private func run(_ transactions: [Transaction], ids knownIDs: [Digest]? = nil, parentHash: Digest, height: Height,
                     timestamp: Timestamp, filter: Bool) throws(LedgerError) -> (included: [Transaction], ids: [Digest], receipts: [Receipt],
                                                           changes: StateChangeSet, overlay: [[UInt8]: [UInt8]?], stateRoot: Digest,
                                                           transition: StateTransition) {
        let chain = try pendingChain(to: parentHash)
        let reader = Reader(layers: chain.reversed().map(\.overlay)) { (k) throws(LedgerError) -> [UInt8]? in try self.committedValue(k) }
        var included = [Transaction]()
        var ids = [Digest]()
        var receipts = [Receipt]()
        var changes = StateChangeSet()
        included.reserveCapacity(transactions.count)
        receipts.reserveCapacity(transactions.count)
        let algorithm = hashAlgorithm
        let allIDs = knownIDs ?? transactions.map { $0.id(using: algorithm) }
        var declared = [String: UInt64]()   // declared cost per payload kind with a block limit
        for (i, tx) in transactions.enumerated() {
            let nk = Self.nonceKey(tx.sender)
            let expected = Self.decodeNonce(try reader.value(forKey: nk))
            guard tx.nonce == expected else {
                if filter { continue }
                throw LedgerError(.nonceMismatch, "transaction \(i) has nonce \(tx.nonce), its sender's next nonce is \(expected)",
                                  details: ["transactionIndex": String(i), "expectedNonce": String(expected)])
            }
            guard tx.chainID == chainID else {
                if filter { continue }
                throw LedgerError(.transactionChainIDMismatch, "transaction \(i) has chain ID \(tx.chainID), expected \(chainID)")
            }
            // Packing by declared cost (a contract's gas limit): a transaction that would take its kind past the
            // executor's block limit waits for a later block (its sender's later transactions then miss their nonce).
            let executor = executors[tx.payload.kind]
            if let executor, let limit = executor.blockCostLimit {
                let (total, overflow) = (declared[tx.payload.kind] ?? 0).addingReportingOverflow(executor.declaredCost(of: tx))
                guard !overflow, total <= limit else {
                    if filter { continue }
                    throw LedgerError(.blockCostLimitExceeded, "transaction \(i) takes the declared cost of '\(tx.payload.kind)' transactions past the block limit \(limit)",
                                      details: ["transactionIndex": String(i), "kind": tx.payload.kind, "limit": String(limit)])
                }
                declared[tx.payload.kind] = total
            }
            let nv = Self.encodeNonce(expected + 1)
            reader.local[nk] = .some(nv)
            changes.set(nk, to: nv)
            let id = allIDs[i]
            let context = ExecutionContext(chainID: chainID, height: height, timestamp: timestamp, hashAlgorithm: algorithm,
                                           transactionIndex: included.count, transactionID: id, genesisProducer: genesisProducer,
                                           consensusEngine: consensusEngine)
            var outcome: ExecutionOutcome
            if let executor {
                do throws(LedgerError) {
                    outcome = try executor.execute(tx, context: context, state: reader)
                } catch where (1500..<1600).contains(error.numericCode) {
                    throw error
                } catch {
                    outcome = .failure(error)
                }
            } else {
                outcome = .failure(LedgerError(.unknownPayloadKind, "no executor handles payload kind '\(tx.payload.kind)'",
                                               details: ["kind": tx.payload.kind]))
            }
            if outcome.status == Receipt.success {
                for c in outcome.writes.changes {
                    reader.local[c.key] = .some(c.value)
                    changes.changes.append(c)
                }
            }
            included.append(tx)
            ids.append(id)
            receipts.append(Receipt(transactionID: id, status: outcome.status, output: outcome.output, logs: outcome.logs,
                                    costUnits: outcome.costUnits))
        }
        // From the parent's root; the nodes of ancestors not yet written come from their updates.
        let transition = try store.stateTransition(applying: changes, from: chain.last?.stateRoot ?? base.root,
                                                   pending: chain.map(\.transition))
        return (included, ids, receipts, changes, reader.local, transition.update.root, transition)
    }

    /// Builds and executes a block answering `request` from `candidates` (mempool order) with their IDs.
    func build(_ request: ProposalRequest, candidates: [Transaction], ids: [Digest], key: PrivateKey,
               timestamp: Timestamp) throws(LedgerError) -> Block {
        lock.lock()
        defer { lock.unlock() }
        let parentHash = request.parent.hash(using: hashAlgorithm)
        if base.hash != parentHash { _ = execution(of: request.parent, hash: parentHash) }
        let r: (included: [Transaction], ids: [Digest], receipts: [Receipt], changes: StateChangeSet, overlay: [[UInt8]: [UInt8]?],
                stateRoot: Digest, transition: StateTransition)
        do {
            r = try run(candidates, ids: ids, parentHash: parentHash, height: request.height, timestamp: timestamp, filter: true)
        } catch where error.code == .parentHashMismatch {
            // The parent is an entry this node holds but has not executed (a Raft leader's uncommitted log
            // after an engine restart). An empty block needs no state: its root is the parent's. Committing
            // it commits the entries before it (Raft commits earlier terms' entries only through one of
            // its own), and they are executed then, in order.
            return try Block.make(parent: request.parent, transactions: [], stateRoot: request.parent.stateRoot,
                                  receiptRoot: Receipt.root(of: [], using: hashAlgorithm), consensusData: request.consensusData,
                                  producerKey: key, chainID: chainID, hashAlgorithm: hashAlgorithm, timestamp: timestamp)
        }
        let receiptRoot = Receipt.root(of: r.receipts, using: hashAlgorithm)
        var block = try Block.make(parent: request.parent, transactions: r.included, stateRoot: r.stateRoot, receiptRoot: receiptRoot,
                                   consensusData: request.consensusData, producerKey: key, chainID: chainID,
                                   hashAlgorithm: hashAlgorithm, timestamp: timestamp, transactionIDs: r.ids)
        if forgeProposals, let tx = block.transactions.first {
            // Byzantine: a transaction altered after signing, re-rooted and re-signed by the producer.
            var bad = tx
            bad.payload.body += [0xFF]
            var txs = block.transactions
            txs[0] = bad
            var header = block.header
            header.transactionRoot = Block.transactionRoot(of: txs, using: hashAlgorithm)
            try header.sign(with: key, hashAlgorithm: hashAlgorithm)
            block = Block(header: header, headerHash: header.hash(using: hashAlgorithm), transactions: txs)
            return block
        }
        executed[block.headerHash] = ExecutedBlock(hash: block.headerHash, parentHash: parentHash, height: request.height,
                                                   receipts: r.receipts, changes: r.changes, overlay: r.overlay,
                                                   stateRoot: r.stateRoot, receiptRoot: receiptRoot, transition: r.transition)
        if byContent.count > 4_096 { byContent = [:] }
        byContent[contentKey(block.header)] = block.headerHash
        return block
    }

    /// K-V-1..4 and re-execution: nil when `block` is a valid child of `parent`.
    func validate(_ block: Block, parent: BlockHeader?) -> LedgerError? {
        lock.lock()
        defer { lock.unlock() }
        if execution(of: block.header, hash: block.headerHash) != nil { return nil }
        do throws(LedgerError) {
            _ = try checkAndExecute(block, parent: parent, deferUnknownParent: true)
            return nil
        } catch {
            rejectedProposals += 1
            return error
        }
    }

    /// With `deferUnknownParent`, a block whose parent is neither the head nor an executed block
    /// (a fork branch under PoW) passes on K-V-1..4 alone; it is executed when it is committed.
    private func checkAndExecute(_ block: Block, parent: BlockHeader?, deferUnknownParent: Bool = false) throws(LedgerError) -> ExecutedBlock? {
        let known = verified
        try validator.validate(block, parent: parent, now: clock(), alreadyVerified: { known.contains($0) })
        let h = block.header
        if deferUnknownParent, let parent, base.hash != h.parentHash,
           execution(of: parent, hash: h.parentHash) == nil {
            return nil
        }
        let r = try run(block.transactions, parentHash: h.parentHash, height: h.height, timestamp: h.timestamp, filter: false)
        let receiptRoot = Receipt.root(of: r.receipts, using: hashAlgorithm)
        guard r.stateRoot == h.stateRoot, receiptRoot == h.receiptRoot else {
            throw LedgerError(.executionRootMismatch,
                              "block \(h.height): re-execution gives state root \(r.stateRoot.hex.prefix(16)) and receipt root \(receiptRoot.hex.prefix(16)), header declares \(h.stateRoot.hex.prefix(16)) and \(h.receiptRoot.hex.prefix(16))",
                              details: ["height": h.height.description])
        }
        let e = ExecutedBlock(hash: block.headerHash, parentHash: h.parentHash, height: h.height, receipts: r.receipts,
                              changes: r.changes, overlay: r.overlay, stateRoot: r.stateRoot, receiptRoot: receiptRoot,
                              transition: r.transition)
        executed[block.headerHash] = e
        return e
    }

    /// The execution of a block about to be committed: cached, or validated and executed now
    /// (a block learnt through consensus catch-up or sync).
    func executionForCommit(_ block: Block, parent: BlockHeader) throws(LedgerError) -> ExecutedBlock {
        lock.lock()
        defer { lock.unlock() }
        if let e = execution(of: block.header, hash: block.headerHash) { return e }
        guard let e = try checkAndExecute(block, parent: parent) else {
            throw LedgerError(.parentHashMismatch, "block \(block.header.height) does not extend the head")
        }
        return e
    }

    /// A block's write is done: folds its writes into the committed cache, makes it the base,
    /// and forgets executions at or below its height. Call in commit order.
    func didCommit(_ e: ExecutedBlock, transactionIDs: [Digest]) {
        lock.lock()
        defer { lock.unlock() }
        base = (e.hash, e.stateRoot)
        deciding.removeAll { $0 == e.hash }
        if committed.count + e.overlay.count >= Self.maximumCachedKeys { committed.removeAll(keepingCapacity: true) }
        for (k, v) in e.overlay { committed[k] = .some(v) }
        for id in transactionIDs { verified.remove(id) }
        if executed.count > 1 { executed = executed.filter { $0.value.height > e.height } } else { executed[e.hash] = nil }
    }
}

import Foundation
import LedgerCore
import Logging
import Net

/// A full node: a mempool, a consensus engine it drives, block building,
/// validation and execution, commit with receipts, catch-up sync, health and
/// recovery (K-T-1..3, K-R-1..4), over any `Transport`.
///
/// The node drives its engine (`ConsensusEngine`) the way the simulator
/// does, against a real `LedgerStore`: it feeds it ticks (from a clock task
/// it owns), peers' messages and its own proposals, and carries out each
/// step's effects in order: rollbacks, then commits (execute, then append
/// block, receipts, state changes and certificate in one SQLite transaction),
/// then the engine's persistent state (durably), then messages, then
/// proposal requests (answered with a block built from the mempool), then
/// status.
///
/// Writes are pipelined: appends, the engine's state and the messages after
/// them go, in that order, to a writer thread of the node's own, and the
/// actor goes on executing the next block on top of the decided ones (at
/// most `maximumPendingAppends` (2 blocks) ahead). Nothing leaves the node before the
/// writes it follows are durable: messages wait behind them, and a receipt
/// (``submit(_:timeout:)``, ``commits()``) is handed out only once its block
/// is in the store. ``head`` is the store's head; a crash loses at most the
/// decided blocks that nobody outside the node has heard of.
///
/// ```swift
/// let node = try await Node<RaftEngine>(configuration: config, transport: try network.attach(1),
///                                       executors: [KeyValueExecutor()])
/// await node.start()
/// let receipt = try await node.submit(tx)          // waits for the commit
/// ```
/// - Note: An actor: every method is safe to call concurrently. The node owns
///   three tasks (clock, receiver, sender), all cancelled by ``stop()``.
public actor Node<Engine: ConsensusEngine> {
    /// This node's ID.
    public nonisolated let id: NodeID
    /// The configuration it was started with.
    public nonisolated let configuration: NodeConfiguration
    /// The mempool's validated configuration.
    private nonisolated let mempoolConfiguration: MempoolConfiguration

    private var engine: Engine
    private var store: LedgerStore
    private let processor: BlockProcessor
    private var mempool: Mempool
    private let transport: any Transport
    private let context: ConsensusContext
    private var backups: BackupScheduler?

    private var clockTask: Task<Void, Never>?
    private var receiveTask: Task<Void, Never>?
    private var sendTask: Task<Void, Never>?
    private let outbox: AsyncStream<(NodeID?, [UInt8])>.Continuation
    private let outboxStream: AsyncStream<(NodeID?, [UInt8])>
    private let writer: CommitWriter
    /// The last decided block (written or pending): what the next commit must extend.
    private var tip: LedgerStore.Head
    private var tipHeader: BlockHeader
    /// Decided blocks whose append is pending, oldest first.
    private var pendingCommits: [(block: CommittedBlock, execution: ExecutedBlock)] = []
    /// Set when a pending append failed: the node rebuilds from its store once the writer is idle.
    private var writeFailed = false

    /// Decided blocks the actor may run ahead of the store by.
    static var maximumPendingAppends: Int { 2 }

    private var tickCount: UInt64 = 0
    private var lastCommitTick: UInt64 = 0
    private var heldRequest: (request: ProposalRequest, since: UInt64)?
    private var relayBuffer: [Transaction] = []
    private var waiters: [Digest: [(deadline: ContinuousClock.Instant, continuation: CheckedContinuation<Receipt, any Error>)]] = [:]
    private var peerState: [NodeID: (connected: Bool, height: Height, lastSeen: UInt64?)] = [:]
    private var syncOutstanding: (peer: NodeID, sentAt: UInt64)?
    private var isStopped = false
    private var lastStoreError: String?
    private var storeErrorSinceCommit = false
    private var healthContinuations: [UUID: AsyncStream<NodeHealth>.Continuation] = [:]
    private var commitContinuations: [UUID: AsyncStream<CommitNotice>.Continuation] = [:]
    private var lastHealth: NodeHealth?
    private var byzantineTransactions = false
    private var byzantineSilent = false
    /// Counters of the node's work.
    public private(set) var metrics = NodeMetrics()
    /// Logs and swift-metrics instruments (``NodeConfiguration/logger``, ``NodeConfiguration/metricsFactory``).
    private var telemetry: NodeTelemetry

    /// Opens (or creates) the store, checks its genesis, and starts the
    /// engine from what the store holds (its committed blocks with
    /// certificates and the engine's persisted state): a node restarted on
    /// its own store resumes at its last committed block. Call ``start()`` next.
    /// - Parameters:
    ///   - configuration: Required. Checked with ``NodeConfiguration/validate()``.
    ///   - transport: Required. This node's endpoint; its `Transport.localNode` should equal the configured node.
    ///   - executors: Optional, default `[KeyValueExecutor()]`. Executors keyed by their payload kinds
    ///     (the first one listing a kind wins); a transaction of another kind commits with a failed receipt (1902).
    /// - Throws: `ChainError` `.invalidNodeConfiguration` (4050), `.invalidMempoolConfiguration` (4011),
    ///   `.storeFailure` (4053), `.genesisMismatch` (4057), `.engineStartFailed` (4055);
    ///   `LedgerError` `.storeLocked` (1520), unwrapped, at once when another open store (another node, in any
    ///   process) holds the store file.
    public init(configuration: NodeConfiguration, transport: any Transport,
                executors: [any TransactionExecutor] = [KeyValueExecutor()]) async throws {
        try configuration.validate()
        self.configuration = configuration
        id = configuration.node
        self.transport = transport
        let telemetry = NodeTelemetry(node: configuration.node, logger: configuration.logger, factory: configuration.metricsFactory)
        self.telemetry = telemetry
        let store = try Self.openStore(configuration)
        self.store = store
        let chainID = configuration.genesis.header.chainID
        processor = BlockProcessor(store: store, chainID: chainID, hashAlgorithm: configuration.hashAlgorithm,
                                   maximumClockDriftMillis: configuration.maximumClockDriftMillis, executors: executors)
        let pool = try Mempool(configuration: configuration.mempool
                               ?? MempoolConfiguration(chainID: chainID, hashAlgorithm: configuration.hashAlgorithm))
        mempool = pool
        mempoolConfiguration = pool.configuration
        let p = processor
        context = ConsensusContext(node: configuration.node, signingKey: configuration.signingKey, genesis: configuration.genesis,
                                   chainID: chainID, hashAlgorithm: configuration.hashAlgorithm, schedule: configuration.schedule,
                                   proposalValidator: ProposalValidator { block, parent in p.validate(block, parent: parent) },
                                   seed: configuration.seed,
                                   storage: StoreConsensusStorage(store: store, logger: configuration.logger))
        engine = try Self.makeEngine(context: context, store: store)
        backups = configuration.backupSchedule.map { BackupScheduler(store: store, schedule: $0) }
        (outboxStream, outbox) = AsyncStream.makeStream(of: (NodeID?, [UInt8]).self, bufferingPolicy: .unbounded)
        let out = outbox
        writer = CommitWriter(appendTimer: telemetry.appendTime) { peer, bytes in out.yield((peer, bytes)) }
        (tip, tipHeader) = try Self.readTip(store)
        for v in configuration.schedule.initial.validators?.ids ?? [] where v != id {
            peerState[v] = (false, 0, nil)
        }
    }

    /// - Throws: `ChainError` (4053, 4057), or `LedgerError` `.storeLocked` (1520) as it is.
    private static func openStore(_ configuration: NodeConfiguration) throws -> LedgerStore {
        let store: LedgerStore
        var storeConfiguration = LedgerStore.Configuration(hashAlgorithm: configuration.hashAlgorithm, durability: configuration.storeDurability,
                                                           quickCheckBlocks: configuration.storeBlocksCheckedOnOpen,
                                                           sqliteQuickCheckOnOpen: configuration.storeFileCheckOnOpen)
        storeConfiguration.logger = configuration.logger
        storeConfiguration.logger[metadataKey: "node"] = "\(configuration.node.rawValue)"
        do {
            // `:memory:` is a private in-memory store: no file, so no store lock (and its reads share the writer's database).
            store = configuration.storePath == ":memory:" ? try LedgerStore.inMemory(configuration: storeConfiguration)
                : try LedgerStore(path: configuration.storePath, configuration: storeConfiguration)
            if store.head == nil {
                try store.append(configuration.genesis)
            } else if try store.blockHash(atHeight: 0) != configuration.genesis.headerHash {
                throw ChainError(.genesisMismatch, "the store at \(configuration.storePath) holds another chain (genesis differs)")
            }
        } catch let error as ChainError {
            throw error
        } catch let error as LedgerError where error.code == .storeLocked {
            throw error   // another node holds the store: its own code, for the operator to act on
        } catch let error as LedgerError {
            throw ChainError(.storeFailure, "opening the store at \(configuration.storePath): \(error.message)",
                             details: ["cause": String(error.numericCode)])
        } catch {
            throw ChainError(.storeFailure, "opening the store at \(configuration.storePath): \(error)")
        }
        return store
    }

    /// The store's head and its header.
    private static func readTip(_ store: LedgerStore) throws(ChainError) -> (LedgerStore.Head, BlockHeader) {
        do throws(LedgerError) {
            guard let head = store.head else { throw LedgerError(.heightNotFound, "the store is empty") }
            return (head, try store.header(atHeight: head.height))
        } catch {
            throw ChainError(.storeFailure, "reading the head: \(error.message)", details: ["cause": String(error.numericCode)])
        }
    }

    deinit { writer.finish() }

    private static func makeEngine(context: ConsensusContext, store: LedgerStore) throws(ChainError) -> Engine {
        do {
            // The head block only: the engine reads anything older through its storage (the store), so
            // start-up reads one block whatever the chain's length.
            let head = store.head?.height ?? 0
            let committed = head.rawValue >= 1 ? try store.committedBlocks(from: head, through: head) : []
            let state = try store.consensusState()
            let recovery = committed.isEmpty && state == nil ? nil : ConsensusRecovery(persistentState: state, committed: committed)
            return try Engine(context: context, recovery: recovery)
        } catch {
            throw ChainError(.engineStartFailed, "starting the \(Engine.certificateKind) engine: \(error.message)",
                             details: ["cause": String(error.numericCode)])
        }
    }

    // MARK: Lifecycle

    /// Starts the clock, receiver and sender tasks. Idempotent.
    /// - Note: Call once after `init`; a stopped node cannot be restarted (make a new one on the same store).
    public func start() {
        guard clockTask == nil, !isStopped else { return }
        writer.setListener { [weak self] in
            Task { await self?.collectWrites() }
        }
        let interval = configuration.tickInterval
        clockTask = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard let self else { return }
                await self.onTick()
            }
        }
        let events = transport.events
        receiveTask = Task { [weak self] in
            for await event in events {
                guard let self else { return }
                await self.receive(event)
            }
        }
        let stream = outboxStream
        let transport = transport
        sendTask = Task {
            for await (to, bytes) in stream {
                if let to { try? await transport.send(bytes, to: to) } else { await transport.broadcast(bytes) }
            }
        }
        telemetry.started(head: head, engine: "\(Engine.certificateKind)", peers: peerState.count)
        publishHealth(force: true)
    }

    /// Stops the node: its tasks end, its transport closes, pending waits fail
    /// with `.nodeStopped` (4051) and the health stream ends with `.stopped`.
    /// Committed blocks stay in the store, which is closed (`LedgerStore.close()`): its lock is released, so the
    /// file can be opened again at once, and ``ledger`` stays readable. Idempotent.
    public func stop() async {
        guard !isStopped else { return }
        settleWrites()
        isStopped = true
        writer.finish()
        store.close()   // the writer is idle: release the store lock so the folder can be opened again at once
        clockTask?.cancel()
        receiveTask?.cancel()
        outbox.finish()
        await transport.close()
        sendTask?.cancel()
        finishStop()
        telemetry.stopped(head: head)
    }

    /// The synchronous end of ``stop()``: fail waiters, end the streams.
    private func finishStop() {
        for (_, list) in waiters {
            for w in list { w.continuation.resume(throwing: ChainError(.nodeStopped, "node \(id.rawValue) stopped")) }
        }
        waiters = [:]
        publishHealth(force: true)
        for (_, c) in healthContinuations { c.finish() }
        for (_, c) in commitContinuations { c.finish() }
        healthContinuations = [:]
        commitContinuations = [:]
    }

    // MARK: Transactions (K-T-1, K-T-2)

    /// Validates a transaction fully and admits it to the mempool, relaying it
    /// to peers; returns at once with its ID (see ``waitForReceipt(_:timeout:)``).
    /// - Parameter transaction: Required. Signed, for this chain, with the sender's next unused nonce.
    /// - Returns: The transaction ID.
    /// - Throws: `ChainError` mempool codes (4001–4011; `.mempoolFull` 4001 when full), `.nodeStopped` (4051).
    public func enqueue(_ transaction: Transaction) throws -> Digest {
        guard !isStopped else { throw ChainError(.nodeStopped, "node \(id.rawValue) is stopped") }
        let p = processor
        do {
            let txID = try mempool.add(transaction, now: .now(), nextNonce: { p.nextNonce(for: $0) })
            processor.markVerified([txID])
            if relays { relayBuffer.append(transaction) }
            return txID
        } catch {
            metrics.rejectedClientTransactions += 1
            telemetry.refused(code: error.code.rawValue, transaction: transaction,
                              hashAlgorithm: mempoolConfiguration.hashAlgorithm, source: .client)
            throw error
        }
    }

    /// ``enqueue(_:)`` for many transactions, their signatures verified on all
    /// cores before the batch reaches the node's actor, so the actor keeps
    /// building and committing blocks meanwhile.
    /// - Parameter transactions: Required. Any number.
    /// - Returns: One result per transaction, in order.
    /// - Note: Safe to call concurrently; each batch is admitted whole.
    public nonisolated func enqueue(_ transactions: [Transaction]) async -> [Result<Digest, ChainError>] {
        await admit(Mempool.prepare(transactions, configuration: mempoolConfiguration))
    }

    private func admit(_ prepared: PreparedTransactions) -> [Result<Digest, ChainError>] {
        let transactions = prepared.transactions
        guard !isStopped else { return transactions.map { _ in .failure(ChainError(.nodeStopped, "node \(id.rawValue) is stopped")) } }
        let p = processor
        let results = mempool.addBatch(prepared, now: .now(), nextNonce: { p.nextNonce(for: $0) })
        var ok = [Digest]()
        var refused = [UInt32: Int]()
        for (tx, r) in zip(transactions, results) {
            switch r {
            case .success(let d):
                ok.append(d)
                if relays { relayBuffer.append(tx) }
            case .failure(let e):
                metrics.rejectedClientTransactions += 1
                refused[e.code.rawValue, default: 0] += 1
            }
        }
        telemetry.refused(refused, source: .client)
        processor.markVerified(ok)
        return results
    }

    /// Submits a transaction and waits until it is committed (K-T-3).
    /// - Parameters:
    ///   - transaction: Required. As for ``enqueue(_:)->Digest``.
    ///   - timeout: Optional, default ``NodeConfiguration/commitTimeout``.
    /// - Returns: Its receipt, durable in the store when returned.
    /// - Throws: The errors of ``enqueue(_:)->Digest``, `.commitTimeout` (4052), `.nodeStopped` (4051).
    public func submit(_ transaction: Transaction, timeout: Duration? = nil) async throws -> Receipt {
        let txID = try enqueue(transaction)
        return try await waitForReceipt(txID, timeout: timeout)
    }

    /// Waits for the receipt of a transaction already submitted (to any node of the chain).
    /// - Parameters:
    ///   - transactionID: Required.
    ///   - timeout: Optional, default ``NodeConfiguration/commitTimeout``; measured in ticks of the node's clock.
    /// - Throws: `.commitTimeout` (4052), `.nodeStopped` (4051), `.storeFailure` (4053).
    public func waitForReceipt(_ transactionID: Digest, timeout: Duration? = nil) async throws -> Receipt {
        if let r = try receipt(for: transactionID) { return r }
        guard !isStopped else { throw ChainError(.nodeStopped, "node \(id.rawValue) is stopped") }
        let deadline = ContinuousClock.now + (timeout ?? configuration.commitTimeout)
        return try await withCheckedThrowingContinuation { c in
            waiters[transactionID, default: []].append((deadline, c))
        }
    }

    /// The receipt of a transaction once every block this node has decided is
    /// written: when the transaction is in a decided block whose append is
    /// still pending, waits for that append (at most `maximumPendingAppends`
    /// blocks); otherwise answers at once from the store, as
    /// ``receipt(for:)`` does. Nil therefore means: in no block this node has
    /// decided so far, so a caller that asks after a moment knows every block
    /// holding it will be decided after that moment.
    /// - Parameter transactionID: Required.
    /// - Throws: `.storeFailure` (4053), `.commitTimeout` (4052) when the pending append does not finish within
    ///   ``NodeConfiguration/commitTimeout``, `.nodeStopped` (4051).
    public func receiptOfDecided(_ transactionID: Digest) async throws -> Receipt? {
        let pending = pendingCommits.contains { $0.execution.receipts.contains { $0.transactionID == transactionID } }
        guard pending else { return try receipt(for: transactionID) }
        return try await waitForReceipt(transactionID, timeout: configuration.commitTimeout)
    }

    /// The committed receipt of a transaction, or nil when it is not committed (in the store; a decided
    /// block may still be being written, see ``receiptOfDecided(_:)``).
    /// - Throws: `.storeFailure` (4053).
    public func receipt(for transactionID: Digest) throws -> Receipt? {
        do { return try store.receipt(forTransaction: transactionID) } catch {
            throw ChainError(.storeFailure, "reading receipt: \(error.message)", details: ["cause": String(error.numericCode)])
        }
    }

    /// The sender's next nonce in the committed state (for ``SigningAccount``).
    public func nextNonce(for sender: PublicKey) -> UInt64 { processor.nextNonce(for: sender) }

    /// Whether admitted transactions go to peers: relaying is on and there is a peer to tell.
    private var relays: Bool { configuration.relayTransactions && !peerState.isEmpty }

    /// Pending transactions in the mempool.
    public var mempoolCount: Int { mempool.count }

    // MARK: Reads

    /// The store's head: height, hash and state root.
    public var head: LedgerStore.Head { store.head! }

    /// The node's store (for reads: blocks, receipts, state, proofs). Replaced by ``restore(fromBackup:)``.
    public var ledger: LedgerStore { store }

    /// The consensus engine's status.
    public var consensusStatus: ConsensusStatus { engine.status }

    /// A stream of every commit of this node from now on, for hosts and benchmarks.
    /// - Note: Keeps the newest 4,096 notices when the consumer is slow; ends when the node stops.
    public func commits() -> AsyncStream<CommitNotice> {
        let (stream, c) = AsyncStream.makeStream(of: CommitNotice.self, bufferingPolicy: .bufferingNewest(4_096))
        if isStopped { c.finish(); return stream }
        let key = UUID()
        commitContinuations[key] = c
        c.onTermination = { [weak self] _ in Task { await self?.dropCommitStream(key) } }
        return stream
    }

    private func dropCommitStream(_ key: UUID) { commitContinuations[key] = nil }

    // MARK: Events

    private func receive(_ event: TransportEvent) {
        guard !isStopped else { return }
        onInbound(NodeInbound<Engine.Message>.decode(event, mempool: mempoolConfiguration))
    }

    private func onInbound(_ inbound: NodeInbound<Engine.Message>) {
        switch inbound {
        case .connected(let peer):
            // Alive only once the peer's beacon (with its current height) arrives.
            peerState[peer, default: (false, 0, nil)].connected = true
            telemetry.peerConnected(peer)
            send(.status(height: head.height, head: head.hash), to: peer)
        case .disconnected(let peer):
            peerState[peer, default: (false, 0, nil)].connected = false
            telemetry.peerDisconnected(peer)
            if syncOutstanding?.peer == peer { syncOutstanding = nil }
        case .undecodable:
            metrics.invalidPeerMessages += 1
        case .consensus(let from, let message):
            noteSeen(from)
            guard let message else {
                metrics.invalidPeerMessages += 1
                return
            }
            drive(.receive(from: from, message))
        case .transactions(let from, let prepared):
            noteSeen(from)
            admitRelayed(prepared)
        case .other(let from, let message):
            noteSeen(from)
            handle(message, from: from)
        }
    }

    private func noteSeen(_ peer: NodeID) {
        peerState[peer, default: (true, 0, nil)].lastSeen = tickCount
        peerState[peer]?.connected = true
    }

    private func admitRelayed(_ prepared: PreparedTransactions) {
        let p = processor
        let results = mempool.addBatch(prepared, now: .now(), nextNonce: { p.nextNonce(for: $0) })
        var ok = [Digest]()
        var refused = [UInt32: Int]()
        for r in results {
            switch r {
            case .success(let d): ok.append(d)
            case .failure(let e):
                if [.invalidSignature, .wrongChain, .transactionTooLarge, .transactionExpired].contains(e.code) {
                    metrics.rejectedPeerTransactions += 1
                    refused[e.code.rawValue, default: 0] += 1
                }
            }
        }
        telemetry.refused(refused, source: .peer)
        processor.markVerified(ok)
    }

    private func handle(_ message: NodeMessage, from: NodeID) {
        switch message {
        case .consensus, .transactions:
            break   // NodeInbound routes these to drive(_:) and admitRelayed(_:)
        case .status(let height, _):
            peerState[from, default: (true, 0, nil)].height = height
            maybeSync()
        case .syncRequest(let fromHeight, let count):
            let top = head.height
            guard fromHeight <= top, fromHeight.rawValue >= 1 else {
                send(.syncResponse([]), to: from)
                return
            }
            let blocks = (try? store.committedBlocks(from: fromHeight, through: top, maximumCount: max(1, count))) ?? []
            send(.syncResponse(blocks), to: from)
        case .syncResponse(let blocks):
            applySync(blocks, from: from)
        }
    }

    private func onTick() {
        guard !isStopped else { return }
        tickCount += 1
        drive(.tick)
        if let held = heldRequest, pendingCommits.count < Self.maximumPendingAppends,
           mempool.count > 0 || tickCount - held.since >= configuration.emptyBlockIntervalTicks {
            heldRequest = nil
            if let block = build(held.request) { drive(.proposal(block)) }
        }
        if !relayBuffer.isEmpty {
            var batch = relayBuffer
            relayBuffer = []
            if byzantineTransactions {
                for i in batch.indices { batch[i].payload.body += [0xEE] }   // signatures no longer verify
            }
            for chunk in stride(from: 0, to: batch.count, by: 2_000) {
                broadcast(.transactions(Array(batch[chunk..<min(batch.count, chunk + 2_000)])))
            }
        }
        let now = ContinuousClock.now
        if !waiters.isEmpty, tickCount % 10 == 0 { expireWaiters(now) }
        if tickCount % configuration.statusIntervalTicks == 0 {
            broadcast(.status(height: head.height, head: head.hash))
            _ = mempool.evictExpired(now: .now())
            maybeSync()
            runBackups()
            telemetry.sample(mempool: mempool.count, peersAlive: alivePeers().count)
        }
        if tickCount % configuration.reconnectIntervalTicks == 0 { reconnectDownPeers() }
        publishHealth(force: false)
    }

    private func expireWaiters(_ now: ContinuousClock.Instant) {
        for (txID, list) in waiters {
            var keep = list
            keep.removeAll { w in
                guard w.deadline <= now else { return false }
                w.continuation.resume(throwing: ChainError(.commitTimeout, "transaction \(txID.hex.prefix(16)) not committed in time",
                                                           details: ["transaction": txID.hex]))
                return true
            }
            waiters[txID] = keep.isEmpty ? nil : keep
        }
    }

    // MARK: Driving the engine

    private func drive(_ first: ConsensusInput<Engine.Message>) {
        var queue = [first]
        var k = 0
        while k < queue.count, !isStopped {
            let input = queue[k]
            k += 1
            let effects = engine.step(input)
            metrics.consensusRejections += effects.rejections.count
            if let status = effects.status { telemetry.observe(status) }
            for rollback in effects.rollbacks { applyRollback(rollback) }
            for c in effects.commits { commit(c) }
            if let state = effects.persistentState {
                writer.submit(.saveConsensusState(store: store, bytes: state))
            }
            if !byzantineSilent {
                for m in effects.messages {
                    let bytes = NodeMessage.consensus(m.message.encoded).encoded
                    switch m.to {
                    case .node(let to): writer.emit(bytes, to: to)
                    case .broadcast: writer.emit(bytes, to: nil)
                    }
                }
            }
            for request in effects.proposalRequests {
                if mempool.count == 0 || pendingCommits.count >= Self.maximumPendingAppends {
                    heldRequest = (request, tickCount)
                } else if let block = build(request) {
                    queue.append(.proposal(block))
                }
            }
        }
    }

    private func build(_ request: ProposalRequest) -> Block? {
        let candidates = mempool.proposalWithIDs(maxCount: request.maximumTransactions, maxBytes: configuration.maximumBlockBytes)
        let timestamp = Timestamp(millisecondsSince1970: max(Timestamp.now().rawValue, request.parent.timestamp.rawValue + 1))
        do {
            return try processor.build(request, candidates: candidates.transactions, ids: candidates.ids, key: configuration.signingKey,
                                       timestamp: timestamp)
        } catch {
            if (1500..<1600).contains(error.numericCode) { noteStoreError(error) }
            return nil
        }
    }

    /// Commits one block the engine (or sync) decided: execute (or reuse the
    /// execution), take its transactions out of the mempool, and queue its
    /// append (block, receipts, state changes and certificate in one SQLite
    /// transaction) on the writer; ``collectWrites()`` hands out the receipts
    /// once it is written.
    @discardableResult
    private func commit(_ c: CommittedBlock) -> Bool {
        let top = tip
        if c.height <= top.height {
            if c.height <= head.height, let stored = try? store.blockHash(atHeight: c.height), stored != c.hash {
                noteStoreError(LedgerError(.storeCorrupted, "commit conflict at height \(c.height)"), code: .commitConflict)
            }
            return false
        }
        guard c.height == top.height.next, !writeFailed else {
            maybeSync(force: true)
            return false
        }
        do {
            let e = try processor.executionForCommit(c.block, parent: tipHeader)
            processor.willCommit(e)
            // The execution's tree update starts from its parent's root, the tip's; the store checks it does.
            writer.submit(.append(store: store, block: c.block, receipts: e.receipts, changes: e.changes,
                                  transition: e.transition, certificate: c.certificate))
            pendingCommits.append((c, e))
            tip = LedgerStore.Head(height: c.height, hash: c.hash, stateRoot: e.stateRoot)
            tipHeader = c.block.header
            _ = mempool.removeCommitted(c.block.transactions)
            lastCommitTick = tickCount
            return true
        } catch {
            noteStoreError(error, code: (1500..<1600).contains(error.numericCode) ? .storeFailure : .executionFailed)
            maybeSync(force: true)
            return false
        }
    }

    /// Takes the writer's outcomes: for each block written, its receipts go
    /// to their waiters and observers; after a failed append the node drops
    /// the decided blocks above the store's head (their transactions return
    /// to the mempool) and restarts its engine from the store. Then builds a
    /// held proposal if the pipeline has room again.
    private func collectWrites(settling: Bool = false) {
        for outcome in writer.takeOutcomes() {
            switch outcome {
            case .appended(let height):
                guard let first = pendingCommits.first, first.block.height == height else { continue }
                pendingCommits.removeFirst()
                didWrite(first.block, first.execution)
            case .appendFailed(let height, let error):
                telemetry.appendFailed(height: height, error: error)
                noteStoreError(error)
                writeFailed = true
                if let i = pendingCommits.firstIndex(where: { $0.block.height == height }) {
                    let failed = pendingCommits.remove(at: i)
                    _ = mempool.reinsert(failed.block.block.transactions, now: .now())
                }
            case .stateSaveFailed(let error):
                noteStoreError(error)
            }
        }
        guard !settling else { return }
        if writeFailed, pendingCommits.isEmpty, writer.pendingAppends == 0 {
            restartEngine()
            maybeSync(force: true)
        }
        guard !isStopped, let held = heldRequest, pendingCommits.count < Self.maximumPendingAppends, mempool.count > 0 else { return }
        heldRequest = nil
        if let block = build(held.request) { drive(.proposal(block)) }
    }

    /// Waits for the writer to finish every queued job and takes the outcomes.
    private func settleWrites() {
        writer.waitUntilIdle()
        collectWrites(settling: true)
    }

    private func didWrite(_ c: CommittedBlock, _ e: ExecutedBlock) {
        let ids = e.receipts.map(\.transactionID)
        processor.didCommit(e, transactionIDs: ids)
        metrics.committedBlocks += 1
        metrics.committedTransactions += ids.count
        telemetry.committed(height: c.height, hash: c.hash, transactions: ids.count, blockTimestamp: c.block.header.timestamp,
                            mempool: mempool.count)
        storeErrorSinceCommit = false
        for r in e.receipts {
            if let list = waiters.removeValue(forKey: r.transactionID) {
                for w in list { w.continuation.resume(returning: r) }
            }
        }
        if !commitContinuations.isEmpty {
            let notice = CommitNotice(height: c.height, blockHash: c.hash, transactionIDs: ids, receipts: e.receipts,
                                      committedAt: .now)
            for (_, cont) in commitContinuations { cont.yield(notice) }
        }
    }

    /// Takes the store's head as the tip (after a rollback, a restore or a failed write). The writer must be idle.
    private func resetTip() {
        if let t = try? Self.readTip(store) { (tip, tipHeader) = t }
    }

    private func applyRollback(_ rollback: Rollback) {
        settleWrites()
        guard rollback.height < head.height else { return }
        do {
            let undone = try store.rollback(toHeight: rollback.height)
            processor.reset()
            _ = mempool.reinsert(undone, now: .now())
        } catch {
            noteStoreError(error)
        }
        resetTip()
    }

    private func noteStoreError(_ error: LedgerError, code: ChainError.Code = .storeFailure) {
        metrics.storeErrors += 1
        storeErrorSinceCommit = true
        lastStoreError = "[\(code.rawValue)] \(error.message)"
        telemetry.storeError(error, code: code.rawValue)
    }

    private func send(_ message: NodeMessage, to peer: NodeID) { writer.emit(message.encoded, to: peer) }
    private func broadcast(_ message: NodeMessage) { writer.emit(message.encoded, to: nil) }

    // MARK: Sync (catch-up) and recovery (K-R-2)

    private func maybeSync(force: Bool = false) {
        guard !isStopped else { return }
        if let o = syncOutstanding, tickCount - o.sentAt < configuration.syncRetryTicks { return }
        let mine = tip.height
        guard let best = alivePeers().max(by: { ($0.height, $1.node) < ($1.height, $0.node) }), best.height > mine else { return }
        let lag = best.height.rawValue - mine.rawValue
        guard force || lag >= configuration.syncLagBlocks || tickCount - lastCommitTick >= configuration.syncStallTicks else { return }
        requestSync(from: best.node)
    }

    private func requestSync(from peer: NodeID) {
        syncOutstanding = (peer, tickCount)
        metrics.syncRequestsSent += 1
        telemetry.syncRequested(from: peer, height: tip.height.next, count: configuration.syncBatchBlocks)
        send(.syncRequest(from: tip.height.next, count: configuration.syncBatchBlocks), to: peer)
    }

    /// Validates every block of a sync batch (K-V-1..4, certificate,
    /// re-execution) and applies the valid prefix; restarts the engine from
    /// the store when anything was applied.
    private func applySync(_ blocks: [CommittedBlock], from peer: NodeID) {
        if syncOutstanding?.peer == peer { syncOutstanding = nil }
        var applied = 0
        for c in blocks where c.height > tip.height {
            guard c.height == tip.height.next else { break }
            let set = configuration.schedule.config(atHeight: c.height).validators
                ?? (try? ValidatorSet([Validator(id: id, publicKey: configuration.signingKey.publicKey)]))
            guard let set else { break }
            do {
                try c.certificate.verify(block: c.block, validators: set, hashAlgorithm: configuration.hashAlgorithm)
            } catch {
                metrics.syncBlocksRejected += 1
                telemetry.syncRejected(from: peer, height: c.height, reason: "certificate: \(error.message)")
                break
            }
            guard commit(c) else {
                metrics.syncBlocksRejected += 1
                telemetry.syncRejected(from: peer, height: c.height, reason: "not committed (see the store or execution error)")
                break
            }
            applied += 1
        }
        guard applied > 0 else { return }
        metrics.syncBlocksApplied += applied
        telemetry.syncApplied(applied, from: peer, height: tip.height)
        restartEngine()
        if blocks.count >= configuration.syncBatchBlocks { requestSync(from: peer) }
    }

    /// Rebuilds the engine from the store (after sync, rollback, restore or a failed write), once
    /// every pending write is done; after a failed write the decided blocks above the store's head
    /// are dropped (their transactions went back to the mempool) and every execution is forgotten.
    private func restartEngine() {
        settleWrites()
        if writeFailed {
            writeFailed = false
            processor.reset(executions: true)
        }
        resetTip()
        do {
            engine = try Self.makeEngine(context: context, store: store)
            metrics.engineRestarts += 1
            heldRequest = nil
            telemetry.engineRestarted(height: tip.height)
        } catch {
            lastStoreError = error.description
            metrics.storeErrors += 1
            telemetry.engineRestartFailed(error)
        }
    }

    private func reconnectDownPeers() {
        for (peer, s) in peerState.sorted(by: { $0.key < $1.key }) where !s.connected {
            metrics.reconnectAttempts += 1
            send(.status(height: head.height, head: head.hash), to: peer)
        }
    }

    private func runBackups() {
        guard let backups else { return }
        do {
            if let taken = try backups.runIfDue() {
                metrics.backupsTaken += 1
                telemetry.backupTaken(taken.path)
            }
        } catch {
            noteStoreError(error)
        }
    }

    private func alivePeers() -> [PeerHealth] {
        peerState.keys.sorted().map { peer in
            let s = peerState[peer]!
            let since = s.lastSeen.map { tickCount - $0 }
            let alive = s.connected && since.map { $0 <= configuration.peerTimeoutTicks } == true
            return PeerHealth(node: peer, isAlive: alive, height: s.height, ticksSinceSeen: since)
        }.filter(\.isAlive)
    }

    // MARK: Manual recovery (K-R-2, K-R-3)

    /// Fetches missing blocks from a peer (or the best alive peer) until this
    /// node reaches the height the peer last announced (its beacons, every
    /// ``NodeConfiguration/statusIntervalTicks``, keep that figure current).
    /// - Parameters:
    ///   - peer: Optional, default the alive peer with the highest announced height.
    ///   - timeout: Optional, default 30 s.
    /// - Returns: The committed height reached.
    /// - Throws: `ChainError` `.noSyncPeer` (4102), `.syncTimeout` (4103), `.nodeStopped` (4051).
    public func resync(from peer: NodeID? = nil, timeout: Duration = .seconds(30)) async throws -> Height {
        guard !isStopped else { throw ChainError(.nodeStopped, "node \(id.rawValue) is stopped") }
        let deadline = ContinuousClock.now + timeout
        var chosen: PeerHealth?
        // A link that just came back needs a beacon exchange before the peer counts as alive.
        while true {
            let alive = alivePeers()
            chosen = peer.map { p in alive.first { $0.node == p } } ?? alive.max { $0.height < $1.height }
            if chosen != nil || ContinuousClock.now + .milliseconds(1_000) >= deadline || ContinuousClock.now - (deadline - timeout) > .seconds(1) { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        guard let source = chosen else {
            throw ChainError(.noSyncPeer, peer.map { "peer \($0.rawValue) is not connected" } ?? "no connected peer")
        }
        requestSync(from: source.node)
        // The target follows the peer's beacons while the resync runs; the peer's answer to the request is
        // awaited too, since the height known for a link that just came back may be the one from before it broke.
        var target: Height { max(source.height, peerState[source.node]?.height ?? 0) }
        while head.height < target || syncOutstanding?.peer == source.node {
            guard !isStopped else { throw ChainError(.nodeStopped, "node \(id.rawValue) is stopped") }
            guard ContinuousClock.now < deadline else {
                throw ChainError(.syncTimeout, "resync reached height \(head.height), target \(target)",
                                 details: ["height": head.height.description, "target": target.description])
            }
            try await Task.sleep(for: .milliseconds(5))
            if syncOutstanding == nil && head.height < target { requestSync(from: source.node) }
        }
        return head.height
    }

    /// Rolls the chain back to `height` (K-R-3): blocks above it are removed
    /// from the store, their transactions return to the mempool, and the
    /// engine restarts from the store (peers' blocks bring it forward again
    /// unless they are rolled back too).
    /// - Parameter height: Required. `0...head.height`.
    /// - Returns: The undone transactions, in chain order.
    /// - Throws: `.rollbackHeightInvalid` (4104), `.storeFailure` (4053), `.nodeStopped` (4051).
    public func rollback(toHeight height: Height) throws -> [Transaction] {
        guard !isStopped else { throw ChainError(.nodeStopped, "node \(id.rawValue) is stopped") }
        settleWrites()
        guard height <= head.height else {
            throw ChainError(.rollbackHeightInvalid, "rollback height \(height) is above the head \(head.height)",
                             details: ["height": height.description, "head": head.height.description])
        }
        let undone: [Transaction]
        do { undone = try store.rollback(toHeight: height) } catch {
            throw ChainError(.storeFailure, "rollback: \(error.message)", details: ["cause": String(error.numericCode)])
        }
        processor.reset(executions: true)
        let p = processor
        _ = mempool.reinsert(undone, now: .now())
        _ = p
        processor.markVerified(undone.map { $0.id(using: configuration.hashAlgorithm) })
        restartEngine()
        lastCommitTick = tickCount
        return undone
    }

    /// Replaces the store with a backup (K-R-2, K-R-4): the backup is verified,
    /// copied into place, and the engine restarts from it; the node then
    /// catches up from its peers.
    /// - Parameter path: Required. A file written by a backup (`BackupScheduler` or `LedgerStore.backup(to:pagesPerStep:)`).
    /// - Returns: The restored head height.
    /// - Throws: `.restoreFailed` (4105) (the store is then reopened unchanged), `.genesisMismatch` (4057), `.nodeStopped` (4051).
    public func restore(fromBackup path: String) async throws -> Height {
        guard !isStopped else { throw ChainError(.nodeStopped, "node \(id.rawValue) is stopped") }
        do { try LedgerStore.verifyBackup(at: path) } catch {
            throw ChainError(.restoreFailed, "backup \(path): \(error.message)", details: ["cause": String(error.numericCode)])
        }
        settleWrites()
        // Release every handle on the store file before replacing it; closing releases the store lock even
        // while others (a record service) still hold the old handle for reads.
        store.close()
        let placeholder = try LedgerStore.inMemory()
        processor.replaceStore(placeholder)
        backups = nil
        store = placeholder
        var failure: LedgerError?
        do { try LedgerStore.restore(backup: path, to: configuration.storePath) } catch { failure = error }
        let reopened = try Self.openStore(configuration)
        store = reopened
        processor.replaceStore(reopened)
        processor.reset(executions: true)
        backups = configuration.backupSchedule.map { BackupScheduler(store: reopened, schedule: $0) }
        restartEngine()
        lastCommitTick = tickCount
        if let failure {
            throw ChainError(.restoreFailed, "restore from \(path): \(failure.message)", details: ["cause": String(failure.numericCode)])
        }
        telemetry.restored(height: head.height)
        return head.height
    }

    // MARK: Fault injection (for Cluster tests)

    /// Makes this node misbehave (a Byzantine node, for fault tests): propose blocks with a forged
    /// transaction, relay transactions with broken signatures, or stay silent in consensus.
    public func setByzantine(forgeProposals: Bool = false, invalidTransactions: Bool = false, silent: Bool = false) {
        processor.setForgeProposals(forgeProposals)
        byzantineTransactions = invalidTransactions
        byzantineSilent = silent
    }

    // MARK: Health (K-R-1)

    /// The node's current health.
    public var health: NodeHealth { currentHealth() }

    /// A stream of health snapshots: the current one at once, then each change.
    /// - Note: Keeps the newest 64 when the consumer is slow; ends when the node stops.
    public func healthUpdates() -> AsyncStream<NodeHealth> {
        let (stream, c) = AsyncStream.makeStream(of: NodeHealth.self, bufferingPolicy: .bufferingNewest(64))
        c.yield(currentHealth())
        if isStopped { c.finish(); return stream }
        let key = UUID()
        healthContinuations[key] = c
        c.onTermination = { [weak self] _ in Task { await self?.dropHealthStream(key) } }
        return stream
    }

    private func dropHealthStream(_ key: UUID) { healthContinuations[key] = nil }

    private func currentHealth() -> NodeHealth {
        let peers = peerState.keys.sorted().map { peer -> PeerHealth in
            let s = peerState[peer]!
            let since = s.lastSeen.map { tickCount - $0 }
            return PeerHealth(node: peer, isAlive: s.connected && since.map { $0 <= configuration.peerTimeoutTicks } == true,
                              height: s.height, ticksSinceSeen: since)
        }
        let alive = peers.filter(\.isAlive)
        let best = alive.map(\.height).max() ?? 0
        let mine = head.height
        let state: NodeHealth.State
        if isStopped {
            state = .stopped
        } else if !peers.isEmpty && alive.isEmpty {
            state = .isolated
        } else if best > mine && (syncOutstanding != nil || best.rawValue - mine.rawValue >= configuration.syncLagBlocks) {
            state = .syncing
        } else if storeErrorSinceCommit || (alive.count + 1) * 2 <= peers.count + 1 {
            state = .degraded
        } else {
            state = .healthy
        }
        var m = metrics
        m.rejectedProposals = processor.proposalRejections
        metrics = m
        return NodeHealth(node: id, state: state, committedHeight: mine, bestPeerHeight: best, peers: peers,
                          storeErrors: metrics.storeErrors, lastStoreError: lastStoreError, consensus: engine.status,
                          mempoolCount: mempool.count)
    }

    private func publishHealth(force: Bool) {
        guard force || !healthContinuations.isEmpty else { return }
        var h = currentHealth()
        // Peers' tick counters change every tick; publish on changes of substance.
        func essence(_ x: NodeHealth?) -> NodeHealth? {
            guard var x else { return nil }
            x.peers = x.peers.map { PeerHealth(node: $0.node, isAlive: $0.isAlive, height: $0.height, ticksSinceSeen: nil) }
            return x
        }
        guard force || essence(h) != essence(lastHealth) else { return }
        lastHealth = h
        h.mempoolCount = mempool.count
        for (_, c) in healthContinuations { c.yield(h) }
    }
}

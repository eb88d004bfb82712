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
    private nonisolated let clock: @Sendable () -> Timestamp
    /// The node's clock: the wall clock, or on simulated time the simulated time (which starts at the wall
    /// clock and stays at most 5 minutes ahead of it). Block timestamps use it; so does a host's deadline
    /// for its transactions.
    public nonisolated var now: Timestamp { clock() }

    /// The protocol logic (``NodeCore``) and the carrying out of its actions; the actor adds the clock,
    /// the transport, the writer's thread, receipt waiters and streams.
    private let driver: NodeDriver<Engine>
    private var store: LedgerStore { driver.store }
    private var processor: BlockProcessor { driver.processor }
    private let transport: any Transport
    private var backups: BackupScheduler?

    private var clockTask: Task<Void, Never>?
    private var receiveTask: Task<Void, Never>?
    private var sendTask: Task<Void, Never>?
    private let outbox: AsyncStream<(NodeID?, [UInt8])>.Continuation
    private let outboxStream: AsyncStream<(NodeID?, [UInt8])>
    /// The writer's thread (real time); nil on simulated time, where writes run inline (``simulatedWriter``).
    private let commitWriter: CommitWriter?
    /// On simulated time (a ``Cluster`` with `ClusterClock.simulated`): the clock, the inline writer and
    /// the messages sent since the cluster last took them.
    private let simulation: (clock: SimulatedClock, writer: SimulatedWriter, outbound: OutboundBuffer)?

    /// Receipt waiters with their deadlines in ticks of this node's clock.
    private var waiters: [Digest: [(deadline: UInt64, continuation: CheckedContinuation<Receipt, any Error>)]] = [:]
    /// Callers waiting for the driver to be quiescent (no blocked action, no queued write).
    private var quiescenceWaiters: [CheckedContinuation<Void, Never>] = []
    private var isStopped = false
    private var started = false
    /// On simulated time without a cluster: the node advances its own clock (``simulatedSolo(configuration:transport:executors:)``).
    private let ticksItself: Bool
    private var healthContinuations: [UUID: AsyncStream<NodeHealth>.Continuation] = [:]
    private var commitContinuations: [UUID: AsyncStream<CommitNotice>.Continuation] = [:]
    private var lastHealth: NodeHealth?
    /// Counters of the node's work.
    public var metrics: NodeMetrics { driver.core.metrics }
    private var telemetry: NodeTelemetry { driver.core.telemetry }

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
        try await self.init(configuration: configuration, transport: transport, executors: executors, simulatedClock: nil)
    }

    /// A node on simulated time when `simulatedClock` is given: no clock, receive or send task; the cluster
    /// ticks it, hands it messages and takes what it sends (``simulatedTick()``, ``simulatedDeliver(from:bytes:)``,
    /// ``takeOutbound()``), and its writes run inline.
    init(configuration: NodeConfiguration, transport: any Transport, executors: [any TransactionExecutor],
         simulatedClock: SimulatedClock?, ticksItself: Bool = false) async throws {
        try configuration.validate()
        self.ticksItself = ticksItself && simulatedClock != nil
        self.configuration = configuration
        id = configuration.node
        self.transport = transport
        let store = try Self.openStore(configuration)
        // Membership changes committed on chain join the configured schedule (N-D-3, N-D-4).
        var effective = configuration
        effective.schedule = try ChainSchedule.effective(configuration.schedule, store: store, logger: configuration.logger)
        let chainID = configuration.genesis.header.chainID
        let processor = BlockProcessor(store: store, chainID: chainID, hashAlgorithm: configuration.hashAlgorithm,
                                       maximumClockDriftMillis: configuration.maximumClockDriftMillis, executors: executors,
                                       genesisProducer: configuration.genesis.header.producer,
                                       consensusEngine: configuration.schedule.engine.rawValue,
                                       clock: { simulatedClock.map { $0.timestamp(skew: 0) } ?? .now() }, logger: configuration.logger)
        let pool = try Mempool(configuration: configuration.mempool
                               ?? MempoolConfiguration(chainID: chainID, hashAlgorithm: configuration.hashAlgorithm))
        mempoolConfiguration = pool.configuration
        let p = processor
        let context = ConsensusContext(node: configuration.node, signingKey: configuration.signingKey, genesis: configuration.genesis,
                                       chainID: chainID, hashAlgorithm: configuration.hashAlgorithm, schedule: effective.schedule,
                                       proposalValidator: .deferred, seed: configuration.seed,
                                       storage: StoreConsensusStorage(store: store, logger: configuration.logger))
        let engine = try Self.makeEngine(context: context, store: store)
        backups = configuration.backupSchedule.map { BackupScheduler(store: store, schedule: $0) }
        (outboxStream, outbox) = AsyncStream.makeStream(of: (NodeID?, [UInt8]).self, bufferingPolicy: .unbounded)
        guard let head = store.head else { throw ChainError(.storeFailure, "the store at \(configuration.storePath) is empty") }
        let core = NodeCore(configuration: effective, engine: engine, mempool: pool, head: head, now: .now(),
                            nextNonce: { p.nextNonce(for: $0) }, refusal: { p.admissionRefusal(for: $0) })
        let out = outbox
        let writer: any NodeWriter
        let clock: @Sendable () -> Timestamp
        if let simulatedClock {
            let outbound = OutboundBuffer()
            let w = SimulatedWriter(clock: simulatedClock) { peer, bytes in outbound.items.append((peer, bytes)) }
            w.appendTimer = core.telemetry.appendTime
            simulation = (simulatedClock, w, outbound)
            commitWriter = nil
            writer = w
            // Chain time is simulated time (block timestamps, deadlines), started at the wall clock and kept
            // within `SimulatedClock.maximumLeadMillis` ahead of it (see `pace`).
            clock = { simulatedClock.timestamp(skew: 0) }
        } else {
            let w = CommitWriter(appendTimer: core.telemetry.appendTime) { peer, bytes in out.yield((peer, bytes)) }
            simulation = nil
            commitWriter = w
            writer = w
            clock = { .now() }
        }
        self.clock = clock
        driver = try NodeDriver(core: core, processor: processor, store: store, writer: writer, signingKey: configuration.signingKey,
                                clock: clock,
                                makeEngine: { store throws(ChainError) in
                                    var context = context
                                    context.storage = StoreConsensusStorage(store: store, logger: configuration.logger)
                                    context.schedule = try ChainSchedule.effective(configuration.schedule, store: store, logger: configuration.logger)
                                    return try Self.makeEngine(context: context, store: store)
                                })
        if simulatedClock == nil {
            // Proposed blocks are validated (and executed) off the actor, on any core.
            driver.validateElsewhere = { [weak self] request in
                Task.detached {
                    let error = p.validate(request.block, parent: request.parent)
                    await self?.validated(request, error)
                }
            }
        }
    }

    /// - Throws: `ChainError` (4053, 4057), or `LedgerError` `.storeLocked` (1520) as it is.
    private static func openStore(_ configuration: NodeConfiguration) throws -> LedgerStore {
        let store: LedgerStore
        var storeConfiguration = LedgerStore.Configuration(hashAlgorithm: configuration.hashAlgorithm, durability: configuration.storeDurability,
                                                           quickCheckBlocks: configuration.storeBlocksCheckedOnOpen,
                                                           sqliteQuickCheckOnOpen: configuration.storeFileCheckOnOpen)
        storeConfiguration.stateRetention = configuration.stateRetention
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

    deinit { commitWriter?.finish() }

    static func makeEngine(context: ConsensusContext, store: LedgerStore) throws(ChainError) -> Engine {
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
        guard clockTask == nil, !isStopped, !started else { return }
        started = true
        if let simulation {
            telemetry.started(head: head, engine: "\(Engine.certificateKind)", peers: driver.core.peerCount)
            publishHealth(force: true)
            if ticksItself {
                let clock = simulation.clock
                clockTask = Task { [weak self] in
                    while !Task.isCancelled {
                        clock.advance()
                        guard let busy = await self?.simulatedTick(), !Task.isCancelled else { return }
                        await Self.pace(busy: busy, clock: clock)
                    }
                }
            }
            return
        }
        commitWriter?.setListener { [weak self] in
            Task { await self?.writesProgressed() }
        }
        let interval = configuration.tickInterval
        clockTask = Task { [weak self] in
            while !Task.isCancelled {
                do { try await Task.sleep(for: interval) } catch { return }   // cancelled: the node stopped
                guard let self else { return }
                await self.onTick()
            }
        }
        let events = transport.events
        let mempool = mempoolConfiguration
        receiveTask = Task { [weak self] in
            for await event in events {
                // Decoding (and relayed transactions' signature checks) happens here, off the actor.
                let inbound = await NodeInbound<Engine.Message>.decodeSuspending(event, mempool: mempool)
                guard let self else { return }
                await self.receive(inbound)
            }
        }
        let stream = outboxStream
        let transport = transport
        let logger = configuration.logger
        sendTask = Task {
            for await (to, bytes) in stream {
                do throws(NetError) {
                    if let to { try await transport.send(bytes, to: to) } else { try await transport.broadcast(bytes) }
                } catch where error.code == .messageTooLarge {
                    // Lost for every peer, every time it is sent: a node bug or a limit set too low, not the network.
                    logger.error("message too large to send", metadata: [
                        "peer": "\(to.map { String($0.rawValue) } ?? "all")", "code": "\(error.numericCode)", "bytes": "\(bytes.count)",
                    ])
                } catch {
                    // A message to a peer that is down is lost, as consensus and sync expect of the network.
                    logger.trace("send failed", metadata: ["peer": "\(to.map { String($0.rawValue) } ?? "all")", "code": "\(error.numericCode)"])
                }
            }
        }
        telemetry.started(head: head, engine: "\(Engine.certificateKind)", peers: driver.core.peerCount)
        publishHealth(force: true)
    }

    /// Stops the node: its tasks end, its transport closes, pending waits fail
    /// with `.nodeStopped` (4051) and the health stream ends with `.stopped`.
    /// Committed blocks stay in the store, which is closed (`LedgerStore.close()`) once every queued
    /// write is done: its lock is released, so the file can be opened again at once, and ``ledger``
    /// stays readable. Idempotent.
    public func stop() async {
        guard !isStopped else { return }
        isStopped = true
        clockTask?.cancel()
        receiveTask?.cancel()
        await quiescent()
        commitWriter?.finish()
        store.close()   // the writer is idle: release the store lock so the folder can be opened again at once
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

    /// Suspends (without blocking a thread) until no action waits for the writer and no write is queued.
    private func quiescent() async {
        if simulation != nil {
            flushSimulated()
            return
        }
        while !driver.isQuiescent {
            await withCheckedContinuation { quiescenceWaiters.append($0) }
            driver.writesProgressed()
        }
    }

    // MARK: Transactions (K-T-1, K-T-2)

    /// Validates a transaction fully and admits it to the mempool, relaying it
    /// to peers; returns at once with its ID (see ``waitForReceipt(_:timeout:)``).
    /// - Parameter transaction: Required. Signed, for this chain, with the sender's next unused nonce.
    /// - Returns: The transaction ID.
    /// - Throws: `ChainError` mempool codes (4001–4011; `.mempoolFull` 4001 when full), `.nodeStopped` (4051).
    public func enqueue(_ transaction: Transaction) throws -> Digest {
        guard !isStopped else { throw ChainError(.nodeStopped, "node \(id.rawValue) is stopped") }
        return try driver.admit(transaction)
    }

    /// ``enqueue(_:)`` for many transactions, their signatures verified on all
    /// cores before the batch reaches the node's actor, so the actor keeps
    /// building and committing blocks meanwhile.
    /// - Parameter transactions: Required. Any number.
    /// - Returns: One result per transaction, in order.
    /// - Note: Safe to call concurrently; each batch is admitted whole.
    public nonisolated func enqueue(_ transactions: [Transaction]) async -> [Result<Digest, ChainError>] {
        await admit(await Mempool.prepare(transactions, configuration: mempoolConfiguration))
    }

    private func admit(_ prepared: PreparedTransactions) -> [Result<Digest, ChainError>] {
        guard !isStopped else {
            return prepared.transactions.map { _ in .failure(ChainError(.nodeStopped, "node \(id.rawValue) is stopped")) }
        }
        return driver.admit(prepared)
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
        let deadline = driver.core.tickCount + ticks(timeout ?? configuration.commitTimeout)
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
        let pending = driver.pending.contains { $0.execution.receipts.contains { $0.transactionID == transactionID } }
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

    /// Pending transactions in the mempool.
    public var mempoolCount: Int { driver.core.mempool.count }

    // MARK: Reads

    /// The store's head: height, hash and state root.
    public var head: LedgerStore.Head { store.head! }

    /// The node's store (for reads: blocks, receipts, state, proofs). Replaced by ``restore(fromBackup:)``.
    public var ledger: LedgerStore { store }

    /// The consensus engine's status.
    public var consensusStatus: ConsensusStatus { driver.core.engine.status }

    /// The consensus schedule this node runs: its configured one with the membership changes committed on chain
    /// (`ConsensusSchedule.stateKey`) merged in, as of its last executed block.
    public var consensusSchedule: ConsensusSchedule { driver.core.schedule }

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

    private func receive(_ inbound: NodeInbound<Engine.Message>) {
        guard !isStopped else { return }
        driver.handle(.received(inbound, now: .now()))
        afterDriver()
    }

    private func validated(_ request: ValidationRequest, _ error: LedgerError?) {
        guard !isStopped else { return }
        driver.handle(.validated(request, error))
        afterDriver()
    }

    private func onTick() {
        guard !isStopped else { return }
        driver.handle(.tick(now: .now()))
        afterDriver()
        if !waiters.isEmpty, driver.core.tickCount % 10 == 0 { expireWaiters(driver.core.tickCount) }
        publishHealth(force: false)
    }

    // MARK: Simulated time (driven by a Cluster)

    /// A node on simulated time with no peers that ticks itself, as fast as the machine allows while it has
    /// work (a transaction in its mempool, a receipt awaited) and at the wall clock's pace otherwise.
    /// For hosts' tests of a single-node chain: every timeout counts ticks, so a busy machine slows the
    /// test down instead of failing it.
    package static func simulatedSolo(configuration: NodeConfiguration, transport: any Transport,
                                      executors: [any TransactionExecutor]) async throws -> Node {
        try await Node(configuration: configuration, transport: transport, executors: executors,
                       simulatedClock: .startingNow(tickInterval: configuration.tickInterval), ticksItself: true)
    }

    /// Between simulated ticks: a yield while there is work (and simulated time is less than
    /// `SimulatedClock.maximumLeadMillis` ahead of the wall clock), otherwise a tick's length of wall time,
    /// so an idle chain costs what it costs on real time.
    static func pace(busy: Bool, clock: SimulatedClock) async {
        if busy && clock.leadMillis < SimulatedClock.maximumLeadMillis {
            await Task.yield()
            return
        }
        let pause = Int64(clock.millisPerTick)
        do { try await Task.sleep(for: .milliseconds(pause)) } catch { return }   // cancelled: the caller's loop ends
    }

    /// One tick of simulated time: the core's tick, then every write it caused, run inline.
    /// - Returns: Whether the node has work (mempool, awaited receipts, writes); nil once it is stopped.
    @discardableResult
    func simulatedTick() -> Bool? {
        guard !isStopped, simulation != nil else { return nil }
        driver.handle(.tick(now: driver.now))
        flushSimulated()
        if !waiters.isEmpty { expireWaiters(driver.core.tickCount) }
        publishHealth(force: false)
        return driver.core.mempool.count > 0 || !waiters.isEmpty || driver.core.pendingAppends > 0 || driver.core.restarting
    }

    /// A message (or link event) from the simulated network.
    func simulatedDeliver(_ event: TransportEvent) {
        guard !isStopped, simulation != nil else { return }
        driver.handle(.received(NodeInbound<Engine.Message>.decode(event, mempool: mempoolConfiguration), now: driver.now))
        flushSimulated()
    }

    /// The messages sent since the last call (nil: broadcast), in order.
    func takeOutbound() -> [(NodeID?, [UInt8])] {
        guard let simulation else { return [] }
        defer { simulation.outbound.items = [] }
        return simulation.outbound.items
    }

    /// After an operator's call into the driver: on simulated time its writes run now.
    private func settle() {
        if simulation != nil { flushSimulated() } else { afterDriver() }
    }

    /// Runs the queued writes and feeds their outcomes back until nothing is left.
    private func flushSimulated() {
        guard let simulation else { return }
        repeat {
            simulation.writer.run()
            driver.writesProgressed()
        } while !simulation.writer.isIdle
        afterDriver()
    }

    /// The writer finished jobs: collect their outcomes and resume what waited for them.
    private func writesProgressed() {
        guard !isStopped || !quiescenceWaiters.isEmpty else { return }
        driver.writesProgressed()
        afterDriver()
    }

    /// Hands out receipts of written blocks, runs due housekeeping, wakes callers waiting for quiescence.
    private func afterDriver() {
        for (block, execution) in driver.takeDelivered() { didWrite(block, execution) }
        if driver.takeHousekeeping() { runBackups() }
        if !quiescenceWaiters.isEmpty {
            // Each waiter checks again, and waits for the writer's next report if need be.
            let w = quiescenceWaiters
            quiescenceWaiters = []
            for c in w { c.resume() }
        }
    }

    /// How many of this node's ticks `duration` is (at least one).
    private func ticks(_ duration: Duration) -> UInt64 {
        SimulatedClock.ticks(duration, millisPerTick: SimulatedClock.millis(configuration.tickInterval))
    }

    private func expireWaiters(_ now: UInt64) {
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

    private func didWrite(_ c: CommittedBlock, _ e: ExecutedBlock) {
        for r in e.receipts {
            if let list = waiters.removeValue(forKey: r.transactionID) {
                for w in list { w.continuation.resume(returning: r) }
            }
        }
        if !commitContinuations.isEmpty {
            let notice = CommitNotice(height: c.height, blockHash: c.hash, transactionIDs: e.receipts.map(\.transactionID),
                                      receipts: e.receipts, committedAt: .now)
            for (_, cont) in commitContinuations { cont.yield(notice) }
        }
    }

    private func runBackups() {
        guard let backups else { return }
        do {
            if let taken = try backups.runIfDue() {
                driver.noteBackup()
                telemetry.backupTaken(taken.path)
            }
        } catch {
            driver.noteStoreError(error)
        }
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
            let alive = driver.core.alivePeers()
            chosen = peer.map { p in alive.first { $0.node == p } } ?? alive.max { $0.height < $1.height }
            if chosen != nil || ContinuousClock.now + .milliseconds(1_000) >= deadline || ContinuousClock.now - (deadline - timeout) > .seconds(1) { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        guard let source = chosen else {
            throw ChainError(.noSyncPeer, peer.map { "peer \($0.rawValue) is not connected" } ?? "no connected peer")
        }
        driver.requestSync(from: source.node)
        // The target follows the peer's beacons while the resync runs; the peer's answer to the request is
        // awaited too, since the height known for a link that just came back may be the one from before it broke.
        var target: Height { max(source.height, driver.core.announcedHeight(of: source.node) ?? 0) }
        while head.height < target || driver.core.syncOutstanding?.peer == source.node {
            guard !isStopped else { throw ChainError(.nodeStopped, "node \(id.rawValue) is stopped") }
            guard ContinuousClock.now < deadline else {
                throw ChainError(.syncTimeout, "resync reached height \(head.height), target \(target)",
                                 details: ["height": head.height.description, "target": target.description])
            }
            try await Task.sleep(for: .milliseconds(5))
            if driver.core.syncOutstanding == nil && head.height < target { driver.requestSync(from: source.node) }
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
    public func rollback(toHeight height: Height) async throws -> [Transaction] {
        guard !isStopped else { throw ChainError(.nodeStopped, "node \(id.rawValue) is stopped") }
        await quiescent()
        guard height <= head.height else {
            throw ChainError(.rollbackHeightInvalid, "rollback height \(height) is above the head \(head.height)",
                             details: ["height": height.description, "head": head.height.description])
        }
        let undone = try driver.rollback(toHeight: height)
        settle()
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
        await quiescent()
        // Release every handle on the store file before replacing it; closing releases the store lock even
        // while others (a record service) still hold the old handle for reads.
        store.close()
        backups = nil
        var failure: LedgerError?
        do { try LedgerStore.restore(backup: path, to: configuration.storePath) } catch { failure = error }
        let reopened = try Self.openStore(configuration)
        try driver.replaceStore(reopened)
        settle()
        backups = configuration.backupSchedule.map { BackupScheduler(store: reopened, schedule: $0) }
        if let failure {
            throw ChainError(.restoreFailed, "restore from \(path): \(failure.message)", details: ["cause": String(failure.numericCode)])
        }
        telemetry.restored(height: head.height)
        return head.height
    }

    // MARK: Fault injection (tests: `LedgerCoreTesting`'s `injectFaults`)

    /// Makes this node misbehave (a Byzantine node, for fault tests): propose blocks with a forged
    /// transaction, relay transactions with broken signatures, or stay silent in consensus. Package-only:
    /// a host linking the library cannot reach it; tests call `injectFaults` of `LedgerCoreTesting`.
    package func setByzantine(forgeProposals: Bool = false, invalidTransactions: Bool = false, silent: Bool = false) {
        driver.setByzantine(forgeProposals: forgeProposals, invalidTransactions: invalidTransactions, silent: silent)
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

    private func currentHealth() -> NodeHealth { driver.health(stopped: isStopped) }

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
        h.mempoolCount = driver.core.mempool.count
        for (_, c) in healthContinuations { c.yield(h) }
    }
}

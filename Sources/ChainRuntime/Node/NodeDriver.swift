import LedgerCore
import Net

/// Where a node's writes go and the messages queued behind them: a thread of
/// its own in a running ``Node`` (`CommitWriter`), a queue the simulator runs
/// on simulated time in the node simulator.
protocol NodeWriter: AnyObject {
    /// Queues a write.
    func submit(_ job: CommitWriter.Job)
    /// Sends now when nothing is queued, otherwise behind the queued writes.
    func emit(_ bytes: [UInt8], to peer: NodeID?)
    /// Whether every queued job is done.
    var isIdle: Bool { get }
    /// The outcomes since the last call, in order.
    func takeOutcomes() -> [CommitWriter.Outcome]
}

/// Carries out a ``NodeCore``'s actions against a store, a block processor
/// and a writer, and feeds their answers back: the part of a node that is the
/// same whether it runs on real threads (``Node``) or on simulated time.
///
/// Actions that need every queued write done first (a store rollback, an
/// engine restart) wait, without blocking, until the writer is idle: the
/// driver keeps them, and the events that arrive meanwhile, in order, and
/// resumes on ``writesProgressed()``.
///
/// - Note: Not thread-safe; its owner (the node's actor, or the simulator) calls it from one place.
final class NodeDriver<Engine: ConsensusEngine> {
    typealias Core = NodeCore<Engine>

    private(set) var core: Core
    let processor: BlockProcessor
    private(set) var store: LedgerStore
    private let writer: any NodeWriter
    private let clock: () -> Timestamp
    private let makeEngine: (LedgerStore) throws(ChainError) -> Engine
    private let signingKey: PrivateKey

    /// Decided blocks whose append is queued, oldest first.
    private(set) var pending: [(block: CommittedBlock, execution: ExecutedBlock)] = []
    /// Written blocks whose receipts are due (``NodeCore/Action/deliverReceipts(_:)``).
    private var written: [Height: (block: CommittedBlock, execution: ExecutedBlock)] = [:]
    /// The header the next decided block must extend.
    private var tipHeader: BlockHeader
    /// Actions waiting for the writer to be idle, in order.
    private var blocked: [Core.Action] = []
    /// Events that arrived while actions were blocked.
    private var parked: [Core.Event] = []
    /// Blocks whose receipts are out, for the owner to hand to waiters (``takeDelivered()``).
    private var delivered: [(block: CommittedBlock, execution: ExecutedBlock)] = []
    private var housekeepingDue = false
    /// Where ``NodeCore/Action/validate(_:)`` runs: nil validates inline (simulated time, where the
    /// answer must come in a replayable order); a running ``Node`` hands it to a task off its actor,
    /// which feeds ``NodeCore/Event/validated(_:_:)`` back.
    var validateElsewhere: ((ValidationRequest) -> Void)?

    /// - Parameters:
    ///   - core: The state machine, started from `store`.
    ///   - processor: Executes and validates blocks over `store`.
    ///   - store: The node's store (reads here; writes go through `writer`).
    ///   - writer: Carries out appends and state saves, and sends.
    ///   - signingKey: Signs the blocks this node builds.
    ///   - clock: The current time (wall or simulated).
    ///   - makeEngine: Builds the engine from a store (its head block and persisted state).
    /// - Throws: `ChainError` `.storeFailure` (4053) when the head cannot be read.
    init(core: Core, processor: BlockProcessor, store: LedgerStore, writer: any NodeWriter, signingKey: PrivateKey,
                 clock: @escaping () -> Timestamp, makeEngine: @escaping (LedgerStore) throws(ChainError) -> Engine) throws(ChainError) {
        self.core = core
        self.processor = processor
        self.store = store
        self.writer = writer
        self.signingKey = signingKey
        self.clock = clock
        self.makeEngine = makeEngine
        tipHeader = try Self.headHeader(store)
    }

    /// The store's head header.
    static func headHeader(_ store: LedgerStore) throws(ChainError) -> BlockHeader {
        do throws(LedgerError) {
            guard let head = store.head else { throw LedgerError(.heightNotFound, "the store is empty") }
            return try store.header(atHeight: head.height)
        } catch {
            throw ChainError(.storeFailure, "reading the head: \(error.message)", details: ["cause": String(error.numericCode)])
        }
    }

    /// No action waits and no write is queued.
    var isQuiescent: Bool { blocked.isEmpty && parked.isEmpty && writer.isIdle }

    /// One line on the driver's and core's state, for diagnosing a stalled node.
    var diagnostics: String {
        "stored=\(core.stored.height) tip=\(core.tipHeight) pendingAppends=\(core.pendingAppends) pending=\(pending.count) "
            + "restarting=\(core.restarting) blocked=\(blocked.count) parked=\(parked.count) writerIdle=\(writer.isIdle) "
            + "mempool=\(core.mempool.count) refusedProposals=\(processor.proposalRejections) "
            + "consensusRejections=\(core.metrics.consensusRejections) storeErrors=\(core.metrics.storeErrors) engine=\(core.engine.status)"
    }

    /// The current time of this driver's clock.
    var now: Timestamp { clock() }

    // MARK: Feeding the core

    /// Feeds one event to the core and carries out its actions (or keeps it behind blocked actions).
    func handle(_ event: Core.Event) {
        if !blocked.isEmpty {
            parked.append(event)
            return
        }
        perform(core.handle(event))
    }

    /// Admits prepared client transactions (see ``NodeCore/admit(_:now:)``).
    func admit(_ prepared: PreparedTransactions) -> [Result<Digest, ChainError>] {
        let results = core.admit(prepared, now: clock())
        processor.markVerified(results.compactMap { if case .success(let id) = $0 { id } else { nil } })
        return results
    }

    /// Admits one client transaction.
    /// - Throws: The mempool's codes (4001–4011).
    func admit(_ transaction: Transaction) throws(ChainError) -> Digest {
        let id = try core.admit(transaction, now: clock())
        processor.markVerified([id])
        return id
    }

    /// Asks `peer` for the blocks after the tip (a manual resync).
    func requestSync(from peer: NodeID) {
        if blocked.isEmpty { perform(core.requestSync(from: peer)) }
    }

    /// Makes this node misbehave (forged proposals, invalid relayed transactions, silence).
    func setByzantine(forgeProposals: Bool, invalidTransactions: Bool, silent: Bool) {
        processor.setForgeProposals(forgeProposals)
        core.setByzantine(invalidTransactions: invalidTransactions, silent: silent)
    }

    /// Counts a backup taken.
    func noteBackup() { core.noteBackup() }

    /// Records a store error found outside the core's actions (a failed backup).
    func noteStoreError(_ error: LedgerError) { core.noteStoreError(error) }

    /// The node's health.
    func health(stopped: Bool) -> NodeHealth {
        core.health(stopped: stopped, proposalRejections: processor.proposalRejections)
    }

    /// Takes the outcomes of finished writes, feeds them to the core, and resumes actions that
    /// waited for the writer to be idle. Call whenever the writer reports progress.
    func writesProgressed() {
        if blocked.isEmpty {
            perform(takeOutcomeActions())
        }
        // Blocked: the first blocked action takes the outcomes when the writer is idle (below).
        while !blocked.isEmpty, writer.isIdle {
            let actions = blocked
            blocked = []
            perform(actions)
            while blocked.isEmpty, !parked.isEmpty {
                perform(core.handle(parked.removeFirst()))
            }
        }
    }

    /// Feeds the writer's outcomes to the core; returns the actions they call for.
    private func takeOutcomeActions() -> [Core.Action] {
        var actions = [Core.Action]()
        for outcome in writer.takeOutcomes() {
            switch outcome {
            case .appended(let height):
                guard let first = pending.first, first.block.height == height else { continue }
                pending.removeFirst()
                written[height] = first
                let e = first.execution
                let head = LedgerStore.Head(height: height, hash: first.block.hash, stateRoot: e.stateRoot)
                actions += core.handle(.appended(head, transactions: e.receipts.count, blockTimestamp: first.block.block.header.timestamp))
            case .appendFailed(let height, let error):
                var transactions = [Transaction]()
                if let i = pending.firstIndex(where: { $0.block.height == height }) {
                    transactions = pending.remove(at: i).block.block.transactions
                }
                actions += core.handle(.appendFailed(height, error, transactions: transactions, now: clock()))
            case .stateSaveFailed(let error):
                actions += core.handle(.stateSaveFailed(error))
            }
        }
        return actions
    }

    /// Blocks whose receipts are out since the last call, in height order.
    func takeDelivered() -> [(block: CommittedBlock, execution: ExecutedBlock)] {
        defer { delivered = [] }
        return delivered
    }

    /// Whether periodic housekeeping (backups, gauges) is due; resets the flag.
    func takeHousekeeping() -> Bool {
        defer { housekeepingDue = false }
        return housekeepingDue
    }

    /// Replaces the store (a restore), once quiescent, and restarts the engine from it.
    func replaceStore(_ newStore: LedgerStore) throws(ChainError) {
        store = newStore
        processor.replaceStore(newStore)
        processor.reset(executions: true)
        tipHeader = try Self.headHeader(newStore)
        pending = []
        written = [:]
        if let head = newStore.head { handle(.storeReplaced(head: head)) }
    }

    /// Rolls the store back (an operator's rollback), once quiescent; the engine restarts from the store.
    /// - Throws: `.storeFailure` (4053).
    func rollback(toHeight height: Height) throws(ChainError) -> [Transaction] {
        let undone: [Transaction]
        do { undone = try store.rollback(toHeight: height) } catch {
            throw ChainError(.storeFailure, "rollback: \(error.message)", details: ["cause": String(error.numericCode)])
        }
        processor.reset(executions: true)
        processor.markVerified(undone.map { $0.id(using: core.configuration.hashAlgorithm) })
        tipHeader = try Self.headHeader(store)
        written = written.filter { $0.key <= height }
        if let head = store.head { handle(.rolledBack(head: head, undone: undone, now: clock(), manual: true)) }
        return undone
    }

    // MARK: Carrying out actions

    private func perform(_ actions: [Core.Action]) {
        var queue = actions[...]
        while let action = queue.popFirst() {
            if needsIdleWriter(action) {
                guard writer.isIdle else {
                    blocked = [action] + Array(queue)
                    return
                }
                // The writes just finished come first: their outcomes' actions run before this one.
                let earlier = takeOutcomeActions()
                if !earlier.isEmpty {
                    queue = (earlier + [action] + Array(queue))[...]
                    continue
                }
            }
            var follow = [Core.Action]()
            for event in carryOut(action) { follow += core.handle(event) }
            if !follow.isEmpty { queue = (follow + Array(queue))[...] }
        }
    }

    private func needsIdleWriter(_ action: Core.Action) -> Bool {
        switch action {
        case .rollback, .restartEngine: true
        default: false
        }
    }

    /// Carries out one action; returns the events that answer it.
    private func carryOut(_ action: Core.Action) -> [Core.Event] {
        switch action {
        case .send(let bytes, let to):
            writer.emit(bytes, to: to)
            return []
        case .commit(let c):
            do throws(LedgerError) {
                let e = try processor.executionForCommit(c.block, parent: tipHeader)
                processor.willCommit(e)
                // The execution's tree update starts from its parent's root, the tip's; the store checks it does.
                writer.submit(.append(store: store, block: c.block, receipts: e.receipts, changes: e.changes,
                                      transition: e.transition, certificate: c.certificate))
                pending.append((c, e))
                tipHeader = c.block.header
                // A membership change committed in this block: the engine learns it before it decides another block.
                if let bytes = ChainSchedule.written(in: e.changes) {
                    return [.commitQueued(c.height), .scheduleCommitted(bytes)]
                }
                return [.commitQueued(c.height)]
            } catch {
                return [.commitFailed(c.height, error)]
            }
        case .checkStored(let c):
            do throws(LedgerError) {
                if try store.blockHash(atHeight: c.height) != c.hash {
                    return [.storeError(LedgerError(.storeCorrupted, "commit conflict at height \(c.height)"), code: .commitConflict)]
                }
                return []
            } catch {
                return [.storeError(error, code: .storeFailure)]
            }
        case .saveState(let bytes):
            writer.submit(.saveConsensusState(store: store, bytes: bytes))
            return []
        case .build(let request, let candidates, let ids):
            let timestamp = Timestamp(millisecondsSince1970: max(clock().rawValue, request.parent.timestamp.rawValue + 1))
            do throws(LedgerError) {
                return [.built(try processor.build(request, candidates: candidates, ids: ids, key: signingKey, timestamp: timestamp))]
            } catch {
                return (1500..<1600).contains(error.numericCode) ? [.storeError(error, code: .storeFailure), .built(nil)] : [.built(nil)]
            }
        case .deliverReceipts(let height):
            guard let w = written.removeValue(forKey: height) else { return [] }
            processor.didCommit(w.execution, transactionIDs: w.execution.receipts.map(\.transactionID))
            delivered.append(w)
            return []
        case .serveSync(let from, let count, let to):
            guard let top = store.head?.height, from <= top, from.rawValue >= 1 else {
                writer.emit(NodeMessage.syncResponse([]).encoded, to: to)
                return []
            }
            do throws(LedgerError) {
                let blocks = try store.committedBlocks(from: from, through: top, maximumCount: count)
                writer.emit(NodeMessage.syncResponse(blocks).encoded, to: to)
                return []
            } catch {
                // Not an empty response (which says "no blocks from here on"): the peer learns that this store
                // failed and asks another peer. The error is logged with its code and counted as a store error.
                writer.emit(NodeMessage.syncFailed(from: from, code: error.numericCode).encoded, to: to)
                return [.storeError(error, code: .storeFailure)]
            }
        case .rollback(let height):
            do throws(LedgerError) {
                let undone = try store.rollback(toHeight: height)
                processor.reset()
                written = written.filter { $0.key <= height }
                tipHeader = try store.header(atHeight: store.head?.height ?? 0)
                guard let head = store.head else { return [] }
                return [.rolledBack(head: head, undone: undone, now: clock(), manual: false)]
            } catch {
                return [.storeError(error, code: .storeFailure)]
            }
        case .restartEngine(let resetExecutions):
            if resetExecutions { processor.reset(executions: true) }
            pending = []
            written = [:]
            do throws(ChainError) {
                tipHeader = try Self.headHeader(store)
                guard let head = store.head else { return [] }
                do throws(ChainError) {
                    return [.engineRestarted(try makeEngine(store), head: head)]
                } catch {
                    core.noteFailure(error)
                    return [.engineRestarted(nil, head: head)]
                }
            } catch {
                core.noteFailure(error)
                return [.engineRestarted(nil, head: core.stored)]
            }
        case .housekeeping:
            housekeepingDue = true
            return []
        case .verified(let ids):
            processor.markVerified(ids)
            return []
        case .validate(let request):
            if let validateElsewhere {
                validateElsewhere(request)
                return []
            }
            return [.validated(request, processor.validate(request.block, parent: request.parent))]
        }
    }
}

import LedgerCore

/// The protocol logic of a ``Node`` as a state machine without I/O: events in,
/// actions out (the shape of the consensus engines' `step`).
///
/// It owns the consensus engine, the mempool, the peer table, the catch-up
/// (sync) protocol, the commit pipeline's bookkeeping, proposal holding and
/// transaction relay. It reads through two interfaces only, as the engines do
/// (`ConsensusStorage`): the committed nonces (for admission) and, inside the
/// engine, the committed history and the proposal check. Everything else is an
/// ``Action`` the caller carries out in order, some of which answer with an
/// ``Event``: sending, executing and appending a block, saving the engine's
/// state, building a proposal, handing out receipts, serving a sync request,
/// rolling the store back, restarting the engine from the store.
///
/// Time comes in with the events (`now`, and one ``Event/tick(now:)`` per
/// tick), so the same core runs on a wall clock in ``Node`` and on simulated
/// time in the node simulator.
///
/// | Event | Actions |
/// |---|---|
/// | `tick` | the engine's effects; `build` for a held proposal request; `send` of relayed transactions; every status interval `send(status)`, `housekeeping`, and a `send(syncRequest)` when behind; reconnect beacons |
/// | `received(consensus)` | the engine's effects: `rollback`, `commit` per decided block, `saveState`, `send` per message, `validate` per proposed block to check, `send(syncRequest)` when the engine is behind, `build` per proposal request |
/// | `validated(block, error)` | the engine's effects of the verdict (a vote, an acknowledgement, a commit) |
/// | `received(transactions)` | `verified(ids)` for those admitted to the mempool |
/// | `received(status)` | `send(syncRequest)` when behind |
/// | `received(syncRequest)` | `serveSync` (the driver answers `syncResponse`, or `syncFailed` when its store fails) |
/// | `received(syncFailed)` | none from that peer for `syncRetryTicks`; `send(syncRequest)` to another live peer ahead, if any |
/// | `received(syncResponse)` | PBFT, PoS: the engine's effects of `.synced(blocks)` (a `commit` per block it adopts); Raft, PoW: `commit` per verified block in order, `restartEngine`; then `send(syncRequest)` for the next batch |
/// | `built(block)` | the engine's effects of the proposal |
/// | `commitQueued`, `commitFailed` | `send(syncRequest)` after a failure |
/// | `appended(height)` | `deliverReceipts(height)`, `build` for a held request |
/// | `appendFailed` | `restartEngine` once no append is pending, then `send(syncRequest)` |
/// | `rolledBack`, `storeReplaced` | `restartEngine` |
/// | `engineRestarted` | none |
struct NodeCore<Engine: ConsensusEngine> {
    /// What happens to the node.
    enum Event {
        /// One tick of the node's clock.
        case tick(now: Timestamp)
        /// A transport event, decoded.
        case received(NodeInbound<Engine.Message>, now: Timestamp)
        /// The block built for a proposal request (nil when it could not be built).
        case built(Block?)
        /// A decided block was executed and its append queued.
        case commitQueued(Height)
        /// That block wrote the chain's consensus schedule (`ConsensusSchedule.stateKey`): its new value.
        case scheduleCommitted([UInt8])
        /// A decided block could not be executed (or did not extend the tip); nothing was queued.
        case commitFailed(Height, LedgerError)
        /// The block is durable: the store's new head, its transaction count and timestamp.
        case appended(LedgerStore.Head, transactions: Int, blockTimestamp: Timestamp)
        /// Its append failed; its transactions go back to the mempool.
        case appendFailed(Height, LedgerError, transactions: [Transaction], now: Timestamp)
        /// Saving the engine's state failed.
        case stateSaveFailed(LedgerError)
        /// A read or check of the store failed (`code`: the node code to report it under).
        case storeError(LedgerError, code: ChainError.Code)
        /// The store was rolled back (by the engine's ``Action/rollback(to:)`` or by an operator); the
        /// removed blocks' transactions go back to the mempool.
        case rolledBack(head: LedgerStore.Head, undone: [Transaction], now: Timestamp, manual: Bool)
        /// The store was replaced (a restore from backup).
        case storeReplaced(head: LedgerStore.Head)
        /// The engine was rebuilt from the store (nil when that failed), whose head is `head`.
        case engineRestarted(Engine?, head: LedgerStore.Head)
        /// The verdict on a block a ``Action/validate(_:)`` asked about: nil when valid.
        case validated(ValidationRequest, LedgerError?)
    }

    /// What the node must do, in order.
    enum Action {
        /// Send (nil: broadcast), behind every write queued before it.
        case send([UInt8], to: NodeID?)
        /// Execute this decided block on top of the last one and queue its append; answer
        /// ``Event/commitQueued(_:)`` or ``Event/commitFailed(_:_:)``.
        case commit(CommittedBlock)
        /// Check that the store holds this block (a decided block at or below the tip).
        case checkStored(CommittedBlock)
        /// Save the engine's persistent state, behind the appends before it.
        case saveState([UInt8])
        /// Validate and execute this proposed block (K-V-1..4 and re-execution), anywhere, and answer
        /// ``Event/validated(_:_:)``: the engine does not vote for it before.
        case validate(ValidationRequest)
        /// Build a block from these mempool transactions for the request; answer ``Event/built(_:)``.
        case build(ProposalRequest, candidates: [Transaction], ids: [Digest])
        /// The block at this height is written: hand its receipts to waiters and observers.
        case deliverReceipts(Height)
        /// Read up to `count` committed blocks from `from` and send them to `to` as a sync response.
        case serveSync(from: Height, count: Int, to: NodeID)
        /// Once every queued write is done, roll the store back to `height`; answer ``Event/rolledBack(head:undone:now:manual:)``.
        case rollback(to: Height)
        /// Once every queued write is done, rebuild the engine from the store (forgetting cached
        /// executions when `resetExecutions`); answer ``Event/engineRestarted(_:head:)``.
        case restartEngine(resetExecutions: Bool)
        /// Periodic work outside the protocol: backups, gauges.
        case housekeeping
        /// These admitted transactions' signatures verified: checking a block that holds them may skip them.
        case verified([Digest])
    }

    let id: NodeID
    let configuration: NodeConfiguration
    /// The configured schedule with the membership changes committed on chain.
    private(set) var schedule: ConsensusSchedule
    private(set) var engine: Engine
    private(set) var mempool: Mempool
    private(set) var metrics = NodeMetrics()
    private(set) var telemetry: NodeTelemetry
    /// The committed nonce of a sender (the store's state with the decided blocks on top).
    private let nextNonce: (PublicKey) -> UInt64
    /// Why the chain refuses a transaction's signer on admission, or nil.
    private let refusal: (Transaction) -> LedgerError?

    private(set) var tickCount: UInt64 = 0
    private var lastCommitTick: UInt64 = 0
    private var now: Timestamp
    /// The store's head as far as this core knows (the last block reported appended).
    private(set) var stored: LedgerStore.Head
    /// The last decided block's height: what the next commit must extend.
    private(set) var tipHeight: Height
    /// Appends queued and not yet reported.
    private(set) var pendingAppends = 0
    /// Set when an append failed: the engine restarts from the store once no append is pending.
    private var writeFailed = false
    /// The engine is being rebuilt from the store: consensus inputs wait (they are dropped, as a lossy network would).
    private(set) var restarting = false
    private var heldRequest: (request: ProposalRequest, since: UInt64)?
    private var relayBuffer: [Transaction] = []
    private var peerState: [NodeID: (connected: Bool, height: Height, lastSeen: UInt64?)] = [:]
    private(set) var syncOutstanding: (peer: NodeID, sentAt: UInt64)?
    /// Peers that answered a sync request with `syncFailed`, and the tick they did: not asked again for `syncRetryTicks`.
    private var syncFailedAt: [NodeID: UInt64] = [:]
    private var storeErrorSinceCommit = false
    private var lastStoreError: String?
    /// Blocks to roll back the next time a peer's sync batch does not extend this node's head
    /// (engines whose commits can be reorganised: PoW); doubles per attempt, reset when a batch applies.
    private var forkBackoff: UInt64 = 1
    private var byzantineTransactions = false
    private var byzantineSilent = false

    /// Decided blocks a node may run ahead of its store by.
    static var maximumPendingAppends: Int { 2 }

    /// - Parameters:
    ///   - configuration: The node's (validated) configuration.
    ///   - engine: The engine, started from the store.
    ///   - mempool: An empty mempool.
    ///   - head: The store's head.
    ///   - now: The current time.
    ///   - nextNonce: Reads a sender's committed nonce.
    ///   - refusal: Asks the executors whether the chain accepts a transaction's signer (nil: it does).
    init(configuration: NodeConfiguration, engine: Engine, mempool: Mempool, head: LedgerStore.Head, now: Timestamp,
                 nextNonce: @escaping (PublicKey) -> UInt64, refusal: @escaping (Transaction) -> LedgerError? = { _ in nil }) {
        self.refusal = refusal
        id = configuration.node
        self.configuration = configuration
        schedule = configuration.schedule
        self.engine = engine
        self.mempool = mempool
        self.nextNonce = nextNonce
        self.now = now
        stored = head
        tipHeight = head.height
        telemetry = NodeTelemetry(node: configuration.node, logger: configuration.logger, factory: configuration.metricsFactory)
        for config in [configuration.schedule.initial] + configuration.schedule.changes.map(\.config) {
            for v in config.validators?.ids ?? [] where v != id && peerState[v] == nil { peerState[v] = (false, 0, nil) }
        }
    }

    /// Peers known (every other validator, and any node heard from).
    var peerCount: Int { peerState.count }

    // MARK: Intake

    /// Admits prepared client transactions to the mempool (and to the next relay).
    /// - Returns: One result per transaction, in order.
    mutating func admit(_ prepared: PreparedTransactions, now: Timestamp) -> [Result<Digest, ChainError>] {
        self.now = now
        let transactions = prepared.transactions
        let results = mempool.addBatch(prepared, now: now, nextNonce: nextNonce, refusal: refusal)
        var refused = [UInt32: Int]()
        for (tx, r) in zip(transactions, results) {
            switch r {
            case .success:
                if relays { relayBuffer.append(tx) }
            case .failure(let e):
                metrics.rejectedClientTransactions += 1
                refused[e.code.rawValue, default: 0] += 1
            }
        }
        telemetry.refused(refused, source: .client)
        return results
    }

    /// Admits one client transaction (checked here, signature included).
    /// - Throws: The mempool's codes (4001–4011).
    mutating func admit(_ transaction: Transaction, now: Timestamp) throws(ChainError) -> Digest {
        self.now = now
        do {
            let txID = try mempool.add(transaction, now: now, nextNonce: nextNonce, refusal: refusal)
            if relays { relayBuffer.append(transaction) }
            return txID
        } catch {
            metrics.rejectedClientTransactions += 1
            telemetry.refused(code: error.code.rawValue, transaction: transaction,
                              hashAlgorithm: mempool.configuration.hashAlgorithm, source: .client)
            throw error
        }
    }

    /// Whether admitted transactions go to peers: relaying is on and there is a peer to tell.
    private var relays: Bool { configuration.relayTransactions && !peerState.isEmpty }

    /// Makes this node misbehave in what the core decides: relay transactions with broken
    /// signatures, or send no consensus message.
    mutating func setByzantine(invalidTransactions: Bool, silent: Bool) {
        byzantineTransactions = invalidTransactions
        byzantineSilent = silent
    }

    /// Records a store error (for health, metrics and the log).
    mutating func noteStoreError(_ error: LedgerError, code: ChainError.Code = .storeFailure) {
        metrics.storeErrors += 1
        storeErrorSinceCommit = true
        lastStoreError = "[\(code.rawValue)] \(error.message)"
        telemetry.storeError(error, code: code.rawValue)
    }

    /// Counts a backup taken.
    mutating func noteBackup() { metrics.backupsTaken += 1 }

    /// Records an engine restart that failed outside ``handle(_:)`` (the message is kept for health).
    mutating func noteFailure(_ error: ChainError) {
        lastStoreError = error.description
        metrics.storeErrors += 1
    }

    // MARK: Events

    /// Feeds one event; returns what to do, in order.
    mutating func handle(_ event: Event) -> [Action] {
        var out = [Action]()
        switch event {
        case .tick(let now):
            self.now = now
            onTick(&out)
        case .received(let inbound, let now):
            self.now = now
            onInbound(inbound, &out)
        case .built(let block):
            if let block { drive(.proposal(block), &out) }
        case .validated(let request, let error):
            drive(.validated(request, error: error), &out)
        case .commitQueued:
            break
        case .scheduleCommitted(let bytes):
            learnSchedule(bytes, &out)
        case .commitFailed(let height, let error):
            // Nothing at or above `height` was queued (each commit extends the one before it).
            pendingAppends = max(0, pendingAppends - 1)
            if height <= tipHeight, height.rawValue >= 1 { tipHeight = Height(height.rawValue - 1) }
            noteStoreError(error, code: (1500..<1600).contains(error.numericCode) ? .storeFailure : .executionFailed)
            maybeSync(force: true, &out)
        case .appended(let head, let transactions, let blockTimestamp):
            pendingAppends = max(0, pendingAppends - 1)
            stored = head
            metrics.committedBlocks += 1
            metrics.committedTransactions += transactions
            telemetry.committed(height: head.height, hash: head.hash, transactions: transactions, blockTimestamp: blockTimestamp,
                                mempool: mempool.count)
            storeErrorSinceCommit = false
            out.append(.deliverReceipts(head.height))
            buildHeld(&out)
        case .appendFailed(let height, let error, let transactions, let now):
            self.now = now
            pendingAppends = max(0, pendingAppends - 1)
            telemetry.appendFailed(height: height, error: error)
            noteStoreError(error)
            writeFailed = true
            _ = mempool.reinsert(transactions, now: now)
            afterWriteFailure(&out)
        case .stateSaveFailed(let error):
            noteStoreError(error)
        case .storeError(let error, let code):
            noteStoreError(error, code: code)
        case .rolledBack(let head, let undone, let now, let manual):
            self.now = now
            stored = head
            _ = mempool.reinsert(undone, now: now)
            if manual {
                tipHeight = head.height
                telemetry.rolledBack(to: head.height, undone: undone.count)
                lastCommitTick = tickCount
                requestRestart(resetExecutions: true, &out)
            }
        case .storeReplaced(let head):
            stored = head
            tipHeight = head.height
            lastCommitTick = tickCount
            requestRestart(resetExecutions: true, &out)
        case .engineRestarted(let engine, let head):
            restarting = false
            stored = head
            tipHeight = head.height
            pendingAppends = 0
            heldRequest = nil
            if let engine {
                self.engine = engine
                metrics.engineRestarts += 1
                telemetry.engineRestarted(height: head.height)
            }
        }
        return out
    }

    /// Takes the changes of the chain's new schedule value that this node does not run yet, and hands each to
    /// the engine: validators join or leave consensus at the change's height (N-D-3, N-D-4).
    private mutating func learnSchedule(_ bytes: [UInt8], _ out: inout [Action]) {
        let merged = ChainSchedule.merged(schedule, bytes: bytes, logger: configuration.logger)
        let added = merged.changes.filter { !schedule.changes.contains($0) }
        schedule = merged
        for change in added {
            for v in change.config.validators?.ids ?? [] where v != id && peerState[v] == nil { peerState[v] = (false, 0, nil) }
            telemetry.consensusScheduled(height: change.height, validators: change.config.validators?.ids ?? [],
                                         member: change.config.validators?.contains(id) ?? true)
            drive(.configChange(change), &out)
        }
    }

    private mutating func afterWriteFailure(_ out: inout [Action]) {
        guard pendingAppends == 0 else { return }
        writeFailed = false
        requestRestart(resetExecutions: true, &out)
        maybeSync(force: true, &out)
    }

    private mutating func requestRestart(resetExecutions: Bool, _ out: inout [Action]) {
        restarting = true
        heldRequest = nil
        out.append(.restartEngine(resetExecutions: resetExecutions))
    }

    private mutating func onTick(_ out: inout [Action]) {
        tickCount += 1
        drive(.tick, &out)
        if let held = heldRequest, pendingAppends < Self.maximumPendingAppends,
           mempool.count > 0 || tickCount - held.since >= configuration.emptyBlockIntervalTicks {
            heldRequest = nil
            build(held.request, &out)
        }
        if !relayBuffer.isEmpty {
            var batch = relayBuffer
            relayBuffer = []
            if byzantineTransactions {
                for i in batch.indices { batch[i].payload.body += [0xEE] }   // signatures no longer verify
            }
            for chunk in stride(from: 0, to: batch.count, by: 2_000) {
                out.append(.send(NodeMessage.transactions(Array(batch[chunk..<min(batch.count, chunk + 2_000)])).encoded, to: nil))
            }
        }
        if tickCount % configuration.statusIntervalTicks == 0 {
            out.append(.send(NodeMessage.status(height: stored.height, head: stored.hash).encoded, to: nil))
            _ = mempool.evictExpired(now: now)
            maybeSync(&out)
            out.append(.housekeeping)
            telemetry.sample(mempool: mempool.count, peersAlive: alivePeers().count)
        }
        if tickCount % configuration.reconnectIntervalTicks == 0 {
            for (peer, s) in peerState.sorted(by: { $0.key < $1.key }) where !s.connected {
                metrics.reconnectAttempts += 1
                out.append(.send(NodeMessage.status(height: stored.height, head: stored.hash).encoded, to: peer))
            }
        }
    }

    private mutating func onInbound(_ inbound: NodeInbound<Engine.Message>, _ out: inout [Action]) {
        switch inbound {
        case .connected(let peer):
            // Alive only once the peer's beacon (with its current height) arrives.
            peerState[peer, default: (false, 0, nil)].connected = true
            telemetry.peerConnected(peer)
            out.append(.send(NodeMessage.status(height: stored.height, head: stored.hash).encoded, to: peer))
            // What was relayed while the link was down never reached the peer (the leader, perhaps): hand it the
            // pending transactions now, so none waits for this node to lead.
            if configuration.relayTransactions, mempool.count > 0 {
                let pending = mempool.proposal(maxCount: 10_000, maxBytes: 8 << 20)
                for chunk in stride(from: 0, to: pending.count, by: 2_000) {
                    out.append(.send(NodeMessage.transactions(Array(pending[chunk..<min(pending.count, chunk + 2_000)])).encoded, to: peer))
                }
            }
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
            drive(.receive(from: from, message), &out)
        case .transactions(let from, let prepared):
            noteSeen(from)
            let admitted = admitRelayed(prepared)
            if !admitted.isEmpty { out.append(.verified(admitted)) }
        case .other(let from, let message):
            noteSeen(from)
            switch message {
            case .consensus, .transactions:
                break   // NodeInbound decodes these as .consensus and .transactions
            case .status(let height, _):
                peerState[from, default: (true, 0, nil)].height = height
                maybeSync(&out)
            case .syncRequest(let fromHeight, let count):
                out.append(.serveSync(from: fromHeight, count: max(1, count), to: from))
            case .syncResponse(let blocks):
                applySync(blocks, from: from, &out)
            case .syncFailed(let fromHeight, let code):
                peerCouldNotServe(fromHeight, code: code, from: from, &out)
            }
        }
    }

    private mutating func noteSeen(_ peer: NodeID) {
        peerState[peer, default: (true, 0, nil)].lastSeen = tickCount
        peerState[peer]?.connected = true
    }

    /// Admits a peer's relayed transactions; returns the IDs admitted.
    private mutating func admitRelayed(_ prepared: PreparedTransactions) -> [Digest] {
        let results = mempool.addBatch(prepared, now: now, nextNonce: nextNonce, refusal: refusal)
        var refused = [UInt32: Int]()
        var admitted = [Digest]()
        admitted.reserveCapacity(results.count)
        for r in results {
            switch r {
            case .success(let id): admitted.append(id)
            case .failure(let e) where [.invalidSignature, .wrongChain, .transactionTooLarge, .transactionExpired].contains(e.code):
                metrics.rejectedPeerTransactions += 1
                refused[e.code.rawValue, default: 0] += 1
            case .failure: break
            }
        }
        telemetry.refused(refused, source: .peer)
        return admitted
    }

    // MARK: The engine

    /// Steps the engine and turns its effects into actions, in the engine contract's order: rollbacks,
    /// commits, the persistent state, messages (sent behind the writes), proposal requests.
    private mutating func drive(_ input: ConsensusInput<Engine.Message>, _ out: inout [Action]) {
        guard !restarting else { return }
        let effects = engine.step(input)
        metrics.consensusRejections += effects.rejections.count
        if let status = effects.status { telemetry.observe(status) }
        for rollback in effects.rollbacks where rollback.height < tipHeight {
            // The undone blocks' transactions come back from the store's rollback.
            tipHeight = rollback.height
            out.append(.rollback(to: rollback.height))
        }
        for c in effects.commits { commit(c, &out) }
        if let state = effects.persistentState { out.append(.saveState(state)) }
        if !byzantineSilent {
            for m in effects.messages {
                let bytes = NodeMessage.consensus(m.message.encoded).encoded
                switch m.to {
                case .node(let to): out.append(.send(bytes, to: to))
                case .broadcast: out.append(.send(bytes, to: nil))
                }
            }
        }
        for request in effects.validations { out.append(.validate(request)) }
        if let c = effects.catchUp { engineIsBehind(c, &out) }
        for request in effects.proposalRequests {
            if mempool.count == 0 || pendingAppends >= Self.maximumPendingAppends {
                heldRequest = (request, tickCount)
            } else {
                build(request, &out)
            }
        }
    }

    private mutating func build(_ request: ProposalRequest, _ out: inout [Action]) {
        let c = mempool.proposalWithIDs(maxCount: request.maximumTransactions, maxBytes: configuration.maximumBlockBytes)
        out.append(.build(request, candidates: c.transactions, ids: c.ids))
    }

    private mutating func buildHeld(_ out: inout [Action]) {
        guard !restarting, let held = heldRequest, pendingAppends < Self.maximumPendingAppends, mempool.count > 0 else { return }
        heldRequest = nil
        build(held.request, &out)
    }

    /// Queues a decided block's commit when it extends the tip; one at or below the tip is checked
    /// against the store; one further up means this node missed blocks: it syncs.
    @discardableResult
    private mutating func commit(_ c: CommittedBlock, _ out: inout [Action]) -> Bool {
        if c.height <= tipHeight {
            if c.height <= stored.height { out.append(.checkStored(c)) }
            return false
        }
        guard c.height == tipHeight.next, !writeFailed else {
            maybeSync(force: true, &out)
            return false
        }
        out.append(.commit(c))
        pendingAppends += 1
        tipHeight = c.height
        _ = mempool.removeCommitted(c.block.transactions)
        lastCommitTick = tickCount
        return true
    }

    // MARK: Sync (catch-up, K-R-2)

    /// A sync request is out and not yet due for a retry.
    private var syncRequestOutstanding: Bool {
        guard let o = syncOutstanding else { return false }
        return tickCount - o.sentAt < configuration.syncRetryTicks
    }

    private mutating func maybeSync(force: Bool = false, _ out: inout [Action]) {
        guard !syncRequestOutstanding else { return }
        guard let best = alivePeers().filter({ !recentlyFailedSync($0.node) }).max(by: { ($0.height, $1.node) < ($1.height, $0.node) }),
              best.height > tipHeight else { return }
        let lag = best.height.rawValue - tipHeight.rawValue
        guard force || lag >= configuration.syncLagBlocks || tickCount - lastCommitTick >= configuration.syncStallTicks else { return }
        requestSync(from: best.node, &out)
    }

    /// The engine saw blocks decided above its height (or is stuck): sync now from the peer it names,
    /// or from the best peer ahead, unless a request is out and not yet due for a retry.
    private mutating func engineIsBehind(_ c: CatchUpRequest, _ out: inout [Action]) {
        guard let peer = c.peer, peer != id, !recentlyFailedSync(peer) else {
            maybeSync(force: true, &out)
            return
        }
        guard !syncRequestOutstanding else { return }
        requestSync(from: peer, &out)
    }

    /// Whether `peer` answered a sync request with `syncFailed` less than `syncRetryTicks` ago.
    private func recentlyFailedSync(_ peer: NodeID) -> Bool {
        syncFailedAt[peer].map { tickCount - $0 < configuration.syncRetryTicks } ?? false
    }

    /// A peer's store failed to read the blocks it was asked for: counted and logged with the peer's code, the
    /// peer is left alone for `syncRetryTicks`, and another live peer ahead is asked at once.
    private mutating func peerCouldNotServe(_ height: Height, code: UInt32, from peer: NodeID, _ out: inout [Action]) {
        metrics.syncFailuresReceived += 1
        telemetry.syncFailed(from: peer, height: height, code: code)
        syncFailedAt[peer] = tickCount
        if syncOutstanding?.peer == peer { syncOutstanding = nil }
        maybeSync(force: true, &out)
    }

    /// Asks `peer` for the blocks after the tip.
    mutating func requestSync(from peer: NodeID) -> [Action] {
        var out = [Action]()
        requestSync(from: peer, &out)
        return out
    }

    private mutating func requestSync(from peer: NodeID, _ out: inout [Action]) {
        syncOutstanding = (peer, tickCount)
        metrics.syncRequestsSent += 1
        telemetry.syncRequested(from: peer, height: tipHeight.next, count: configuration.syncBatchBlocks)
        out.append(.send(NodeMessage.syncRequest(from: tipHeight.next, count: configuration.syncBatchBlocks).encoded, to: peer))
    }

    /// Verifies each block's certificate and queues the commits of the valid consecutive prefix; the
    /// engine then restarts from the store.
    private mutating func applySync(_ blocks: [CommittedBlock], from peer: NodeID, _ out: inout [Action]) {
        if syncOutstanding?.peer == peer { syncOutstanding = nil }
        guard !restarting else { return }
        if let first = blocks.first(where: { $0.height == tipHeight.next }), pendingAppends == 0, tipHeight == stored.height,
           first.block.header.parentHash != stored.hash {
            divergedFrom(peer, at: first.height, &out)
            return
        }
        if Engine.adoptsSyncedBlocks {
            // The engine commits them in place (keeping its view, votes and candidates); its commits
            // become `commit` actions as decided blocks do.
            let before = tipHeight
            drive(.synced(blocks), &out)
            guard tipHeight > before else { return }
            finishSync(Int(tipHeight.rawValue - before.rawValue), from: peer, full: blocks.count >= configuration.syncBatchBlocks, &out)
            return
        }
        var applied = 0
        for c in blocks where c.height > tipHeight {
            guard c.height == tipHeight.next else { break }
            let set = schedule.config(atHeight: c.height).validators
                ?? (try? ValidatorSet([Validator(id: id, publicKey: configuration.signingKey.publicKey)]))
            guard let set else { break }
            do {
                try c.certificate.verify(block: c.block, validators: set, hashAlgorithm: configuration.hashAlgorithm)
            } catch {
                metrics.syncBlocksRejected += 1
                telemetry.syncRejected(from: peer, height: c.height, reason: "certificate: \(error.message)")
                break
            }
            guard commit(c, &out) else { break }
            applied += 1
        }
        guard applied > 0 else { return }
        requestRestart(resetExecutions: false, &out)
        finishSync(applied, from: peer, full: blocks.count >= configuration.syncBatchBlocks, &out)
    }

    private mutating func finishSync(_ applied: Int, from peer: NodeID, full: Bool, _ out: inout [Action]) {
        forkBackoff = 1
        metrics.syncBlocksApplied += applied
        telemetry.syncApplied(applied, from: peer, height: tipHeight)
        if full { requestSync(from: peer, &out) }
    }

    /// A peer's certified chain does not extend this node's head. Under PoW a partition longer than
    /// the confirmation depth does this (both sides committed, and this side's branch lost): the
    /// node rolls back `forkBackoff` blocks (doubling per attempt, so the fork point is found in
    /// log steps; the undone transactions return to the mempool), restarts its engine from the store
    /// and asks again. Under a final engine it is a conflicting certified chain: refused and logged.
    private mutating func divergedFrom(_ peer: NodeID, at height: Height, _ out: inout [Action]) {
        metrics.syncBlocksRejected += 1
        guard Engine.certificateKind == .pow, tipHeight.rawValue > 0 else {
            telemetry.syncRejected(from: peer, height: height, reason: "the peer's block does not extend this node's head (a conflicting chain)")
            return
        }
        let target = Height(tipHeight.rawValue - min(forkBackoff, tipHeight.rawValue))
        telemetry.syncRejected(from: peer, height: height, reason: "fork below the head: rolling back to \(target) and asking again")
        forkBackoff = min(forkBackoff * 2, 1 << 20)
        tipHeight = target
        out.append(.rollback(to: target))
        requestRestart(resetExecutions: true, &out)
        requestSync(from: peer, &out)
    }

    // MARK: Health (K-R-1)

    /// The peers alive now: connected, and heard from within the peer timeout.
    func alivePeers() -> [PeerHealth] { peers().filter(\.isAlive) }

    private func peers() -> [PeerHealth] {
        peerState.keys.sorted().map { peer in
            let s = peerState[peer]!
            let since = s.lastSeen.map { tickCount - $0 }
            return PeerHealth(node: peer, isAlive: s.connected && since.map { $0 <= configuration.peerTimeoutTicks } == true,
                              height: s.height, ticksSinceSeen: since)
        }
    }

    /// The height `peer` last announced.
    func announcedHeight(of peer: NodeID) -> Height? { peerState[peer]?.height }

    /// The node's health.
    /// - Parameters:
    ///   - stopped: Whether the node is stopped.
    ///   - proposalRejections: Proposals the block processor refused so far.
    mutating func health(stopped: Bool, proposalRejections: Int) -> NodeHealth {
        let peers = peers()
        let alive = peers.filter(\.isAlive)
        let best = alive.map(\.height).max() ?? 0
        let mine = stored.height
        let state: NodeHealth.State
        if stopped {
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
        metrics.rejectedProposals = proposalRejections
        return NodeHealth(node: id, state: state, committedHeight: mine, bestPeerHeight: best, peers: peers,
                          storeErrors: metrics.storeErrors, lastStoreError: lastStoreError, consensus: engine.status,
                          mempoolCount: mempool.count)
    }
}

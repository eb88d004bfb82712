import LedgerCore
import Logging
import Metrics

/// A node's logs and metrics: what an operator watches, in one place, so
/// ``Node`` only says what happened.
///
/// Every log record carries `node`; commits are logged at debug, lifecycle,
/// leader and view changes, sync and recovery at info or notice, store
/// failures at error. Metrics are created through the configured factory
/// (``NodeConfiguration/metricsFactory``, default the host's
/// `MetricsSystem`), named `forgechain_…` with the dimension `node`, and
/// updated once per block, batch or beacon, never per transaction. The full
/// list is in `Documentation/Architecture.md` → Logs and metrics.
///
/// - Note: A value owned by the node's actor; the metric handles inside are
///   `Sendable` and shared with the commit writer's thread (``appendTime``).
struct NodeTelemetry {
    /// The node's logger, with `node` in its metadata.
    private(set) var logger: Logger
    private let factory: any MetricsFactory
    private let dimensions: [(String, String)]

    private let committedHeight: Gauge
    private let blocksCommitted: Counter
    private let transactionsCommitted: Counter
    private let mempoolTransactions: Gauge
    private let peersAlive: Gauge
    private let commitLatency: Timer
    /// Timed on the commit writer's thread, around each block's append.
    let appendTime: Timer
    private let viewChanges: Counter
    private let leaderChanges: Counter
    private let syncBlocksApplied: Counter
    private let syncBlocksRejected: Counter
    private let syncFailuresReceived: Counter
    private let storeErrors: Counter
    /// Refusal counters by source and code, made on first use (a handful of codes exist).
    private var refusals: [RefusalKey: Counter] = [:]
    private var lastStatus: ConsensusStatus?
    /// The last leader the engine named (kept through elections, when it names none).
    private var knownLeader: NodeID?

    /// Where a refused transaction came from.
    enum Source: String {
        case client
        case peer
    }

    private struct RefusalKey: Hashable {
        var source: Source
        var code: UInt32
    }

    init(node: NodeID, logger: Logger, factory: (any MetricsFactory)?) {
        var logger = logger
        logger[metadataKey: "node"] = "\(node.rawValue)"
        self.logger = logger
        let factory = factory ?? MetricsSystem.factory
        self.factory = factory
        let d = [("node", String(node.rawValue))]
        dimensions = d
        committedHeight = Gauge(label: "forgechain_committed_height", dimensions: d, factory: factory)
        blocksCommitted = Counter(label: "forgechain_blocks_committed_total", dimensions: d, factory: factory)
        transactionsCommitted = Counter(label: "forgechain_transactions_committed_total", dimensions: d, factory: factory)
        mempoolTransactions = Gauge(label: "forgechain_mempool_transactions", dimensions: d, factory: factory)
        peersAlive = Gauge(label: "forgechain_peers_alive", dimensions: d, factory: factory)
        commitLatency = Timer(label: "forgechain_commit_latency_seconds", dimensions: d, factory: factory)
        appendTime = Timer(label: "forgechain_block_append_seconds", dimensions: d, factory: factory)
        viewChanges = Counter(label: "forgechain_view_changes_total", dimensions: d, factory: factory)
        leaderChanges = Counter(label: "forgechain_leader_changes_total", dimensions: d, factory: factory)
        syncBlocksApplied = Counter(label: "forgechain_sync_blocks_applied_total", dimensions: d, factory: factory)
        syncBlocksRejected = Counter(label: "forgechain_sync_blocks_rejected_total", dimensions: d, factory: factory)
        syncFailuresReceived = Counter(label: "forgechain_sync_failures_received_total", dimensions: d, factory: factory)
        storeErrors = Counter(label: "forgechain_store_errors_total", dimensions: d, factory: factory)
    }

    // MARK: Lifecycle

    func started(head: LedgerStore.Head, engine: String, peers: Int) {
        committedHeight.record(Int64(clamping: head.height.rawValue))
        logger.info("node started", metadata: ["height": "\(head.height)", "engine": "\(engine)", "peers": "\(peers)"])
    }

    func stopped(head: LedgerStore.Head) {
        logger.info("node stopped", metadata: ["height": "\(head.height)"])
    }

    // MARK: Commits

    /// One block is durable and its receipts are out: height, counts, the latency since its producer stamped it.
    func committed(height: Height, hash: Digest, transactions: Int, blockTimestamp: Timestamp, mempool: Int) {
        committedHeight.record(Int64(clamping: height.rawValue))
        blocksCommitted.increment()
        if transactions > 0 { transactionsCommitted.increment(by: transactions) }
        mempoolTransactions.record(mempool)
        let now = Timestamp.now().rawValue
        commitLatency.recordMilliseconds(now > blockTimestamp.rawValue ? now - blockTimestamp.rawValue : 0)
        logger.debug("block committed", metadata: [
            "height": "\(height)", "transactions": "\(transactions)", "hash": "\(hash.hex.prefix(16))",
        ])
    }

    /// The gauges that change without a commit (every status beacon).
    func sample(mempool: Int, peersAlive alive: Int) {
        mempoolTransactions.record(mempool)
        peersAlive.record(alive)
    }

    // MARK: Consensus

    /// Compares a new engine status with the last one: a higher round (PBFT view, Raft term, PoS round) is a view
    /// change; a leader other than the last one named (the first one included) is a leader change, logged at info
    /// unless it came with a commit, as PoS's proposer rotation does every height.
    mutating func observe(_ status: ConsensusStatus) {
        let last = lastStatus
        lastStatus = status
        if let last, status.round > last.round {
            viewChanges.increment()
            logger.info("view changed", metadata: [
                "round": "\(status.round)", "previousRound": "\(last.round)", "role": "\(status.role)",
                "leader": "\(status.leader.map { "\($0.rawValue)" } ?? "none")", "height": "\(status.committedHeight)",
            ])
        }
        if let leader = status.leader, leader != knownLeader {
            let previous = knownLeader
            knownLeader = leader
            leaderChanges.increment()
            let level: Logger.Level = last.map { $0.committedHeight == status.committedHeight } ?? true ? .info : .debug
            logger.log(level: level, "leader changed", metadata: [
                "leader": "\(leader.rawValue)", "previousLeader": "\(previous.map { "\($0.rawValue)" } ?? "none")", "round": "\(status.round)",
                "role": "\(status.role)", "height": "\(status.committedHeight)",
            ])
        }
    }

    // MARK: Transactions

    /// Counts refused transactions of one batch by code and logs them at debug (one record per batch).
    mutating func refused(_ codes: [UInt32: Int], source: Source) {
        guard !codes.isEmpty else { return }
        for (code, count) in codes { refusalCounter(source, code).increment(by: count) }
        logger.debug("transactions refused", metadata: [
            "source": "\(source.rawValue)",
            "codes": .dictionary(Dictionary(uniqueKeysWithValues: codes.map { ("\($0.key)", .string("\($0.value)")) })),
        ])
    }

    /// One refused client transaction; its ID is computed only when debug records are kept.
    mutating func refused(code: UInt32, transaction: Transaction, hashAlgorithm: HashAlgorithm, source: Source) {
        refusalCounter(source, code).increment()
        logger.debug("transaction refused", metadata: [
            "source": "\(source.rawValue)", "code": "\(code)", "transaction": "\(transaction.id(using: hashAlgorithm).hex)",
        ])
    }

    private mutating func refusalCounter(_ source: Source, _ code: UInt32) -> Counter {
        let key = RefusalKey(source: source, code: code)
        if let c = refusals[key] { return c }
        let c = Counter(label: "forgechain_transactions_refused_total",
                        dimensions: dimensions + [("source", source.rawValue), ("code", String(code))], factory: factory)
        refusals[key] = c
        return c
    }

    // MARK: Peers

    func peerConnected(_ peer: NodeID) {
        logger.info("peer connected", metadata: ["peer": "\(peer.rawValue)"])
    }

    func peerDisconnected(_ peer: NodeID) {
        logger.notice("peer disconnected", metadata: ["peer": "\(peer.rawValue)"])
    }

    // MARK: Sync and recovery

    func syncRequested(from peer: NodeID, height: Height, count: Int) {
        logger.debug("sync requested", metadata: ["peer": "\(peer.rawValue)", "from": "\(height)", "count": "\(count)"])
    }

    func syncApplied(_ count: Int, from peer: NodeID, height: Height) {
        syncBlocksApplied.increment(by: count)
        logger.info("sync applied blocks", metadata: ["peer": "\(peer.rawValue)", "blocks": "\(count)", "height": "\(height)"])
    }

    func syncRejected(from peer: NodeID, height: Height, reason: String) {
        syncBlocksRejected.increment()
        logger.warning("sync block rejected", metadata: ["peer": "\(peer.rawValue)", "height": "\(height)", "reason": "\(reason)"])
    }

    /// A peer answered a sync request with a failure of its store: `code` is the peer's store error code.
    func syncFailed(from peer: NodeID, height: Height, code: UInt32) {
        syncFailuresReceived.increment()
        logger.warning("peer could not serve sync: its store failed", metadata: ["peer": "\(peer.rawValue)", "from": "\(height)", "code": "\(code)"])
    }

    /// A store read or write failed (or a commit conflicted): the code and the store's message, never block contents.
    func storeError(_ error: LedgerError, code: UInt32) {
        storeErrors.increment()
        var metadata: Logger.Metadata = ["code": "\(code)", "cause": "\(error.numericCode)"]
        if let h = error.details["height"] { metadata["height"] = "\(h)" }
        logger.error("store error: \(error.message)", metadata: metadata)
    }

    func appendFailed(height: Height, error: LedgerError) {
        logger.error("block append failed; decided blocks above the store's head are dropped and the engine restarts from the store",
                     metadata: ["height": "\(height)", "cause": "\(error.numericCode)"])
    }

    func engineRestarted(height: Height) {
        logger.debug("engine restarted from the store", metadata: ["height": "\(height)"])
    }

    func engineRestartFailed(_ error: ChainError) {
        storeErrors.increment()
        logger.error("engine restart failed: \(error.message)", metadata: ["code": "\(error.code.rawValue)"])
    }

    func consensusScheduled(height: Height, validators: [NodeID], member: Bool) {
        logger.notice(member ? "consensus change scheduled on chain" : "consensus change scheduled on chain: this node leaves consensus there",
                      metadata: ["height": "\(height)", "validators": "\(validators.map(\.rawValue))"])
    }

    func rolledBack(to height: Height, undone: Int) {
        logger.notice("chain rolled back", metadata: ["height": "\(height)", "transactions": "\(undone)"])
    }

    func restored(height: Height) {
        logger.notice("store restored from a backup", metadata: ["height": "\(height)"])
    }

    func backupTaken(_ path: String) {
        logger.info("backup taken", metadata: ["file": "\(path)"])
    }
}

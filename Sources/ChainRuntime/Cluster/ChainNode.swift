import LedgerCore

/// The engine-independent face of a ``Node``, so a ``Cluster`` can hold nodes
/// of whichever engine its configuration chose.
///
/// - Note: Every requirement is actor-isolated in ``Node``; safe to call concurrently.
public protocol ChainNode: Actor {
    /// The node's ID in the validator set.
    nonisolated var id: NodeID { get }
    /// The node's clock: the wall clock, or on simulated time the simulated time (which starts at the wall
    /// clock and stays at most 5 minutes ahead of it). Block timestamps use it; so do deadlines a host sets
    /// for its transactions (the platform's do).
    nonisolated var now: Timestamp { get }
    /// The store's head: height, hash and state root of the last written block.
    var head: LedgerStore.Head { get }
    /// The node's health (K-R-1); see ``Node/health``.
    var health: NodeHealth { get }
    /// Counters of the node's work.
    var metrics: NodeMetrics { get }
    /// The engine's latest status (K-A-4).
    var consensusStatus: ConsensusStatus { get }
    /// The consensus schedule the node runs, with the membership changes committed on chain.
    var consensusSchedule: ConsensusSchedule { get }
    /// The node's ledger store (read it; only the node writes).
    var ledger: LedgerStore { get }
    /// Transactions waiting in the mempool.
    var mempoolCount: Int { get }
    /// Starts the clock, receiver and sender tasks. Idempotent.
    func start()
    /// Stops the node: pending waits fail with `.nodeStopped` (4051); committed blocks stay in the store. Idempotent.
    func stop() async
    /// Admits one transaction to the mempool and returns its ID; see ``Node/enqueue(_:)->Digest``.
    func enqueue(_ transaction: Transaction) throws -> Digest
    /// Admits a batch, prepared on all cores; one result per transaction, in order.
    func enqueue(_ transactions: [Transaction]) async -> [Result<Digest, ChainError>]
    /// Submits a transaction and waits for its receipt; see ``Node/submit(_:timeout:)``.
    func submit(_ transaction: Transaction, timeout: Duration?) async throws -> Receipt
    /// Waits until the transaction is committed and returns its receipt (nil `timeout`: the node's default).
    func waitForReceipt(_ transactionID: Digest, timeout: Duration?) async throws -> Receipt
    /// The receipt of a committed transaction, or nil.
    func receipt(for transactionID: Digest) throws -> Receipt?
    /// The receipt of a transaction in a decided block, waiting for its append if it is still being written; nil when unknown.
    func receiptOfDecided(_ transactionID: Digest) async throws -> Receipt?
    /// The sender's next nonce in the committed state.
    func nextNonce(for sender: PublicKey) -> UInt64
    /// Manual catch-up from a peer (K-R-2); see ``Node/resync(from:timeout:)``.
    func resync(from peer: NodeID?, timeout: Duration) async throws -> Height
    /// Manual rollback (K-R-3); see ``Node/rollback(toHeight:)``.
    func rollback(toHeight height: Height) async throws -> [Transaction]
    /// Restores the store from a backup and restarts the engine; see ``Node/restore(fromBackup:)``.
    func restore(fromBackup path: String) async throws -> Height
    /// Health reports as they change.
    func healthUpdates() -> AsyncStream<NodeHealth>
    /// A notice per committed block, in height order; see ``Node/commits()``.
    func commits() -> AsyncStream<CommitNotice>
}

extension Node: ChainNode {}

/// A node that can be made to misbehave (fault tests); package-only, so no host reaches it.
package protocol FaultInjectable: Actor {
    func setByzantine(forgeProposals: Bool, invalidTransactions: Bool, silent: Bool)
}

extension Node: FaultInjectable {}

import LedgerCore

/// The engine-independent face of a ``Node``, so a ``Cluster`` can hold nodes
/// of whichever engine its configuration chose.
///
/// - Note: Every requirement is actor-isolated in ``Node``; safe to call concurrently.
public protocol ChainNode: Actor {
    nonisolated var id: NodeID { get }
    var head: LedgerStore.Head { get }
    var health: NodeHealth { get }
    var metrics: NodeMetrics { get }
    var consensusStatus: ConsensusStatus { get }
    var ledger: LedgerStore { get }
    var mempoolCount: Int { get }
    func start()
    func stop() async
    func enqueue(_ transaction: Transaction) throws -> Digest
    func enqueue(_ transactions: [Transaction]) async -> [Result<Digest, ChainError>]
    func submit(_ transaction: Transaction, timeout: Duration?) async throws -> Receipt
    func waitForReceipt(_ transactionID: Digest, timeout: Duration?) async throws -> Receipt
    func receipt(for transactionID: Digest) throws -> Receipt?
    func receiptOfDecided(_ transactionID: Digest) async throws -> Receipt?
    func nextNonce(for sender: PublicKey) -> UInt64
    func resync(from peer: NodeID?, timeout: Duration) async throws -> Height
    func rollback(toHeight height: Height) throws -> [Transaction]
    func restore(fromBackup path: String) async throws -> Height
    func setByzantine(forgeProposals: Bool, invalidTransactions: Bool, silent: Bool)
    func healthUpdates() -> AsyncStream<NodeHealth>
    func commits() -> AsyncStream<CommitNotice>
}

extension Node: ChainNode {}

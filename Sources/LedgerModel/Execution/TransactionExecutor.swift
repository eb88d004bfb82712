import LedgerCrypto

/// Read access to the world state an execution runs against: the state after
/// the parent block, with the writes of the earlier transactions of the same
/// block applied on top.
///
/// - Note: Used synchronously from one thread during one block's execution.
public protocol StateReader {
    /// The value of `key`, or nil when absent.
    /// - Throws: `LedgerError` store errors (15xx); the host treats them as node
    ///   failures, not as a failed transaction.
    func value(forKey key: [UInt8]) throws(LedgerError) -> [UInt8]?
}

/// Where and when a transaction runs.
public struct ExecutionContext: Hashable, Sendable {
    /// The chain's ID.
    public var chainID: UInt64
    /// The height of the block being executed.
    public var height: Height
    /// The block's timestamp (never the local clock: execution is deterministic).
    public var timestamp: Timestamp
    /// The chain's hash algorithm.
    public var hashAlgorithm: HashAlgorithm
    /// The transaction's index in its block.
    public var transactionIndex: Int
    /// The transaction's ID.
    public var transactionID: Digest
    /// The key that signed the chain's genesis block: the chain's founding authority, for executors that keep
    /// governance state (AppAPI's access executor lets it register the first administrators). Nil when the host
    /// does not name it; such executors then accept no founder.
    public var genesisProducer: PublicKey?
    /// The name of the chain's consensus engine (`pbft`, `raft`, `pow`, `pos`), for executors that schedule
    /// consensus changes. Nil when the host does not name it.
    public var consensusEngine: String?

    /// Parameters as the properties of the same names; the node makes contexts for its executors.
    /// `genesisProducer` and `consensusEngine` are optional, default nil.
    public init(chainID: UInt64, height: Height, timestamp: Timestamp, hashAlgorithm: HashAlgorithm,
                transactionIndex: Int, transactionID: Digest, genesisProducer: PublicKey? = nil, consensusEngine: String? = nil) {
        self.chainID = chainID
        self.height = height
        self.timestamp = timestamp
        self.hashAlgorithm = hashAlgorithm
        self.transactionIndex = transactionIndex
        self.transactionID = transactionID
        self.genesisProducer = genesisProducer
        self.consensusEngine = consensusEngine
    }
}

/// What one transaction did: the receipt fields and its state writes. The
/// host applies ``writes`` only when ``status`` is ``Receipt/success``.
public struct ExecutionOutcome: Hashable, Sendable {
    /// ``Receipt/success`` (0), or a failure code (for errors, the `LedgerError` numeric code).
    public var status: UInt64
    /// Output bytes (an error message in UTF-8 for failures).
    public var output: [UInt8]
    /// Events emitted.
    public var logs: [ReceiptLog]
    /// Executor-defined cost (bytes written, gas...).
    public var costUnits: UInt64
    /// State writes, in order.
    public var writes: StateChangeSet

    /// Every parameter is optional: a success with no output, logs, cost or writes by default.
    public init(status: UInt64 = Receipt.success, output: [UInt8] = [], logs: [ReceiptLog] = [], costUnits: UInt64 = 0,
                writes: StateChangeSet = StateChangeSet()) {
        self.status = status
        self.output = output
        self.logs = logs
        self.costUnits = costUnits
        self.writes = writes
    }

    /// A failed outcome for `error`: status = its numeric code, output = its message, no writes.
    public static func failure(_ error: any CodedError) -> ExecutionOutcome {
        ExecutionOutcome(status: UInt64(error.numericCode), output: Array(error.message.utf8))
    }
}

/// Runs transactions of some payload kinds against the world state. LedgerCore
/// declares it; the key-value test executor (``KeyValueExecutor``), AppAPI's
/// records executor and the contract executor implement it; a node holds
/// several, keyed by ``TransactionPayload/kind``.
///
/// Rules for implementations: deterministic (the same transaction, context and
/// state give the same outcome on every node and platform: no clock, no
/// randomness, no iteration of a `Set` or `Dictionary` into output); bad input
/// is a failed outcome (throw a `LedgerError` or return a non-zero status),
/// never a crash.
///
/// ```swift
/// let outcome = try KeyValueExecutor().execute(tx, context: context, state: reader)
/// ```
/// - Note: `Sendable`: a node may execute on any thread, one block at a time.
public protocol TransactionExecutor: Sendable {
    /// The payload kinds this executor handles (1–64 UTF-8 bytes each).
    var payloadKinds: [String] { get }

    /// Executes `transaction` (its signature and chain are already checked).
    /// - Parameters:
    ///   - transaction: Required. A transaction of one of ``payloadKinds``.
    ///   - context: Required. Height, timestamp and index.
    ///   - state: Required. The state before this transaction.
    /// - Returns: The outcome; writes are applied only on success.
    /// - Throws: `LedgerError`; the host records it as a failed receipt
    ///   (status = the error's code), except store errors (15xx), which it treats as node failures.
    func execute(_ transaction: Transaction, context: ExecutionContext, state: any StateReader) throws(LedgerError) -> ExecutionOutcome

    /// Decides whether a transaction may wait in the mempool at all, before it takes space there: the node calls
    /// it on admission (from clients and from peers alike) with the state at its head. An executor that keeps a
    /// list of permitted signers refuses the others here; ``execute(_:context:state:)`` must still check the same
    /// (a block from a faulty peer may hold anything). The default accepts every transaction.
    /// - Parameters:
    ///   - transaction: Required. A transaction of one of ``payloadKinds``; its signature is already checked.
    ///   - genesisProducer: Required. The key that signed the chain's genesis block (``ExecutionContext/genesisProducer``).
    ///   - state: Required. The committed state (with the blocks decided but not yet written).
    /// - Throws: `LedgerError` (any code but store errors 15xx): the node refuses the transaction with
    ///   `ChainError` `.senderNotPermitted` (4012), this code in `details["cause"]`.
    func admit(_ transaction: Transaction, genesisProducer: PublicKey, state: any StateReader) throws(LedgerError)

    /// What `transaction` declares it may cost before it runs (a contract transaction's gas limit). A block holds
    /// transactions of one payload kind only while their declared costs add up to at most ``blockCostLimit``: the
    /// proposer packs blocks so, and every node refuses a block that does not (`.blockCostLimitExceeded`, 1905).
    /// The default declares 0.
    /// - Parameter transaction: Required. A transaction of one of ``payloadKinds``; its body may be malformed
    ///   (declare 0 then: it fails when it runs).
    func declaredCost(of transaction: Transaction) -> UInt64

    /// The most declared cost (``declaredCost(of:)``) one block may carry per payload kind of this executor; nil (the
    /// default): no limit. Part of the chain's rules: every node must run the same limit.
    var blockCostLimit: UInt64? { get }
}

extension TransactionExecutor {
    /// Accepts every transaction (executors without a list of permitted signers).
    public func admit(_ transaction: Transaction, genesisProducer: PublicKey, state: any StateReader) throws(LedgerError) {}
    /// Declares nothing: 0.
    public func declaredCost(of transaction: Transaction) -> UInt64 { 0 }
    /// No limit per block.
    public var blockCostLimit: UInt64? { nil }
}

// Execution (1900–1919).
extension LedgerError.Code {
    /// A transaction's payload body does not decode in its executor's format; `details["field"]` names the field.
    public static let malformedPayload = Self(rawValue: 1901)
    /// No executor of the node handles the transaction's payload kind; `details["kind"]` names it.
    public static let unknownPayloadKind = Self(rawValue: 1902)
    /// A transaction's nonce is not its sender's next nonce; `details["expectedNonce"]` gives the next one.
    public static let nonceMismatch = Self(rawValue: 1903)
    /// A block's re-executed state root or receipt root differs from the one its header declares.
    public static let executionRootMismatch = Self(rawValue: 1904)
    /// A block's transactions of one payload kind declare more cost than their executor allows a block
    /// (``TransactionExecutor/blockCostLimit``); `details["kind"]`, `details["limit"]` and `details["transactionIndex"]`.
    public static let blockCostLimitExceeded = Self(rawValue: 1905)
}

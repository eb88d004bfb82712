import LedgerCore

/// The error of the ChainRuntime module: the full node, its mempool, the
/// consensus driver, sync and recovery, and the in-memory cluster. Codes are
/// in the 4xxx band:
///
/// | range | area | declared in |
/// |---|---|---|
/// | 4001–4049 | mempool and transaction intake | `Errors/ChainError.swift` |
/// | 4050–4099 | node and consensus driver | the node's own file (`ChainError+Node.swift`) |
/// | 4100–4149 | sync and recovery | `ChainError+Sync.swift` |
/// | 4150–4199 | in-memory cluster | `ChainError+Cluster.swift` |
/// | 4200–4249 | the node's control endpoints and clients | `ChainError+Control.swift` |
/// | 4250–4269 | the event feed (logs by filter, history and subscriptions) | `ChainError+Events.swift` |
///
/// Add codes in your band with `public static let name = Self(rawValue: N)`
/// and a `///` comment, then run `python3 Scripts/error-codes.py`. Names are
/// unique across every module (a test checks it), and a code is never reused.
///
/// Match on ``code`` in a `catch`; new codes never break an existing `switch`
/// because ``Code`` is a struct, not an enum.
///
/// ```swift
/// do { try pool.add(tx, now: .now(), nextNonce: store.nextNonce) }
/// catch where error.code == .mempoolFull { /* back off */ }
/// ```
public struct ChainError: CodedError, Hashable {
    /// A stable numeric error code.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        /// The number, in the module's band.
        public let rawValue: UInt32
        /// Wraps a number; use the named constants.
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public var description: String { String(rawValue) }
    }

    /// The stable code.
    public var code: Code
    /// What went wrong, naming the field and value.
    public var message: String
    /// Machine-readable context (for example `transaction`, `sender`, `expectedNonce`).
    public var details: [String: String]

    /// - Parameters:
    ///   - code: Required. A code of this module's band.
    ///   - message: Required. Names the field and value at fault.
    ///   - details: Optional, default empty.
    public init(_ code: Code, _ message: String, details: [String: String] = [:]) {
        self.code = code
        self.message = message
        self.details = details
    }

    /// ``code`` as a number (`CodedError`).
    public var numericCode: UInt32 { code.rawValue }
}

// Mempool and transaction intake (4001–4049).
extension ChainError.Code {
    /// The mempool holds its maximum number of transactions or bytes; `details`
    /// names the limit (`limit` = `maxTransactions` or `maxBytes`) and its value.
    public static let mempoolFull = Self(rawValue: 4001)
    /// The sender already has `maxPerSender` transactions pending.
    public static let senderLimitReached = Self(rawValue: 4002)
    /// A transaction with the same ID is already pending in the mempool.
    public static let alreadyInMempool = Self(rawValue: 4003)
    /// The nonce is below the sender's next committed nonce (already used).
    public static let nonceTooLow = Self(rawValue: 4004)
    /// The nonce is further ahead of the sender's next nonce than `maxNonceGap`; `details["expectedNonce"]` names the next nonce.
    public static let nonceGap = Self(rawValue: 4005)
    /// The transaction's timestamp plus the mempool TTL lies in the past.
    public static let transactionExpired = Self(rawValue: 4006)
    /// The transaction's canonical encoding exceeds `maxTransactionBytes`.
    public static let transactionTooLarge = Self(rawValue: 4007)
    /// The transaction's chain ID is not this chain's.
    public static let wrongChain = Self(rawValue: 4008)
    /// The signature is missing, not low-S, or does not verify; `details["cause"]` holds the LedgerError code.
    public static let invalidSignature = Self(rawValue: 4009)
    /// Another transaction from the same sender with the same nonce is already pending.
    public static let nonceAlreadyPooled = Self(rawValue: 4010)
    /// A mempool configuration field is outside its documented range; `details["field"]` names it.
    public static let invalidMempoolConfiguration = Self(rawValue: 4011)
    /// The executor of the transaction's payload kind refused its signer on admission (an unregistered or disabled
    /// key); `details["cause"]` holds the executor's code (for records, AppAPI's 5420 or 5403).
    public static let senderNotPermitted = Self(rawValue: 4012)
}

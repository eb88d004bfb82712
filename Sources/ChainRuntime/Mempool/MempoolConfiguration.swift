import LedgerCore

/// The limits and chain parameters of a ``Mempool``.
///
/// ```swift
/// var config = MempoolConfiguration(chainID: 7)
/// config.maxTransactions = 50_000
/// try config.validate()
/// ```
/// A value type; `Sendable`.
public struct MempoolConfiguration: Hashable, Sendable {
    /// The largest accepted ``maxTransactions``.
    public static let maxTransactionsRange: ClosedRange<Int> = 1...10_000_000
    /// The accepted ``maxBytes``: 1 KiB to 64 GiB.
    public static let maxBytesRange: ClosedRange<Int> = 1024...(64 << 30)
    /// The accepted ``maxNonceGap``.
    public static let maxNonceGapRange: ClosedRange<UInt64> = 0...1_000_000
    /// The accepted ``ttlMillis``: 1 second to 7 days.
    public static let ttlMillisRange: ClosedRange<UInt64> = 1_000...(7 * 24 * 3_600_000)
    /// The accepted ``maxTransactionBytes``: 128 bytes to 16 MiB.
    public static let maxTransactionBytesRange: ClosedRange<Int> = 128...(16 << 20)

    /// The chain whose transactions are admitted. Required.
    public var chainID: UInt64
    /// The chain's hash algorithm (transaction IDs and signing digests). Default SHA-256.
    public var hashAlgorithm: HashAlgorithm
    /// The most transactions pending at once. Default 100,000; range ``maxTransactionsRange``.
    public var maxTransactions: Int
    /// The most bytes (sum of canonical encodings) pending at once. Default 256 MiB; range ``maxBytesRange``.
    public var maxBytes: Int
    /// The most transactions pending from one sender. Default 10,000; range `1...maxTransactions`.
    public var maxPerSender: Int
    /// How far a nonce may run ahead of the sender's next nonce: a nonce `n` is
    /// admitted when `next <= n <= next + maxNonceGap`. Default 1,000; range ``maxNonceGapRange``.
    public var maxNonceGap: UInt64
    /// How long a transaction stays pending, counted from the earlier of its
    /// own timestamp and its arrival. Default 600,000 (10 minutes); range ``ttlMillisRange``.
    public var ttlMillis: UInt64
    /// The largest canonical transaction encoding admitted. Default 1 MiB + 4 KiB
    /// (the largest payload plus its envelope); range ``maxTransactionBytesRange``.
    /// The limit applied is the smaller of this and ``maxBytes``.
    public var maxTransactionBytes: Int

    /// - Parameters:
    ///   - chainID: Required.
    ///   - hashAlgorithm: Optional, default SHA-256.
    ///   - maxTransactions: Optional, default 100,000.
    ///   - maxBytes: Optional, default 256 MiB.
    ///   - maxPerSender: Optional, default 10,000.
    ///   - maxNonceGap: Optional, default 1,000.
    ///   - ttlMillis: Optional, default 600,000.
    ///   - maxTransactionBytes: Optional, default 1 MiB + 4 KiB.
    /// - Note: Does not validate; ``Mempool/init(configuration:)`` calls ``validate()``.
    public init(chainID: UInt64, hashAlgorithm: HashAlgorithm = .default, maxTransactions: Int = 100_000,
                maxBytes: Int = 256 << 20, maxPerSender: Int = 10_000, maxNonceGap: UInt64 = 1_000,
                ttlMillis: UInt64 = 600_000, maxTransactionBytes: Int = (1 << 20) + 4096) {
        self.chainID = chainID
        self.hashAlgorithm = hashAlgorithm
        self.maxTransactions = maxTransactions
        self.maxBytes = maxBytes
        self.maxPerSender = maxPerSender
        self.maxNonceGap = maxNonceGap
        self.ttlMillis = ttlMillis
        self.maxTransactionBytes = maxTransactionBytes
    }

    /// Checks every field against its documented range.
    /// - Throws: `ChainError` `.invalidMempoolConfiguration` (4011) naming the
    ///   first field out of range in the message and in `details["field"]`.
    public func validate() throws(ChainError) {
        func fail(_ field: String, _ value: String, _ range: String) -> ChainError {
            ChainError(.invalidMempoolConfiguration, "mempool configuration field '\(field)' is \(value), expected \(range)",
                       details: ["field": field, "value": value])
        }
        let r1 = Self.maxTransactionsRange
        guard r1.contains(maxTransactions) else { throw fail("maxTransactions", String(maxTransactions), "\(r1.lowerBound)...\(r1.upperBound)") }
        let r2 = Self.maxBytesRange
        guard r2.contains(maxBytes) else { throw fail("maxBytes", String(maxBytes), "\(r2.lowerBound)...\(r2.upperBound)") }
        guard (1...maxTransactions).contains(maxPerSender) else {
            throw fail("maxPerSender", String(maxPerSender), "1...\(maxTransactions) (maxTransactions)")
        }
        let r3 = Self.maxNonceGapRange
        guard r3.contains(maxNonceGap) else { throw fail("maxNonceGap", String(maxNonceGap), "\(r3.lowerBound)...\(r3.upperBound)") }
        let r4 = Self.ttlMillisRange
        guard r4.contains(ttlMillis) else { throw fail("ttlMillis", String(ttlMillis), "\(r4.lowerBound)...\(r4.upperBound)") }
        let r5 = Self.maxTransactionBytesRange
        guard r5.contains(maxTransactionBytes) else {
            throw fail("maxTransactionBytes", String(maxTransactionBytes), "\(r5.lowerBound)...\(r5.upperBound)")
        }
    }
}

/// What the mempool holds for one sender (``Mempool/stats(for:)``).
public struct MempoolSenderStats: Hashable, Sendable {
    /// Transactions pending from this sender (ready and waiting behind a gap).
    public var pending: Int
    /// Of those, how many are ready: consecutive nonces from ``nextNonce``.
    public var ready: Int
    /// Sum of their canonical encodings, in bytes.
    public var bytes: Int
    /// The next nonce the mempool expects to be committed for this sender.
    public var nextNonce: UInt64
    /// The lowest pending nonce.
    public var lowestNonce: UInt64
    /// The highest pending nonce.
    public var highestNonce: UInt64

    /// Parameters as the properties of the same names.
    public init(pending: Int, ready: Int, bytes: Int, nextNonce: UInt64, lowestNonce: UInt64, highestNonce: UInt64) {
        self.pending = pending
        self.ready = ready
        self.bytes = bytes
        self.nextNonce = nextNonce
        self.lowestNonce = lowestNonce
        self.highestNonce = highestNonce
    }
}

import LedgerCrypto

/// A block: a signed header, the header hash the producer declared, and the
/// transactions in order.
///
/// Canonical encoding: RLP `[version, header, headerHash, [transactions]]`.
/// Validation (``BlockValidator``) recomputes the header hash and the
/// transaction root and compares them with what the block declares (K-V-3,
/// K-V-4).
///
/// ```swift
/// let block = try Block.make(parent: parentHeader, transactions: txs, stateRoot: root,
///                            producerKey: key, hashAlgorithm: .sha256, timestamp: .now())
/// ```
public struct Block: Hashable, Sendable {
    /// The encoding version written by this build.
    public static let encodingVersion: UInt64 = 1
    /// The most transactions a block may hold.
    public static let maximumTransactions = 1_000_000

    /// The signed header.
    public var header: BlockHeader
    /// The header hash as declared by the producer.
    public var headerHash: Digest
    /// The transactions, in execution order.
    public var transactions: [Transaction]

    /// Assembles a block as received; ``BlockValidator`` checks it. To build one, use ``make(parent:transactions:stateRoot:receiptRoot:consensusData:producerKey:chainID:hashAlgorithm:timestamp:transactionIDs:)``.
    public init(header: BlockHeader, headerHash: Digest, transactions: [Transaction]) {
        self.header = header
        self.headerHash = headerHash
        self.transactions = transactions
    }

    /// The RFC 6962 transaction root: Merkle tree over the transaction IDs
    /// (each 32-byte ID is one leaf's data).
    public static func transactionRoot(of transactions: [Transaction], using algorithm: HashAlgorithm) -> Digest {
        transactionRoot(ids: transactions.map { $0.id(using: algorithm) }, using: algorithm)
    }

    /// The RFC 6962 transaction root over precomputed transaction IDs.
    public static func transactionRoot(ids: [Digest], using algorithm: HashAlgorithm) -> Digest {
        ids.withUnsafeBytes { raw in
            // Digest is 32 bytes with stride 32: the IDs are one flat buffer of leaves.
            MerkleTree.bulkRoot(input: raw.baseAddress, count: ids.count, leafSize: 32,
                                algorithm: algorithm, concurrency: .automatic)
        }
    }

    /// Builds and signs a block on top of `parent` (or a genesis block when
    /// `parent` is nil).
    /// - Parameters:
    ///   - parent: Optional. The parent header; nil makes height 0 with a zero parent hash.
    ///   - transactions: Required. Signed transactions, in execution order.
    ///   - stateRoot: Optional, default `Digest.zero`. The state root after execution.
    ///   - receiptRoot: Optional, default `Digest.zero`.
    ///   - consensusData: Optional, default empty.
    ///   - producerKey: Required. The producer's private key.
    ///   - chainID: Optional; defaults to the parent's chain ID, else 0.
    ///   - hashAlgorithm: Required. The chain's hash algorithm.
    ///   - timestamp: Required. Must be after the parent's timestamp.
    ///   - transactionIDs: Optional, default nil (computed here). The transactions' IDs
    ///     (``Transaction/id(using:)`` with `hashAlgorithm`) when the caller has them already;
    ///     they must be exactly those, in order: a block made with others fails validation (1109).
    /// - Throws: crypto errors (13xx).
    public static func make(parent: BlockHeader?, transactions: [Transaction], stateRoot: Digest = .zero,
                            receiptRoot: Digest = .zero, consensusData: [UInt8] = [], producerKey: PrivateKey,
                            chainID: UInt64? = nil, hashAlgorithm: HashAlgorithm, timestamp: Timestamp,
                            transactionIDs: [Digest]? = nil) throws(LedgerError) -> Block {
        let ids = transactionIDs.flatMap { $0.count == transactions.count ? $0 : nil }
        var header = BlockHeader(
            chainID: chainID ?? parent?.chainID ?? 0,
            height: parent.map { $0.height.next } ?? 0,
            parentHash: parent?.hash(using: hashAlgorithm) ?? .zero,
            timestamp: timestamp,
            transactionRoot: ids.map { transactionRoot(ids: $0, using: hashAlgorithm) } ?? transactionRoot(of: transactions, using: hashAlgorithm),
            stateRoot: stateRoot, receiptRoot: receiptRoot,
            producer: producerKey.publicKey, consensusData: consensusData)
        try header.sign(with: producerKey, hashAlgorithm: hashAlgorithm)
        return Block(header: header, headerHash: header.hash(using: hashAlgorithm), transactions: transactions)
    }

    /// The canonical encoding.
    public var encoded: [UInt8] {
        RLP.encode(.list([.uint(Self.encodingVersion), header.item, .digest(headerHash),
                          .list(transactions.map(\.item))]))
    }

    /// Decodes a canonical block encoding.
    /// - Throws: `LedgerError`: encoding errors (10xx), `.unsupportedVersion`
    ///   (1012), `.tooManyTransactions` (1114), key/signature format errors
    ///   (13xx); a transaction's error carries its index in `details`.
    public init(decoding bytes: [UInt8]) throws(LedgerError) {
        let f = try RLP.decode(bytes).list("block", count: 4)
        let version = try f[0].uint64("block.version")
        guard version == Self.encodingVersion else {
            throw LedgerError(.unsupportedVersion, "block version \(version), expected \(Self.encodingVersion)",
                              details: ["field": "block.version"])
        }
        header = try BlockHeader(item: f[1])
        headerHash = try f[2].digest("block.headerHash")
        let items = try f[3].list("block.transactions")
        guard items.count <= Self.maximumTransactions else {
            throw LedgerError(.tooManyTransactions, "block holds \(items.count) transactions, at most \(Self.maximumTransactions)")
        }
        var txs = [Transaction]()
        txs.reserveCapacity(items.count)
        for (i, item) in items.enumerated() {
            do { txs.append(try Transaction(item: item)) } catch {
                var e = error
                e.message = "transaction \(i): " + e.message
                e.details["transactionIndex"] = String(i)
                throw e
            }
        }
        transactions = txs
    }
}

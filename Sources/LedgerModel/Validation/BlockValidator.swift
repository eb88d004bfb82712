import LedgerCrypto

/// Validates a block against its parent (K-V-1..4): header hash, producer
/// signature, timestamp, transaction root, every transaction's signature
/// (on all cores), chain ID, parent linkage and height.
///
/// Checks run in this order and the first failure is thrown:
/// 1. header hash (K-V-3): the declared hash equals the recomputed one;
/// 2. producer (K-V-1): authorised, and its signature over the hash verifies;
/// 3. chain ID, height and parent linkage;
/// 4. timestamp (K-V-2): strictly after the parent, at most
///    ``maximumClockDriftMillis`` ahead of the local clock;
/// 5. transactions: count, chain ID, no duplicates;
/// 6. transaction root (K-V-4);
/// 7. every transaction's signature, in parallel.
///
/// Every error names the block (`height`, `block` hash) in `details`, and a
/// transaction error names its index and ID.
///
/// ```swift
/// let validator = BlockValidator(chainID: 7, hashAlgorithm: .sha256)
/// try validator.validate(block, parent: parentHeader)
/// ```
/// A value type; safe to use from many threads at once.
public struct BlockValidator: Sendable {
    /// The chain this validator accepts blocks for.
    public var chainID: UInt64
    /// The chain's hash algorithm.
    public var hashAlgorithm: HashAlgorithm
    /// How far ahead of local time a block's timestamp may be. Default 15,000 ms.
    public var maximumClockDriftMillis: UInt64
    /// The keys allowed to produce blocks; nil accepts any producer whose
    /// signature verifies (for example PoW). Default nil.
    public var authorizedProducers: Set<PublicKey>?
    /// Worker threads for transaction signatures; 1 verifies serially.
    /// Default: the number of active processors.
    public var parallelism: Int

    /// - Parameters:
    ///   - chainID: Required.
    ///   - hashAlgorithm: Optional, default SHA-256.
    ///   - maximumClockDriftMillis: Optional, default 15,000; range 0...Int64.max.
    ///   - authorizedProducers: Optional, default nil (any producer).
    ///   - parallelism: Optional, default the active processor count; at least 1.
    public init(chainID: UInt64, hashAlgorithm: HashAlgorithm = .default, maximumClockDriftMillis: UInt64 = 15_000,
                authorizedProducers: Set<PublicKey>? = nil, parallelism: Int? = nil) {
        self.chainID = chainID
        self.hashAlgorithm = hashAlgorithm
        self.maximumClockDriftMillis = maximumClockDriftMillis
        self.authorizedProducers = authorizedProducers
        self.parallelism = max(1, parallelism ?? activeProcessorCount())
    }

    /// Validates `block` as the child of `parent` (or as genesis when
    /// `parent` is nil).
    /// - Parameters:
    ///   - block: Required.
    ///   - parent: Optional. The header of the block at `height - 1`; nil for genesis.
    ///   - now: Optional, default the system clock. The local time for the drift check.
    /// - Throws: `LedgerError` with one of 1101–1109, 1111, 1114–1116 (see
    ///   `LedgerError.Code`). Never mutates anything.
    public func validate(_ block: Block, parent: BlockHeader?, now: Timestamp = .now()) throws(LedgerError) {
        try validate(block, parent: parent, now: now, alreadyVerified: nil)
    }

    /// ``validate(_:parent:now:)`` that skips the signature check of the
    /// transactions `alreadyVerified` reports as verified before (a node's
    /// mempool admitted them after checking their signature, K-T-2); every
    /// other check, the transaction root included, still runs on all of them.
    /// - Parameters:
    ///   - block: Required. The block to check.
    ///   - parent: Optional. The header of the block at `height - 1`; nil for genesis.
    ///   - now: Optional, default the system clock. The local time for the drift check.
    ///   - alreadyVerified: Optional. Given a transaction ID, true when its
    ///     signature was verified under this chain's rules. Called concurrently; must be thread-safe.
    /// - Throws: As ``validate(_:parent:now:)``.
    /// - Note: Pure apart from `alreadyVerified`; safe to call concurrently.
    public func validate(_ block: Block, parent: BlockHeader?, now: Timestamp = .now(),
                         alreadyVerified: (@Sendable (Digest) -> Bool)?) throws(LedgerError) {
        let header = block.header
        let context = ["height": header.height.description, "block": block.headerHash.hex]
        func fail(_ code: LedgerError.Code, _ message: String, _ extra: [String: String] = [:]) -> LedgerError {
            LedgerError(code, "block \(header.height) (\(block.headerHash.hex.prefix(16))): \(message)",
                        details: context.merging(extra) { a, _ in a })
        }

        // K-V-3: header hash.
        let computed = header.hash(using: hashAlgorithm)
        guard computed == block.headerHash else {
            throw fail(.headerHashMismatch, "declared header hash does not match the computed \(computed.hex)")
        }
        // K-V-1: producer and its signature.
        if let authorizedProducers, !authorizedProducers.contains(header.producer) {
            throw fail(.unauthorizedProducer, "producer \(Hex.encode(header.producer.rawRepresentation)) is not an authorised producer")
        }
        guard let signature = header.signature else {
            throw fail(.producerSignatureInvalid, "header is not signed")
        }
        do {
            try header.producer.verify(signature, for: computed.bytes, requireLowS: true)
        } catch {
            throw fail(.producerSignatureInvalid, "producer signature does not verify (\(error.message))",
                       ["cause": String(error.numericCode)])
        }
        // Chain, height, parent linkage.
        guard header.chainID == chainID else {
            throw fail(.chainIDMismatch, "chain ID \(header.chainID), expected \(chainID)")
        }
        if let parent {
            guard header.height == parent.height.next else {
                throw fail(.heightMismatch, "height \(header.height), expected \(parent.height.next)")
            }
            let parentHash = parent.hash(using: hashAlgorithm)
            guard header.parentHash == parentHash else {
                throw fail(.parentHashMismatch, "parent hash \(header.parentHash.hex), expected \(parentHash.hex)")
            }
            // K-V-2: timestamp after the parent's.
            guard header.timestamp > parent.timestamp else {
                throw fail(.timestampNotAfterParent, "timestamp \(header.timestamp.rawValue) is not after the parent's \(parent.timestamp.rawValue)")
            }
        } else {
            guard header.height == 0, header.parentHash == .zero else {
                throw fail(.heightMismatch, "a block without parent must be genesis (height 0, zero parent hash)")
            }
        }
        // K-V-2: not too far ahead of local time.
        let limit = now.adding(milliseconds: maximumClockDriftMillis)
        guard header.timestamp <= limit else {
            throw fail(.timestampTooFarAhead, "timestamp \(header.timestamp.rawValue) is more than \(maximumClockDriftMillis) ms ahead of local time \(now.rawValue)")
        }
        // Transactions: count, chain, duplicates, root.
        guard block.transactions.count <= Block.maximumTransactions else {
            throw fail(.tooManyTransactions, "\(block.transactions.count) transactions, at most \(Block.maximumTransactions)")
        }
        let ids = transactionIDs(block.transactions)
        var seen = Set<Digest>(minimumCapacity: ids.count)
        for (i, tx) in block.transactions.enumerated() {
            guard tx.chainID == chainID else {
                throw fail(.transactionChainIDMismatch, "transaction \(i) has chain ID \(tx.chainID), expected \(chainID)",
                           ["transactionIndex": String(i), "transaction": ids[i].hex])
            }
            guard seen.insert(ids[i]).inserted else {
                throw fail(.duplicateTransaction, "transaction \(i) (\(ids[i].hex)) appears twice",
                           ["transactionIndex": String(i), "transaction": ids[i].hex])
            }
        }
        // K-V-4: transaction root.
        let root = Block.transactionRoot(ids: ids, using: hashAlgorithm)
        guard root == header.transactionRoot else {
            throw fail(.transactionRootMismatch, "transaction root \(header.transactionRoot.hex), computed \(root.hex)")
        }
        // Every transaction's signature.
        if let (index, error) = firstInvalidSignature(block.transactions, ids: ids, skip: alreadyVerified) {
            throw fail(error.code, "transaction \(index) (\(ids[index].hex)): \(error.message)",
                       error.details.merging(["transactionIndex": String(index), "transaction": ids[index].hex]) { a, _ in a })
        }
    }

    /// Transaction IDs, computed on all cores for large blocks.
    func transactionIDs(_ transactions: [Transaction]) -> [Digest] {
        let algorithm = hashAlgorithm
        return ParallelWork.map(transactions, threads: parallelism, chunkSize: 512) { $0.id(using: algorithm) }
    }

    /// The lowest index whose signature fails, with its error.
    func firstInvalidSignature(_ transactions: [Transaction], ids: [Digest]? = nil,
                               skip: (@Sendable (Digest) -> Bool)? = nil) -> (Int, LedgerError)? {
        let algorithm = hashAlgorithm
        let work: [(Transaction, Digest?)] = transactions.indices.map { (transactions[$0], ids?[$0]) }
        let results: [LedgerError?] = ParallelWork.map(work, threads: parallelism, chunkSize: 64) { (item: (Transaction, Digest?)) -> LedgerError? in
            if let skip, let id = item.1, skip(id) { return nil }
            do throws(LedgerError) { try item.0.verifySignature(hashAlgorithm: algorithm); return nil } catch { return error }
        }
        for (i, r) in results.enumerated() { if let r { return (i, r) } }
        return nil
    }
}

func activeProcessorCount() -> Int {
    #if canImport(Glibc)
    return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    #else
    return 1
    #endif
}

#if canImport(Glibc)
import Glibc
#endif

// Transactions, blocks and validation (11xx).
extension LedgerError.Code {
    /// The declared header hash differs from the recomputed one (K-V-3).
    public static let headerHashMismatch = Self(rawValue: 1101)
    /// The producer's signature is missing or does not verify (K-V-1).
    public static let producerSignatureInvalid = Self(rawValue: 1102)
    /// The producer is not in the authorised set (K-V-1).
    public static let unauthorizedProducer = Self(rawValue: 1103)
    /// The block is for another chain.
    public static let chainIDMismatch = Self(rawValue: 1104)
    /// The height is not the parent's plus one.
    public static let heightMismatch = Self(rawValue: 1105)
    /// The parent hash is not the parent's header hash.
    public static let parentHashMismatch = Self(rawValue: 1106)
    /// The timestamp is not strictly after the parent's (K-V-2).
    public static let timestampNotAfterParent = Self(rawValue: 1107)
    /// The timestamp is too far ahead of local time (K-V-2).
    public static let timestampTooFarAhead = Self(rawValue: 1108)
    /// The transaction root differs from the one computed (K-V-4).
    public static let transactionRootMismatch = Self(rawValue: 1109)
    /// A transaction carries no signature.
    public static let missingSignature = Self(rawValue: 1110)
    /// A transaction's signature does not verify.
    public static let transactionSignatureInvalid = Self(rawValue: 1111)
    /// A signing key does not belong to the sender or producer named.
    public static let senderKeyMismatch = Self(rawValue: 1112)
    /// A payload or consensus-data field exceeds its size limit.
    public static let payloadTooLarge = Self(rawValue: 1113)
    /// A block holds more transactions than allowed.
    public static let tooManyTransactions = Self(rawValue: 1114)
    /// A transaction in the block is for another chain.
    public static let transactionChainIDMismatch = Self(rawValue: 1115)
    /// The same transaction appears twice in a block.
    public static let duplicateTransaction = Self(rawValue: 1116)
}

import LedgerCrypto

/// A block header: height, parent hash, timestamp, the transaction, state
/// and receipt roots, the producer's key, consensus data, and the producer's
/// signature over the header hash.
///
/// The header hash is the digest (under the chain's hash algorithm) of the
/// RLP list `[version, chainID, height, parentHash, timestamp,
/// transactionRoot, stateRoot, receiptRoot, scheme, producer,
/// consensusData]`; the signature is not part of it.
public struct BlockHeader: Hashable, Sendable {
    /// The encoding version written by this build.
    public static let encodingVersion: UInt64 = 1
    /// The largest consensus-data field accepted: 64 KiB.
    public static let maximumConsensusDataBytes = 64 << 10

    /// The chain the block belongs to.
    public var chainID: UInt64
    /// 0 for genesis, the parent's height + 1 otherwise.
    public var height: Height
    /// The header hash of the block at `height - 1`; `Digest.zero` for genesis.
    public var parentHash: Digest
    /// When the producer made the block; strictly after the parent's.
    public var timestamp: Timestamp
    /// RFC 6962 root over the block's transaction IDs, in order.
    public var transactionRoot: Digest
    /// Root of the world state after executing the block.
    public var stateRoot: Digest
    /// RFC 6962 root over the block's receipts.
    public var receiptRoot: Digest
    /// The producer's public key.
    public var producer: PublicKey
    /// Engine-specific data (view, round, PoW nonce, certificate of the parent...).
    public var consensusData: [UInt8]
    /// The producer's signature over ``hash(using:)``.
    public var signature: Signature?

    /// Parameters as the properties of the same names; `signature` is nil until ``sign(with:hashAlgorithm:)``.
    public init(chainID: UInt64, height: Height, parentHash: Digest, timestamp: Timestamp,
                transactionRoot: Digest, stateRoot: Digest, receiptRoot: Digest,
                producer: PublicKey, consensusData: [UInt8] = [], signature: Signature? = nil) {
        self.chainID = chainID
        self.height = height
        self.parentHash = parentHash
        self.timestamp = timestamp
        self.transactionRoot = transactionRoot
        self.stateRoot = stateRoot
        self.receiptRoot = receiptRoot
        self.producer = producer
        self.consensusData = consensusData
        self.signature = signature
    }

    var hashedFields: [RLP.Item] {
        [.uint(Self.encodingVersion), .uint(chainID), .uint(height.rawValue), .digest(parentHash),
         .uint(timestamp.rawValue), .digest(transactionRoot), .digest(stateRoot), .digest(receiptRoot),
         .string(producer.scheme.rawValue), .bytes(producer.rawRepresentation), .bytes(consensusData)]
    }

    /// The header hash (the block's ID).
    public func hash(using algorithm: HashAlgorithm) -> Digest {
        algorithm.hash(RLP.encode(.list(hashedFields)))
    }

    /// Signs the header hash with the producer's key.
    /// - Throws: `LedgerError` `.senderKeyMismatch` (1112) when `key` is not
    ///   the producer's; crypto errors (13xx).
    public mutating func sign(with key: PrivateKey, hashAlgorithm: HashAlgorithm) throws(LedgerError) {
        guard key.publicKey == producer else {
            throw LedgerError(.senderKeyMismatch, "signing key does not belong to the block's producer")
        }
        signature = try key.signature(for: hash(using: hashAlgorithm).bytes)
    }

    /// The canonical encoding: the hashed fields followed by the signature.
    public var item: RLP.Item { .list(hashedFields + [.bytes(signature?.rawRepresentation ?? [])]) }

    /// Decodes a header from its RLP item.
    /// - Throws: encoding (10xx), key and signature format (13xx) errors.
    public init(item: RLP.Item) throws(LedgerError) {
        let f = try item.list("header", count: 12)
        let version = try f[0].uint64("header.version")
        guard version == Self.encodingVersion else {
            throw LedgerError(.unsupportedVersion, "header version \(version), expected \(Self.encodingVersion)",
                              details: ["field": "header.version"])
        }
        chainID = try f[1].uint64("header.chainID")
        height = Height(try f[2].uint64("header.height"))
        parentHash = try f[3].digest("header.parentHash")
        timestamp = Timestamp(rawValue: try f[4].uint64("header.timestamp"))
        transactionRoot = try f[5].digest("header.transactionRoot")
        stateRoot = try f[6].digest("header.stateRoot")
        receiptRoot = try f[7].digest("header.receiptRoot")
        let schemeName = try f[8].string("header.scheme")
        guard let scheme = SignatureScheme(rawValue: schemeName) else {
            throw LedgerError(.invalidFieldValue, "field 'header.scheme': unknown signature scheme '\(schemeName)'",
                              details: ["field": "header.scheme"])
        }
        producer = try PublicKey(scheme: scheme, rawRepresentation: try f[9].bytes("header.producer"))
        consensusData = try f[10].bytes("header.consensusData")
        guard consensusData.count <= Self.maximumConsensusDataBytes else {
            throw LedgerError(.payloadTooLarge, "consensus data of \(consensusData.count) bytes exceeds \(Self.maximumConsensusDataBytes)",
                              details: ["field": "header.consensusData"])
        }
        let sig = try f[11].bytes("header.signature")
        signature = sig.isEmpty ? nil : try Signature(scheme: scheme, rawRepresentation: sig)
    }
}

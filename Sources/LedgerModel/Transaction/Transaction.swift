import LedgerCrypto

/// What a transaction asks the chain to do: a payload kind that selects the
/// executor (for example `kv`, `record`, `contract`) and opaque bytes that
/// the executor interprets.
public struct TransactionPayload: Hashable, Sendable {
    /// Selects the executor. 1–64 bytes of UTF-8.
    public var kind: String
    /// The executor's input; up to ``Transaction/maximumPayloadBytes``.
    public var body: [UInt8]

    /// - Parameters:
    ///   - kind: Required. The executor that handles it (`kv`, `record`, ...).
    ///   - body: Required. The executor's input bytes.
    public init(kind: String, body: [UInt8]) {
        self.kind = kind
        self.body = body
    }
}

/// A signed transaction: chain ID, sender key, nonce, timestamp, payload
/// and the sender's signature.
///
/// The canonical encoding is RLP:
/// `[version, chainID, scheme, sender, nonce, timestamp, kind, body, signature]`.
/// The sender signs the digest (under the chain's hash algorithm) of the same
/// list without the signature. The transaction ID is the digest of the whole
/// encoding.
///
/// ```swift
/// var tx = Transaction(chainID: 7, sender: key.publicKey, nonce: 0,
///                      timestamp: .now(), payload: .init(kind: "kv", body: bytes))
/// try tx.sign(with: key, hashAlgorithm: .sha256)
/// ```
public struct Transaction: Hashable, Sendable {
    /// The encoding version written by this build.
    public static let encodingVersion: UInt64 = 1
    /// The largest payload body accepted: 1 MiB.
    public static let maximumPayloadBytes = 1 << 20

    /// The chain this transaction is for (replay protection across chains).
    public var chainID: UInt64
    /// The sender's public key; it also names the signature scheme.
    public var sender: PublicKey
    /// Per-sender sequence number, from 0.
    public var nonce: UInt64
    /// When the sender created the transaction.
    public var timestamp: Timestamp
    /// What to execute.
    public var payload: TransactionPayload
    /// The sender's signature over ``signingDigest(using:)``; `nil` until signed.
    public var signature: Signature?

    /// An unsigned transaction unless `signature` is given; sign it with ``sign(with:hashAlgorithm:)``.
    /// - Parameters:
    ///   - chainID: Required. The chain's ID.
    ///   - sender: Required. The signer's public key.
    ///   - nonce: Required. The sender's next nonce, from 0.
    ///   - timestamp: Required. Creation time.
    ///   - payload: Required. What to execute.
    ///   - signature: Optional, default nil.
    public init(chainID: UInt64, sender: PublicKey, nonce: UInt64, timestamp: Timestamp,
                payload: TransactionPayload, signature: Signature? = nil) {
        self.chainID = chainID
        self.sender = sender
        self.nonce = nonce
        self.timestamp = timestamp
        self.payload = payload
        self.signature = signature
    }

    private var unsignedFields: [RLP.Item] {
        [.uint(Self.encodingVersion), .uint(chainID), .string(sender.scheme.rawValue),
         .bytes(sender.rawRepresentation), .uint(nonce), .uint(timestamp.rawValue),
         .string(payload.kind), .bytes(payload.body)]
    }

    /// The bytes the sender signs (before hashing).
    public var signingPayload: [UInt8] { RLP.encode(.list(unsignedFields)) }

    /// The digest the sender signs.
    public func signingDigest(using algorithm: HashAlgorithm) -> Digest {
        algorithm.hash(signingPayload)
    }

    /// The canonical encoding (with the signature; an unsigned transaction
    /// encodes an empty signature).
    public var encoded: [UInt8] { RLP.encode(item) }

    /// The canonical encoding as an RLP item.
    public var item: RLP.Item { .list(unsignedFields + [.bytes(signature?.rawRepresentation ?? [])]) }

    /// The transaction ID: the digest of ``encoded``.
    public func id(using algorithm: HashAlgorithm) -> Digest { algorithm.hash(encoded) }

    /// Signs with the sender's private key.
    /// - Parameters:
    ///   - key: Required. Must be the private key of ``sender``.
    ///   - hashAlgorithm: Required. The chain's hash algorithm.
    /// - Throws: `LedgerError` `.senderKeyMismatch` (1112) when `key` is not
    ///   the sender's; signature errors (13xx) from the crypto layer.
    public mutating func sign(with key: PrivateKey, hashAlgorithm: HashAlgorithm) throws(LedgerError) {
        guard key.publicKey == sender else {
            throw LedgerError(.senderKeyMismatch, "signing key does not belong to the transaction's sender")
        }
        signature = try key.signature(for: signingDigest(using: hashAlgorithm).bytes)
    }

    /// Checks the signature against the sender's key (low-S required for
    /// ECDSA schemes).
    /// - Throws: `LedgerError` `.missingSignature` (1110) or
    ///   `.transactionSignatureInvalid` (1111), with the underlying crypto
    ///   error's code in `details["cause"]`.
    public func verifySignature(hashAlgorithm: HashAlgorithm) throws(LedgerError) {
        guard let signature else {
            throw LedgerError(.missingSignature, "transaction is not signed")
        }
        try verify(signature, over: signingDigest(using: hashAlgorithm).bytes)
    }

    private func verify(_ signature: Signature, over digest: [UInt8]) throws(LedgerError) {
        do {
            try sender.verify(signature, for: digest, requireLowS: true)
        } catch {
            throw LedgerError(.transactionSignatureInvalid, "transaction signature does not verify: \(error.message)",
                              details: ["cause": String(error.numericCode)])
        }
    }

    /// ``verifySignature(hashAlgorithm:)`` through a process-wide memo of
    /// transaction signatures that verified (keyed by the digest of sender key,
    /// signature and signing digest): a transaction checked once in this
    /// process (by another node of an in-process cluster, or ahead of
    /// admission off the node's actor) is not verified again. The answer is
    /// the same as without the memo; only successes are remembered.
    /// - Throws: as ``verifySignature(hashAlgorithm:)``.
    /// - Note: Thread-safe.
    package func verifySignatureOnce(hashAlgorithm: HashAlgorithm) throws(LedgerError) {
        guard let signature else { throw LedgerError(.missingSignature, "transaction is not signed") }
        let memo = VerifiedSignatureCache.transactions
        let digest = signingDigest(using: hashAlgorithm).bytes
        let key = VerifiedSignatureCache.key(sender, signature, digest)
        if memo.contains(key) { return }
        try verify(signature, over: digest)
        memo.insert(key)
    }

    /// Decodes a canonical transaction encoding.
    /// - Parameter bytes: Required. The output of ``encoded``.
    /// - Throws: `LedgerError`: encoding errors (10xx), `.unsupportedVersion`
    ///   (1012), `.payloadTooLarge` (1113), key and signature format errors
    ///   (13xx). Never traps on any input.
    public init(decoding bytes: [UInt8]) throws(LedgerError) {
        try self.init(item: try RLP.decode(bytes))
    }

    /// Decodes a transaction from an already-decoded RLP item.
    public init(item: RLP.Item) throws(LedgerError) {
        let f = try item.list("transaction", count: 9)
        let version = try f[0].uint64("transaction.version")
        guard version == Self.encodingVersion else {
            throw LedgerError(.unsupportedVersion, "transaction version \(version), expected \(Self.encodingVersion)",
                              details: ["field": "transaction.version"])
        }
        chainID = try f[1].uint64("transaction.chainID")
        let schemeName = try f[2].string("transaction.scheme")
        guard let scheme = SignatureScheme(rawValue: schemeName) else {
            throw LedgerError(.invalidFieldValue, "field 'transaction.scheme': unknown signature scheme '\(schemeName)'",
                              details: ["field": "transaction.scheme"])
        }
        sender = try PublicKey(scheme: scheme, rawRepresentation: try f[3].bytes("transaction.sender"))
        nonce = try f[4].uint64("transaction.nonce")
        timestamp = Timestamp(rawValue: try f[5].uint64("transaction.timestamp"))
        let kind = try f[6].string("transaction.kind")
        guard (1...64).contains(kind.utf8.count) else {
            throw LedgerError(.invalidFieldValue, "field 'transaction.kind': length \(kind.utf8.count), expected 1...64",
                              details: ["field": "transaction.kind"])
        }
        let body = try f[7].bytes("transaction.body")
        guard body.count <= Self.maximumPayloadBytes else {
            throw LedgerError(.payloadTooLarge, "payload of \(body.count) bytes exceeds \(Self.maximumPayloadBytes)",
                              details: ["field": "transaction.body"])
        }
        payload = TransactionPayload(kind: kind, body: body)
        let sig = try f[8].bytes("transaction.signature")
        signature = sig.isEmpty ? nil : try Signature(scheme: scheme, rawRepresentation: sig)
    }
}

import Foundation
import LedgerCore

/// What a verifier trusts: the chain's ID, hash algorithm and validator set
/// (from the genesis configuration, distributed out of band).
///
/// `Platform` writes it to `DIR/trust-anchor.json`; ``UploadReceipt/verify(against:record:)`` needs nothing else.
public struct TrustAnchor: Hashable, Sendable, Codable {
    /// The chain's ID (the `chainID` of every transaction and header).
    public var chainID: UInt64
    /// The chain's hash algorithm, for IDs, header hashes and proofs.
    public var hashAlgorithm: HashAlgorithm
    /// The validators whose signatures and quorum certify commits.
    public var validators: ValidatorSet

    /// - Parameters:
    ///   - chainID: Required. The chain's ID.
    ///   - hashAlgorithm: Required. The chain's hash algorithm.
    ///   - validators: Required. The validator set that signs commit certificates.
    public init(chainID: UInt64, hashAlgorithm: HashAlgorithm, validators: ValidatorSet) {
        self.chainID = chainID
        self.hashAlgorithm = hashAlgorithm
        self.validators = validators
    }

    enum CodingKeys: String, CodingKey { case chainID = "chain_id", hashAlgorithm = "hash_algorithm", validators }
}

/// Proof that one version of a record is on chain (A-UP-4): the record's
/// digest, the signed transaction that carries it, the block header, the
/// RFC 6962 inclusion proofs of the transaction (against the header's
/// transaction root) and of its successful receipt (against the receipt
/// root), and the block's commit certificate.
///
/// ```swift
/// let receipt = try await platform.records.upload(record, token: token)
/// try receipt.verify(against: platform.trustAnchor)   // offline, no node needed
/// ```
/// JSON form: the summary fields plus hex encodings (`transaction`, `header`,
/// `receipt`, `certificate`) and the two proofs; `forgechain records verify FILE` checks it.
public struct UploadReceipt: Hashable, Sendable, Codable {
    /// The record's ID (``ManufacturingRecord/recordID``).
    public var recordID: String
    /// The version this receipt proves: 1 for the upload, one more for each update.
    public var version: UInt64
    /// The record's canonical digest (A-UP-3).
    public var recordDigest: Digest
    /// The ID of the transaction that carries the record (the digest of its canonical encoding).
    public var transactionID: Digest
    /// The height of the block that holds the transaction.
    public var height: UInt64
    /// The header hash of that block.
    public var blockHash: Digest
    /// The signed transaction itself.
    public var transaction: Transaction
    /// The header of the block that holds it.
    public var header: BlockHeader
    /// The transaction's inclusion proof against `header.transactionRoot`.
    public var inclusionProof: InclusionProof
    /// The transaction's execution receipt (status 0 for success).
    public var receipt: Receipt
    /// The receipt's inclusion proof against `header.receiptRoot`.
    public var receiptProof: InclusionProof
    /// The block's commit certificate, checked against the trust anchor's validators.
    public var certificate: CommitCertificate

    /// Assembles a receipt; ``transactionID`` and ``height`` are taken from `receipt` and `header`.
    /// Platforms make receipts; a verifier decodes them from JSON and calls ``verify(against:record:)``.
    public init(recordID: String, version: UInt64, recordDigest: Digest, transaction: Transaction, header: BlockHeader, blockHash: Digest,
                inclusionProof: InclusionProof, receipt: Receipt, receiptProof: InclusionProof, certificate: CommitCertificate) {
        self.recordID = recordID
        self.version = version
        self.recordDigest = recordDigest
        transactionID = receipt.transactionID
        height = header.height.rawValue
        self.blockHash = blockHash
        self.transaction = transaction
        self.header = header
        self.inclusionProof = inclusionProof
        self.receipt = receipt
        self.receiptProof = receiptProof
        self.certificate = certificate
    }

    /// Checks the receipt offline: header hash and chain, commit certificate
    /// (signatures and quorum of `anchor`'s validators), transaction ID and
    /// signature, both inclusion proofs, a successful receipt, and that the
    /// transaction carries this record version with this digest.
    /// - Parameters:
    ///   - anchor: Required. The chain's trust anchor.
    ///   - record: Optional. When given, its canonical digest must equal ``recordDigest``.
    /// - Throws: `AppError` `.receiptInvalid` (5104); `details["check"]` names the failed step
    ///   (`chain`, `header`, `certificate`, `transaction`, `inclusionProof`, `receipt`, `record`).
    /// - Note: Pure; no timeout; safe to call concurrently.
    public func verify(against anchor: TrustAnchor, record: ManufacturingRecord? = nil) throws(AppError) {
        let alg = anchor.hashAlgorithm
        func fail(_ check: String, _ message: String) -> AppError {
            AppError(.receiptInvalid, "receipt for '\(recordID)' v\(version): \(message)", details: ["check": check, "recordID": recordID])
        }
        guard header.chainID == anchor.chainID, transaction.chainID == anchor.chainID else {
            throw fail("chain", "chain \(header.chainID), the anchor's chain is \(anchor.chainID)")
        }
        guard header.hash(using: alg) == blockHash, header.height.rawValue == height else {
            throw fail("header", "the header does not hash to block \(blockHash.hex) at height \(height)")
        }
        guard certificate.height.rawValue == height, certificate.blockHash == blockHash else {
            throw fail("certificate", "the certificate is for another block")
        }
        do {
            try certificate.verify(block: Block(header: header, headerHash: blockHash, transactions: []), validators: anchor.validators, hashAlgorithm: alg)
        } catch {
            throw fail("certificate", error.message)
        }
        guard transaction.id(using: alg) == transactionID else { throw fail("transaction", "the transaction does not hash to \(transactionID.hex)") }
        do { try transaction.verifySignature(hashAlgorithm: alg) } catch { throw fail("transaction", error.message) }
        do { try inclusionProof.verify(leafData: transactionID.bytes, root: header.transactionRoot) } catch {
            throw fail("inclusionProof", error.message)
        }
        guard receipt.transactionID == transactionID, receipt.status == Receipt.success, receiptProof.leafIndex == inclusionProof.leafIndex else {
            throw fail("receipt", "the receipt is not the transaction's successful receipt")
        }
        do { try receiptProof.verify(leafData: receipt.digest(using: alg).bytes, root: header.receiptRoot) } catch {
            throw fail("receipt", error.message)
        }
        guard transaction.payload.kind == RecordsExecutor.kind,
              let ops = try? RecordOperation.operations(inBody: transaction.payload.body),
              let op = ops.first(where: { $0.recordID == recordID && $0.version == version }) else {
            throw fail("record", "the transaction does not carry this record version")
        }
        guard op.digest == recordDigest, alg.hash(op.recordBytes) == recordDigest else {
            throw fail("record", "the transaction's record digest differs from \(recordDigest.hex)")
        }
        if let record, record.digest(using: alg) != recordDigest {
            throw fail("record", "the record given hashes to \(record.digest(using: alg).hex), not \(recordDigest.hex)")
        }
    }

    enum CodingKeys: String, CodingKey {
        case recordID = "record_id", version, recordDigest = "record_digest", transactionID = "transaction_id", height = "block_height"
        case blockHash = "block_hash", transaction, header, inclusionProof = "inclusion_proof", receipt, receiptProof = "receipt_proof", certificate
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func hex(_ key: CodingKeys) throws -> [UInt8] { try Hex.decode(try c.decode(String.self, forKey: key)) }
        recordID = try c.decode(String.self, forKey: .recordID)
        version = try c.decode(UInt64.self, forKey: .version)
        recordDigest = try Digest(hex: try c.decode(String.self, forKey: .recordDigest))
        transactionID = try Digest(hex: try c.decode(String.self, forKey: .transactionID))
        height = try c.decode(UInt64.self, forKey: .height)
        blockHash = try Digest(hex: try c.decode(String.self, forKey: .blockHash))
        transaction = try Transaction(decoding: try hex(.transaction))
        header = try BlockHeader(item: try RLP.decode(try hex(.header)))
        inclusionProof = try c.decode(InclusionProof.self, forKey: .inclusionProof)
        receipt = try Receipt(decoding: try hex(.receipt))
        receiptProof = try c.decode(InclusionProof.self, forKey: .receiptProof)
        certificate = try CommitCertificate(decoding: try hex(.certificate))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(recordID, forKey: .recordID)
        try c.encode(version, forKey: .version)
        try c.encode(recordDigest.hex, forKey: .recordDigest)
        try c.encode(transactionID.hex, forKey: .transactionID)
        try c.encode(height, forKey: .height)
        try c.encode(blockHash.hex, forKey: .blockHash)
        try c.encode(Hex.encode(transaction.encoded), forKey: .transaction)
        try c.encode(Hex.encode(RLP.encode(header.item)), forKey: .header)
        try c.encode(inclusionProof, forKey: .inclusionProof)
        try c.encode(Hex.encode(receipt.encoded), forKey: .receipt)
        try c.encode(receiptProof, forKey: .receiptProof)
        try c.encode(Hex.encode(certificate.encoded), forKey: .certificate)
    }
}

extension UploadReceipt {
    /// Builds the receipts of `operations` committed in transaction `transactionID`.
    /// - Throws: `AppError` `.indexFailure` (5204) when the store cannot be read.
    static func build(transactionID: Digest, operations: [(recordID: String, version: UInt64, digest: Digest)],
                      store: LedgerStore) throws(AppError) -> [UploadReceipt] {
        do {
            guard let at = try store.location(ofTransaction: transactionID) else {
                throw AppError(.recordNotFound, "transaction \(transactionID.hex) is not committed")
            }
            let block = try store.block(atHeight: at.height)
            let receipts = try store.receipts(atHeight: at.height)
            guard let certificate = try store.certificate(atHeight: at.height), at.index < receipts.count else {
                throw AppError(.indexFailure, "block \(at.height) has no commit certificate or receipt")
            }
            let alg = store.hashAlgorithm
            let txTree = MerkleTree(leaves: block.transactions.map { $0.id(using: alg).bytes }, algorithm: alg)
            let receiptTree = MerkleTree(leaves: receipts.map { $0.digest(using: alg).bytes }, algorithm: alg)
            let proof = try txTree.inclusionProof(forLeafAt: at.index)
            let receiptProof = try receiptTree.inclusionProof(forLeafAt: at.index)
            return operations.map {
                UploadReceipt(recordID: $0.recordID, version: $0.version, recordDigest: $0.digest, transaction: block.transactions[at.index],
                              header: block.header, blockHash: block.headerHash, inclusionProof: proof, receipt: receipts[at.index],
                              receiptProof: receiptProof, certificate: certificate)
            }
        } catch let e as AppError {
            throw e
        } catch let e as LedgerError {
            throw RecordIndex.failure(e)
        } catch {
            throw AppError(.indexFailure, "\(error)")
        }
    }
}

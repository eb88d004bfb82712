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

/// Proof that one version of a record is on chain (A-UP-4), small and self-contained: the record's own
/// operation bytes with an RFC 6962 proof that they belong to the transaction's operations commitment, the
/// transaction's successful execution receipt (whose output is that commitment) with its proof against the
/// block's receipt root, the transaction ID's proof against the transaction root, the block header and the
/// block's commit certificate. Its size does not depend on how many other records shared the transaction
/// (as JSON, about 2.1 KB for a record alone in its transaction, 3.0 KB in a 2,500-record one: 12 proof hashes more).
///
/// ```swift
/// let receipt = try await platform.records.upload(record, token: token)
/// try receipt.verify(against: platform.trustAnchor)   // offline, no node needed
/// ```
/// **JSON form** (format 2, what this build writes; `forgechain records verify FILE` and
/// `Scripts/verify_receipts.py` check it): `format` (2), `record_id`, `version`, `record_digest`,
/// `transaction_id`, `block_height`, `block_hash`, `operation` (hex of the operation's encoding),
/// `operation_index`, `operation_proof`, `header`, `inclusion_proof`, `receipt`, `receipt_proof` and
/// `certificate` (hex of their canonical encodings); <doc:UploadAndVerifyAReceipt> specifies every byte.
/// Receipts of format 1 (no `format` key; the whole signed `transaction` instead of `operation` and its
/// proof), written by earlier builds, still decode and verify.
public struct UploadReceipt: Hashable, Sendable, Codable {
    /// The JSON format this build writes: 2.
    public static let formatVersion = 2

    /// 2 for a receipt that carries one operation and its proof; 1 for one that carries the whole transaction.
    public var format: Int
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
    /// Format 2: the record's operation exactly as encoded in the transaction body (``RecordOperation/encoded``).
    /// Empty in format 1.
    public var operation: [UInt8]
    /// Format 2: the operation's position in the transaction, `0..<count` of the operations commitment. 0 in format 1.
    public var operationIndex: Int
    /// Format 2: the operation's RFC 6962 inclusion proof against the root of the ``OperationsCommitment`` in
    /// ``receipt``'s output (tree size: the commitment's count). Nil in format 1.
    public var operationProof: InclusionProof?
    /// Format 1 only: the whole signed transaction. Nil in format 2.
    public var transaction: Transaction?
    /// The header of the block that holds it.
    public var header: BlockHeader
    /// The transaction ID's inclusion proof against `header.transactionRoot`.
    public var inclusionProof: InclusionProof
    /// The transaction's execution receipt (status 0 for success; in format 2 its output is the operations commitment).
    public var receipt: Receipt
    /// The receipt's inclusion proof against `header.receiptRoot`.
    public var receiptProof: InclusionProof
    /// The block's commit certificate, checked against the trust anchor's validators.
    public var certificate: CommitCertificate

    /// Assembles a format-2 receipt; ``transactionID`` and ``height`` are taken from `receipt` and `header`.
    /// Platforms make receipts; a verifier decodes them from JSON and calls ``verify(against:record:)``.
    /// - Parameters:
    ///   - recordID: Required. The record's ID.
    ///   - version: Required. The version proven, 1...
    ///   - recordDigest: Required. The record's canonical digest.
    ///   - operation: Required. The operation's encoding as it stands in the transaction body.
    ///   - operationIndex: Required. Its position in the body, `0..<operationCount`.
    ///   - operationProof: Required. Its inclusion proof against the operations commitment's root.
    ///   - header: Required. The block's header.
    ///   - blockHash: Required. The header's hash.
    ///   - inclusionProof: Required. The transaction ID's proof against the transaction root.
    ///   - receipt: Required. The transaction's execution receipt.
    ///   - receiptProof: Required. The receipt's proof against the receipt root.
    ///   - certificate: Required. The block's commit certificate.
    public init(recordID: String, version: UInt64, recordDigest: Digest, operation: [UInt8], operationIndex: Int, operationProof: InclusionProof,
                header: BlockHeader, blockHash: Digest, inclusionProof: InclusionProof, receipt: Receipt, receiptProof: InclusionProof,
                certificate: CommitCertificate) {
        format = Self.formatVersion
        self.recordID = recordID
        self.version = version
        self.recordDigest = recordDigest
        transactionID = receipt.transactionID
        height = header.height.rawValue
        self.blockHash = blockHash
        self.operation = operation
        self.operationIndex = operationIndex
        self.operationProof = operationProof
        transaction = nil
        self.header = header
        self.inclusionProof = inclusionProof
        self.receipt = receipt
        self.receiptProof = receiptProof
        self.certificate = certificate
    }

    /// Assembles a format-1 receipt, which carries the whole signed transaction (what builds before format 2
    /// wrote, and what this build still makes for a transaction committed by them, whose receipt has no
    /// operations commitment). Parameters as in the format-2 initializer, with `transaction` instead of the operation.
    public init(recordID: String, version: UInt64, recordDigest: Digest, transaction: Transaction, header: BlockHeader, blockHash: Digest,
                inclusionProof: InclusionProof, receipt: Receipt, receiptProof: InclusionProof, certificate: CommitCertificate) {
        format = 1
        self.recordID = recordID
        self.version = version
        self.recordDigest = recordDigest
        transactionID = receipt.transactionID
        height = header.height.rawValue
        self.blockHash = blockHash
        operation = []
        operationIndex = 0
        operationProof = nil
        self.transaction = transaction
        self.header = header
        self.inclusionProof = inclusionProof
        self.receipt = receipt
        self.receiptProof = receiptProof
        self.certificate = certificate
    }

    /// Checks the receipt offline: chain and header hash, the commit certificate (signatures and quorum of
    /// `anchor`'s validators), the transaction ID's inclusion proof, the successful execution receipt of that
    /// transaction and its inclusion proof, then (format 2) the operations commitment in the receipt's output
    /// and the operation's proof against it, and that the operation carries this record version with this
    /// digest. Format 1 checks the transaction's ID and signature and finds the operation in its body instead.
    ///
    /// Format 2 does not check the sender's signature: every validator checked it before executing the
    /// transaction, and the certificate's quorum vouches for that as it vouches for the block.
    /// - Parameters:
    ///   - anchor: Required. The chain's trust anchor.
    ///   - record: Optional, default nil. When given, its canonical digest must equal ``recordDigest``.
    /// - Throws: `AppError` `.receiptInvalid` (5104); `details["check"]` names the failed step: `chain`,
    ///   `header`, `certificate`, `transaction` (format 1), `inclusionProof`, `receipt`, `operation` (format 2:
    ///   the commitment, the operation's proof or encoding), `record`.
    /// - Note: Pure; no timeout; safe to call concurrently.
    public func verify(against anchor: TrustAnchor, record: ManufacturingRecord? = nil) throws(AppError) {
        let alg = anchor.hashAlgorithm
        func fail(_ check: String, _ message: String) -> AppError {
            AppError(.receiptInvalid, "receipt for '\(recordID)' v\(version): \(message)", details: ["check": check, "recordID": recordID])
        }
        guard header.chainID == anchor.chainID, transaction.map({ $0.chainID == anchor.chainID }) ?? true else {
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
        if let transaction {
            guard transaction.id(using: alg) == transactionID else { throw fail("transaction", "the transaction does not hash to \(transactionID.hex)") }
            do { try transaction.verifySignature(hashAlgorithm: alg) } catch { throw fail("transaction", error.message) }
        }
        guard inclusionProof.algorithm == alg else { throw fail("inclusionProof", "the proof uses \(inclusionProof.algorithm.rawValue), the chain \(alg.rawValue)") }
        do { try inclusionProof.verify(leafData: transactionID.bytes, root: header.transactionRoot) } catch {
            throw fail("inclusionProof", error.message)
        }
        guard receipt.transactionID == transactionID, receipt.status == Receipt.success, receiptProof.algorithm == alg,
              receiptProof.leafIndex == inclusionProof.leafIndex, receiptProof.treeSize == inclusionProof.treeSize else {
            throw fail("receipt", "the receipt is not the transaction's successful receipt")
        }
        do { try receiptProof.verify(leafData: receipt.digest(using: alg).bytes, root: header.receiptRoot) } catch {
            throw fail("receipt", error.message)
        }
        let op: RecordOperation
        if let transaction {
            // A body that does not decode carries no record version: the `record` check fails below.
            guard transaction.payload.kind == RecordsExecutor.kind,
                  let ops = try? RecordOperation.operations(inBody: transaction.payload.body),
                  let found = ops.first(where: { $0.recordID == recordID && $0.version == version }) else {
                throw fail("record", "the transaction does not carry this record version")
            }
            op = found
        } else {
            let commitment: OperationsCommitment
            do { commitment = try OperationsCommitment(decoding: receipt.output) } catch {
                throw fail("operation", "the receipt's output is not an operations commitment: \(error.message)")
            }
            guard let operationProof, operationProof.algorithm == alg, operationProof.leafIndex == operationIndex,
                  UInt64(clamping: operationProof.treeSize) == commitment.count else {
                throw fail("operation", "the operation proof is not for operation \(operationIndex) of \(commitment.count)")
            }
            do { try operationProof.verify(leafData: operation, root: commitment.root) } catch {
                throw fail("operation", "the operation is not in the transaction: \(error.message)")
            }
            do {
                op = try RLPReader.read(operation) { (r) throws(LedgerError) in try RecordOperation(reading: &r) }
            } catch {
                throw fail("operation", "the operation does not decode: \(error.message)")
            }
            guard op.recordID == recordID, op.version == version else {
                throw fail("record", "the operation is for '\(op.recordID)' v\(op.version)")
            }
        }
        guard op.digest == recordDigest, alg.hash(op.recordBytes) == recordDigest else {
            throw fail("record", "the transaction's record digest differs from \(recordDigest.hex)")
        }
        if let record, record.digest(using: alg) != recordDigest {
            throw fail("record", "the record given hashes to \(record.digest(using: alg).hex), not \(recordDigest.hex)")
        }
    }

    enum CodingKeys: String, CodingKey {
        case format, recordID = "record_id", version, recordDigest = "record_digest", transactionID = "transaction_id", height = "block_height"
        case blockHash = "block_hash", operation, operationIndex = "operation_index", operationProof = "operation_proof"
        case transaction, header, inclusionProof = "inclusion_proof", receipt, receiptProof = "receipt_proof", certificate
    }

    /// Decodes either format (a receipt without a `format` key is format 1).
    /// - Throws: `DecodingError` for a missing or malformed field, or a format other than 1 and 2.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func hex(_ key: CodingKeys) throws -> [UInt8] { try Hex.decode(try c.decode(String.self, forKey: key)) }
        format = try c.decodeIfPresent(Int.self, forKey: .format) ?? 1
        recordID = try c.decode(String.self, forKey: .recordID)
        version = try c.decode(UInt64.self, forKey: .version)
        recordDigest = try Digest(hex: try c.decode(String.self, forKey: .recordDigest))
        transactionID = try Digest(hex: try c.decode(String.self, forKey: .transactionID))
        height = try c.decode(UInt64.self, forKey: .height)
        blockHash = try Digest(hex: try c.decode(String.self, forKey: .blockHash))
        switch format {
        case 1:
            transaction = try Transaction(decoding: try hex(.transaction))
            operation = []
            operationIndex = 0
            operationProof = nil
        case 2:
            transaction = nil
            operation = try hex(.operation)
            operationIndex = try c.decode(Int.self, forKey: .operationIndex)
            operationProof = try c.decode(InclusionProof.self, forKey: .operationProof)
        default:
            throw DecodingError.dataCorruptedError(forKey: .format, in: c,
                                                   debugDescription: "receipt format \(format); this build reads formats 1 and 2")
        }
        header = try BlockHeader(item: try RLP.decode(try hex(.header)))
        inclusionProof = try c.decode(InclusionProof.self, forKey: .inclusionProof)
        receipt = try Receipt(decoding: try hex(.receipt))
        receiptProof = try c.decode(InclusionProof.self, forKey: .receiptProof)
        certificate = try CommitCertificate(decoding: try hex(.certificate))
    }

    /// Encodes the receipt's own format: format 2 with `format`, `operation`, `operation_index` and
    /// `operation_proof`; format 1 as earlier builds wrote it (with `transaction`, without `format`).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(recordID, forKey: .recordID)
        try c.encode(version, forKey: .version)
        try c.encode(recordDigest.hex, forKey: .recordDigest)
        try c.encode(transactionID.hex, forKey: .transactionID)
        try c.encode(height, forKey: .height)
        try c.encode(blockHash.hex, forKey: .blockHash)
        if let transaction {
            try c.encode(Hex.encode(transaction.encoded), forKey: .transaction)
        } else {
            try c.encode(format, forKey: .format)
            try c.encode(Hex.encode(operation), forKey: .operation)
            try c.encode(operationIndex, forKey: .operationIndex)
            try c.encodeIfPresent(operationProof, forKey: .operationProof)
        }
        try c.encode(Hex.encode(RLP.encode(header.item)), forKey: .header)
        try c.encode(inclusionProof, forKey: .inclusionProof)
        try c.encode(Hex.encode(receipt.encoded), forKey: .receipt)
        try c.encode(receiptProof, forKey: .receiptProof)
        try c.encode(Hex.encode(certificate.encoded), forKey: .certificate)
    }
}

extension UploadReceipt {
    /// Builds the receipts of `operations` committed in transaction `transactionID` (see ``Builder``).
    /// - Throws: As ``Builder/receipts(transactionID:operations:store:)``.
    static func build(transactionID: Digest, operations: [(recordID: String, version: UInt64, digest: Digest)],
                      store: LedgerStore) throws(AppError) -> [UploadReceipt] {
        var builder = Builder()
        return try builder.receipts(transactionID: transactionID, operations: operations, store: store)
    }

    /// Builds receipts transaction by transaction, keeping the last block it read (its header, certificate,
    /// receipts and both trees) for the next transaction of the same block: a batch's transactions usually
    /// share blocks, and reading and hashing a block of many large transactions once per transaction cost
    /// time quadratic in the transactions per block.
    struct Builder {
        private struct BlockData {
            var height: Height
            var block: Block
            var receipts: [Receipt]
            var certificate: CommitCertificate
            var transactionTree: MerkleTree
            var receiptTree: MerkleTree
        }

        private var last: BlockData?

        init() {}

        /// The receipts of `operations` committed in transaction `transactionID`: the transaction's operations
        /// tree is built once, and each record gets its operation and a proof of about log2(n) hashes. A
        /// transaction committed by a build before operations commitments (its receipt's output is not one)
        /// gets format-1 receipts.
        /// - Throws: `AppError` `.recordNotFound` (5203) when the transaction is not committed or does not carry an
        ///   operation, `.indexFailure` (5204) when the store cannot be read or the commitment does not match the body.
        mutating func receipts(transactionID: Digest, operations: [(recordID: String, version: UInt64, digest: Digest)],
                               store: LedgerStore) throws(AppError) -> [UploadReceipt] {
            do {
                guard let at = try store.location(ofTransaction: transactionID) else {
                    throw AppError(.recordNotFound, "transaction \(transactionID.hex) is not committed")
                }
                let alg = store.hashAlgorithm
                let data: BlockData
                if let last, last.height == at.height {
                    data = last
                } else {
                    let block = try store.block(atHeight: at.height)
                    let receipts = try store.receipts(atHeight: at.height)
                    guard let certificate = try store.certificate(atHeight: at.height) else {
                        throw AppError(.indexFailure, "block \(at.height) has no commit certificate")
                    }
                    data = BlockData(height: at.height, block: block, receipts: receipts, certificate: certificate,
                                     transactionTree: MerkleTree(leaves: block.transactions.map { $0.id(using: alg).bytes }, algorithm: alg),
                                     receiptTree: MerkleTree(leaves: receipts.map { $0.digest(using: alg).bytes }, algorithm: alg))
                    last = data
                }
                guard at.index < data.receipts.count, at.index < data.block.transactions.count else {
                    throw AppError(.indexFailure, "block \(at.height) has no receipt for transaction \(at.index)")
                }
                return try Self.receipts(of: data, index: at.index, transactionID: transactionID, operations: operations, algorithm: alg)
            } catch let e as AppError {
                throw e
            } catch let e as LedgerError {
                throw RecordIndex.failure(e)
            } catch {
                throw AppError(.indexFailure, "\(error)")
            }
        }

        private static func receipts(of data: BlockData, index: Int, transactionID: Digest,
                                     operations: [(recordID: String, version: UInt64, digest: Digest)],
                                     algorithm alg: HashAlgorithm) throws -> [UploadReceipt] {
            let proof = try data.transactionTree.inclusionProof(forLeafAt: index)
            let receiptProof = try data.receiptTree.inclusionProof(forLeafAt: index)
            let transaction = data.block.transactions[index], receipt = data.receipts[index]
            let header = data.block.header, blockHash = data.block.headerHash, certificate = data.certificate
            // No commitment in the output (a transaction committed by a build without them): a format-1
            // receipt, which carries the transaction and so needs none.
            guard let commitment = try? OperationsCommitment(decoding: receipt.output) else {
                return operations.map {
                    UploadReceipt(recordID: $0.recordID, version: $0.version, recordDigest: $0.digest, transaction: transaction,
                                  header: header, blockHash: blockHash, inclusionProof: proof, receipt: receipt,
                                  receiptProof: receiptProof, certificate: certificate)
                }
            }
            var encodings = [[UInt8]]()
            let ops = try RecordOperation.decodeBody(transaction.payload.body) { encodings.append(Array($0)) }.operations
            let opsTree = MerkleTree(leaves: encodings, algorithm: alg)
            guard opsTree.root == commitment.root, UInt64(ops.count) == commitment.count else {
                throw AppError(.indexFailure, "transaction \(transactionID.hex): its operations do not match the commitment in its receipt")
            }
            // Position of each (record, version) in the body; looked up only, never iterated.
            var position = [String: [(version: UInt64, index: Int)]]()
            if operations.count > 1 {
                for (i, op) in ops.enumerated() { position[op.recordID, default: []].append((op.version, i)) }
            }
            var out = [UploadReceipt]()
            out.reserveCapacity(operations.count)
            for wanted in operations {
                let found = operations.count > 1
                    ? position[wanted.recordID]?.first(where: { $0.version == wanted.version })?.index
                    : ops.firstIndex { $0.recordID == wanted.recordID && $0.version == wanted.version }
                guard let found else {
                    throw AppError(.recordNotFound, "transaction \(transactionID.hex) does not carry '\(wanted.recordID)' v\(wanted.version)",
                                   details: ["recordID": wanted.recordID])
                }
                out.append(UploadReceipt(recordID: wanted.recordID, version: wanted.version, recordDigest: wanted.digest,
                                         operation: encodings[found], operationIndex: found,
                                         operationProof: try opsTree.inclusionProof(forLeafAt: found), header: header,
                                         blockHash: blockHash, inclusionProof: proof, receipt: receipt, receiptProof: receiptProof,
                                         certificate: certificate))
            }
            return out
        }
    }
}

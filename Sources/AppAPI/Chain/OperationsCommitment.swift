import LedgerCore

/// What a successful records transaction commits to about its operations: the RFC 6962 Merkle root over
/// their encodings and their count. ``RecordsExecutor`` returns it as the output of the transaction's
/// execution receipt, so the block's receipt root, and through it the commit certificate, certify it; an
/// ``UploadReceipt`` then proves one operation with a proof of about log2(count) hashes instead of the
/// whole transaction.
///
/// **Encoding** (the receipt's `output`): RLP `[1, opsRoot, opCount]`.
/// - `1`: the format version;
/// - `opsRoot`: 32 bytes, the RFC 6962 root under the chain's hash algorithm whose leaf `i` is the exact
///   encoding of operation `i` as it stands in the transaction body (``RecordOperation/encoded``, which is
///   canonical: decoding and encoding again gives the same bytes);
/// - `opCount`: the number of operations, 1...
///
/// ```swift
/// let commitment = try OperationsCommitment(decoding: receipt.receipt.output)
/// try receipt.operationProof?.verify(leafData: receipt.operation, root: commitment.root)
/// ```
public struct OperationsCommitment: Hashable, Sendable {
    /// The format version written by this build: 1.
    public static let formatVersion: UInt64 = 1

    /// The RFC 6962 root over the operations' encodings, in body order.
    public var root: Digest
    /// The number of operations (the tree's size); at least 1 in a commitment a node wrote.
    public var count: UInt64

    /// - Parameters:
    ///   - root: Required. The root over the operations' encodings.
    ///   - count: Required. The number of operations.
    public init(root: Digest, count: UInt64) {
        self.root = root
        self.count = count
    }

    /// The commitment over operations given by their leaf hashes (`H(0x00 ‖ encoding)`), in body order.
    /// - Parameters:
    ///   - leafHashes: Required. One per operation; may be empty (root `H("")`).
    ///   - algorithm: Required. The chain's hash algorithm.
    public init(leafHashes: [Digest], algorithm: HashAlgorithm) {
        root = MerkleTree.root(leafHashes: leafHashes, algorithm: algorithm, concurrency: .serial)
        count = UInt64(leafHashes.count)
    }

    /// The canonical encoding, RLP `[1, root, count]`.
    public var encoded: [UInt8] {
        var w = RLPWriter(capacity: 48)
        w.list { w in
            w.uint(Self.formatVersion)
            w.digest(root)
            w.uint(count)
        }
        return w.bytes
    }

    /// Decodes ``encoded``.
    /// - Parameter bytes: Required. A receipt's output.
    /// - Throws: `LedgerError`: RLP codes (10xx), `.fieldCount` (1010), `.unsupportedVersion` (1012) for a version
    ///   other than 1, `.digestLength` (1401). Never traps.
    public init(decoding bytes: [UInt8]) throws(LedgerError) {
        (root, count) = try RLPReader.read(bytes) { (r) throws(LedgerError) in
            var f = try r.list("opsCommitment", count: 3)
            let version = try f.uint64("opsCommitment.version")
            guard version == Self.formatVersion else {
                throw LedgerError(.unsupportedVersion, "operations commitment version \(version), expected \(Self.formatVersion)",
                                  details: ["field": "opsCommitment.version"])
            }
            return (try f.digest("opsCommitment.root"), try f.uint64("opsCommitment.count"))
        }
    }
}

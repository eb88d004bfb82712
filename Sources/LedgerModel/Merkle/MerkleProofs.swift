import LedgerCrypto

/// Proof that one leaf is in a tree of a given size (RFC 6962 §2.1.1, the
/// "audit path"; verified per RFC 9162 §2.1.3.2).
///
/// Plain data: `Sendable`, `Hashable`, `Codable`. The JSON form is
/// `{"leafIndex": 3, "treeSize": 8, "path": ["<64 hex>", ...], "algorithm": "sha256"}`.
///
/// Example: `try proof.verify(leafHash: txID, root: header.transactionsRoot)`
public struct InclusionProof: Sendable, Hashable, Codable {
    /// Zero-based index of the leaf; valid proofs have `0 ≤ leafIndex < treeSize`.
    public var leafIndex: Int
    /// Number of leaves of the tree the proof is for (≥ 1 for a valid proof).
    public var treeSize: Int
    /// Sibling hashes from the leaf up to the root.
    public var path: [Digest]
    /// The tree's hash function.
    public var algorithm: HashAlgorithm

    /// Wraps proof data (no check is made here; ``verify(leafHash:root:)`` checks).
    /// - Parameters:
    ///   - leafIndex: Required. Zero-based leaf index.
    ///   - treeSize: Required. Leaf count of the tree.
    ///   - path: Required. Sibling hashes, leaf first.
    ///   - algorithm: Optional, default `HashAlgorithm.default`.
    ///
    /// Example: `InclusionProof(leafIndex: 0, treeSize: 1, path: [])`
    public init(leafIndex: Int, treeSize: Int, path: [Digest], algorithm: HashAlgorithm = .default) {
        self.leafIndex = leafIndex
        self.treeSize = treeSize
        self.path = path
        self.algorithm = algorithm
    }

    /// Recomputes the root from the leaf hash and the path.
    /// - Parameter leafHash: Required. `H(0x00 ‖ leaf)`.
    /// - Returns: The root the proof leads to.
    /// - Throws: `LedgerError` `LedgerError.Code.leafIndexOutOfRange` (1201)
    ///   when `leafIndex` is outside `0..<treeSize`; `LedgerError.Code.proofLengthMismatch`
    ///   (1203) when the path has the wrong length for the index and size.
    /// - Note: Thread-safe.
    ///
    /// Example: `let root = try proof.computeRoot(leafHash: txID)`
    public func computeRoot(leafHash: Digest) throws(LedgerError) -> Digest {
        guard leafIndex >= 0, treeSize >= 0, leafIndex < treeSize else {
            throw MerkleVerifier.indexError(Int64(leafIndex), Int64(treeSize))
        }
        return try MerkleVerifier.rootFromInclusionProof(leafIndex: UInt64(leafIndex), treeSize: UInt64(treeSize),
                                                         leafHash: leafHash, path: path,
                                                         hasher: MerkleHasher(algorithm))
    }

    /// Checks that the leaf with hash `leafHash` is at `leafIndex` in the tree
    /// of `treeSize` leaves whose root is `root`.
    /// - Parameters:
    ///   - leafHash: Required. `H(0x00 ‖ leaf)`.
    ///   - root: Required. The trusted root of the tree of `treeSize` leaves.
    /// - Throws: `LedgerError` 1201 (index out of range), 1203 (wrong path
    ///   length), 1204 `LedgerError.Code.rootMismatch` (the proof does not lead to `root`).
    /// - Note: Thread-safe.
    ///
    /// Example: `try proof.verify(leafHash: txID, root: root)`
    public func verify(leafHash: Digest, root: Digest) throws(LedgerError) {
        let computed = try computeRoot(leafHash: leafHash)
        try MerkleVerifier.match(computed, root)
    }

    /// Like ``verify(leafHash:root:)`` but hashes the leaf data first.
    /// - Parameters:
    ///   - leafData: Required. The leaf's contents.
    ///   - root: Required. The trusted root.
    /// - Throws: `LedgerError` 1201, 1203 or 1204 as ``verify(leafHash:root:)``.
    ///
    /// Example: `try proof.verify(leafData: tx.encoded, root: root)`
    public func verify(leafData: some Collection<UInt8>, root: Digest) throws(LedgerError) {
        try verify(leafHash: MerkleHasher(algorithm).hashLeaf(leafData), root: root)
    }

    private enum CodingKeys: String, CodingKey { case leafIndex, treeSize, path, algorithm }

    /// Decodes the JSON form; each path entry must be 64 hex characters.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        leafIndex = try c.decode(Int.self, forKey: .leafIndex)
        treeSize = try c.decode(Int.self, forKey: .treeSize)
        algorithm = try c.decodeIfPresent(HashAlgorithm.self, forKey: .algorithm) ?? .default
        path = try merkleDecodeDigests(c, .path)
    }

    /// Encodes the JSON form (path as lower-case hex).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(leafIndex, forKey: .leafIndex)
        try c.encode(treeSize, forKey: .treeSize)
        try c.encode(path.map(\.hex), forKey: .path)
        try c.encode(algorithm, forKey: .algorithm)
    }
}

/// Proof that the tree of the first `size1` leaves is a prefix of the tree of
/// `size2` leaves (RFC 6962 §2.1.2; verified per RFC 9162 §2.1.4.2).
///
/// Plain data: `Sendable`, `Hashable`, `Codable`. The JSON form is
/// `{"size1": 5, "size2": 8, "path": ["<64 hex>", ...], "algorithm": "sha256"}`.
///
/// Example: `try proof.verify(root1: oldRoot, root2: newRoot)`
public struct ConsistencyProof: Sendable, Hashable, Codable {
    /// Leaf count of the older tree (≥ 1 for a valid proof).
    public var size1: Int
    /// Leaf count of the newer tree (≥ `size1`).
    public var size2: Int
    /// The proof hashes in RFC 6962 order.
    public var path: [Digest]
    /// The trees' hash function.
    public var algorithm: HashAlgorithm

    /// Wraps proof data (no check is made here; ``verify(root1:root2:)`` checks).
    /// - Parameters:
    ///   - size1: Required. Older leaf count.
    ///   - size2: Required. Newer leaf count.
    ///   - path: Required. Proof hashes.
    ///   - algorithm: Optional, default `HashAlgorithm.default`.
    ///
    /// Example: `ConsistencyProof(size1: 4, size2: 4, path: [])`
    public init(size1: Int, size2: Int, path: [Digest], algorithm: HashAlgorithm = .default) {
        self.size1 = size1
        self.size2 = size2
        self.path = path
        self.algorithm = algorithm
    }

    /// Checks that `root1` (tree of `size1` leaves) and `root2` (tree of
    /// `size2` leaves) belong to one append-only log.
    /// - Parameters:
    ///   - root1: Required. Trusted root of the older tree.
    ///   - root2: Required. Root of the newer tree.
    /// - Throws: `LedgerError` `LedgerError.Code.invalidConsistencySizes` (1206)
    ///   when `size1 == 0`, `size2 < size1`, or the sizes are equal and the path
    ///   is not empty; `LedgerError.Code.proofLengthMismatch` (1203);
    ///   `LedgerError.Code.rootMismatch` (1204).
    /// - Note: Thread-safe.
    ///
    /// Example: `try proof.verify(root1: oldRoot, root2: newRoot)`
    public func verify(root1: Digest, root2: Digest) throws(LedgerError) {
        guard size1 > 0, size2 >= size1 else {
            throw MerkleVerifier.sizesError(Int64(size1), Int64(size2))
        }
        try MerkleVerifier.verifyConsistency(size1: UInt64(size1), size2: UInt64(size2), path: path,
                                             root1: root1, root2: root2, hasher: MerkleHasher(algorithm))
    }

    private enum CodingKeys: String, CodingKey { case size1, size2, path, algorithm }

    /// Decodes the JSON form; each path entry must be 64 hex characters.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        size1 = try c.decode(Int.self, forKey: .size1)
        size2 = try c.decode(Int.self, forKey: .size2)
        algorithm = try c.decodeIfPresent(HashAlgorithm.self, forKey: .algorithm) ?? .default
        path = try merkleDecodeDigests(c, .path)
    }

    /// Encodes the JSON form (path as lower-case hex).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(size1, forKey: .size1)
        try c.encode(size2, forKey: .size2)
        try c.encode(path.map(\.hex), forKey: .path)
        try c.encode(algorithm, forKey: .algorithm)
    }
}

private func merkleDecodeDigests<K: CodingKey>(_ c: KeyedDecodingContainer<K>, _ key: K) throws -> [Digest] {
    let strings = try c.decode([String].self, forKey: key)
    var out: [Digest] = []
    out.reserveCapacity(strings.count)
    for s in strings {
        do {
            out.append(try Digest(hex: s))
        } catch {
            throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: error.description)
        }
    }
    return out
}

import LedgerCrypto

/// An RFC 6962 Merkle tree over an ordered list of leaves, with every level
/// kept so that inclusion and consistency proofs are generated without
/// rehashing.
///
/// Hashing is RFC 6962 §2.1 with the chain's `HashAlgorithm`: leaf =
/// `H(0x00 ‖ data)`, node = `H(0x01 ‖ left ‖ right)`, empty tree = `H("")`,
/// split point = largest power of two smaller than `n`. Level `L`, node `j`
/// holds the hash of leaves `[j·2^L, min((j+1)·2^L, n))`; a lone last node is
/// carried up unchanged, which is the same tree as the RFC's recursion.
///
/// To compute only a root over many leaves (a block's transactions), use the
/// static `root(leafData:leafSize:algorithm:concurrency:)`
/// or ``root(leafHashes:algorithm:concurrency:)``, which keep no levels and
/// may run on several threads.
///
/// An immutable value: `Sendable`, safe to share between threads.
///
/// Example:
/// ```swift
/// let tree = MerkleTree(leaves: transactions.map(\.encoded))
/// let proof = try tree.inclusionProof(forLeafAt: 3)
/// try proof.verify(leafData: transactions[3].encoded, root: tree.root)
/// ```
public struct MerkleTree: Sendable, Hashable {
    /// The hash function of every node.
    public let algorithm: HashAlgorithm
    /// `levels[0]` are the leaf hashes, the last level holds the root
    /// (empty when the tree is empty).
    private let levels: [[Digest]]

    /// Builds the tree from raw leaf data; each leaf is hashed as `H(0x00 ‖ data)`.
    /// - Parameters:
    ///   - leaves: Required. The leaf contents in order; may be empty.
    ///   - algorithm: Optional, default `HashAlgorithm.default` (SHA-256).
    ///
    /// Example: `MerkleTree(leaves: [[0x01], [0x02, 0x03]])`
    public init<Leaves: Sequence>(leaves: Leaves, algorithm: HashAlgorithm = .default)
    where Leaves.Element: Collection<UInt8> {
        let hashes: [Digest]
        switch algorithm {
        case .sha256: hashes = Self.hashLeaves(SHA256MerkleEngine(), leaves)
        case .sha3_256: hashes = Self.hashLeaves(SHA3MerkleEngine(), leaves)
        case .sm3: hashes = Self.hashLeaves(SM3MerkleEngine(), leaves)
        case .keccak256: hashes = Self.hashLeaves(KeccakMerkleEngine(), leaves)
        }
        self.init(leafHashes: hashes, algorithm: algorithm)
    }

    /// Hashes every leaf with one engine (no allocation per leaf for
    /// contiguous leaf collections).
    private static func hashLeaves<E: MerkleHashEngine, Leaves: Sequence>(_ e: E, _ leaves: Leaves) -> [Digest]
    where Leaves.Element: Collection<UInt8> {
        var out: [Digest] = []
        out.reserveCapacity(leaves.underestimatedCount)
        for leaf in leaves {
            var d = Digest.zero
            d.withUnsafeMutableBytes { o in
                let hashed: Void? = leaf.withContiguousStorageIfAvailable { b in
                    e.leaf(UnsafeRawPointer(b.baseAddress) ?? UnsafeRawPointer(o.baseAddress!), b.count, into: o.baseAddress!)
                }
                if hashed == nil {
                    Array(leaf).withUnsafeBytes { b in
                        e.leaf(b.baseAddress ?? UnsafeRawPointer(o.baseAddress!), b.count, into: o.baseAddress!)
                    }
                }
            }
            out.append(d)
        }
        return out
    }

    /// Builds the tree from leaf hashes that are already computed.
    /// - Parameters:
    ///   - leafHashes: Required. The leaf hashes in order; may be empty.
    ///   - algorithm: Optional, default `HashAlgorithm.default`.
    ///
    /// Example: `MerkleTree(leafHashes: txIDs)`
    public init(leafHashes: [Digest], algorithm: HashAlgorithm = .default) {
        self.algorithm = algorithm
        var levels = [leafHashes]
        switch algorithm {
        case .sha256: Self.buildLevels(SHA256MerkleEngine(), &levels)
        case .sha3_256: Self.buildLevels(SHA3MerkleEngine(), &levels)
        case .sm3: Self.buildLevels(SM3MerkleEngine(), &levels)
        case .keccak256: Self.buildLevels(KeccakMerkleEngine(), &levels)
        }
        self.levels = levels
    }

    private static func buildLevels<E: MerkleHashEngine>(_ e: E, _ levels: inout [[Digest]]) {
        while levels[levels.count - 1].count > 1 {
            let below = levels[levels.count - 1]
            let m = below.count
            let next = [Digest](unsafeUninitializedCapacity: (m + 1) / 2) { out, initialized in
                below.withUnsafeBytes { src in
                    let dst = UnsafeMutableRawPointer(out.baseAddress!)
                    for i in 0..<(m / 2) { e.node(pair: src.baseAddress! + 64 * i, into: dst + 32 * i) }
                    if m & 1 == 1 { (dst + 32 * (m / 2)).copyMemory(from: src.baseAddress! + 32 * (m - 1), byteCount: 32) }
                }
                initialized = (m + 1) / 2
            }
            levels.append(next)
        }
    }

    /// The number of leaves (≥ 0). Example: `let n = tree.count`
    public var count: Int { levels[0].count }

    /// The leaf hashes `H(0x00 ‖ leaf)`, in order (no copy: the array is
    /// shared). Example: `let h = tree.leafHashes[3]`
    public var leafHashes: [Digest] { levels[0] }

    /// The Merkle Tree Hash of all leaves (`H("")` for an empty tree).
    /// Stored; O(1). Example: `header.transactionsRoot = tree.root`
    public var root: Digest {
        count == 0 ? MerkleHasher(algorithm).emptyRoot : levels[levels.count - 1][0]
    }

    /// The root the tree had when it held only its first `size` leaves.
    /// - Parameter size: Required, `0...count`.
    /// - Throws: `LedgerError` `LedgerError.Code.invalidTreeSize` (1202) when out of range.
    ///
    /// Example: `let oldRoot = try tree.root(ofSize: 5)`
    public func root(ofSize size: Int) throws(LedgerError) -> Digest {
        try checkSize(size, name: "size")
        return size == 0 ? MerkleHasher(algorithm).emptyRoot : subtreeHash(0, size)
    }

    /// The audit path (RFC 6962 §2.1.1) proving that leaf `index` is in the
    /// tree of the first `treeSize` leaves.
    /// - Parameters:
    ///   - index: Required, `0..<treeSize`.
    ///   - treeSize: Optional, `1...count`; default `count` (the whole tree).
    /// - Returns: The proof; its path has at most ⌈log₂ treeSize⌉ hashes.
    /// - Throws: `LedgerError` `LedgerError.Code.invalidTreeSize` (1202) when
    ///   `treeSize` is outside `0...count`; `LedgerError.Code.leafIndexOutOfRange`
    ///   (1201) when `index` is outside `0..<treeSize` (so always for an empty tree).
    /// - Note: Thread-safe (the tree is immutable).
    ///
    /// Example: `let proof = try tree.inclusionProof(forLeafAt: 3)`
    public func inclusionProof(forLeafAt index: Int, treeSize: Int? = nil) throws(LedgerError) -> InclusionProof {
        let size = treeSize ?? count
        try checkSize(size, name: "tree size")
        guard index >= 0, index < size else {
            throw LedgerError(.leafIndexOutOfRange, "leaf index \(index) >= tree size \(size)",
                              details: ["leafIndex": String(index), "treeSize": String(size)])
        }
        var path: [Digest] = []
        var lo = 0, hi = size
        // Walk down from the root, collecting siblings; they are emitted leaf-first.
        while hi - lo > 1 {
            let k = merkleSplit(hi - lo)
            if index < lo + k {
                path.append(subtreeHash(lo + k, hi))
                hi = lo + k
            } else {
                path.append(subtreeHash(lo, lo + k))
                lo += k
            }
        }
        return InclusionProof(leafIndex: index, treeSize: size, path: path.reversed(), algorithm: algorithm)
    }

    /// The consistency proof (RFC 6962 §2.1.2) that the tree of the first
    /// `oldSize` leaves is a prefix of the tree of the first `newSize` leaves.
    /// - Parameters:
    ///   - oldSize: Required, `1...newSize`. (A proof from the empty tree is
    ///     meaningless and is rejected, as RFC 9162 verifiers do.)
    ///   - newSize: Optional, `oldSize...count`; default `count`.
    /// - Returns: The proof; empty when `oldSize == newSize`.
    /// - Throws: `LedgerError` `LedgerError.Code.invalidTreeSize` (1202) when
    ///   `newSize` is outside `0...count`; `LedgerError.Code.invalidConsistencySizes`
    ///   (1206) when `oldSize` is outside `1...newSize`.
    /// - Note: Thread-safe (the tree is immutable).
    ///
    /// Example: `let proof = try tree.consistencyProof(fromSize: 5)`
    public func consistencyProof(fromSize oldSize: Int, toSize newSize: Int? = nil) throws(LedgerError) -> ConsistencyProof {
        let size2 = newSize ?? count
        try checkSize(size2, name: "new size")
        guard oldSize >= 1, oldSize <= size2 else {
            throw LedgerError(.invalidConsistencySizes,
                              "old size \(oldSize) must be in 1...\(size2) (the new size)",
                              details: ["size1": String(oldSize), "size2": String(size2)])
        }
        var path: [Digest] = []
        subproof(oldSize, 0, size2, true, &path)
        return ConsistencyProof(size1: oldSize, size2: size2, path: path, algorithm: algorithm)
    }

    // MARK: - Internals

    private func checkSize(_ size: Int, name: String) throws(LedgerError) {
        guard size >= 0, size <= count else {
            throw LedgerError(.invalidTreeSize, "\(name) \(size) is outside 0...\(count) (the tree's leaf count)",
                              details: ["treeSize": String(size), "leafCount": String(count)])
        }
    }

    /// SUBPROOF(m, D[lo:hi], b) of RFC 6962 §2.1.2, appending in output order.
    private func subproof(_ m: Int, _ lo: Int, _ hi: Int, _ b: Bool, _ out: inout [Digest]) {
        let n = hi - lo
        if m == n {
            if !b { out.append(subtreeHash(lo, hi)) }
            return
        }
        let k = merkleSplit(n)
        if m <= k {
            subproof(m, lo, lo + k, b, &out)
            out.append(subtreeHash(lo + k, hi))
        } else {
            subproof(m - k, lo + k, hi, false, &out)
            out.append(subtreeHash(lo, lo + k))
        }
    }

    /// MTH(D[lo:hi]) for a subtree of the RFC recursion (`lo` is aligned to
    /// the next power of two ≥ `hi - lo`). Stored when the range is complete
    /// or ends at `count`; otherwise composed from stored nodes.
    private func subtreeHash(_ lo: Int, _ hi: Int) -> Digest {
        let n = hi - lo
        let level = n == 1 ? 0 : Int.bitWidth - (n - 1).leadingZeroBitCount   // ceil(log2 n)
        if lo & ((1 << level) - 1) == 0, n == 1 << level || hi == count {
            return levels[level][lo >> level]
        }
        let k = merkleSplit(n)
        return MerkleHasher(algorithm).hashChildren(subtreeHash(lo, lo + k), subtreeHash(lo + k, hi))
    }
}

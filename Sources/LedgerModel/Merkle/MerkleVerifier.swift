import LedgerCrypto

/// Verifies RFC 6962 inclusion and consistency proofs given as raw bytes, as
/// they arrive from the network or from test vectors (RFC 9162 §2.1.3.2 and
/// §2.1.4.2, with the behaviour of the transparency-dev/merkle verifier).
///
/// Malformed input (hashes of the wrong length, absurd sizes up to
/// `UInt64.max`) is rejected with a typed error, never trapped.
/// Stateless: every function is thread-safe.
///
/// Example:
/// ```swift
/// try MerkleVerifier.verifyInclusion(leafIndex: 2, treeSize: 8, leafHash: leaf,
///                                    proof: path, root: root)
/// ```
public enum MerkleVerifier {
    /// Checks that `leafHash` is the leaf at `leafIndex` of the tree of
    /// `treeSize` leaves whose root is `root`.
    ///
    /// - Parameters:
    ///   - leafIndex: Required, `0..<treeSize`.
    ///   - treeSize: Required, ≥ 1.
    ///   - leafHash: Required. 32 bytes, `H(0x00 ‖ leaf)`.
    ///   - proof: Required. The audit path, leaf first; each entry 32 bytes.
    ///     Its length is fixed by the index and size.
    ///   - root: Required. 32 bytes, the trusted root.
    ///   - algorithm: Optional, default `HashAlgorithm.default` (SHA-256).
    /// - Throws: `LedgerError`:
    ///   `LedgerError.Code.leafIndexOutOfRange` (1201) when `leafIndex ≥ treeSize`;
    ///   `LedgerError.Code.invalidHashLength` (1205) when the leaf hash, the
    ///   root or a proof entry is not 32 bytes (even when leaf hash and root are equal);
    ///   `LedgerError.Code.proofLengthMismatch` (1203);
    ///   `LedgerError.Code.rootMismatch` (1204).
    ///
    /// Example: `try MerkleVerifier.verifyInclusion(leafIndex: 0, treeSize: 1, leafHash: h, proof: [], root: h)`
    public static func verifyInclusion(leafIndex: UInt64, treeSize: UInt64, leafHash: [UInt8], proof: [[UInt8]],
                                       root: [UInt8], algorithm: HashAlgorithm = .default) throws(LedgerError) {
        let computed = try rootFromInclusionProof(leafIndex: leafIndex, treeSize: treeSize, leafHash: leafHash,
                                                  proof: proof, algorithm: algorithm)
        let expected = try digest(root, "root")
        try match(computed, expected)
    }

    /// Recomputes the root that an inclusion proof leads to.
    ///
    /// - Parameters: as ``verifyInclusion(leafIndex:treeSize:leafHash:proof:root:algorithm:)``
    ///   without `root`.
    /// - Returns: The root implied by the leaf hash and the path.
    /// - Throws: `LedgerError` 1201, 1203 or 1205, as
    ///   ``verifyInclusion(leafIndex:treeSize:leafHash:proof:root:algorithm:)``.
    ///
    /// Example: `let root = try MerkleVerifier.rootFromInclusionProof(leafIndex: 1, treeSize: 2, leafHash: h, proof: [s])`
    public static func rootFromInclusionProof(leafIndex: UInt64, treeSize: UInt64, leafHash: [UInt8], proof: [[UInt8]],
                                              algorithm: HashAlgorithm = .default) throws(LedgerError) -> Digest {
        guard leafIndex < treeSize else {
            throw indexError(leafIndex, treeSize)
        }
        let leaf = try digest(leafHash, "leaf hash")
        let path = try digests(proof)
        return try rootFromInclusionProof(leafIndex: leafIndex, treeSize: treeSize, leafHash: leaf, path: path,
                                          hasher: MerkleHasher(algorithm))
    }

    /// Checks that `root1` (tree of `size1` leaves) and `root2` (tree of
    /// `size2` leaves) belong to one append-only log.
    ///
    /// - Parameters:
    ///   - size1: Required, `1...size2`.
    ///   - size2: Required, ≥ `size1`.
    ///   - proof: Required. RFC 6962 consistency proof; empty exactly when
    ///     `size1 == size2`; each entry 32 bytes.
    ///   - root1: Required. Trusted root of the older tree (32 bytes, except
    ///     when the sizes are equal, where the roots are only compared).
    ///   - root2: Required. Root of the newer tree (same rule).
    ///   - algorithm: Optional, default `HashAlgorithm.default`.
    /// - Throws: `LedgerError`:
    ///   `LedgerError.Code.invalidConsistencySizes` (1206) when `size1 == 0`,
    ///   `size2 < size1`, or equal sizes with a non-empty proof;
    ///   `LedgerError.Code.proofLengthMismatch` (1203);
    ///   `LedgerError.Code.invalidHashLength` (1205);
    ///   `LedgerError.Code.rootMismatch` (1204), also for equal sizes with
    ///   different roots.
    ///
    /// Example: `try MerkleVerifier.verifyConsistency(size1: 4, size2: 8, proof: p, root1: r4, root2: r8)`
    public static func verifyConsistency(size1: UInt64, size2: UInt64, proof: [[UInt8]], root1: [UInt8],
                                         root2: [UInt8], algorithm: HashAlgorithm = .default) throws(LedgerError) {
        guard size1 > 0, size2 >= size1 else { throw sizesError(size1, size2) }
        if size1 == size2 {
            guard proof.isEmpty else { throw equalSizesError(size1, proof.count) }
            guard root1 == root2 else {
                throw LedgerError(.rootMismatch, "sizes are equal (\(size1)) but the roots differ",
                                  details: ["size1": String(size1), "size2": String(size2)])
            }
            return
        }
        guard !proof.isEmpty else { throw lengthError(0, "a non-empty proof", size1, size2) }
        let r1 = try digest(root1, "root1")
        let r2 = try digest(root2, "root2")
        try verifyConsistency(size1: size1, size2: size2, path: try digests(proof), root1: r1, root2: r2,
                              hasher: MerkleHasher(algorithm))
    }

    // MARK: - Digest-level algorithms (RFC 9162, as transparency-dev/merkle)

    static func rootFromInclusionProof(leafIndex index: UInt64, treeSize size: UInt64, leafHash: Digest,
                                       path: [Digest], hasher: MerkleHasher) throws(LedgerError) -> Digest {
        guard index < size else { throw indexError(index, size) }
        let inner = UInt64.bitWidth - (index ^ (size - 1)).leadingZeroBitCount
        let border = (index >> UInt64(inner)).nonzeroBitCount
        guard path.count == inner + border else {
            throw lengthError(path.count, "\(inner + border)", index, size, inclusion: true)
        }
        var r = leafHash
        for i in 0..<inner {
            r = (index >> UInt64(i)) & 1 == 0 ? hasher.hashChildren(r, path[i]) : hasher.hashChildren(path[i], r)
        }
        for p in path[inner...] { r = hasher.hashChildren(p, r) }
        return r
    }

    static func verifyConsistency(size1: UInt64, size2: UInt64, path proof: [Digest], root1: Digest, root2: Digest,
                                  hasher: MerkleHasher) throws(LedgerError) {
        guard size1 > 0, size2 >= size1 else { throw sizesError(size1, size2) }
        if size1 == size2 {
            guard proof.isEmpty else { throw equalSizesError(size1, proof.count) }
            try match(root1, root2)
            return
        }
        guard !proof.isEmpty else { throw lengthError(0, "a non-empty proof", size1, size2) }
        var inner = UInt64.bitWidth - ((size1 - 1) ^ (size2 - 1)).leadingZeroBitCount
        let border = ((size1 - 1) >> UInt64(inner)).nonzeroBitCount
        let shift = size1.trailingZeroBitCount
        guard shift <= inner else { throw lengthError(proof.count, "none (sizes)", size1, size2) }
        inner -= shift
        // The proof starts with the root of the subtree of size 2^shift,
        // unless size1 is that very 2^shift (then the seed is root1).
        var seed = proof[0], start = 1
        if size1 == UInt64(1) << UInt64(shift) {
            seed = root1
            start = 0
        }
        guard proof.count == start + inner + border else {
            throw lengthError(proof.count, "\(start + inner + border)", size1, size2)
        }
        let rest = proof[start...]
        let mask = (size1 - 1) >> UInt64(shift)
        var h1 = seed, h2 = seed
        for (i, p) in rest.prefix(inner).enumerated() {
            if (mask >> UInt64(i)) & 1 == 1 {
                h1 = hasher.hashChildren(p, h1)
                h2 = hasher.hashChildren(p, h2)
            } else {
                h2 = hasher.hashChildren(h2, p)
            }
        }
        for p in rest.dropFirst(inner) {
            h1 = hasher.hashChildren(p, h1)
            h2 = hasher.hashChildren(p, h2)
        }
        try match(h1, root1, what: "root1")
        try match(h2, root2, what: "root2")
    }

    // MARK: - Errors and conversions

    static func match(_ computed: Digest, _ expected: Digest, what: String = "root") throws(LedgerError) {
        guard computed == expected else {
            throw LedgerError(.rootMismatch, "proof leads to \(what) \(computed.hex), expected \(expected.hex)",
                              details: ["computed": computed.hex, "expected": expected.hex])
        }
    }

    static func indexError<T: BinaryInteger>(_ index: T, _ size: T) -> LedgerError {
        LedgerError(.leafIndexOutOfRange,
                    index < 0 ? "leaf index \(index) is negative" : "leaf index \(index) >= tree size \(size)",
                    details: ["leafIndex": String(index), "treeSize": String(size)])
    }

    static func sizesError<T: BinaryInteger>(_ size1: T, _ size2: T) -> LedgerError {
        LedgerError(.invalidConsistencySizes,
                    size1 <= 0 ? "consistency size1 \(size1) must be at least 1"
                               : "consistency size2 \(size2) < size1 \(size1)",
                    details: ["size1": String(size1), "size2": String(size2)])
    }

    private static func equalSizesError(_ size: UInt64, _ count: Int) -> LedgerError {
        LedgerError(.invalidConsistencySizes, "sizes are equal (\(size)) but the proof has \(count) hashes, expected 0",
                    details: ["size1": String(size), "size2": String(size), "proofLength": String(count)])
    }

    private static func lengthError(_ got: Int, _ want: String, _ a: UInt64, _ b: UInt64,
                                    inclusion: Bool = false) -> LedgerError {
        let context = inclusion ? "leaf index \(a) in tree size \(b)" : "sizes \(a) -> \(b)"
        return LedgerError(.proofLengthMismatch, "proof has \(got) hashes, expected \(want) for \(context)",
                           details: ["proofLength": String(got), inclusion ? "leafIndex" : "size1": String(a),
                                     inclusion ? "treeSize" : "size2": String(b)])
    }

    private static func digest(_ bytes: [UInt8], _ name: String) throws(LedgerError) -> Digest {
        guard bytes.count == 32 else {
            throw LedgerError(.invalidHashLength, "\(name) is \(bytes.count) bytes, expected 32",
                              details: ["field": name, "length": String(bytes.count)])
        }
        return bytes.withUnsafeBytes { Digest(unsafeRaw: $0.baseAddress!) }
    }

    private static func digests(_ proof: [[UInt8]]) throws(LedgerError) -> [Digest] {
        var out: [Digest] = []
        out.reserveCapacity(proof.count)
        for (i, p) in proof.enumerated() { out.append(try digest(p, "proof[\(i)]")) }
        return out
    }
}

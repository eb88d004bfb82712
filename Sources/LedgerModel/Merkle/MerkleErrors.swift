import LedgerCrypto

// Merkle trees and proofs (12xx).
extension LedgerError.Code {
    /// A leaf index is not inside the tree: `index >= treeSize` (or negative).
    /// Message example: "leaf index 9 >= tree size 8".
    public static let leafIndexOutOfRange = Self(rawValue: 1201)
    /// A tree size is not usable here: negative, larger than the tree the
    /// proof is generated from, or zero where a leaf is required.
    public static let invalidTreeSize = Self(rawValue: 1202)
    /// A proof has the wrong number of hashes for its index and sizes
    /// (truncated, padded or empty).
    public static let proofLengthMismatch = Self(rawValue: 1203)
    /// A proof is well-formed but the root it leads to is not the expected
    /// root (tampered proof, leaf, index, size or root).
    public static let rootMismatch = Self(rawValue: 1204)
    /// A leaf hash, root or proof hash is not exactly 32 bytes long.
    public static let invalidHashLength = Self(rawValue: 1205)
    /// The two sizes of a consistency check are unusable: `size1 == 0`,
    /// `size2 < size1`, or a non-empty proof for equal sizes.
    public static let invalidConsistencySizes = Self(rawValue: 1206)
    /// A contiguous leaf buffer is not a whole number of fixed-size leaves,
    /// or the leaf size is negative.
    public static let invalidLeafBuffer = Self(rawValue: 1207)
}

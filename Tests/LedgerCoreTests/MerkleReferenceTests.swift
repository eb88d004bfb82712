import LedgerCore

// Shared reference code for the Merkle test suites (no tests of its own;
// the file name keeps to the Merkle*Tests.swift pattern of this branch).

/// Independent reference code for the Merkle tests: the literal recursive
/// RFC 6962 definition, built only on `HashAlgorithm.hash`.
enum MerkleReference {
    static func leaf(_ data: [UInt8], _ a: HashAlgorithm) -> Digest { a.hash([0x00] + data) }

    static func node(_ l: Digest, _ r: Digest, _ a: HashAlgorithm) -> Digest { a.hash([0x01] + l.bytes + r.bytes) }

    /// MTH(D[n]) exactly as RFC 6962 §2.1 writes it.
    static func root(_ leaves: ArraySlice<[UInt8]>, _ a: HashAlgorithm) -> Digest {
        let n = leaves.count
        if n == 0 { return a.hash([UInt8]()) }
        if n == 1 { return leaf(leaves[leaves.startIndex], a) }
        var k = 1
        while k * 2 < n { k *= 2 }
        let mid = leaves.startIndex + k
        return node(root(leaves[leaves.startIndex..<mid], a), root(leaves[mid...], a), a)
    }

    /// The same recursive definition over precomputed leaf hashes, with the
    /// subtree hashes memoised (so checking every size 0...300 stays cheap).
    final class Memo {
        let leafHashes: [Digest]
        let algorithm: HashAlgorithm
        private var cache: [Range<Int>: Digest] = [:]

        init(_ leaves: [[UInt8]], _ a: HashAlgorithm) {
            leafHashes = leaves.map { MerkleReference.leaf($0, a) }
            algorithm = a
        }

        func root(_ n: Int) -> Digest { n == 0 ? algorithm.hash([UInt8]()) : mth(0..<n) }

        private func mth(_ r: Range<Int>) -> Digest {
            if r.count == 1 { return leafHashes[r.lowerBound] }
            if let d = cache[r] { return d }
            var k = 1
            while k * 2 < r.count { k *= 2 }
            let d = MerkleReference.node(mth(r.lowerBound..<(r.lowerBound + k)), mth((r.lowerBound + k)..<r.upperBound),
                                         algorithm)
            cache[r] = d
            return d
        }
    }

    /// Leaf `i` of the C baseline: four little-endian words
    /// `i, i·0x9E3779B97F4A7C15, ~i, i ^ 0xA5A5A5A5A5A5A5A5`.
    static func baselineLeaves(_ n: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: n * 32)
        out.withUnsafeMutableBytes { p in
            for i in 0..<n {
                let u = UInt64(i)
                p.storeBytes(of: u.littleEndian, toByteOffset: i * 32, as: UInt64.self)
                p.storeBytes(of: (u &* 0x9E37_79B9_7F4A_7C15).littleEndian, toByteOffset: i * 32 + 8, as: UInt64.self)
                p.storeBytes(of: (~u).littleEndian, toByteOffset: i * 32 + 16, as: UInt64.self)
                p.storeBytes(of: (u ^ 0xA5A5_A5A5_A5A5_A5A5).littleEndian, toByteOffset: i * 32 + 24, as: UInt64.self)
            }
        }
        return out
    }

    static func flipped(_ d: Digest, byte: Int) -> Digest {
        var s = d
        s[byte % 32] ^= 0x01
        return s
    }
}

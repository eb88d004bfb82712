import Foundation
import Testing
import LedgerCore

struct MerkleProofTests {
    static let leaves: [[UInt8]] = (0..<70).map { i in Array("leaf-\(i)".utf8) + [UInt8](repeating: UInt8(i), count: i % 5) }

    /// The `LedgerError` that `body` throws, or nil when it succeeds. Any
    /// other error is reported as code 0, which no expectation accepts.
    static func failure(_ body: () throws -> Void) -> LedgerError? {
        do { try body() } catch let e as LedgerError { return e } catch {
            return LedgerError(.init(rawValue: 0), "unexpected error \(error)")
        }
        return nil
    }

    @Test("Inclusion proofs for every index of every size 1...70 verify, and fail when the proof, leaf, index or size changes")
    func inclusionProofsVerifyAndDetectTampering() throws {
        let tree = MerkleTree(leaves: Self.leaves)
        let roots = try (0...70).map { try tree.root(ofSize: $0) }
        var checks = 0
        for n in 1...70 {
            for i in 0..<n {
                let proof = try tree.inclusionProof(forLeafAt: i, treeSize: n)
                #expect(proof.leafIndex == i && proof.treeSize == n)
                let leafHash = tree.leafHashes[i]
                try proof.verify(leafHash: leafHash, root: roots[n])
                try proof.verify(leafData: Self.leaves[i], root: roots[n])
                try MerkleVerifier.verifyInclusion(leafIndex: UInt64(i), treeSize: UInt64(n), leafHash: leafHash.bytes,
                                                   proof: proof.path.map(\.bytes), root: roots[n].bytes)
                if n == 70 { #expect(try tree.inclusionProof(forLeafAt: i) == proof) }

                // Any flipped byte of any proof hash.
                for j in proof.path.indices {
                    let positions = n <= 12 ? Array(0..<32) : [(j * 5 + i + n) % 32]
                    for b in positions {
                        var bad = proof
                        bad.path[j] = MerkleReference.flipped(bad.path[j], byte: b)
                        #expect(Self.failure { try bad.verify(leafHash: leafHash, root: roots[n]) }?.code == .rootMismatch)
                        checks += 1
                    }
                }
                // A flipped byte of the leaf (hash and data) or of the root.
                #expect(Self.failure { try proof.verify(leafHash: MerkleReference.flipped(leafHash, byte: i), root: roots[n]) }?
                    .code == .rootMismatch)
                #expect(Self.failure { try proof.verify(leafData: Self.leaves[i] + [0], root: roots[n]) }?.code == .rootMismatch)
                #expect(Self.failure { try proof.verify(leafHash: leafHash, root: MerkleReference.flipped(roots[n], byte: n)) }?
                    .code == .rootMismatch)
                // Another index.
                for j in [i - 1, i + 1, i ^ 2, n] where j >= 0 && j != i {
                    var bad = proof
                    bad.leafIndex = j
                    let e = Self.failure { try bad.verify(leafHash: leafHash, root: roots[n]) }
                    #expect(e != nil, "index \(i) -> \(j) of \(n)")
                    if j >= n { #expect(e?.code == .leafIndexOutOfRange) }
                }
                // Another size, checked against the real root of that size.
                for m in [n - 1, n + 1, 2 * n] where m > i && m <= 70 && m != n {
                    var bad = proof
                    bad.treeSize = m
                    #expect(Self.failure { try bad.verify(leafHash: leafHash, root: roots[m]) } != nil, "size \(n) -> \(m)")
                }
                // Truncated or padded.
                if !proof.path.isEmpty {
                    var short = proof
                    short.path.removeLast()
                    #expect(Self.failure { try short.verify(leafHash: leafHash, root: roots[n]) }?.code == .proofLengthMismatch)
                }
                var long = proof
                long.path.append(roots[n])
                #expect(Self.failure { try long.verify(leafHash: leafHash, root: roots[n]) }?.code == .proofLengthMismatch)
            }
        }
        #expect(checks > 10_000)
    }

    @Test("Consistency proofs for every size pair up to 40 verify, and fail when the proof, a root or a size changes")
    func consistencyProofsVerifyAndDetectTampering() throws {
        let tree = MerkleTree(leaves: Self.leaves.prefix(40))
        let roots = try (0...40).map { try tree.root(ofSize: $0) }
        for n in 1...40 {
            for m in 1...n {
                let proof = try tree.consistencyProof(fromSize: m, toSize: n)
                #expect(proof.size1 == m && proof.size2 == n)
                #expect(proof.path.isEmpty == (m == n))
                try proof.verify(root1: roots[m], root2: roots[n])
                try MerkleVerifier.verifyConsistency(size1: UInt64(m), size2: UInt64(n), proof: proof.path.map(\.bytes),
                                                     root1: roots[m].bytes, root2: roots[n].bytes)
                if n == 40 { #expect(try tree.consistencyProof(fromSize: m) == proof) }

                for j in proof.path.indices {
                    for b in [(j + m) % 32, (j * 7 + n) % 32] {
                        var bad = proof
                        bad.path[j] = MerkleReference.flipped(bad.path[j], byte: b)
                        #expect(Self.failure { try bad.verify(root1: roots[m], root2: roots[n]) }?.code == .rootMismatch,
                                "(\(m), \(n)) hash \(j)")
                    }
                }
                #expect(Self.failure { try proof.verify(root1: MerkleReference.flipped(roots[m], byte: n), root2: roots[n]) }?
                    .code == .rootMismatch)
                #expect(Self.failure { try proof.verify(root1: roots[m], root2: MerkleReference.flipped(roots[n], byte: m)) }?
                    .code == .rootMismatch)
                for m2 in [m - 1, m + 1] where m2 != m && m2 <= n {
                    var bad = proof
                    bad.size1 = m2
                    #expect(Self.failure { try bad.verify(root1: roots[m2], root2: roots[n]) } != nil, "(\(m)->\(m2), \(n))")
                }
                for n2 in [n - 1, n + 1] where n2 >= m && n2 <= 40 {
                    var bad = proof
                    bad.size2 = n2
                    #expect(Self.failure { try bad.verify(root1: roots[m], root2: roots[n2]) } != nil, "(\(m), \(n)->\(n2))")
                }
                var long = proof
                long.path.append(roots[1])
                #expect(Self.failure { try long.verify(root1: roots[m], root2: roots[n]) } != nil)
                if !proof.path.isEmpty {
                    var short = proof
                    short.path.removeLast()
                    #expect(Self.failure { try short.verify(root1: roots[m], root2: roots[n]) }?.code == .proofLengthMismatch)
                }
            }
        }
    }

    @Test("Proofs work with every hash algorithm and fail under another one", arguments: HashAlgorithm.allCases)
    func proofsForEveryAlgorithm(algorithm: HashAlgorithm) throws {
        let tree = MerkleTree(leaves: Self.leaves.prefix(13), algorithm: algorithm)
        #expect(tree.root == MerkleReference.root(Self.leaves.prefix(13)[...], algorithm))
        for i in 0..<13 {
            let proof = try tree.inclusionProof(forLeafAt: i)
            #expect(proof.algorithm == algorithm)
            try proof.verify(leafData: Self.leaves[i], root: tree.root)
            try MerkleVerifier.verifyInclusion(leafIndex: UInt64(i), treeSize: 13, leafHash: tree.leafHashes[i].bytes,
                                               proof: proof.path.map(\.bytes), root: tree.root.bytes, algorithm: algorithm)
            var other = proof
            other.algorithm = algorithm == .sha256 ? .sm3 : .sha256
            if !proof.path.isEmpty {
                #expect(Self.failure { try other.verify(leafHash: tree.leafHashes[i], root: tree.root) }?.code == .rootMismatch)
            }
        }
        let c = try tree.consistencyProof(fromSize: 5)
        try c.verify(root1: try tree.root(ofSize: 5), root2: tree.root)
    }

    @Test("Out-of-range requests throw the documented codes with messages naming the values")
    func errorCodesAndMessages() throws {
        let tree = MerkleTree(leaves: Self.leaves.prefix(8))
        var e = Self.failure { _ = try tree.inclusionProof(forLeafAt: 9) }
        #expect(e?.code == .leafIndexOutOfRange && e?.numericCode == 1201)
        #expect(e?.message == "leaf index 9 >= tree size 8")
        #expect(Self.failure { _ = try tree.inclusionProof(forLeafAt: -1) }?.code == .leafIndexOutOfRange)
        e = Self.failure { _ = try tree.inclusionProof(forLeafAt: 0, treeSize: 9) }
        #expect(e?.code == .invalidTreeSize && e?.numericCode == 1202)
        #expect(e?.message.contains("9") == true)
        #expect(Self.failure { _ = try tree.root(ofSize: -1) }?.code == .invalidTreeSize)
        #expect(Self.failure { _ = try MerkleTree(leaves: [[UInt8]]()).inclusionProof(forLeafAt: 0) }?.code == .leafIndexOutOfRange)
        e = Self.failure { _ = try tree.consistencyProof(fromSize: 0) }
        #expect(e?.code == .invalidConsistencySizes && e?.numericCode == 1206)
        #expect(Self.failure { _ = try tree.consistencyProof(fromSize: 5, toSize: 4) }?.code == .invalidConsistencySizes)
        #expect(Self.failure { _ = try tree.consistencyProof(fromSize: 1, toSize: 9) }?.code == .invalidTreeSize)

        let h = tree.leafHashes[0].bytes, root = tree.root.bytes
        let path = try tree.inclusionProof(forLeafAt: 0).path.map(\.bytes)
        e = Self.failure { try MerkleVerifier.verifyInclusion(leafIndex: 0, treeSize: 8, leafHash: Array(h.prefix(31)), proof: path, root: root) }
        #expect(e?.code == .invalidHashLength && e?.numericCode == 1205)
        #expect(e?.message == "leaf hash is 31 bytes, expected 32")
        #expect(Self.failure { try MerkleVerifier.verifyInclusion(leafIndex: 0, treeSize: 8, leafHash: h, proof: path, root: root + [0]) }?
            .code == .invalidHashLength)
        #expect(Self.failure { try MerkleVerifier.verifyInclusion(leafIndex: 0, treeSize: 8, leafHash: h, proof: [path[0], path[1], path[2] + [1]], root: root) }?
            .code == .invalidHashLength)
        e = Self.failure { try MerkleVerifier.verifyInclusion(leafIndex: 0, treeSize: 8, leafHash: h, proof: Array(path.prefix(2)), root: root) }
        #expect(e?.code == .proofLengthMismatch && e?.numericCode == 1203)
        #expect(e?.message == "proof has 2 hashes, expected 3 for leaf index 0 in tree size 8")
        e = Self.failure { try MerkleVerifier.verifyInclusion(leafIndex: 0, treeSize: 8, leafHash: h, proof: path, root: tree.leafHashes[1].bytes) }
        #expect(e?.code == .rootMismatch && e?.numericCode == 1204)
        e = Self.failure { try MerkleVerifier.verifyInclusion(leafIndex: UInt64.max, treeSize: 8, leafHash: h, proof: path, root: root) }
        #expect(e?.message == "leaf index 18446744073709551615 >= tree size 8")
        #expect(Self.failure { try MerkleVerifier.verifyConsistency(size1: 0, size2: 8, proof: [], root1: root, root2: root) }?
            .code == .invalidConsistencySizes)
        e = Self.failure { try MerkleVerifier.verifyConsistency(size1: 9, size2: 8, proof: [], root1: root, root2: root) }
        #expect(e?.code == .invalidConsistencySizes && e?.message == "consistency size2 8 < size1 9")
        #expect(Self.failure { try MerkleVerifier.verifyConsistency(size1: 3, size2: 8, proof: [], root1: root, root2: root) }?
            .code == .proofLengthMismatch)
        // Equal sizes and an empty proof: the roots are only compared, whatever their length.
        try MerkleVerifier.verifyConsistency(size1: 4, size2: 4, proof: [], root1: [1, 2, 3], root2: [1, 2, 3])
        #expect(Self.failure { try MerkleVerifier.verifyConsistency(size1: 4, size2: 4, proof: [], root1: [1], root2: [2]) }?
            .code == .rootMismatch)

        var negative = try tree.inclusionProof(forLeafAt: 1)
        negative.leafIndex = -3
        #expect(Self.failure { try negative.verify(leafHash: tree.leafHashes[1], root: tree.root) }?.code == .leafIndexOutOfRange)
        var badSizes = try tree.consistencyProof(fromSize: 3)
        badSizes.size1 = 0
        #expect(Self.failure { try badSizes.verify(root1: tree.root, root2: tree.root) }?.code == .invalidConsistencySizes)
    }

    @Test("Proofs round-trip through JSON, and a path entry that is not 64 hex digits fails to decode")
    func codableRoundTrip() throws {
        let tree = MerkleTree(leaves: Self.leaves.prefix(11), algorithm: .sm3)
        let inclusion = try tree.inclusionProof(forLeafAt: 6)
        let consistency = try tree.consistencyProof(fromSize: 6)
        let encoder = JSONEncoder()
        let decoder = JSONDecoder()
        let inclusionJSON = try encoder.encode(inclusion)
        #expect(try decoder.decode(InclusionProof.self, from: inclusionJSON) == inclusion)
        #expect(try decoder.decode(ConsistencyProof.self, from: try encoder.encode(consistency)) == consistency)
        let text = try #require(String(data: inclusionJSON, encoding: .utf8))
        #expect(text.contains(inclusion.path[0].hex))
        #expect(text.contains("\"sm3\""))
        try decoder.decode(InclusionProof.self, from: inclusionJSON).verify(leafData: Self.leaves[6], root: tree.root)

        let bad = Data(#"{"leafIndex":0,"treeSize":2,"path":["abcd"],"algorithm":"sha256"}"#.utf8)
        #expect(throws: DecodingError.self) { try decoder.decode(InclusionProof.self, from: bad) }
        // The algorithm defaults to SHA-256 when absent.
        let noAlgorithm = Data(#"{"size1":1,"size2":1,"path":[]}"#.utf8)
        #expect(try decoder.decode(ConsistencyProof.self, from: noAlgorithm).algorithm == .sha256)
    }

    @Test("Seeded random proof bytes, sizes and lengths are rejected with a LedgerError and never trap")
    func randomInputsNeverCrash() throws {
        var rng = SplitMix64(seed: 0xF0_46E)
        func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) } }
        func hashLength() -> Int { Int.random(in: 0..<10, using: &rng) == 0 ? Int.random(in: 0...40, using: &rng) : 32 }
        func size() -> UInt64 {
            switch Int.random(in: 0..<4, using: &rng) {
            case 0: return UInt64.random(in: 0...70, using: &rng)
            case 1: return UInt64.random(in: 0...UInt64.max, using: &rng)
            case 2: return [0, 1, UInt64.max, UInt64.max - 1, 1 << 63][Int.random(in: 0..<5, using: &rng)]
            default: return UInt64.random(in: 0...(1 << 20), using: &rng)
            }
        }
        var rejected = 0
        for _ in 0..<1500 {
            let proof = (0..<Int.random(in: 0...70, using: &rng)).map { _ in bytes(hashLength()) }
            let a = size(), b = size()
            let algorithm = HashAlgorithm.allCases[Int.random(in: 0..<4, using: &rng)]
            #expect(throws: LedgerError.self) {
                try MerkleVerifier.verifyInclusion(leafIndex: a, treeSize: b, leafHash: bytes(hashLength()), proof: proof,
                                                   root: bytes(hashLength()), algorithm: algorithm)
            }
            #expect(throws: LedgerError.self) {
                try MerkleVerifier.verifyConsistency(size1: a, size2: b, proof: proof, root1: bytes(hashLength()),
                                                     root2: bytes(hashLength()), algorithm: algorithm)
            }
            let digests = proof.compactMap { try? Digest(bytes: $0) }
            let i = Int(truncatingIfNeeded: a), n = Int(truncatingIfNeeded: b)
            #expect(throws: LedgerError.self) {
                try InclusionProof(leafIndex: i, treeSize: n, path: digests, algorithm: algorithm)
                    .verify(leafHash: Digest(repeating: 7), root: .zero)
            }
            #expect(throws: LedgerError.self) {
                try ConsistencyProof(size1: i, size2: n, path: digests, algorithm: algorithm)
                    .verify(root1: Digest(repeating: 7), root2: .zero)
            }
            rejected += 1
        }
        #expect(rejected == 1500)
    }
}

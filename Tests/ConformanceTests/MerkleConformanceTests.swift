import Foundation
import Testing
import LedgerCore

/// RFC 6962 vectors from transparency-dev/merkle (see
/// `../shared/conformance/merkle/README.md`).
@Suite(.conformanceVectors) struct MerkleConformanceTests {
    // MARK: - rfc6962-reference-tree.json

    struct ReferenceTree: Decodable {
        struct Inclusion: Decodable { let leaf_index: Int; let tree_size: Int; let proof: [String] }
        struct Consistency: Decodable { let size1: Int; let size2: Int; let proof: [String] }
        struct HasherVector: Decodable {
            let desc: String
            let kind: String
            let input: [String]?
            let hash: String
            enum CodingKeys: String, CodingKey { case desc, kind, input_hex, hash }
            init(from decoder: any Decoder) throws {
                let c = try decoder.container(keyedBy: CodingKeys.self)
                desc = try c.decode(String.self, forKey: .desc)
                kind = try c.decode(String.self, forKey: .kind)
                hash = try c.decode(String.self, forKey: .hash)
                if let one = try? c.decode(String.self, forKey: .input_hex) {
                    input = [one]
                } else {
                    input = try c.decodeIfPresent([String].self, forKey: .input_hex)
                }
            }
        }
        let leaf_inputs_hex: [String]
        let node_hashes_by_level: [[String]]
        let root_hash_by_tree_size: [String: String]
        let inclusion_proofs: [Inclusion]
        let consistency_proofs: [Consistency]
        let hasher_vectors: [HasherVector]
    }

    static func loadReference() throws -> ReferenceTree {
        return try JSONDecoder().decode(ReferenceTree.self,
                                        from: ConformancePaths.data("merkle/rfc6962-reference-tree.json"))
    }

    @Test("Trees built from the reference leaves have every published root for sizes 0 to 8")
    func referenceRoots() throws {
        let ref = try Self.loadReference()
        let leaves = try ref.leaf_inputs_hex.map { try Hex.decode($0) }
        let full = MerkleTree(leaves: leaves)
        #expect(ref.root_hash_by_tree_size.count == 9)
        for size in 0...8 {
            let want = try #require(ref.root_hash_by_tree_size[String(size)])
            #expect(MerkleTree(leaves: leaves.prefix(size)).root.hex == want, "size \(size)")
            #expect(try full.root(ofSize: size).hex == want, "root(ofSize: \(size))")
            let packed = MerkleTree(leaves: leaves.prefix(size)).leafHashes
            #expect(MerkleTree.root(leafHashes: packed, concurrency: .serial).hex == want, "bulk size \(size)")
        }
    }

    @Test("Every subtree of the reference tree hashes to the published node hash of its level")
    func referenceNodeHashes() throws {
        let ref = try Self.loadReference()
        let leaves = try ref.leaf_inputs_hex.map { try Hex.decode($0) }
        #expect(ref.node_hashes_by_level.map(\.count) == [8, 4, 2, 1])
        for (level, hashes) in ref.node_hashes_by_level.enumerated() {
            for (j, want) in hashes.enumerated() {
                let span = 1 << level
                let sub = MerkleTree(leaves: leaves[(j * span)..<((j + 1) * span)])
                #expect(sub.root.hex == want, "level \(level) node \(j)")
            }
        }
    }

    @Test("Generated inclusion proofs equal the published ones and verify")
    func referenceInclusionProofs() throws {
        let ref = try Self.loadReference()
        let leaves = try ref.leaf_inputs_hex.map { try Hex.decode($0) }
        let tree = MerkleTree(leaves: leaves)
        #expect(ref.inclusion_proofs.count == 7)
        for p in ref.inclusion_proofs {
            let proof = try tree.inclusionProof(forLeafAt: p.leaf_index, treeSize: p.tree_size)
            #expect(proof.path.map(\.hex) == p.proof, "(\(p.leaf_index), \(p.tree_size))")
            try proof.verify(leafData: leaves[p.leaf_index], root: try tree.root(ofSize: p.tree_size))
            try MerkleVerifier.verifyInclusion(
                leafIndex: UInt64(p.leaf_index), treeSize: UInt64(p.tree_size),
                leafHash: tree.leafHashes[p.leaf_index].bytes, proof: try p.proof.map { try Hex.decode($0) },
                root: try tree.root(ofSize: p.tree_size).bytes)
        }
    }

    @Test("Generated consistency proofs equal the published ones and verify")
    func referenceConsistencyProofs() throws {
        let ref = try Self.loadReference()
        let leaves = try ref.leaf_inputs_hex.map { try Hex.decode($0) }
        let tree = MerkleTree(leaves: leaves)
        #expect(ref.consistency_proofs.count == 4)
        for p in ref.consistency_proofs {
            let proof = try tree.consistencyProof(fromSize: p.size1, toSize: p.size2)
            #expect(proof.path.map(\.hex) == p.proof, "(\(p.size1), \(p.size2))")
            try proof.verify(root1: try tree.root(ofSize: p.size1), root2: try tree.root(ofSize: p.size2))
            try MerkleVerifier.verifyConsistency(
                size1: UInt64(p.size1), size2: UInt64(p.size2), proof: try p.proof.map { try Hex.decode($0) },
                root1: try tree.root(ofSize: p.size1).bytes, root2: try tree.root(ofSize: p.size2).bytes)
        }
    }

    @Test("The hasher reproduces the empty-root, leaf and node vectors")
    func referenceHasherVectors() throws {
        let ref = try Self.loadReference()
        let hasher = MerkleHasher(.sha256)
        #expect(ref.hasher_vectors.count == 4)
        for v in ref.hasher_vectors {
            let got: Digest
            switch v.kind {
            case "leaf": got = hasher.hashLeaf(try Hex.decode(try #require(v.input?.first)))
            case "node":
                let parts = try #require(v.input)
                got = hasher.hashChildren(try Hex.decode(parts[0]), try Hex.decode(parts[1]))
            default: got = hasher.emptyRoot
            }
            #expect(got.hex == v.hash, "\(v.desc)")
        }
    }

    // MARK: - transparency-dev-merkle-testdata.json

    struct InclusionProbe: Decodable {
        let leafIdx: UInt64, treeSize: UInt64
        let root: String, leafHash: String
        let proof: [String]?
        let desc: String
        let wantErr: Bool
    }

    struct ConsistencyProbe: Decodable {
        let size1: UInt64, size2: UInt64
        let root1: String, root2: String
        let proof: [String]?
        let desc: String
        let wantErr: Bool
    }

    struct Bundle: Decodable {
        let inclusion: [String: InclusionProbe]
        let consistency: [String: ConsistencyProbe]
    }

    static func loadBundle() throws -> Bundle {
        return try JSONDecoder().decode(Bundle.self,
                                        from: ConformancePaths.data("merkle/transparency-dev-merkle-testdata.json"))
    }

    static func b64(_ s: String) throws -> [UInt8] {
        [UInt8](try #require(Data(base64Encoded: s), "bad base64 \(s)"))
    }

    @Test("All 98 inclusion probes fail exactly when wantErr is true")
    func inclusionProbes() throws {
        let bundle = try Self.loadBundle()
        #expect(bundle.inclusion.count == 98)
        var failures = 0
        for (name, p) in bundle.inclusion.sorted(by: { $0.key < $1.key }) {
            let proof = try (p.proof ?? []).map { try Self.b64($0) }
            let leafHash = try Self.b64(p.leafHash), root = try Self.b64(p.root)
            var error: LedgerError?
            do {
                try MerkleVerifier.verifyInclusion(leafIndex: p.leafIdx, treeSize: p.treeSize,
                                                   leafHash: leafHash, proof: proof, root: root)
            } catch let e { error = e }
            if p.wantErr { failures += 1 }
            #expect((error != nil) == p.wantErr, "\(name): \(p.desc): \(error.map(\.description) ?? "accepted")")
        }
        #expect(failures > 0 && failures < 98)
    }

    @Test("All 98 consistency probes fail exactly when wantErr is true")
    func consistencyProbes() throws {
        let bundle = try Self.loadBundle()
        #expect(bundle.consistency.count == 98)
        for (name, p) in bundle.consistency.sorted(by: { $0.key < $1.key }) {
            let proof = try (p.proof ?? []).map { try Self.b64($0) }
            let root1 = try Self.b64(p.root1), root2 = try Self.b64(p.root2)
            var error: LedgerError?
            do {
                try MerkleVerifier.verifyConsistency(size1: p.size1, size2: p.size2, proof: proof,
                                                     root1: root1, root2: root2)
            } catch let e { error = e }
            #expect((error != nil) == p.wantErr, "\(name): \(p.desc): \(error.map(\.description) ?? "accepted")")
        }
    }

    @Test("Typed proofs built from the good inclusion probes verify, and an index equal to the size is rejected with 1201")
    func inclusionProbesThroughTypedProofs() throws {
        let bundle = try Self.loadBundle()
        var checked = 0
        for (name, p) in bundle.inclusion where !p.wantErr {
            let path = try (p.proof ?? []).map { try Digest(bytes: try Self.b64($0)) }
            let proof = InclusionProof(leafIndex: Int(p.leafIdx), treeSize: Int(p.treeSize), path: path)
            try proof.verify(leafHash: try Digest(bytes: try Self.b64(p.leafHash)),
                             root: try Digest(bytes: try Self.b64(p.root)))
            // One more leaf index must be rejected with a typed code.
            var moved = proof
            moved.leafIndex = proof.treeSize
            let e = #expect(throws: LedgerError.self, "\(name)") {
                try moved.verify(leafHash: try Digest(bytes: try Self.b64(p.leafHash)),
                                 root: try Digest(bytes: try Self.b64(p.root)))
            }
            #expect(e?.code == .leafIndexOutOfRange)
            checked += 1
        }
        #expect(checked > 0)
    }
}

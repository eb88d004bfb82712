import Testing
import LedgerCore

struct StateNodeStoreTests {
    struct FailingStore: StateNodeStore {
        struct DiskError: Error {}
        var ledgerError: LedgerError?
        func node(_ digest: Digest) throws -> [UInt8]? {
            if let ledgerError { throw ledgerError }
            throw DiskError()
        }
    }

    static func populated(count: Int = 200, seed: UInt64 = 51) throws -> (StateTree, InMemoryStateNodeStore, Digest, [(key: [UInt8], value: [UInt8])]) {
        let tree = StateTree()
        let store = InMemoryStateNodeStore()
        let pairs = StateFixtures.pairs(count: count, seed: seed)
        let root = try StateFixtures.build(tree, pairs, batch: count, store: store)
        return (tree, store, root, pairs)
    }

    /// Runs reads, a proof and an update for `key` and returns their errors.
    static func errors(_ tree: StateTree, _ store: some StateNodeStore, _ root: Digest, _ key: [UInt8]) -> [LedgerError?] {
        [
            StateFixtures.failure { _ = try tree.value(forKey: key, root: root, store: store) },
            StateFixtures.failure { _ = try tree.proof(forKey: key, root: root, store: store) },
            StateFixtures.failure { _ = try tree.update(root: root, changes: [.set(key, [1, 2])], store: store) },
        ]
    }

    @Test("A missing root or inner node gives stateNodeMissing naming the digest")
    func missingNodesAreNamed() throws {
        let (tree, store, root, pairs) = try Self.populated()
        let unknownRoot = tree.hasher.path(forKey: [7])
        for e in Self.errors(tree, store, unknownRoot, pairs[0].key) {
            #expect(e?.code == .stateNodeMissing && e?.details["digest"] == unknownRoot.hex)
        }
        // Remove a node below the root on the path of a key.
        let proof = try tree.proof(forKey: pairs[0].key, root: root, store: store)
        let leaf = tree.hasher.leafHash(path: tree.hasher.path(forKey: pairs[0].key), valueHash: tree.hasher.valueHash(pairs[0].value))
        store.setNode(nil, for: leaf)
        for e in Self.errors(tree, store, root, pairs[0].key) {
            #expect(e?.code == .stateNodeMissing && e?.details["digest"] == leaf.hex)
        }
        #expect(proof.depth > 0)
    }

    @Test("A corrupt node (garbage, another node's bytes, any flipped byte) gives stateNodeCorrupted naming the digest")
    func corruptNodesAreNamed() throws {
        let (tree, store, root, pairs) = try Self.populated()
        let original = store.node(root)!
        // Garbage and another valid node's bytes under the root's digest.
        let other = store.digests.first { $0 != root }!
        for bytes in [[0xC0], [UInt8](), Array("not rlp".utf8), store.node(other)!] {
            store.setNode(bytes, for: root)
            for e in Self.errors(tree, store, root, pairs[1].key) {
                #expect(e?.code == .stateNodeCorrupted && e?.details["digest"] == root.hex, "\(bytes)")
            }
        }
        // Every flipped byte of the root node and of a leaf.
        let leafDigest = tree.hasher.leafHash(path: tree.hasher.path(forKey: pairs[1].key),
                                              valueHash: tree.hasher.valueHash(pairs[1].value))
        let leafBytes = store.node(leafDigest)!
        store.setNode(original, for: root)
        for (digest, bytes) in [(root, original), (leafDigest, leafBytes)] {
            for i in bytes.indices {
                var bad = bytes
                bad[i] ^= 0x01
                store.setNode(bad, for: digest)
                for e in Self.errors(tree, store, root, pairs[1].key) {
                    #expect(e?.code == .stateNodeCorrupted && e?.details["digest"] == digest.hex, "byte \(i)")
                }
            }
            store.setNode(bytes, for: digest)
        }
        #expect(try tree.value(forKey: pairs[1].key, root: root, store: store) == pairs[1].value)
    }

    @Test("A store that throws gives stateStoreFailure, and a store's own LedgerError passes through unchanged")
    func storeErrorsAreReported() throws {
        let tree = StateTree()
        let root = tree.hasher.path(forKey: [1])
        for e in Self.errors(tree, FailingStore(), root, [1]) {
            #expect(e?.code == .stateStoreFailure && e?.details["digest"] == root.hex)
        }
        let own = LedgerError(.init(rawValue: 1999), "database is locked")
        for e in Self.errors(tree, FailingStore(ledgerError: own), root, [1]) { #expect(e == own) }
        // The empty root is never read.
        #expect(try tree.value(forKey: [1], root: tree.emptyRoot, store: FailingStore()) == nil)
    }

    @Test("Nodes encode canonically and decode strictly")
    func nodeEncodingIsStrict() throws {
        let hasher = StateHasher()
        let a = hasher.path(forKey: [1]), b = hasher.path(forKey: [2])
        let nodes: [StateNode] = [.leaf(key: [], value: []), .leaf(key: [1, 2, 3], value: Array(repeating: 9, count: 100)),
                                  .internal(left: a, right: b), .internal(left: nil, right: b), .internal(left: a, right: nil)]
        for node in nodes {
            #expect(try StateNode(encoded: node.encoded) == node)
            // A trailing byte, a missing byte, or a changed kind byte is refused.
            let bytes = node.encoded
            #expect(StateFixtures.failure { _ = try StateNode(encoded: bytes + [0x85]) }?.code == .stateNodeCorrupted)
            #expect(StateFixtures.failure { _ = try StateNode(encoded: Array(bytes.dropLast())) }?.code == .stateNodeCorrupted)
            var kind = bytes
            kind[bytes[0] == 0xF8 ? 2 : 1] ^= 0x03
            #expect(StateFixtures.failure { _ = try StateNode(encoded: kind) }?.code == .stateNodeCorrupted)
        }
        // The documented byte layout.
        #expect(StateNode.leaf(key: [0x6B], value: []).encoded == [0xC3, 0x00, 0x6B, 0x80])
        #expect(StateNode.internal(left: nil, right: a).encoded == [0xE3, 0x01, 0x80, 0xA0] + a.bytes)
        let rejected: [RLP.Item] = [
            .list([.bytes([0x01]), .bytes([]), .bytes([])]),                  // two empty children
            .list([.bytes([0x01]), .bytes([1, 2]), .bytes(a.bytes)]),          // child of 2 bytes
            .list([.bytes([0x02]), .bytes([]), .bytes([])]),                   // unknown kind
            .list([.bytes([]), .bytes([]), .bytes([])]),                       // empty kind
            .list([.bytes([0x00]), .bytes([1])]),                              // two fields
            .list([.bytes([0x00]), .list([]), .bytes([1])]),                   // key is a list
            .list([.bytes([0x00]), .bytes(Array(repeating: 1, count: StateTree.maximumKeyLength + 1)), .bytes([])]),
            .bytes([0x00]),
        ]
        for item in rejected {
            #expect(StateFixtures.failure { _ = try StateNode(encoded: RLP.encode(item)) }?.code == .stateNodeCorrupted, "\(item)")
        }
        // A non-canonical length is rejected.
        #expect(StateFixtures.failure { _ = try StateNode(encoded: [0xF8, 0x03, 0x00, 0x6B, 0x80]) }?.code == .stateNodeCorrupted)
    }

    @Test("Seeded random and mutated bytes never crash the node and proof decoders, the proof verifier or the tree")
    func decodersSurviveRandomBytes() throws {
        let (tree, store, root, pairs) = try Self.populated(count: 64, seed: 52)
        var rng = SplitMix64(seed: 53)
        var samples: [[UInt8]] = store.digests.prefix(20).map { store.node($0)! }
        samples += try pairs.prefix(5).map { try tree.proof(forKey: $0.key, root: root, store: store).encoded }
        samples += try (0..<5).map { try tree.proof(forKey: StateFixtures.key($0), root: root, store: store).encoded }
        var decodedNodes = 0, decodedProofs = 0
        for round in 0..<20_000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = StateFixtures.bytes(&rng, count: Int(rng.next() % 120))
                if round % 4 == 0, !bytes.isEmpty { bytes[0] = 0xC0 | UInt8(rng.next() % 64) }  // look like a list
            } else {
                bytes = samples[Int(rng.next() % UInt64(samples.count))]
                for _ in 0...(rng.next() % 3) where !bytes.isEmpty {
                    switch rng.next() % 3 {
                    case 0: bytes[Int(rng.next() % UInt64(bytes.count))] ^= UInt8(truncatingIfNeeded: rng.next() | 1)
                    case 1: bytes.removeLast(Int(rng.next() % UInt64(bytes.count)))
                    default: bytes.insert(UInt8(truncatingIfNeeded: rng.next()), at: Int(rng.next() % UInt64(bytes.count)))
                    }
                }
            }
            if let node = try? StateNode(encoded: bytes) {
                decodedNodes += 1
                #expect(node.encoded == bytes)   // strict: only the canonical encoding decodes
            }
            do {
                let proof = try StateProof(encoded: bytes)
                decodedProofs += 1
                #expect(proof.encoded == bytes)
                _ = try? proof.verify(root: root, algorithm: .sha256)
            } catch {
                #expect(error.code == .stateProofInvalid)
            }
            // The same bytes as a stored node under the root's digest.
            if round % 50 == 0 {
                let original = store.node(root)!
                store.setNode(bytes, for: root)
                for e in Self.errors(tree, store, root, pairs[0].key) where bytes != original {
                    #expect(e?.code == .stateNodeCorrupted)
                }
                store.setNode(original, for: root)
            }
        }
        #expect(decodedNodes > 0 && decodedProofs > 0)
        // Proofs built from random field values never crash the verifier.
        for _ in 0..<5_000 {
            let depth = Int(rng.next() % 300) - 20
            let proof = StateProof(key: StateFixtures.bytes(&rng, count: Int(rng.next() % 8)),
                                   value: rng.next() % 2 == 0 ? nil : [1],
                                   depth: depth,
                                   bitmap: StateFixtures.bytes(&rng, count: Int(rng.next() % 36)),
                                   siblings: (0..<(rng.next() % 40)).map { _ in tree.hasher.path(forKey: StateFixtures.bytes(&rng, count: 4)) },
                                   otherLeaf: rng.next() % 2 == 0 ? nil : .init(path: root, valueHash: root))
            #expect(throws: LedgerError.self) { try proof.verify(root: root, algorithm: .sha256) }
        }
    }
}

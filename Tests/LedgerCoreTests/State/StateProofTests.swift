import Foundation
import Testing
import LedgerCore

struct StateProofTests {
    @Test("Proofs of presence and of absence verify for random keys under every hash algorithm", arguments: HashAlgorithm.allCases)
    func proofsVerify(algorithm: HashAlgorithm) throws {
        let tree = StateTree(algorithm)
        let store = InMemoryStateNodeStore()
        let pairs = StateFixtures.pairs(count: 400, seed: 31)
        let root = try StateFixtures.build(tree, pairs, batch: 100, store: store)
        var byEmpty = 0, byLeaf = 0
        for p in pairs.prefix(150) {
            let proof = try tree.proof(forKey: p.key, root: root, store: store)
            #expect(proof.value == p.value && proof.otherLeaf == nil)
            #expect(try proof.verifiedValue(forKey: p.key, root: root, algorithm: algorithm) == p.value)
            try proof.verify(key: p.key, value: p.value, root: root, algorithm: algorithm)
        }
        for i in 0..<300 {
            let key = StateFixtures.key(i)
            let proof = try tree.proof(forKey: key, root: root, store: store)
            #expect(proof.value == nil)
            if proof.otherLeaf == nil { byEmpty += 1 } else { byLeaf += 1 }
            try proof.verify(key: key, value: nil, root: root, algorithm: algorithm)
            #expect(try proof.verifiedValue(root: root, algorithm: algorithm) == nil)
        }
        // Both kinds of absence occur.
        #expect(byEmpty > 0 && byLeaf > 0, "empty \(byEmpty), other leaf \(byLeaf)")
        // The empty tree and a one-key tree.
        let empty = try tree.proof(forKey: [1], root: tree.emptyRoot, store: store)
        #expect(empty.depth == 0 && empty.siblings.isEmpty)
        try empty.verify(key: [1], value: nil, root: tree.emptyRoot, algorithm: algorithm)
        let one = try tree.update(root: tree.emptyRoot, changes: [.set([1], [2])], store: store)
        store.insert(one)
        try tree.proof(forKey: [1], root: one.root, store: store).verify(key: [1], value: [2], root: one.root, algorithm: algorithm)
        let other = try tree.proof(forKey: [3], root: one.root, store: store)
        #expect(other.depth == 0 && other.otherLeaf != nil)
        try other.verify(key: [3], value: nil, root: one.root, algorithm: algorithm)
    }

    @Test("A wrong value, a wrong key, another root or another algorithm fails verification with the matching code")
    func wrongClaimsFail() throws {
        let tree = StateTree()
        let store = InMemoryStateNodeStore()
        let pairs = StateFixtures.pairs(count: 200, seed: 32)
        let root = try StateFixtures.build(tree, pairs, batch: 200, store: store)
        let later = try tree.update(root: root, changes: [.set(pairs[0].key, [0xEE])], store: store).root
        for p in pairs.prefix(40) {
            let proof = try tree.proof(forKey: p.key, root: root, store: store)
            let f = StateFixtures.failure
            #expect(f { try proof.verify(key: p.key, value: p.value + [0], root: root, algorithm: .sha256) }?.code == .stateProofValueMismatch)
            #expect(f { try proof.verify(key: p.key, value: nil, root: root, algorithm: .sha256) }?.code == .stateProofValueMismatch)
            #expect(f { try proof.verify(key: p.key + [0], value: p.value, root: root, algorithm: .sha256) }?.code == .stateProofKeyMismatch)
            #expect(f { _ = try proof.verifiedValue(forKey: p.key + [2], root: root, algorithm: .sha256) }?.code == .stateProofKeyMismatch)
            #expect(f { try proof.verify(root: later, algorithm: .sha256) }?.code == .stateProofRootMismatch)
            #expect(f { try proof.verify(root: root, algorithm: .sm3) }?.code == .stateProofRootMismatch)
            // The claim itself altered inside the proof.
            var wrongValue = proof
            wrongValue.value = p.value + [1]
            #expect(f { try wrongValue.verify(root: root, algorithm: .sha256) }?.code == .stateProofRootMismatch)
            var wrongKey = proof
            wrongKey.key = p.key + [1]
            #expect(f { try wrongKey.verify(root: root, algorithm: .sha256) }?.code == .stateProofRootMismatch)
        }
        let absent = try tree.proof(forKey: [0xFF, 0xFF], root: root, store: store)
        #expect(StateFixtures.failure { try absent.verify(key: [0xFF, 0xFF], value: [1], root: root, algorithm: .sha256) }?
            .code == .stateProofValueMismatch)
        #expect(StateFixtures.failure { try absent.verify(root: later, algorithm: .sha256) }?.code == .stateProofRootMismatch)
    }

    @Test("Any altered byte of an encoded proof fails decoding or verification")
    func everyAlteredByteFails() throws {
        let tree = StateTree()
        let store = InMemoryStateNodeStore()
        let pairs = StateFixtures.pairs(count: 120, seed: 33)
        let root = try StateFixtures.build(tree, pairs, batch: 120, store: store)
        let proofs = try [pairs[0].key, pairs[1].key, StateFixtures.key(1), StateFixtures.key(2), StateFixtures.key(3)].map {
            try tree.proof(forKey: $0, root: root, store: store)
        }
        #expect(proofs.contains { $0.otherLeaf != nil } && proofs.contains { $0.value == nil && $0.otherLeaf == nil })
        var checked = 0
        for proof in proofs {
            let bytes = proof.encoded
            #expect(try StateProof(encoded: bytes) == proof)
            for i in bytes.indices {
                for flip: UInt8 in [0x01, 0x80] {
                    var bad = bytes
                    bad[i] ^= flip
                    let e = StateFixtures.failure {
                        try StateProof(encoded: bad).verify(key: proof.key, value: proof.value, root: root, algorithm: .sha256)
                    }
                    #expect(e != nil, "byte \(i) ^ \(flip)")
                    #expect(e.map { (1603...1606).contains($0.numericCode) } ?? false, "byte \(i): \(String(describing: e))")
                    checked += 1
                }
            }
        }
        #expect(checked > 1_000)
    }

    @Test("Any altered sibling, bitmap bit, depth or terminal leaf fails with stateProofInvalid or stateProofRootMismatch")
    func alteredFieldsFail() throws {
        let tree = StateTree(.sha3_256)
        let store = InMemoryStateNodeStore()
        let pairs = StateFixtures.pairs(count: 150, seed: 34)
        let root = try StateFixtures.build(tree, pairs, batch: 150, store: store)
        let keys = pairs.prefix(10).map(\.key) + (0..<30).map(StateFixtures.key)
        for key in keys {
            let proof = try tree.proof(forKey: key, root: root, store: store)
            let verify = { (p: StateProof) in StateFixtures.failure { try p.verify(root: root, algorithm: .sha3_256) }?.code }
            for j in proof.siblings.indices {
                var bad = proof
                bad.siblings[j][j % 32] ^= 0x04
                #expect(verify(bad) == .stateProofRootMismatch)
                var dropped = proof
                dropped.siblings.remove(at: j)
                #expect(verify(dropped) == .stateProofInvalid)
                var emptied = proof
                emptied.siblings[j] = tree.emptyRoot
                #expect(verify(emptied) == .stateProofInvalid)
            }
            for bit in 0..<(proof.bitmap.count * 8) {
                var bad = proof
                bad.bitmap[bit / 8] ^= 0x80 >> UInt8(bit % 8)
                #expect(verify(bad) != nil, "bitmap bit \(bit)")
            }
            for depth in [proof.depth - 1, proof.depth + 1, 257, -1] {
                var bad = proof
                bad.depth = depth
                #expect(verify(bad) == .stateProofInvalid, "depth \(depth)")
            }
            if var leaf = proof.otherLeaf {
                var bad = proof
                leaf.valueHash = tree.emptyRoot
                bad.otherLeaf = leaf
                #expect(verify(bad) == .stateProofRootMismatch)
                var dropped = proof
                dropped.otherLeaf = nil
                #expect(verify(dropped) == .stateProofRootMismatch)
            }
        }
    }

    @Test("An absence proof cannot be forged for a present key")
    func absenceCannotBeForgedForPresentKeys() throws {
        let tree = StateTree()
        let store = InMemoryStateNodeStore()
        let pairs = StateFixtures.pairs(count: 300, seed: 35)
        let root = try StateFixtures.build(tree, pairs, batch: 300, store: store)
        let absentProofs = try (0..<40).map { try tree.proof(forKey: StateFixtures.key($0), root: root, store: store) }
        for p in pairs.prefix(60) {
            let presence = try tree.proof(forKey: p.key, root: root, store: store)
            let pathOfKey = tree.hasher.path(forKey: p.key)
            // Presence proof turned into absence: empty terminal, or the key's own leaf as the "other" leaf.
            var empty = presence
            empty.value = nil
            #expect(StateFixtures.failure { try empty.verify(root: root, algorithm: .sha256) } != nil)
            var own = presence
            own.value = nil
            own.otherLeaf = .init(path: pathOfKey, valueHash: tree.hasher.valueHash(p.value))
            #expect(StateFixtures.failure { try own.verify(root: root, algorithm: .sha256) }?.code == .stateProofInvalid)
            // Every absence proof of another key, retargeted to this key.
            for a in absentProofs {
                var forged = a
                forged.key = p.key
                #expect(StateFixtures.failure { try forged.verify(key: p.key, value: nil, root: root, algorithm: .sha256) } != nil)
            }
            // A neighbour's leaf presented as the occupant of this key's position, with this key's siblings.
            let other = pairs[(pairs.firstIndex { $0.key == p.key }! + 1) % pairs.count]
            var neighbour = presence
            neighbour.value = nil
            neighbour.otherLeaf = .init(path: tree.hasher.path(forKey: other.key), valueHash: tree.hasher.valueHash(other.value))
            #expect(StateFixtures.failure { try neighbour.verify(root: root, algorithm: .sha256) } != nil)
        }
    }

    @Test("The JSON form round-trips and the binary form is canonical")
    func encodingsRoundTrip() throws {
        let tree = StateTree()
        let store = InMemoryStateNodeStore()
        let pairs = StateFixtures.pairs(count: 50, seed: 36)
        let root = try StateFixtures.build(tree, pairs, batch: 50, store: store)
        for key in [pairs[0].key, StateFixtures.key(0), StateFixtures.key(1), StateFixtures.key(2)] {
            let proof = try tree.proof(forKey: key, root: root, store: store)
            let json = try JSONEncoder().encode(proof)
            let decoded = try JSONDecoder().decode(StateProof.self, from: json)
            #expect(decoded == proof)
            try decoded.verify(root: root, algorithm: .sha256)
            #expect(try StateProof(encoded: proof.encoded).encoded == proof.encoded)
        }
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(StateProof.self, from: Data(#"{"key":"zz","value":null,"depth":0,"bitmap":"","siblings":[]}"#.utf8))
        }
    }
}

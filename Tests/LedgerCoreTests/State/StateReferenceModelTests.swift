import Testing
import LedgerCore

/// The incremental tree against a dictionary and a from-scratch root.
struct StateReferenceModelTests {
    @Test("A seeded random sequence of inserts, updates and deletes matches a dictionary, and the incremental root equals the root rebuilt from scratch",
          arguments: StateFixtures.seeds)
    func incrementalTreeMatchesTheReferenceModel(seed: UInt64) throws {
        for algorithm in HashAlgorithm.allCases {
            var rng = SplitMix64(seed: seed)
            let tree = StateTree(algorithm)
            let store = InMemoryStateNodeStore()
            var model: [[UInt8]: [UInt8]] = [:]
            var root = tree.emptyRoot
            var roots: [(Digest, [[UInt8]: [UInt8]])] = []
            // A small key space so that updates and deletes hit present keys often.
            let keySpace = 400
            for step in 0..<40 {
                var changes: [StateChange] = []
                let size = Int(rng.next() % 60)    // includes empty batches
                for _ in 0..<size {
                    let key = StateFixtures.key(Int(rng.next() % UInt64(keySpace)))
                    switch rng.next() % 10 {
                    case 0..<3:
                        changes.append(.delete(key))
                        model[key] = nil
                    default:
                        let value = StateFixtures.bytes(&rng, count: Int(rng.next() % 20))
                        changes.append(.set(key, value))
                        model[key] = value
                    }
                }
                // Now and then empty the state entirely.
                if step == 25 {
                    changes += model.keys.sorted { $0.lexicographicallyPrecedes($1) }.map { .delete($0) }
                    model = [:]
                }
                let update = try tree.update(root: root, changes: changes, store: store)
                store.insert(update)
                root = update.root
                #expect(root == StateFixtures.referenceRoot(model, algorithm), "\(algorithm) seed \(seed) step \(step)")
                roots.append((root, model))
                if model.isEmpty { #expect(root == tree.emptyRoot) }
            }
            // Every historical root reads back its own state, and proofs verify against it.
            for (h, (r, state)) in roots.enumerated() where h % 5 == 0 {
                for i in stride(from: 0, to: keySpace, by: 7) {
                    let key = StateFixtures.key(i)
                    #expect(try tree.value(forKey: key, root: r, store: store) == state[key])
                    let proof = try tree.proof(forKey: key, root: r, store: store)
                    #expect(try proof.verifiedValue(forKey: key, root: r, algorithm: algorithm) == state[key])
                }
            }
        }
    }

    @Test("Keys whose paths share long prefixes are placed and removed canonically")
    func deepSharedPrefixesStayCanonical() throws {
        // Find keys whose SHA-256 paths share the first 12 bits: a deep chain of single-child internal nodes.
        let tree = StateTree()
        var buckets: [UInt16: [[UInt8]]] = [:]
        var close: [[UInt8]] = []
        for i in 0..<20_000 where close.isEmpty {
            let key = StateFixtures.key(i)
            let b = tree.hasher.path(forKey: key).bytes
            let prefix = UInt16(b[0]) << 4 | UInt16(b[1] >> 4)
            buckets[prefix, default: []].append(key)
            if buckets[prefix]!.count == 3 { close = buckets[prefix]! }
        }
        #expect(close.count == 3)
        let store = InMemoryStateNodeStore()
        var model: [[UInt8]: [UInt8]] = [:]
        var root = tree.emptyRoot
        for (i, key) in close.enumerated() {
            let update = try tree.update(root: root, changes: [.set(key, [UInt8(i)])], store: store)
            store.insert(update)
            root = update.root
            model[key] = [UInt8(i)]
            #expect(root == StateFixtures.referenceRoot(model, .sha256))
        }
        let proof = try tree.proof(forKey: close[0], root: root, store: store)
        #expect(proof.depth >= 12)
        #expect(proof.siblings.count < proof.depth)   // the empty siblings were compressed away
        try proof.verify(key: close[0], value: [0], root: root, algorithm: .sha256)
        for key in close {
            let update = try tree.update(root: root, changes: [.delete(key)], store: store)
            store.insert(update)
            root = update.root
            model[key] = nil
            #expect(root == StateFixtures.referenceRoot(model, .sha256))
        }
        #expect(root == tree.emptyRoot)
    }

    @Test("An empty batch returns the same root without reading the store")
    func emptyBatchChangesNothing() throws {
        let tree = StateTree()
        let missing = tree.hasher.path(forKey: [1])
        let update = try tree.update(root: missing, changes: [], store: InMemoryStateNodeStore())
        #expect(update.root == missing && update.nodes.isEmpty)
    }
}

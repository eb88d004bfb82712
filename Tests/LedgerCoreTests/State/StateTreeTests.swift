import Testing
import LedgerCore

struct StateTreeTests {
    @Test("The root depends only on the key set, not on insertion order or batching, for every hash algorithm",
          arguments: HashAlgorithm.allCases)
    func rootIsIndependentOfOrderAndBatching(algorithm: HashAlgorithm) throws {
        let tree = StateTree(algorithm)
        for seed in StateFixtures.seeds {
            let pairs = StateFixtures.pairs(count: 300, seed: seed)
            let expected = StateFixtures.referenceRoot(Dictionary(uniqueKeysWithValues: pairs.map { ($0.key, $0.value) }), algorithm)
            var rng = SplitMix64(seed: seed &+ 1000)
            for batch in [1, 7, 64, 300] {
                let store = InMemoryStateNodeStore()
                let shuffled = pairs.shuffled(using: &rng)
                let root = try StateFixtures.build(tree, shuffled, batch: batch, store: store)
                #expect(root == expected, "seed \(seed), batch \(batch)")
            }
        }
    }

    @Test("Deleting every key, in any order and batching, returns the empty root", arguments: HashAlgorithm.allCases)
    func deletingEveryKeyReturnsTheEmptyRoot(algorithm: HashAlgorithm) throws {
        let tree = StateTree(algorithm)
        let store = InMemoryStateNodeStore()
        let pairs = StateFixtures.pairs(count: 200, seed: 5)
        let full = try StateFixtures.build(tree, pairs, batch: 50, store: store)
        #expect(full != tree.emptyRoot)
        var rng = SplitMix64(seed: 6)
        var root = full
        // Delete in shuffled chunks of 33.
        let order = pairs.shuffled(using: &rng)
        for start in stride(from: 0, to: order.count, by: 33) {
            let changes = order[start..<min(start + 33, order.count)].map { StateChange.delete($0.key) }
            let update = try tree.update(root: root, changes: changes, store: store)
            store.insert(update)
            root = update.root
        }
        #expect(root == tree.emptyRoot)
        #expect(root == StateTree.emptyRoot(algorithm))
        // All at once, from the full tree.
        let all = try tree.update(root: full, changes: pairs.map { .delete($0.key) }, store: store)
        #expect(all.root == tree.emptyRoot)
        #expect(all.nodes.isEmpty)
    }

    @Test("Changing one value changes the root, and changing it back restores the root exactly")
    func updatingAValueAndBackRestoresTheRoot() throws {
        let tree = StateTree()
        let store = InMemoryStateNodeStore()
        let pairs = StateFixtures.pairs(count: 100, seed: 9)
        let root = try StateFixtures.build(tree, pairs, batch: 100, store: store)
        for i in [0, 17, 99] {
            let changed = try tree.update(root: root, changes: [.set(pairs[i].key, pairs[i].value + [1])], store: store)
            #expect(changed.root != root)
            store.insert(changed)
            #expect(try tree.value(forKey: pairs[i].key, root: changed.root, store: store) == pairs[i].value + [1])
            let back = try tree.update(root: changed.root, changes: [.set(pairs[i].key, pairs[i].value)], store: store)
            #expect(back.root == root)
        }
        // Insert a new key and delete it again.
        let added = try tree.update(root: root, changes: [.set([0xAB], [])], store: store)
        #expect(added.root != root)
        store.insert(added)
        #expect(try tree.value(forKey: [0xAB], root: added.root, store: store) == [])
        #expect(try tree.update(root: added.root, changes: [.delete([0xAB])], store: store).root == root)
    }

    @Test("Every value reads back, absent keys read as nil, and the empty root needs no store node")
    func valuesReadBack() throws {
        let tree = StateTree(.sm3)
        let store = InMemoryStateNodeStore()
        #expect(try tree.value(forKey: [1, 2, 3], root: tree.emptyRoot, store: store) == nil)
        let pairs = StateFixtures.pairs(count: 500, seed: 11)
        let root = try StateFixtures.build(tree, pairs, batch: 128, store: store)
        for p in pairs { #expect(try tree.value(forKey: p.key, root: root, store: store) == p.value) }
        for i in 0..<200 { #expect(try tree.value(forKey: StateFixtures.key(i), root: root, store: store) == nil) }
    }

    @Test("Old roots stay readable with their old values after later updates and deletes")
    func oldRootsStayReadable() throws {
        let tree = StateTree()
        let store = InMemoryStateNodeStore()
        var rng = SplitMix64(seed: 21)
        var root = tree.emptyRoot
        var history: [(root: Digest, state: [[UInt8]: [UInt8]])] = [(root, [:])]
        var state: [[UInt8]: [UInt8]] = [:]
        for height in 0..<30 {
            var changes: [StateChange] = []
            for _ in 0..<20 {
                let key = StateFixtures.key(Int(rng.next() % 80))
                if rng.next() % 4 == 0 {
                    changes.append(.delete(key)); state[key] = nil
                } else {
                    let value = Array("h\(height)-\(rng.next() % 1000)".utf8)
                    changes.append(.set(key, value)); state[key] = value
                }
            }
            let update = try tree.update(root: root, changes: changes, store: store)
            store.insert(update)
            root = update.root
            history.append((root, state))
        }
        for (h, entry) in history.enumerated() {
            for i in 0..<80 {
                let key = StateFixtures.key(i)
                #expect(try tree.value(forKey: key, root: entry.root, store: store) == entry.state[key], "height \(h), key \(i)")
            }
        }
    }

    @Test("When a key appears twice in one batch the last change wins")
    func lastChangeOfAKeyWins() throws {
        let tree = StateTree()
        let store = InMemoryStateNodeStore()
        let a = try tree.update(root: tree.emptyRoot, changes: [.set([1], [1]), .set([2], [2]), .set([1], [3])], store: store)
        let b = try tree.update(root: tree.emptyRoot, changes: [.set([2], [2]), .set([1], [3])], store: store)
        #expect(a.root == b.root)
        let c = try tree.update(root: tree.emptyRoot, changes: [.set([1], [1]), .delete([1]), .set([2], [2])], store: store)
        let d = try tree.update(root: tree.emptyRoot, changes: [.set([2], [2])], store: store)
        #expect(c.root == d.root)
    }

    @Test("An update is pure: the store is untouched until the caller inserts the nodes, and no-op changes create no nodes")
    func updateIsPureAndNoOpsCreateNothing() throws {
        let tree = StateTree()
        let store = InMemoryStateNodeStore()
        let pairs = StateFixtures.pairs(count: 64, seed: 3)
        let root = try StateFixtures.build(tree, pairs, batch: 64, store: store)
        let before = store.count
        let preview = try tree.update(root: root, changes: [.set([9, 9], [9])], store: store)
        #expect(store.count == before)
        #expect(!preview.nodes.isEmpty)
        #expect(throws: LedgerError.self) { try tree.value(forKey: [9, 9], root: preview.root, store: store) }
        let same = try tree.update(root: root, changes: pairs.prefix(10).map { .set($0.key, $0.value) } + [.delete([7, 7, 7])],
                                   store: store)
        #expect(same.root == root)
        #expect(same.nodes.isEmpty)
        // Every new node is stored under its own digest and decodes.
        for node in preview.nodes {
            #expect(try StateNode(encoded: node.encoded).digest(tree.hasher) == node.digest)
        }
        #expect(Set(preview.nodes.map(\.digest)).count == preview.nodes.count)
    }

    @Test("A batch rewrites only the touched paths: 1,000 changes into 10,000 keys create far fewer nodes than one path per key times the depth")
    func batchCreatesNodesAlongTouchedPathsOnly() throws {
        let tree = StateTree()
        let store = InMemoryStateNodeStore()
        let pairs = StateFixtures.pairs(count: 10_000, seed: 8)
        let root = try StateFixtures.build(tree, pairs, batch: 10_000, store: store)
        let nodeCount = store.count
        #expect(nodeCount < 10_000 * 3, "tree of 10,000 keys holds \(nodeCount) nodes")
        let changes = pairs.prefix(1_000).map { StateChange.set($0.key, $0.value + [0]) }
        let update = try tree.update(root: root, changes: changes, store: store)
        // 1,000 new leaves plus the shared internal nodes above them (< 1,000 · 16 if paths were not shared).
        #expect(update.nodes.count > 1_000)
        #expect(update.nodes.count < 1_000 * 8, "\(update.nodes.count) nodes")
    }

    @Test("Keys and values above the limits are refused with their codes before any work")
    func limitsAreEnforced() throws {
        let tree = StateTree()
        let store = InMemoryStateNodeStore()
        let longKey = [UInt8](repeating: 1, count: StateTree.maximumKeyLength + 1)
        let okKey = [UInt8](repeating: 1, count: StateTree.maximumKeyLength)
        #expect(StateFixtures.failure { _ = try tree.update(root: tree.emptyRoot, changes: [.set(longKey, [])], store: store) }?
            .code == .stateKeyTooLarge)
        #expect(StateFixtures.failure { _ = try tree.value(forKey: longKey, root: tree.emptyRoot, store: store) }?.code == .stateKeyTooLarge)
        #expect(StateFixtures.failure { _ = try tree.proof(forKey: longKey, root: tree.emptyRoot, store: store) }?.code == .stateKeyTooLarge)
        let bigValue = [UInt8](repeating: 0, count: StateTree.maximumValueLength + 1)
        #expect(StateFixtures.failure { _ = try tree.update(root: tree.emptyRoot, changes: [.set(okKey, bigValue)], store: store) }?
            .code == .stateValueTooLarge)
        let update = try tree.update(root: tree.emptyRoot, changes: [.set(okKey, [5])], store: store)
        store.insert(update)
        #expect(try tree.value(forKey: okKey, root: update.root, store: store) == [5])
    }
}

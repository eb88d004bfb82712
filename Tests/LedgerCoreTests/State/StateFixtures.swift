import LedgerCore

/// Seeded keys, values and a from-scratch reference root for the state-tree tests.
enum StateFixtures {
    /// Seeds for the randomized tests (`FORGECHAIN_SEED=n` is not needed: every seed is listed).
    static let seeds: [UInt64] = [1, 7, 42]

    static func bytes(_ rng: inout SplitMix64, count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    }

    static func key(_ i: Int) -> [UInt8] { Array("key-\(i)".utf8) }

    /// `count` distinct random keys (1...40 bytes) with random values (0...60 bytes).
    static func pairs(count: Int, seed: UInt64) -> [(key: [UInt8], value: [UInt8])] {
        var rng = SplitMix64(seed: seed)
        var seen = Set<[UInt8]>()
        var out: [(key: [UInt8], value: [UInt8])] = []
        while out.count < count {
            let k = bytes(&rng, count: 1 + Int(rng.next() % 40))
            guard seen.insert(k).inserted else { continue }
            out.append((k, bytes(&rng, count: Int(rng.next() % 61))))
        }
        return out
    }

    /// The root computed from scratch over the whole key set, with the hash
    /// rules written out independently of `StateHasher`: leaf
    /// `H(0x00 ‖ H(key) ‖ H(value))`, node `H(0x01 ‖ l ‖ r)`, empty `H(0x02)`.
    static func referenceRoot(_ state: [[UInt8]: [UInt8]], _ algorithm: HashAlgorithm) -> Digest {
        let leaves = state.map { key, value -> (path: [UInt8], leaf: Digest) in
            let path = algorithm.hash(key).bytes
            return (path, algorithm.hash([0x00] + path + algorithm.hash(value).bytes))
        }.sorted { $0.path.lexicographicallyPrecedes($1.path) }
        func bit(_ path: [UInt8], _ i: Int) -> Bool { path[i / 8] & (0x80 >> UInt8(i % 8)) != 0 }
        func root(_ slice: ArraySlice<(path: [UInt8], leaf: Digest)>, _ depth: Int) -> Digest {
            if slice.isEmpty { return algorithm.hash([0x02]) }
            if slice.count == 1 { return slice.first!.leaf }
            let split = slice.firstIndex { bit($0.path, depth) } ?? slice.endIndex
            return algorithm.hash([0x01] + root(slice[..<split], depth + 1).bytes + root(slice[split...], depth + 1).bytes)
        }
        return root(leaves[...], 0)
    }

    /// The `LedgerError` that `body` throws, or nil when it succeeds. Any
    /// other error is reported as code 0, which no expectation accepts.
    static func failure(_ body: () throws -> Void) -> LedgerError? {
        do { try body() } catch let e as LedgerError { return e } catch {
            return LedgerError(.init(rawValue: 0), "unexpected error \(error)")
        }
        return nil
    }

    /// Builds a tree from `pairs` in batches of `batch`, writing every update to `store`.
    static func build(_ tree: StateTree, _ pairs: [(key: [UInt8], value: [UInt8])], batch: Int,
                      store: InMemoryStateNodeStore, from root: Digest? = nil) throws -> Digest {
        var root = root ?? tree.emptyRoot
        var i = 0
        while i < pairs.count {
            let changes = pairs[i..<min(i + batch, pairs.count)].map { StateChange.set($0.key, $0.value) }
            let update = try tree.update(root: root, changes: changes, store: store)
            store.insert(update)
            root = update.root
            i += batch
        }
        return root
    }
}

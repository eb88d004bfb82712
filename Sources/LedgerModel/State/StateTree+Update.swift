import LedgerCrypto

extension StateTree {
    /// Applies a batch of changes to the state at `root` and returns the new
    /// root with the nodes created to reach it. Pure: nothing is written; the
    /// caller persists ``StateUpdate/nodes`` (or drops them to preview a root).
    ///
    /// The changes are hashed to paths and sorted once; each touched subtree
    /// is then rebuilt once, bottom-up, so a batch of `k` changes into a tree
    /// of `n` keys reads and writes about `k · log2(n)` nodes, shared paths
    /// counted once. When a key appears more than once, the last change wins.
    /// Setting a key to its current value, or deleting an absent key, changes
    /// nothing.
    ///
    /// - Parameters:
    ///   - root: Required. The state to start from: a retained root, or ``emptyRoot``.
    ///   - changes: Required. Any number, possibly none, in any order. Keys
    ///     at most ``maximumKeyLength`` bytes, values at most ``maximumValueLength``.
    ///   - store: Required. Where the nodes of `root` are.
    /// - Returns: The new root and the new nodes (children before parents).
    /// - Throws: `LedgerError` `LedgerError.Code.stateKeyTooLarge` (1607) or
    ///   `LedgerError.Code.stateValueTooLarge` (1608) before any work;
    ///   `LedgerError.Code.stateNodeMissing` (1601),
    ///   `LedgerError.Code.stateNodeCorrupted` (1602) or
    ///   `LedgerError.Code.stateStoreFailure` (1609) from the store.
    /// - Note: Reads the store only; safe to call concurrently if the store is.
    ///
    /// Example: `let update = try tree.update(root: parent.stateRoot, changes: block.changes, store: store)`
    public func update(root: Digest, changes: [StateChange], store: some StateNodeStore) throws(LedgerError) -> StateUpdate {
        var entries = [StateUpdateEntry]()
        entries.reserveCapacity(changes.count)
        for (i, change) in changes.enumerated() {
            try checkKey(change.key)
            if let value = change.value, value.count > Self.maximumValueLength {
                throw LedgerError(.stateValueTooLarge,
                                  "state value of \(value.count) bytes for change \(i) exceeds \(Self.maximumValueLength)",
                                  details: ["length": String(value.count), "change": String(i),
                                            "maximum": String(Self.maximumValueLength)])
            }
            entries.append(.init(path: hasher.path(forKey: change.key), change: i, existing: hasher.empty))
        }
        // Sort by path, then by position, and keep the last change of each path.
        entries.sort { $0.path != $1.path ? $0.path < $1.path : $0.change < $1.change }
        var unique = [StateUpdateEntry]()
        unique.reserveCapacity(entries.count)
        for e in entries {
            if let last = unique.last, last.path == e.path { unique[unique.count - 1] = e } else { unique.append(e) }
        }
        if unique.isEmpty { return StateUpdate(root: root, nodes: []) }
        var updater = StateUpdater(tree: self, store: store, changes: changes)
        let result = try updater.apply(root, depth: 0, unique[...])
        return StateUpdate(root: result.digest(hasher), nodes: updater.nodes, replaced: updater.replaced)
    }
}

/// A key to place: a change (`change ≥ 0`, an index into the changes) or
/// an existing leaf that keeps its digest (`change == -1`).
struct StateUpdateEntry {
    var path: Digest
    var change: Int
    var existing: Digest
}

/// One batch update in progress: the rebuilt subtrees and the nodes created.
struct StateUpdater<Store: StateNodeStore> {
    typealias Entry = StateUpdateEntry

    /// A rebuilt subtree, with what is known of its kind.
    enum Subtree {
        case empty
        case leaf(Digest)
        case `internal`(Digest)
        /// Untouched; a leaf or an internal node, not read.
        case unknown(Digest)

        func digest(_ hasher: StateHasher) -> Digest {
            switch self {
            case .empty: return hasher.empty
            case .leaf(let d), .internal(let d), .unknown(let d): return d
            }
        }
    }

    let tree: StateTree
    let store: Store
    let changes: [StateChange]
    var nodes: [StateUpdate.Node] = []
    /// Nodes read on the changed paths that the new tree no longer holds.
    var replaced: [Digest] = []

    init(tree: StateTree, store: Store, changes: [StateChange]) {
        self.tree = tree
        self.store = store
        self.changes = changes
    }

    private var hasher: StateHasher { tree.hasher }

    /// Applies `entries` (sorted, unique paths, all under this node's
    /// position) to the subtree `digest` at `depth`.
    mutating func apply(_ digest: Digest, depth: Int, _ entries: ArraySlice<Entry>) throws(LedgerError) -> Subtree {
        if digest == hasher.empty { return build(depth: depth, entries) }
        switch try tree.load(digest, store) {
        case .leaf(let path, _, let value, _):
            try tree.checkPosition(path, of: digest, matches: entries.first!.path, depth: depth)
            var merged = Array(entries)
            let i = lowerBound(merged, path)
            if i < merged.count && merged[i].path == path {
                if changes[merged[i].change].value == value {
                    merged[i] = Entry(path: path, change: -1, existing: digest)
                }
            } else {
                merged.insert(Entry(path: path, change: -1, existing: digest), at: i)
            }
            // The leaf stays (perhaps at another depth, with the same digest) unless a change replaced it.
            if merged[i].change >= 0 { replaced.append(digest) }
            return build(depth: depth, merged[...])
        case .internal(let left, let right):
            try tree.checkDepth(depth, of: digest)
            let split = entries.firstIndex { $0.path.stateBit(depth) == 1 } ?? entries.endIndex
            let newLeft = split > entries.startIndex
                ? try apply(left, depth: depth + 1, entries[..<split]) : untouched(left)
            let newRight = split < entries.endIndex
                ? try apply(right, depth: depth + 1, entries[split...]) : untouched(right)
            let result = try join(newLeft, newRight, was: digest, left, right)
            if case .internal(let d) = result, d == digest {} else { replaced.append(digest) }
            return result
        }
    }

    private func untouched(_ digest: Digest) -> Subtree {
        digest == hasher.empty ? .empty : .unknown(digest)
    }

    /// The parent of two rebuilt children, keeping the tree canonical: no
    /// internal node over two empty children or over one leaf and one empty
    /// child (the leaf moves up instead).
    private mutating func join(_ left: Subtree, _ right: Subtree,
                               was original: Digest, _ oldLeft: Digest, _ oldRight: Digest) throws(LedgerError) -> Subtree {
        switch (left, right) {
        case (.empty, .empty):
            return .empty
        case (.empty, .leaf(let d)), (.leaf(let d), .empty):
            return .leaf(d)
        case (.empty, .unknown(let d)), (.unknown(let d), .empty):
            if case .leaf = try tree.load(d, store) { return .leaf(d) }
        default:
            break
        }
        let l = left.digest(hasher), r = right.digest(hasher)
        if l == oldLeft && r == oldRight { return .internal(original) }
        return emitInternal(l, r)
    }

    /// Builds the canonical subtree of `entries` at `depth` (entries that
    /// delete are skipped).
    mutating func build(depth: Int, _ entries: ArraySlice<Entry>) -> Subtree {
        var live = 0
        var only = entries.startIndex
        for i in entries.indices where isLive(entries[i]) {
            live += 1
            only = i
            if live > 1 { break }
        }
        if live == 0 { return .empty }
        if live == 1 {
            let e = entries[only]
            if e.change < 0 { return .leaf(e.existing) }
            let change = changes[e.change]
            let value = change.value!
            let digest = hasher.leafHash(path: e.path, valueHash: hasher.valueHash(value))
            nodes.append(.init(digest: digest, encoded: StateNode.leaf(key: change.key, value: value).encoded))
            return .leaf(digest)
        }
        // Two or more distinct paths: they part before depth 256.
        let split = entries.firstIndex { $0.path.stateBit(depth) == 1 } ?? entries.endIndex
        let left = build(depth: depth + 1, entries[..<split])
        let right = build(depth: depth + 1, entries[split...])
        return emitInternal(left.digest(hasher), right.digest(hasher))
    }

    private func isLive(_ e: Entry) -> Bool { e.change < 0 || changes[e.change].value != nil }

    private mutating func emitInternal(_ left: Digest, _ right: Digest) -> Subtree {
        let digest = hasher.internalHash(left, right)
        let node = StateNode.internal(left: left == hasher.empty ? nil : left,
                                      right: right == hasher.empty ? nil : right)
        nodes.append(.init(digest: digest, encoded: node.encoded))
        return .internal(digest)
    }

    private func lowerBound(_ entries: [Entry], _ path: Digest) -> Int {
        var lo = 0, hi = entries.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if entries[mid].path < path { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}

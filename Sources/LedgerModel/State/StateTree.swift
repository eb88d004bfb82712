import LedgerCrypto

/// The world-state tree: a content-addressed sparse Merkle tree over 256-bit
/// key paths `H(key)`, whose root every block header commits to.
///
/// Shape. The tree has 256 levels in principle; a subtree with no key is the
/// fixed digest ``StateHasher/empty``, and a subtree with one key is that
/// key's leaf, placed at the shallowest depth where its path is unique. So
/// the root depends only on the set of key/value pairs, never on the order
/// or batching of the updates, and a tree of `n` keys has about
/// `n · (1 + log2 n)` nodes at most. Hashes are in ``StateHasher``; the node
/// encoding is in ``StateNode``.
///
/// History. Nodes are immutable and stored by digest (``StateNodeStore``);
/// an update writes new nodes along the changed paths only, so the tree at
/// every older root stays readable for as long as its nodes are kept.
///
/// A plain value holding only the hash algorithm: `Sendable`, cheap to copy,
/// safe to use from many threads (each call reads its store from the
/// caller's thread).
///
/// Example:
/// ```swift
/// let tree = StateTree(.sha256)
/// let store = InMemoryStateNodeStore()
/// let update = try tree.update(root: tree.emptyRoot, changes: [.set(k, v)], store: store)
/// store.insert(update)
/// let proof = try tree.proof(forKey: k, root: update.root, store: store)
/// ```
public struct StateTree: Sendable, Hashable {
    /// The longest key accepted: 1,024 bytes.
    public static let maximumKeyLength = 1024
    /// The longest value accepted: 16 MiB (16,777,216 bytes).
    public static let maximumValueLength = 1 << 24

    /// The hash functions (and so the chain's `HashAlgorithm`).
    public let hasher: StateHasher

    /// The chain's hash algorithm.
    public var algorithm: HashAlgorithm { hasher.algorithm }

    /// - Parameter algorithm: Optional, default `HashAlgorithm.default` (SHA-256).
    ///   Must be the chain's genesis choice; a root is meaningless under another.
    ///
    /// Example: `let tree = StateTree(.sm3)`
    public init(_ algorithm: HashAlgorithm = .default) {
        hasher = StateHasher(algorithm)
    }

    /// The root of the empty state, `H(0x02)`, for `algorithm`.
    /// - Parameter algorithm: Optional, default `HashAlgorithm.default`.
    ///
    /// Example: `header.stateRoot = StateTree.emptyRoot(.sha256)`
    public static func emptyRoot(_ algorithm: HashAlgorithm = .default) -> Digest {
        StateHasher(algorithm).empty
    }

    /// The root of the empty state (no store node needed).
    public var emptyRoot: Digest { hasher.empty }

    /// The value of `key` in the state at `root`, or `nil` when the key is absent.
    /// - Parameters:
    ///   - key: Required. At most ``maximumKeyLength`` bytes.
    ///   - root: Required. A root written by ``update(root:changes:store:)``
    ///     (at any height whose nodes are kept), or ``emptyRoot``.
    ///   - store: Required. Where the nodes are.
    /// - Throws: `LedgerError` `LedgerError.Code.stateKeyTooLarge` (1607),
    ///   `LedgerError.Code.stateNodeMissing` (1601),
    ///   `LedgerError.Code.stateNodeCorrupted` (1602),
    ///   `LedgerError.Code.stateStoreFailure` (1609).
    /// - Note: Read-only; reads about `log2(n)` nodes; safe to call
    ///   concurrently if the store is.
    ///
    /// Example: `let v = try tree.value(forKey: k, root: header.stateRoot, store: store)`
    public func value(forKey key: [UInt8], root: Digest, store: some StateNodeStore) throws(LedgerError) -> [UInt8]? {
        try checkKey(key)
        let path = hasher.path(forKey: key)
        var digest = root
        var depth = 0
        while digest != hasher.empty {
            switch try load(digest, store) {
            case .leaf(let leafPath, _, let value, _):
                if leafPath == path { return value }
                try checkPosition(leafPath, of: digest, matches: path, depth: depth)
                return nil
            case .internal(let left, let right):
                try checkDepth(depth, of: digest)
                digest = path.stateBit(depth) == 0 ? left : right
                depth += 1
            }
        }
        return nil
    }

    /// A proof of the value of `key` at `root`, or of its absence.
    /// - Parameters:
    ///   - key: Required. At most ``maximumKeyLength`` bytes.
    ///   - root: Required. A retained root, or ``emptyRoot``.
    ///   - store: Required. Where the nodes are.
    /// - Returns: A ``StateProof`` whose ``StateProof/value`` is the value, or
    ///   `nil` with either an empty subtree or another key's leaf at the
    ///   key's position.
    /// - Throws: `LedgerError` 1607, 1601, 1602 or 1609 as ``value(forKey:root:store:)``.
    /// - Note: Read-only; safe to call concurrently if the store is.
    ///
    /// Example: `try tree.proof(forKey: k, root: root, store: store).verify(root: root, algorithm: .sha256)`
    public func proof(forKey key: [UInt8], root: Digest, store: some StateNodeStore) throws(LedgerError) -> StateProof {
        try checkKey(key)
        let path = hasher.path(forKey: key)
        var digest = root
        var depth = 0
        var bitmap = [UInt8]()
        var siblings = [Digest]()
        func finish(value: [UInt8]?, otherLeaf: StateProof.Leaf?) -> StateProof {
            StateProof(key: key, value: value, depth: depth, bitmap: bitmap, siblings: siblings, otherLeaf: otherLeaf)
        }
        while digest != hasher.empty {
            switch try load(digest, store) {
            case .leaf(let leafPath, _, let value, let valueHash):
                if leafPath == path { return finish(value: value, otherLeaf: nil) }
                try checkPosition(leafPath, of: digest, matches: path, depth: depth)
                return finish(value: nil, otherLeaf: StateProof.Leaf(path: leafPath, valueHash: valueHash))
            case .internal(let left, let right):
                try checkDepth(depth, of: digest)
                let goRight = path.stateBit(depth) == 1
                let sibling = goRight ? left : right
                if depth % 8 == 0 { bitmap.append(0) }
                if sibling != hasher.empty {
                    bitmap[depth / 8] |= 0x80 >> UInt8(depth % 8)
                    siblings.append(sibling)
                }
                digest = goRight ? right : left
                depth += 1
            }
        }
        return finish(value: nil, otherLeaf: nil)
    }

    // MARK: Node access

    /// A node read from the store, decoded and checked against its digest.
    enum LoadedNode {
        case leaf(path: Digest, key: [UInt8], value: [UInt8], valueHash: Digest)
        /// Children as digests; an empty child is ``StateHasher/empty``.
        case `internal`(left: Digest, right: Digest)
    }

    /// Reads, decodes and checks the node stored under `digest`.
    func load(_ digest: Digest, _ store: some StateNodeStore) throws(LedgerError) -> LoadedNode {
        let bytes: [UInt8]?
        do {
            bytes = try store.node(digest)
        } catch let error as LedgerError {
            throw error
        } catch {
            throw LedgerError(.stateStoreFailure, "node store failed to read state node \(digest.hex): \(error)",
                              details: ["digest": digest.hex, "underlying": String(describing: error)])
        }
        guard let bytes else {
            throw LedgerError(.stateNodeMissing, "state node \(digest.hex) is not in the store",
                              details: ["digest": digest.hex])
        }
        let node: StateNode
        do {
            node = try StateNode(encoded: bytes)
        } catch {
            var details = error.details
            details["digest"] = digest.hex
            throw LedgerError(.stateNodeCorrupted, "state node \(digest.hex): \(error.message)", details: details)
        }
        let loaded: LoadedNode
        let computed: Digest
        switch node {
        case .leaf(let key, let value):
            let path = hasher.path(forKey: key), valueHash = hasher.valueHash(value)
            loaded = .leaf(path: path, key: key, value: value, valueHash: valueHash)
            computed = hasher.leafHash(path: path, valueHash: valueHash)
        case .internal(let left, let right):
            let l = left ?? hasher.empty, r = right ?? hasher.empty
            loaded = .internal(left: l, right: r)
            computed = hasher.internalHash(l, r)
        }
        guard computed == digest else {
            throw LedgerError(.stateNodeCorrupted, "state node \(digest.hex) hashes to \(computed.hex)",
                              details: ["digest": digest.hex, "computed": computed.hex])
        }
        return loaded
    }

    /// A leaf at `depth` must share the first `depth` bits of the path that led to it.
    func checkPosition(_ leafPath: Digest, of digest: Digest, matches path: Digest, depth: Int) throws(LedgerError) {
        guard leafPath.stateSharesPrefix(with: path, bits: depth) else {
            throw LedgerError(.stateNodeCorrupted,
                              "state leaf \(digest.hex) at depth \(depth) has a path outside its subtree",
                              details: ["digest": digest.hex, "depth": String(depth)])
        }
    }

    /// An internal node cannot sit at depth 256 (its children would be deeper than a path).
    func checkDepth(_ depth: Int, of digest: Digest) throws(LedgerError) {
        guard depth < 256 else {
            throw LedgerError(.stateNodeCorrupted, "state internal node \(digest.hex) at depth 256",
                              details: ["digest": digest.hex, "depth": "256"])
        }
    }

    func checkKey(_ key: [UInt8]) throws(LedgerError) {
        guard key.count <= Self.maximumKeyLength else {
            throw LedgerError(.stateKeyTooLarge, "state key of \(key.count) bytes exceeds \(Self.maximumKeyLength)",
                              details: ["length": String(key.count), "maximum": String(Self.maximumKeyLength)])
        }
    }
}

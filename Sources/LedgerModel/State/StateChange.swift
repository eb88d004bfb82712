import LedgerCrypto

/// One change to the world state: set `key` to `value`, or delete `key` when
/// `value` is `nil`.
///
/// Plain data: `Sendable`, `Hashable`.
///
/// Example: `let change = StateChange.set(Array("lot/17".utf8), Array("passed".utf8))`
public struct StateChange: Sendable, Hashable {
    /// The key. Required; `0...StateTree.maximumKeyLength` bytes (1,024), possibly empty.
    public var key: [UInt8]
    /// The new value (`0...StateTree.maximumValueLength` bytes, possibly
    /// empty), or `nil` to delete the key. Deleting an absent key changes nothing.
    public var value: [UInt8]?

    /// - Parameters:
    ///   - key: Required. At most 1,024 bytes.
    ///   - value: Optional, default `nil` (delete). At most 16 MiB.
    ///
    /// Example: `StateChange(key: k, value: v)`
    public init(key: [UInt8], value: [UInt8]? = nil) {
        self.key = key
        self.value = value
    }

    /// Sets `key` to `value`. Example: `.set(k, v)`
    public static func set(_ key: [UInt8], _ value: [UInt8]) -> StateChange { StateChange(key: key, value: value) }

    /// Deletes `key`. Example: `.delete(k)`
    public static func delete(_ key: [UInt8]) -> StateChange { StateChange(key: key, value: nil) }
}

/// The result of ``StateTree/update(root:changes:store:)``: the new root and
/// the nodes created to reach it, which the caller persists (or drops, to
/// preview a root).
///
/// Plain data: `Sendable`, `Hashable`.
///
/// Example: `store.insert(update); header.stateRoot = update.root`
public struct StateUpdate: Sendable, Hashable {
    /// One new node: its digest (the store key) and its canonical encoding.
    public struct Node: Sendable, Hashable {
        /// The node's tree digest; the key to store it under.
        public var digest: Digest
        /// The canonical RLP encoding (``StateNode/encoded``).
        public var encoded: [UInt8]

        /// - Parameters:
        ///   - digest: Required. ``StateNode/digest(_:)`` of the node.
        ///   - encoded: Required. ``StateNode/encoded`` of the node.
        public init(digest: Digest, encoded: [UInt8]) {
            self.digest = digest
            self.encoded = encoded
        }
    }

    /// The root after the changes.
    public var root: Digest
    /// The nodes created, children before parents, each once. Nodes that
    /// already existed under the old root (unchanged subtrees, a leaf that
    /// only moved) are not repeated. Empty when the changes change nothing.
    public var nodes: [Node]
    /// The digests of the nodes of the old root that are not part of the new
    /// one (replaced or deleted), each once: what a store that prunes history
    /// may delete once no retained height needs the old root. A leaf that only
    /// moved keeps its digest and is not listed. Empty when nothing changed.
    public var replaced: [Digest]

    /// - Parameters:
    ///   - root: Required. The new root.
    ///   - nodes: Required. The new nodes, possibly empty.
    ///   - replaced: Optional, default none. The old nodes no longer in the tree.
    public init(root: Digest, nodes: [Node], replaced: [Digest] = []) {
        self.root = root
        self.nodes = nodes
        self.replaced = replaced
    }
}

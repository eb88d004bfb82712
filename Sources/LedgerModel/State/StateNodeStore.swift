import LedgerCrypto
import Synchronization

/// Where the nodes of the world-state tree live, keyed by their digest
/// (``StateNode/digest(_:)``). The ledger's SQLite store implements it; so
/// does ``InMemoryStateNodeStore``.
///
/// The tree only reads through this protocol. ``StateTree/update(root:changes:store:)``
/// is pure: it returns the nodes it created in ``StateUpdate/nodes`` and the
/// caller persists them (for a block, in the block's database transaction),
/// or drops them to preview a root without writing anything.
///
/// Nodes are immutable and content-addressed, so a store that keeps every
/// node it was given can read the tree at any old root. Writing a node that
/// already exists must leave it unchanged (insert-or-ignore). Rolling back
/// to height `h` means deleting the nodes first written above `h`.
///
/// Example:
/// ```swift
/// let update = try tree.update(root: root, changes: changes, store: store)
/// try db.insertStateNodes(update.nodes)   // the caller's own write path
/// ```
public protocol StateNodeStore {
    /// The encoded node stored under `digest`, or `nil` when there is none.
    /// - Parameter digest: Required. A node digest (never the empty-subtree digest).
    /// - Throws: Any error of the store's own; the tree reports it as
    ///   `LedgerError` `LedgerError.Code.stateStoreFailure` (1609), or passes
    ///   it on unchanged when it is a `LedgerError`.
    /// - Note: The tree calls it from the caller's thread only.
    func node(_ digest: Digest) throws -> [UInt8]?
}

/// A ``StateNodeStore`` in memory, for tests and quick chains. It keeps every
/// node it is given, so every root ever written stays readable.
///
/// Thread-safe: a `Mutex` guards the dictionary; the class is `Sendable` and
/// may be shared between tasks.
///
/// Example:
/// ```swift
/// let store = InMemoryStateNodeStore()
/// let update = try tree.update(root: tree.emptyRoot, changes: [.set(k, v)], store: store)
/// store.insert(update)
/// ```
public final class InMemoryStateNodeStore: StateNodeStore, Sendable {
    private let nodes = Mutex<[Digest: [UInt8]]>([:])

    /// An empty store.
    public init() {}

    /// The encoded node under `digest`, or `nil`. Never throws.
    /// - Parameter digest: Required. Any digest.
    /// - Note: Safe to call concurrently.
    public func node(_ digest: Digest) -> [UInt8]? {
        nodes.withLock { $0[digest] }
    }

    /// Stores the new nodes of an update; existing nodes are left unchanged.
    /// - Parameter update: Required. A result of ``StateTree/update(root:changes:store:)``.
    /// - Note: Safe to call concurrently.
    ///
    /// Example: `store.insert(try tree.update(root: r, changes: c, store: store))`
    public func insert(_ update: StateUpdate) {
        insert(update.nodes)
    }

    /// Stores nodes; existing nodes are left unchanged.
    /// - Parameter nodes: Required. Digest and encoding pairs, possibly empty.
    /// - Note: Safe to call concurrently.
    public func insert(_ nodes: [StateUpdate.Node]) {
        self.nodes.withLock { map in
            for n in nodes where map[n.digest] == nil { map[n.digest] = n.encoded }
        }
    }

    /// Replaces or removes the bytes under `digest` without any check: for
    /// tests that simulate a corrupt or lost node, and for rollback.
    /// - Parameters:
    ///   - encoded: Optional. The new bytes; `nil` removes the node.
    ///   - digest: Required. The node's digest.
    /// - Note: Safe to call concurrently.
    public func setNode(_ encoded: [UInt8]?, for digest: Digest) {
        nodes.withLock { $0[digest] = encoded }
    }

    /// The number of stored nodes.
    public var count: Int { nodes.withLock { $0.count } }

    /// The digests of all stored nodes, sorted (deterministic order).
    public var digests: [Digest] { nodes.withLock { $0.keys.sorted() } }
}

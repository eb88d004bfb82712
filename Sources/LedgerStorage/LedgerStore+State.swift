import LedgerCrypto
import LedgerModel

/// A block's state-tree update computed before its append (while the
/// producer builds it or a validator re-executes it), handed to
/// ``LedgerStore/append(_:receipts:stateChanges:stateTransition:certificate:)``
/// so the store writes the nodes instead of computing the update again.
///
/// ```swift
/// let transition = try store.stateTransition(applying: changes)   // at execution
/// try store.append(block, receipts: receipts, stateChanges: changes, stateTransition: transition)
/// ```
/// A value type; `Sendable`.
public struct StateTransition: Sendable, Hashable {
    /// The state root the update starts from: the head's state root when it was computed.
    public var parentRoot: Digest
    /// The new root and the nodes created to reach it.
    public var update: StateUpdate

    /// Wraps an update computed by `StateTree.update(root:changes:store:)` from `parentRoot`.
    /// - Parameters:
    ///   - parentRoot: Required. The root the update was computed from.
    ///   - update: Required. Its result.
    public init(parentRoot: Digest, update: StateUpdate) {
        self.parentRoot = parentRoot
        self.update = update
    }
}

/// The state tree's nodes in the `state_nodes` table of one connection.
struct SQLiteStateNodeStore: StateNodeStore {
    let db: SQLiteConnection

    func node(_ digest: Digest) throws -> [UInt8]? {
        let s = try db.statement("SELECT bytes FROM state_nodes WHERE digest = ?1")
        defer { s.reset() }
        s.bind(1, digest)
        return try s.step() ? s.blob(0) : nil
    }
}

/// Nodes of transitions not appended yet, in front of a store's.
struct OverlayStateNodeStore: StateNodeStore {
    let overlay: [Digest: [UInt8]]
    let base: SQLiteStateNodeStore

    func node(_ digest: Digest) throws -> [UInt8]? {
        if let n = overlay[digest] { return n }
        return try base.node(digest)
    }
}

/// Writes a block's state: the new tree nodes (insert-or-ignore, tagged with
/// the height that first wrote them) and the flat versioned table
/// `state(key, height, value-or-NULL)` for fast reads at a height.
enum StateWriter {
    /// Computes the state root after `set` on top of `parentRoot` (or takes
    /// it from `transition`, computed before from the same root), checks it
    /// against the header, and writes nodes and flat rows.
    static func write(_ set: StateChangeSet, transition: StateTransition?, height: Height, header: BlockHeader,
                      parentRoot: Digest?, algorithm: HashAlgorithm, into db: SQLiteConnection) throws(LedgerError) {
        let tree = StateTree(algorithm)
        let base = parentRoot ?? tree.emptyRoot
        let update: StateUpdate
        if let transition {
            guard transition.parentRoot == base else {
                throw LedgerError.store(.stateRootMismatch, height: height,
                                        "state transition starts from root \(transition.parentRoot.hex), the head's state root is \(base.hex)",
                                        details: ["transitionParent": transition.parentRoot.hex, "headRoot": base.hex])
            }
            update = transition.update
        } else {
            update = try tree.update(root: base, changes: set.changes, store: SQLiteStateNodeStore(db: db))
        }
        guard update.root == header.stateRoot else {
            throw LedgerError.store(.stateRootMismatch, height: height,
                                    "state changes give root \(update.root.hex), header says \(header.stateRoot.hex)",
                                    details: ["computed": update.root.hex, "declared": header.stateRoot.hex])
        }
        if !update.nodes.isEmpty {
            let n = try db.statement("INSERT OR IGNORE INTO state_nodes(digest, height, bytes) VALUES(?1, ?2, ?3)")
            // In key order: consecutive inserts land on the same or neighbouring B-tree pages.
            for node in update.nodes.sorted(by: { $0.digest < $1.digest }) {
                n.bind(1, node.digest)
                n.bind(2, height.rawValue)
                try n.run(binding: node.encoded, at: 3)
            }
        }
        guard !set.isEmpty else { return }
        let s = try db.statement("INSERT OR REPLACE INTO state(key, height, value) VALUES(?1, ?2, ?3)")
        for c in set.netChanges {
            s.bind(1, c.key)
            s.bind(2, height.rawValue)
            if let v = c.value { s.bind(3, v) } else { s.bindNull(3) }
            try s.run()
        }
    }
}

extension LedgerStore {
    /// The state root the next block must declare if it applies `changes`
    /// on top of the head's state (what a producer puts in the header).
    /// For an empty store: the root of `changes` applied to the empty state.
    /// - Parameter changes: Required. The next block's state writes.
    /// - Throws: `.stateKeyTooLarge` (1607), `.stateValueTooLarge` (1608),
    ///   `.stateNodeMissing` (1601), `.sqlite` (1510).
    /// - Note: Thread-safe; writes nothing. Example: `let root = try store.stateRoot(applying: changes)`.
    public func stateRoot(applying changes: StateChangeSet) throws(LedgerError) -> Digest {
        try stateTransition(applying: changes).update.root
    }

    /// The state-tree update the next block makes if it applies `changes` on
    /// top of the head's state: the new root (what a producer puts in the
    /// header) and the nodes it creates, to be handed to
    /// ``append(_:receipts:stateChanges:stateTransition:certificate:)`` so
    /// the append does not compute them again.
    /// - Parameter changes: Required. The next block's state writes.
    /// - Throws: `.stateKeyTooLarge` (1607), `.stateValueTooLarge` (1608),
    ///   `.stateNodeMissing` (1601), `.sqlite` (1510).
    /// - Note: Thread-safe; writes nothing. Example: `let t = try store.stateTransition(applying: changes)`.
    public func stateTransition(applying changes: StateChangeSet) throws(LedgerError) -> StateTransition {
        try read { (db) throws(LedgerError) -> StateTransition in
            let root = try Self.loadHead(db)?.stateRoot ?? StateTree(hashAlgorithm).emptyRoot
            return try transition(changes, from: root, nodes: SQLiteStateNodeStore(db: db))
        }
    }

    /// The state-tree update of `changes` from `root`, where `root` may be the
    /// state after blocks not appended yet: the nodes their transitions
    /// created (`pending`) are read before the store's. What a node uses to
    /// execute block N+1 while block N is still being written; the result goes
    /// to ``append(_:receipts:stateChanges:stateTransition:certificate:)`` once
    /// the blocks before it are appended.
    /// - Parameters:
    ///   - changes: Required. The block's state writes.
    ///   - root: Required. The state root to start from: the head's, or the last pending transition's.
    ///   - pending: Optional, default none. The transitions of the blocks between the head and `root`, in any order.
    /// - Throws: `.stateKeyTooLarge` (1607), `.stateValueTooLarge` (1608),
    ///   `.stateNodeMissing` (1601) when `root` is neither stored nor reached by `pending`, `.sqlite` (1510).
    /// - Note: Thread-safe; writes nothing. Example:
    ///   `let next = try store.stateTransition(applying: changes, from: t.update.root, pending: [t])`.
    public func stateTransition(applying changes: StateChangeSet, from root: Digest,
                                pending: [StateTransition] = []) throws(LedgerError) -> StateTransition {
        var overlay = [Digest: [UInt8]]()
        overlay.reserveCapacity(pending.reduce(0) { $0 + $1.update.nodes.count })
        for t in pending { for n in t.update.nodes { overlay[n.digest] = n.encoded } }
        return try read { (db) throws(LedgerError) -> StateTransition in
            try transition(changes, from: root, nodes: OverlayStateNodeStore(overlay: overlay, base: SQLiteStateNodeStore(db: db)))
        }
    }

    private func transition(_ changes: StateChangeSet, from root: Digest, nodes: some StateNodeStore) throws(LedgerError) -> StateTransition {
        StateTransition(parentRoot: root, update: try StateTree(hashAlgorithm).update(root: root, changes: changes.changes, store: nodes))
    }

    /// A proof of the value of `key` (or of its absence) in the state after
    /// block `height`, to be checked against that block's header:
    /// `try proof.verify(root: header.stateRoot, algorithm: store.hashAlgorithm)`.
    /// - Parameters:
    ///   - key: Required. 0–1024 bytes.
    ///   - height: Optional, default the head. `0...head.height`.
    /// - Throws: `.heightNotFound` (1503), `.stateNotRetained` (1518) when a
    ///   node the proof needs is missing, `.stateKeyTooLarge` (1607).
    /// - Note: Thread-safe, runs concurrently with appends. Example:
    ///   `let proof = try store.stateProof(key: k, atHeight: 9)`.
    public func stateProof(key: [UInt8], atHeight height: Height? = nil) throws(LedgerError) -> StateProof {
        try read { (db) throws(LedgerError) -> StateProof in
            let h = try Self.resolve(height, db)
            let s = try db.statement("SELECT state_root FROM blocks WHERE height = ?1")
            s.bind(1, h.rawValue)
            guard try s.step(), let root = s.digest(0) else {
                s.reset()
                throw LedgerError.store(.heightNotFound, height: h, "no block at this height")
            }
            s.reset()
            do throws(LedgerError) {
                return try StateTree(hashAlgorithm).proof(forKey: key, root: root, store: SQLiteStateNodeStore(db: db))
            } catch where error.code == .stateNodeMissing {
                throw LedgerError.store(.stateNotRetained, height: h, "state tree node missing: \(error.message)",
                                        details: ["cause": String(error.numericCode)])
            }
        }
    }
}

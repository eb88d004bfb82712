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
///
/// A row holds the node's bytes and an 8-byte tag (the digest's first bytes), found through a
/// non-unique index on the tag. The tree checks every node it reads against its digest; when two
/// rows share a tag (two digests agreeing in 64 bits) the store hashes them to pick the right one.
struct SQLiteStateNodeStore: StateNodeStore {
    let db: SQLiteConnection
    let algorithm: HashAlgorithm

    func node(_ digest: Digest) throws -> [UInt8]? {
        let s = try db.statement("SELECT bytes FROM state_nodes WHERE tag = ?1")
        defer { s.reset() }
        s.bindTag(1, digest)
        guard try s.step() else { return nil }
        let first = s.blob(0)
        guard try s.step() else { return first }
        var candidates = [first, s.blob(0)]
        while try s.step() { candidates.append(s.blob(0)) }
        return candidates.first { Self.digest(of: $0, algorithm) == digest } ?? first
    }

    /// The id of the row holding exactly `encoded` under `digest`'s tag, if any.
    static func rowID(of digest: Digest, encoded: [UInt8]? = nil, algorithm: HashAlgorithm,
                      using s: SQLiteConnection.Statement) throws(LedgerError) -> Int64? {
        defer { s.reset() }
        s.bindTag(1, digest)
        var found: Int64?
        while try s.step() {
            let bytes = s.blob(1)
            let matches = encoded.map { $0 == bytes } ?? (digest == Self.digest(of: bytes, algorithm))
            if matches { found = s.int(0); break }
        }
        return found
    }

    /// The digest of stored node bytes; nil when they do not decode (then they are not the node sought).
    static func digest(of bytes: [UInt8], _ algorithm: HashAlgorithm) -> Digest? {
        do { return try StateNode(encoded: bytes).digest(StateHasher(algorithm)) } catch { return nil }
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

/// Writes a block's state: the new tree nodes (appended; a node already stored is not written
/// again), the block's first node id (for rollback), the nodes it replaced (when the store prunes),
/// and the flat versioned table `state(key, height, value-or-NULL)` for fast reads at a height.
enum StateWriter {
    /// Computes the state root after `set` on top of `parentRoot` (or takes
    /// it from `transition`, computed before from the same root), checks it
    /// against the header, and writes nodes and flat rows.
    static func write(_ set: StateChangeSet, transition: StateTransition?, height: Height, header: BlockHeader,
                      parentRoot: Digest?, algorithm: HashAlgorithm, retention: LedgerStore.StateRetention,
                      into db: SQLiteConnection) throws(LedgerError) {
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
            update = try tree.update(root: base, changes: set.changes, store: SQLiteStateNodeStore(db: db, algorithm: algorithm))
        }
        guard update.root == header.stateRoot else {
            throw LedgerError.store(.stateRootMismatch, height: height,
                                    "state changes give root \(update.root.hex), header says \(header.stateRoot.hex)",
                                    details: ["computed": update.root.hex, "declared": header.stateRoot.hex])
        }
        if !update.nodes.isEmpty { try insertNodes(update.nodes, height: height, algorithm: algorithm, into: db) }
        if case .recent = retention, !update.replaced.isEmpty {
            let s = try db.statement("INSERT OR IGNORE INTO state_stale(height, digest) VALUES(?1, ?2)")
            for digest in update.replaced {
                s.bind(1, height.rawValue)
                s.bind(2, digest)
                try s.run()
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

    /// Appends the nodes not stored yet and marks the block's first row. A node already stored was
    /// in an older tree and replaced since (the update never recreates a node of the tree it
    /// changes): it is noted in `state_revived` so that pruning keeps it.
    private static func insertNodes(_ nodes: [StateUpdate.Node], height: Height, algorithm: HashAlgorithm,
                                    into db: SQLiteConnection) throws(LedgerError) {
        let find = try db.statement("SELECT id, bytes FROM state_nodes WHERE tag = ?1")
        let insert = try db.statement("INSERT INTO state_nodes(tag, bytes) VALUES(?1, ?2)")
        var firstID: Int64?
        // In digest (so tag) order: consecutive index inserts land on the same or neighbouring pages.
        for node in nodes.sorted(by: { $0.digest < $1.digest }) {
            if try SQLiteStateNodeStore.rowID(of: node.digest, encoded: node.encoded, algorithm: algorithm, using: find) != nil {
                let r = try db.statement("INSERT OR IGNORE INTO state_revived(digest) VALUES(?1)")
                r.bind(1, node.digest)
                try r.run()
                continue
            }
            insert.bindTag(1, node.digest)
            try insert.run(binding: node.encoded, at: 2)
            if firstID == nil { firstID = db.lastInsertRowID }
        }
        if let firstID {
            let m = try db.statement("INSERT OR REPLACE INTO state_node_marks(height, first_id) VALUES(?1, ?2)")
            m.bind(1, height.rawValue)
            m.bind(2, firstID)
            try m.run()
        }
    }

    /// Deletes the nodes that only heights below `lowest` needed: those replaced at or below it (a
    /// node replaced at height `s` is in the trees of heights below `s` only), except revived ones.
    /// Records `lowest` as the lowest height whose tree is whole.
    static func prune(keepingFrom lowest: Height, algorithm: HashAlgorithm, into db: SQLiteConnection) throws(LedgerError) {
        let stale = try db.statement("SELECT digest FROM state_stale WHERE height <= ?1")
        stale.bind(1, lowest.rawValue)
        var digests = [Digest]()
        while try stale.step() { if let d = stale.digest(0) { digests.append(d) } }
        stale.reset()
        if !digests.isEmpty {
            let revived = try db.statement("SELECT 1 FROM state_revived WHERE digest = ?1")
            let find = try db.statement("SELECT id, bytes FROM state_nodes WHERE tag = ?1")
            let delete = try db.statement("DELETE FROM state_nodes WHERE id = ?1")
            for digest in digests.sorted() {
                revived.bind(1, digest)
                let keep = try revived.step()
                revived.reset()
                if keep { continue }
                guard let id = try SQLiteStateNodeStore.rowID(of: digest, algorithm: algorithm, using: find) else { continue }
                delete.bind(1, id)
                try delete.run()
            }
            let d = try db.statement("DELETE FROM state_stale WHERE height <= ?1")
            d.bind(1, lowest.rawValue)
            try d.run()
        }
        let m = try db.statement("INSERT OR REPLACE INTO meta(key, value) VALUES('state_retained_from', ?1)")
        m.bind(1, text: lowest.description)
        try m.run()
    }

    /// The lowest height whose state tree is whole (0 when nothing was ever pruned).
    static func retainedFrom(_ db: SQLiteConnection) throws(LedgerError) -> Height {
        let s = try db.statement("SELECT value FROM meta WHERE key = 'state_retained_from'")
        defer { s.reset() }
        guard try s.step(), let h = UInt64(s.text(0)) else { return 0 }
        return Height(h)
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
            return try transition(changes, from: root, nodes: SQLiteStateNodeStore(db: db, algorithm: hashAlgorithm))
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
            try transition(changes, from: root, nodes: OverlayStateNodeStore(overlay: overlay, base: SQLiteStateNodeStore(db: db, algorithm: hashAlgorithm)))
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
    /// - Throws: `.heightNotFound` (1503), `.stateNotRetained` (1518) when the
    ///   height is below the retention window (``StateRetention``) or a node
    ///   the proof needs is missing, `.stateKeyTooLarge` (1607).
    /// - Note: Thread-safe, runs concurrently with appends. Example:
    ///   `let proof = try store.stateProof(key: k, atHeight: 9)`.
    public func stateProof(key: [UInt8], atHeight height: Height? = nil) throws(LedgerError) -> StateProof {
        try read { (db) throws(LedgerError) -> StateProof in
            let h = try Self.resolve(height, db)
            let retained = try StateWriter.retainedFrom(db)
            guard h >= retained else {
                throw LedgerError.store(.stateNotRetained, height: h,
                                        "the state tree at this height was pruned; this store keeps heights from \(retained) (StateRetention)",
                                        details: ["retainedFrom": retained.description])
            }
            let s = try db.statement("SELECT state_root FROM blocks WHERE height = ?1")
            s.bind(1, h.rawValue)
            guard try s.step(), let root = s.digest(0) else {
                s.reset()
                throw LedgerError.store(.heightNotFound, height: h, "no block at this height")
            }
            s.reset()
            do throws(LedgerError) {
                return try StateTree(hashAlgorithm).proof(forKey: key, root: root, store: SQLiteStateNodeStore(db: db, algorithm: hashAlgorithm))
            } catch where error.code == .stateNodeMissing {
                throw LedgerError.store(.stateNotRetained, height: h, "state tree node missing: \(error.message)",
                                        details: ["cause": String(error.numericCode)])
            }
        }
    }
}

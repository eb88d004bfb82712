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
/// A row holds the node's stored form and an 8-byte tag (the digest's first bytes), found through a
/// non-unique index on the tag. The stored form of an internal node is its canonical encoding; so is
/// that of a leaf written before schema 5. A leaf written since is a reference to the flat state row
/// that holds the same key and value (written by the same block): `0x00`, the height as 8 bytes
/// big-endian, the key. A canonical encoding is an RLP list and never starts with `0x00`. The tree
/// checks every node it reads against its digest; when two rows share a tag (two digests agreeing in
/// 64 bits, or one leaf written twice) the store hashes them to pick the right one.
struct SQLiteStateNodeStore: StateNodeStore {
    let db: SQLiteConnection
    let algorithm: HashAlgorithm

    func node(_ digest: Digest) throws -> [UInt8]? {
        let s = try db.statement("SELECT bytes FROM state_nodes WHERE tag = ?1")
        var stored = [[UInt8]]()
        s.bindTag(1, digest)
        while try s.step() { stored.append(s.blob(0)) }
        s.reset()
        guard let first = stored.first else { return nil }
        if stored.count == 1 { return try Self.resolve(first, db) }
        var resolved = [[UInt8]]()
        for bytes in stored { resolved.append(try Self.resolve(bytes, db)) }
        return resolved.last { Self.digest(of: $0, algorithm) == digest } ?? resolved[0]
    }

    /// The leaf a reference names, encoded; other stored forms as they are. A reference whose flat row
    /// is missing comes back as stored, so the tree reports the node as corrupted.
    static func resolve(_ stored: [UInt8], _ db: SQLiteConnection) throws(LedgerError) -> [UInt8] {
        guard stored.first == 0x00, stored.count >= 9 else { return stored }
        let height = stored[1..<9].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let key = Array(stored[9...])
        let s = try db.statement("SELECT value FROM state WHERE key = ?1 AND height = ?2")
        defer { s.reset() }
        s.bind(1, key)
        s.bind(2, height)
        guard try s.step(), !s.isNull(0) else { return stored }
        return StateNode.leaf(key: key, value: s.blob(0)).encoded
    }

    /// The stored form of a leaf whose value is the flat state row (`key`, `height`).
    static func leafReference(key: [UInt8], height: Height) -> [UInt8] {
        [0x00] + (0..<8).reversed().map { UInt8(truncatingIfNeeded: height.rawValue >> (UInt64($0) * 8)) } + key
    }

    /// The id of the row holding the node `digest`: with `stored`, the row holding exactly that stored
    /// form (nil when none does); without, the only row under the digest's tag, or the newest that
    /// hashes to it.
    static func rowID(of digest: Digest, stored: [UInt8]? = nil, algorithm: HashAlgorithm,
                      using s: SQLiteConnection.Statement, _ db: SQLiteConnection) throws(LedgerError) -> Int64? {
        var rows = [(id: Int64, bytes: [UInt8])]()
        s.bindTag(1, digest)
        while try s.step() {
            let row = (id: s.int(0), bytes: s.blob(1))
            if let stored, row.bytes == stored { s.reset(); return row.id }
            rows.append(row)
        }
        s.reset()
        guard stored == nil else { return nil }
        if rows.count == 1 { return rows[0].id }
        for row in rows.reversed() where Self.digest(of: try resolve(row.bytes, db), algorithm) == digest { return row.id }
        return nil
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
        // The flat rows first: the leaves below refer to them.
        if !set.isEmpty {
            let s = try db.statement("INSERT OR REPLACE INTO state(key, height, value) VALUES(?1, ?2, ?3)")
            for c in set.netChanges {
                s.bind(1, c.key)
                s.bind(2, height.rawValue)
                if let v = c.value { s.bind(3, v) } else { s.bindNull(3) }
                try s.run()
            }
        }
        if !update.nodes.isEmpty { try insertNodes(update.nodes, values: set, height: height, algorithm: algorithm, into: db) }
        if case .recent = retention, !update.replaced.isEmpty {
            // The replaced nodes were read moments ago by the update: their index pages are in the cache.
            let find = try db.statement("SELECT id, bytes FROM state_nodes WHERE tag = ?1")
            let s = try db.statement("INSERT OR IGNORE INTO state_stale(height, id) VALUES(?1, ?2)")
            for digest in update.replaced.sorted() {
                guard let id = try SQLiteStateNodeStore.rowID(of: digest, algorithm: algorithm, using: find, db) else { continue }
                s.bind(1, height.rawValue)
                s.bind(2, id)
                try s.run()
            }
        }
    }

    /// Appends the nodes not stored yet and marks the block's first row. A leaf whose key and value are
    /// this block's flat state row is stored as a reference to it (the value is then stored once). An
    /// internal node already stored was in an older tree and replaced since (the update never
    /// recreates a node of the tree it changes): it is noted in `state_revived` so that pruning keeps it.
    /// A leaf written again gets a second row, which needs no such note.
    private static func insertNodes(_ nodes: [StateUpdate.Node], values set: StateChangeSet, height: Height,
                                    algorithm: HashAlgorithm, into db: SQLiteConnection) throws(LedgerError) {
        var values = [[UInt8]: [UInt8]]()
        values.reserveCapacity(set.changes.count)
        for c in set.netChanges { if let v = c.value { values[c.key] = v } }
        let find = try db.statement("SELECT id, bytes FROM state_nodes WHERE tag = ?1")
        let insert = try db.statement("INSERT INTO state_nodes(tag, bytes) VALUES(?1, ?2)")
        var firstID: Int64?
        // In digest (so tag) order: consecutive index inserts land on the same or neighbouring pages.
        for node in nodes.sorted(by: { $0.digest < $1.digest }) {
            var stored = node.encoded
            if case .leaf(let key, let value) = try StateNode(encoded: node.encoded), values[key] == value {
                stored = SQLiteStateNodeStore.leafReference(key: key, height: height)
            } else if let id = try SQLiteStateNodeStore.rowID(of: node.digest, stored: stored, algorithm: algorithm, using: find, db) {
                let r = try db.statement("INSERT OR IGNORE INTO state_revived(id) VALUES(?1)")
                r.bind(1, id)
                try r.run()
                continue
            }
            insert.bindTag(1, node.digest)
            try insert.run(binding: stored, at: 2)
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
    static func prune(keepingFrom lowest: Height, into db: SQLiteConnection) throws(LedgerError) {
        let stale = try db.statement("SELECT count(*) FROM state_stale WHERE height <= ?1")
        stale.bind(1, lowest.rawValue)
        let count = try stale.step() ? stale.int(0) : 0
        stale.reset()
        if count > 0 {
            // In id order: neighbouring deletes touch the same pages.
            try db.execute("""
                DELETE FROM state_nodes WHERE id IN (
                    SELECT id FROM state_stale WHERE height <= \(lowest.rawValue) AND id NOT IN (SELECT id FROM state_revived) ORDER BY id);
                DELETE FROM state_stale WHERE height <= \(lowest.rawValue);
                """)
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

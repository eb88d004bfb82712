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
    /// Where the stored nodes the update read, and their children, are (row ids): what the append
    /// needs to link the new nodes to the ones they keep. Empty for a transition made by hand; the
    /// store then computes the update again.
    var locations: [Digest: Int64] = [:]

    /// Wraps an update computed by `StateTree.update(root:changes:store:)` from `parentRoot`.
    /// - Parameters:
    ///   - parentRoot: Required. The root the update was computed from.
    ///   - update: Required. Its result.
    public init(parentRoot: Digest, update: StateUpdate) {
        self.parentRoot = parentRoot
        self.update = update
    }
}

/// The state tree's nodes in the `state_nodes` table of one connection, found by row id.
///
/// A row holds a node's stored form and, for an internal node, the row ids of its two children
/// (`left`, `right`; NULL for an empty child). `state_roots` names the row of each block's root.
/// So a walk from a root reads one row per node by its id, and a new node is appended with the ids
/// of the children it links to: no index on digests, and new rows go to the end of the table.
///
/// The stored form of an internal node is its canonical encoding; so is that of a leaf written
/// before schema 5. A leaf written since is a reference to the flat state row of the block that
/// wrote it, which holds the same key and value: `0x00`, the height as 8 bytes big-endian, the key
/// (a canonical encoding is an RLP list and never starts with `0x00`). The tree checks every node
/// it reads against its digest, so a wrong row is reported, never used.
///
/// The store learns where a node is from the node above it: it is seeded with roots and with
/// locations known from before (a pending transition's), and every internal node it reads adds its
/// children. One store serves one walk or update on one thread.
final class SQLiteStateNodeStore: StateNodeStore {
    let db: SQLiteConnection
    let algorithm: HashAlgorithm
    /// Digest to row id: seeded, then filled as internal nodes are read.
    private(set) var locations: [Digest: Int64]
    /// The rows of the last appends' new nodes: children of pending blocks' nodes that have been written since.
    var recent = RecentStateNodes()

    init(db: SQLiteConnection, algorithm: HashAlgorithm, locations: [Digest: Int64] = [:]) {
        self.db = db
        self.algorithm = algorithm
        self.locations = locations
    }

    /// Adds locations known from elsewhere (a pending transition's).
    func learn(_ more: [Digest: Int64]) { locations.merge(more) { mine, _ in mine } }

    private var scannedRecentRows = false

    /// Hashes the rows the last 64 blocks appended and notes where each node is.
    private func learnRecentRows() throws(LedgerError) {
        let s = try db.statement("""
            SELECT id, bytes FROM state_nodes WHERE id >= (SELECT min(first_id) FROM state_node_marks
                WHERE height > (SELECT max(height) FROM blocks) - 64) ORDER BY id
            """)
        var rows = [(Int64, [UInt8])]()
        while try s.step() { rows.append((s.int(0), s.blob(1))) }
        s.reset()
        for (id, stored) in rows {
            guard let d = Self.digest(of: try Self.resolve(stored, db), algorithm), locations[d] == nil else { continue }
            locations[d] = id
        }
    }

    /// A store that starts at `root`, found among the roots of the last 64 blocks.
    static func atRoot(_ root: Digest, db: SQLiteConnection, algorithm: HashAlgorithm) throws(LedgerError) -> SQLiteStateNodeStore {
        let store = SQLiteStateNodeStore(db: db, algorithm: algorithm)
        let s = try db.statement("""
            SELECT r.id FROM blocks AS b JOIN state_roots AS r ON r.height = b.height
            WHERE b.height >= (SELECT max(height) FROM blocks) - 63 AND b.state_root = ?1 AND r.id IS NOT NULL ORDER BY b.height DESC LIMIT 1
            """)
        defer { s.reset() }
        s.bind(1, root)
        if try s.step() { store.locations[root] = s.int(0) }
        return store
    }

    /// A store that starts at the root of block `height` (none for the empty tree).
    static func atHeight(_ height: Height, db: SQLiteConnection, algorithm: HashAlgorithm) throws(LedgerError) -> SQLiteStateNodeStore {
        let store = SQLiteStateNodeStore(db: db, algorithm: algorithm)
        let s = try db.statement("SELECT b.state_root, r.id FROM blocks AS b LEFT JOIN state_roots AS r ON r.height = b.height WHERE b.height = ?1")
        defer { s.reset() }
        s.bind(1, height.rawValue)
        if try s.step(), let root = s.digest(0), !s.isNull(1) { store.locations[root] = s.int(1) }
        return store
    }

    func node(_ digest: Digest) throws -> [UInt8]? {
        var found = locations[digest] ?? recent[digest]
        if found == nil, !scannedRecentRows {
            // A child of a pending block's node, written by an append the memo no longer holds (a
            // deep pending chain, as under PoW's confirmation depth): learn the recent rows once.
            scannedRecentRows = true
            try learnRecentRows()
            found = locations[digest]
        }
        guard let id = found else { return nil }
        let s = try db.statement("SELECT bytes, left, right FROM state_nodes WHERE id = ?1")
        s.bind(1, id)
        guard try s.step() else { s.reset(); return nil }
        let stored = s.blob(0)
        let left: Int64? = s.isNull(1) ? nil : s.int(1), right: Int64? = s.isNull(2) ? nil : s.int(2)
        s.reset()
        // Bytes that do not decode teach no children; the tree reports them against the digest.
        if left != nil || right != nil, case .internal(let l, let r)? = try? StateNode(encoded: stored) {
            if let l, let left { locations[l] = left }
            if let r, let right { locations[r] = right }
        }
        return try Self.resolve(stored, db)
    }

    /// The leaf a reference names, encoded; other stored forms as they are. A reference whose flat row
    /// is missing comes back as stored, so the tree reports the node as corrupted.
    static func resolve(_ stored: [UInt8], _ db: SQLiteConnection) throws(LedgerError) -> [UInt8] {
        guard let (height, key) = leafReference(stored) else { return stored }
        let s = try db.statement("SELECT value FROM state WHERE key = ?1 AND height = ?2")
        defer { s.reset() }
        s.bind(1, key)
        s.bind(2, height)
        guard try s.step(), !s.isNull(0) else { return stored }
        return StateNode.leaf(key: key, value: s.blob(0)).encoded
    }

    /// The flat state row a stored leaf reference names; nil for any other stored form.
    static func leafReference(_ stored: [UInt8]) -> (height: UInt64, key: [UInt8])? {
        guard stored.first == 0x00, stored.count >= 9 else { return nil }
        return (stored[1..<9].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }, Array(stored[9...]))
    }

    /// The stored form of a leaf whose value is the flat state row (`key`, `height`).
    static func leafReference(key: [UInt8], height: Height) -> [UInt8] {
        [0x00] + (0..<8).reversed().map { UInt8(truncatingIfNeeded: height.rawValue >> (UInt64($0) * 8)) } + key
    }

    /// The digest of node bytes; nil when they do not decode.
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

/// The row ids of the nodes the last few appends wrote, so a transition computed over pending
/// blocks (whose nodes had no rows yet) can be linked to them when it is appended.
struct RecentStateNodes: Sendable {
    /// Blocks kept: at least 4, up to 16 while they hold at most 300,000 rows together (about
    /// 20 MB). A node executes a few blocks ahead of its store (more under PoW, which commits a
    /// confirmation depth behind); a miss costs one scan of the recent rows, never a wrong answer.
    static let blocks = (minimum: 4, maximum: 16, rows: 300_000)
    private var byBlock: [(height: Height, ids: [Digest: Int64])] = []
    private var rows = 0

    mutating func record(_ height: Height, _ ids: [Digest: Int64]) {
        byBlock.append((height, ids))
        rows += ids.count
        while byBlock.count > Self.blocks.maximum || (byBlock.count > Self.blocks.minimum && rows > Self.blocks.rows) {
            rows -= byBlock.removeFirst().ids.count
        }
    }

    mutating func forget(above height: Height) {
        byBlock.removeAll { $0.height > height }
        rows = byBlock.reduce(0) { $0 + $1.ids.count }
    }

    subscript(digest: Digest) -> Int64? {
        for b in byBlock.reversed() { if let id = b.ids[digest] { return id } }
        return nil
    }

}

/// Writes a block's state: the flat versioned rows `state(key, height, value-or-NULL)`, the new
/// tree nodes (appended, linked to their children's rows), the row of the block's root, the block's
/// first node row (for rollback) and, when the store prunes, the rows of the nodes it replaced.
enum StateWriter {
    /// Computes the state root after `set` on top of `parentRoot` (or takes it from `transition`,
    /// computed before from the same root), checks it against the header, and writes.
    /// - Returns: The row ids of the nodes written (for ``RecentStateNodes``).
    static func write(_ set: StateChangeSet, transition: StateTransition?, height: Height, header: BlockHeader,
                      parentRoot: Digest?, algorithm: HashAlgorithm, retention: LedgerStore.StateRetention,
                      recent: RecentStateNodes, into db: SQLiteConnection) throws(LedgerError) -> [Digest: Int64] {
        let tree = StateTree(algorithm)
        let base = parentRoot ?? tree.emptyRoot
        if let transition, transition.parentRoot != base {
            throw LedgerError.store(.stateRootMismatch, height: height,
                                    "state transition starts from root \(transition.parentRoot.hex), the head's state root is \(base.hex)",
                                    details: ["transitionParent": transition.parentRoot.hex, "headRoot": base.hex])
        }
        func compute() throws(LedgerError) -> (StateUpdate, [Digest: Int64]) {
            let store = height.rawValue > 0 ? try SQLiteStateNodeStore.atHeight(Height(height.rawValue - 1), db: db, algorithm: algorithm)
                : SQLiteStateNodeStore(db: db, algorithm: algorithm)
            return (try tree.update(root: base, changes: set.changes, store: store), store.locations)
        }
        var (update, locations) = if let transition, !transition.locations.isEmpty || transition.update.nodes.isEmpty {
            (transition.update, transition.locations)
        } else {
            try compute()
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
        func locate(_ d: Digest) -> Int64? { locations[d] ?? recent[d] }
        var plan = try Plan(update.nodes, locate: locate)
        if plan == nil, transition != nil {
            // A child from a block appended longer ago than the memo reaches: read the tree again.
            (update, locations) = try compute()
            plan = try Plan(update.nodes, locate: locate)
        }
        guard let plan else {
            throw LedgerError.store(.stateNodeMissing, height: height, "a state node the new tree keeps has no stored row")
        }
        let written = try insert(plan, values: set, height: height, into: db)
        // The root's row: new, kept from before, or none for the empty tree.
        let rootID: Int64? = update.root == tree.emptyRoot ? nil : written[update.root] ?? locate(update.root)
        if update.root != tree.emptyRoot, rootID == nil {
            throw LedgerError.store(.stateNodeMissing, height: height, "the state root \(update.root.hex) has no stored row")
        }
        let r = try db.statement("INSERT OR REPLACE INTO state_roots(height, id) VALUES(?1, ?2)")
        r.bind(1, height.rawValue)
        if let rootID { r.bind(2, rootID) } else { r.bindNull(2) }
        try r.run()
        var staleRows = 0
        if case .recent = retention, !update.replaced.isEmpty {
            let s = try db.statement("INSERT OR IGNORE INTO state_stale(height, id) VALUES(?1, ?2)")
            for digest in update.replaced {
                // A replaced node is one the update read, so its row is known; one that is not is left (never wrong, only kept).
                guard let id = locate(digest) else { continue }
                s.bind(1, height.rawValue)
                s.bind(2, id)
                try s.run()
                staleRows += db.changes
            }
        }
        try countRows(nodes: written.count, stale: staleRows, in: db)
        return written
    }

    /// The new nodes in write order (children before parents, as the update lists them) with the rows
    /// of the children they keep; nil when a kept child's row is not known.
    struct Plan {
        var nodes: [(node: StateUpdate.Node, decoded: StateNode)]
        var keptChildren: [Digest: Int64]

        init?(_ nodes: [StateUpdate.Node], locate: (Digest) -> Int64?) throws(LedgerError) {
            let new = Set(nodes.map(\.digest))
            self.nodes = []
            self.nodes.reserveCapacity(nodes.count)
            keptChildren = [:]
            for n in nodes {
                let decoded = try StateNode(encoded: n.encoded)
                if case .internal(let l, let r) = decoded {
                    for c in [l, r].compactMap({ $0 }) where !new.contains(c) {
                        guard let id = locate(c) else { return nil }
                        keptChildren[c] = id
                    }
                }
                self.nodes.append((n, decoded))
            }
        }
    }

    /// Appends the planned nodes and marks the block's first row. A leaf whose key and value are this
    /// block's flat state row is stored as a reference to it (the value is then stored once).
    private static func insert(_ plan: Plan, values set: StateChangeSet, height: Height,
                               into db: SQLiteConnection) throws(LedgerError) -> [Digest: Int64] {
        guard !plan.nodes.isEmpty else { return [:] }
        var values = [[UInt8]: [UInt8]]()
        values.reserveCapacity(set.changes.count)
        for c in set.netChanges { if let v = c.value { values[c.key] = v } }
        let insert = try db.statement("INSERT INTO state_nodes(bytes, left, right) VALUES(?1, ?2, ?3)")
        var written = [Digest: Int64]()
        written.reserveCapacity(plan.nodes.count)
        var firstID: Int64?
        for (node, decoded) in plan.nodes where written[node.digest] == nil {
            var stored = node.encoded
            switch decoded {
            case .leaf(let key, let value):
                if values[key] == value { stored = SQLiteStateNodeStore.leafReference(key: key, height: height) }
                insert.bindNull(2)
                insert.bindNull(3)
            case .internal(let l, let r):
                for (i, c) in [(Int32(2), l), (Int32(3), r)] {
                    if let c, let id = written[c] ?? plan.keptChildren[c] { insert.bind(i, id) } else { insert.bindNull(i) }
                }
            }
            try insert.run(binding: stored, at: 1)
            let id = db.lastInsertRowID
            written[node.digest] = id
            if firstID == nil { firstID = id }
        }
        if let firstID {
            let m = try db.statement("INSERT OR REPLACE INTO state_node_marks(height, first_id) VALUES(?1, ?2)")
            m.bind(1, height.rawValue)
            m.bind(2, firstID)
            try m.run()
        }
        return written
    }

    /// Deletes the nodes that only heights below `lowest` needed: those replaced at or below it (a
    /// node replaced at height `s` is in the trees of heights below `s` only). Records `lowest` as
    /// the lowest height whose tree is whole.
    static func prune(keepingFrom lowest: Height, into db: SQLiteConnection) throws(LedgerError) {
        // In id order: neighbouring deletes touch the same pages.
        try db.execute("DELETE FROM state_nodes WHERE id IN (SELECT id FROM state_stale WHERE height <= \(lowest.rawValue) ORDER BY id)")
        let nodes = db.changes
        try db.execute("DELETE FROM state_stale WHERE height <= \(lowest.rawValue)")
        try countRows(nodes: -nodes, stale: -db.changes, in: db)
        let m = try db.statement("INSERT OR REPLACE INTO meta(key, value) VALUES('state_retained_from', ?1)")
        m.bind(1, text: lowest.description)
        try m.run()
    }

    /// Whether a prune keeping `lowest` and up is worth its cost now: the rows it would delete (the
    /// replaced rows of heights `retained + 1 ... lowest`, estimated as their share of the pending
    /// replaced rows) are at least half the live tree's rows. The nodes a block replaces deep in the
    /// tree were written long ago, on pages all over the file, so a prune rewrites most of the
    /// tree's pages whatever it deletes; deferring it until it deletes a share of the tree keeps
    /// that cost per block flat as the state grows. Reads two counters, never the tables.
    static func pruneIsDue(keepingFrom lowest: Height, retainedFrom retained: Height, head: Height,
                           in db: SQLiteConnection) throws(LedgerError) -> Bool {
        let (nodes, stale) = try rowCounts(db)
        let pending = head.rawValue - min(head.rawValue, retained.rawValue)
        guard pending > 0, stale > 0 else { return false }
        let prunable = Double(stale) * Double(lowest.rawValue - min(lowest.rawValue, retained.rawValue)) / Double(pending)
        return prunable * 2 >= Double(max(0, nodes - stale))
    }

    /// The rows in `state_nodes` and in `state_stale`, kept in `meta` (`state_node_rows`,
    /// `state_stale_rows`) so that deciding whether to prune reads no table. A store without them
    /// (migrated, or written by an earlier build) counts its tables once and keeps the counts from then on.
    static func rowCounts(_ db: SQLiteConnection) throws(LedgerError) -> (nodes: Int64, stale: Int64) {
        let s = try db.statement("SELECT key, value FROM meta WHERE key IN ('state_node_rows', 'state_stale_rows')")
        var counts = [String: Int64]()
        while try s.step() { counts[s.text(0)] = Int64(s.text(1)) }
        s.reset()
        if let nodes = counts["state_node_rows"], let stale = counts["state_stale_rows"] { return (nodes, stale) }
        let nodes = try db.scalarInt("SELECT count(*) FROM state_nodes") ?? 0
        let stale = try db.scalarInt("SELECT count(*) FROM state_stale") ?? 0
        let m = try db.statement("INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)")
        for (key, value) in [("state_node_rows", nodes), ("state_stale_rows", stale)] {
            m.bind(1, text: key)
            m.bind(2, text: String(value))
            try m.run()
        }
        return (nodes, stale)
    }

    /// Adds to the row counters of ``rowCounts(_:)``; nothing while they are not kept yet (the first
    /// ``rowCounts(_:)`` counts the tables then).
    static func countRows(nodes: Int, stale: Int, in db: SQLiteConnection) throws(LedgerError) {
        guard nodes != 0 || stale != 0 else { return }
        let u = try db.statement("""
            UPDATE meta SET value = CAST(CAST(value AS INTEGER) + (CASE key WHEN 'state_node_rows' THEN ?1 ELSE ?2 END) AS TEXT)
            WHERE key IN ('state_node_rows', 'state_stale_rows')
            """)
        u.bind(1, Int64(nodes))
        u.bind(2, Int64(stale))
        try u.run()
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
            guard let head = try Self.loadHead(db) else {
                return try transition(changes, from: StateTree(hashAlgorithm).emptyRoot, store: SQLiteStateNodeStore(db: db, algorithm: hashAlgorithm))
            }
            let store = try SQLiteStateNodeStore.atHeight(head.height, db: db, algorithm: hashAlgorithm)
            store.recent = recentStateNodesSnapshot
            return try transition(changes, from: head.stateRoot, store: store)
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
            // The root is a pending block's (in the overlay) or a stored block's; the stored nodes the
            // pending blocks keep are where their transitions found them.
            let base = overlay[root] == nil ? try SQLiteStateNodeStore.atRoot(root, db: db, algorithm: hashAlgorithm)
                : SQLiteStateNodeStore(db: db, algorithm: hashAlgorithm)
            for t in pending { base.learn(t.locations) }
            base.recent = recentStateNodesSnapshot
            let update = try StateTree(hashAlgorithm).update(root: root, changes: changes.changes,
                                                             store: OverlayStateNodeStore(overlay: overlay, base: base))
            var t = StateTransition(parentRoot: root, update: update)
            t.locations = base.locations
            return t
        }
    }

    private func transition(_ changes: StateChangeSet, from root: Digest, store: SQLiteStateNodeStore) throws(LedgerError) -> StateTransition {
        var t = StateTransition(parentRoot: root, update: try StateTree(hashAlgorithm).update(root: root, changes: changes.changes, store: store))
        t.locations = store.locations
        return t
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
                return try StateTree(hashAlgorithm).proof(forKey: key, root: root,
                                                          store: SQLiteStateNodeStore.atHeight(h, db: db, algorithm: hashAlgorithm))
            } catch where error.code == .stateNodeMissing {
                throw LedgerError.store(.stateNotRetained, height: h, "state tree node missing: \(error.message)",
                                        details: ["cause": String(error.numericCode)])
            }
        }
    }
}

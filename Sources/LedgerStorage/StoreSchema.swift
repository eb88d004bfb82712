import LedgerCrypto
import LedgerModel

/// The store's schema as an ordered list of migrations. `PRAGMA user_version`
/// records how many have been applied; each runs in its own transaction, so a
/// crash during a migration leaves the previous version intact.
package enum StoreSchema {
    /// Transactions are keyed `height << 20 | index` (a block holds at most
    /// 2^20 > `Block.maximumTransactions` transactions), so a block's rows
    /// are one contiguous rowid range and appends go to the end of the tree.
    static let transactionIndexBits: Int64 = 20

    static func transactionKey(height: Height, index: Int) -> Int64 {
        Int64(bitPattern: height.rawValue) << transactionIndexBits | Int64(index)
    }

    package static let migrations: [String] = [
        // 1: blocks, transaction index with receipts, flat versioned state.
        """
        CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
        CREATE TABLE blocks(
            height INTEGER PRIMARY KEY,
            hash BLOB NOT NULL,
            parent_hash BLOB NOT NULL,
            state_root BLOB NOT NULL,
            timestamp INTEGER NOT NULL,
            tx_count INTEGER NOT NULL,
            encoded BLOB NOT NULL);
        CREATE UNIQUE INDEX blocks_hash ON blocks(hash);
        CREATE TABLE transactions(
            key INTEGER PRIMARY KEY,
            id BLOB NOT NULL,
            offset INTEGER NOT NULL,
            length INTEGER NOT NULL,
            receipt BLOB);
        CREATE INDEX transactions_id ON transactions(id);
        CREATE TABLE state(
            key BLOB NOT NULL,
            height INTEGER NOT NULL,
            value BLOB,
            PRIMARY KEY(key, height)) WITHOUT ROWID;
        CREATE INDEX state_height ON state(height);
        """,
        // 2: content-addressed state tree nodes, with the height that first wrote each.
        """
        CREATE TABLE state_nodes(
            digest BLOB PRIMARY KEY,
            height INTEGER NOT NULL,
            bytes BLOB NOT NULL) WITHOUT ROWID;
        CREATE INDEX state_nodes_height ON state_nodes(height);
        """,
        // 3: commit certificates (one per block above genesis) and the consensus engine's persistent state.
        """
        CREATE TABLE certificates(
            height INTEGER PRIMARY KEY,
            encoded BLOB NOT NULL);
        CREATE TABLE consensus_state(
            key TEXT PRIMARY KEY,
            value BLOB NOT NULL) WITHOUT ROWID;
        """,
        // 4: state-tree nodes in rowid order (appended block after block) with a unique index on the
        // digest. A block's new nodes have random digests; in the digest-keyed table of version 2 they
        // landed on random pages of the whole table, so every block rewrote most of it. Now the rows
        // are appended and only the index, with entries a third the size, takes random inserts.
        """
        CREATE TABLE state_nodes_by_row(
            id INTEGER PRIMARY KEY,
            digest BLOB NOT NULL,
            height INTEGER NOT NULL,
            bytes BLOB NOT NULL);
        INSERT INTO state_nodes_by_row(digest, height, bytes)
            SELECT digest, height, bytes FROM state_nodes ORDER BY height, digest;
        DROP TABLE state_nodes;
        ALTER TABLE state_nodes_by_row RENAME TO state_nodes;
        CREATE UNIQUE INDEX state_nodes_digest ON state_nodes(digest);
        CREATE INDEX state_nodes_height ON state_nodes(height);
        """,
        // 5: compact state-tree rows and pruning. A node row keeps an 8-byte tag (the digest's first
        // bytes) instead of the whole digest, with a non-unique index on the tag: the digest is the hash
        // of the bytes, so a read checks it (and picks the right row if two tags ever collide). The
        // height column and its index give way to one row per block naming the block's first node id
        // (rows are appended in height order), which is all a rollback needs. `state_stale` lists, per
        // height, the nodes that height replaced; a store that keeps a window of recent heights deletes
        // them once no retained height needs them. `state_revived` names stale nodes that a later block
        // wrote again (a key set back to an old value), which pruning must keep.
        """
        CREATE TABLE state_nodes_v5(
            id INTEGER PRIMARY KEY,
            tag BLOB NOT NULL,
            bytes BLOB NOT NULL);
        INSERT INTO state_nodes_v5(id, tag, bytes) SELECT id, substr(digest, 1, 8), bytes FROM state_nodes ORDER BY id;
        CREATE TABLE state_node_marks(
            height INTEGER PRIMARY KEY,
            first_id INTEGER NOT NULL);
        INSERT INTO state_node_marks(height, first_id) SELECT height, min(id) FROM state_nodes GROUP BY height;
        DROP TABLE state_nodes;
        ALTER TABLE state_nodes_v5 RENAME TO state_nodes;
        CREATE INDEX state_nodes_tag ON state_nodes(tag);
        CREATE TABLE state_stale(
            height INTEGER NOT NULL,
            digest BLOB NOT NULL,
            PRIMARY KEY(height, digest)) WITHOUT ROWID;
        CREATE TABLE state_revived(digest BLOB PRIMARY KEY) WITHOUT ROWID;
        """,
    ]

    /// The tag a state-tree node row is found by: the first 8 bytes of its digest.
    static func stateNodeTag(_ digest: Digest) -> [UInt8] { Array(digest.bytes.prefix(8)) }

    static var latestVersion: Int { migrations.count }

    /// Applies the migrations the database lacks.
    /// - Throws: `.migrationFailed` (1508) when the database is newer than
    ///   this build or a migration fails; `.storeCorrupted` (1501).
    static func migrate(_ db: SQLiteConnection, upTo target: Int = latestVersion) throws(LedgerError) {
        let current = Int(try db.scalarInt("PRAGMA user_version") ?? 0)
        guard current <= latestVersion else {
            throw LedgerError(.migrationFailed, "database schema version \(current) is newer than this build's \(latestVersion)",
                              details: ["schemaVersion": String(current)])
        }
        guard current < target else { return }
        for version in (current + 1)...target {
            do {
                try db.transaction { () throws(LedgerError) in
                    try db.execute(migrations[version - 1])
                    try db.execute("PRAGMA user_version = \(version)")
                }
            } catch where error.code == .storeCorrupted {
                throw error
            } catch {
                throw LedgerError(.migrationFailed, "migration to schema version \(version) failed: \(error.message)",
                                  details: ["schemaVersion": String(version), "cause": String(error.numericCode)])
            }
        }
    }
}

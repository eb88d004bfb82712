import Foundation
import LedgerCore

/// The query index of records (A-Q-1, A-Q-3): SQLite tables `records_*`
/// in the node's database file, derived only from committed blocks, so
/// ``rebuild(from:)`` recreates it from the chain at any time.
///
/// Tables: `records_versions` (every version with its bytes, stored once),
/// `records_current` (one row per record: the filter columns and the number
/// of its current version, with a composite index per filter ending in
/// `(time, record_id)`, so each filtered, ordered page is an index range
/// scan joined to its versions by primary key), `records_meta` (the height
/// and block hash indexed so far; a chain rolled back under the index is
/// detected and the index rebuilt). An index of an older schema is dropped
/// on open and derived again from the chain.
///
/// ```swift
/// let index = try RecordIndex(path: dir + "/ledger.sqlite", hashAlgorithm: .sha256)
/// let changes = try index.catchUp(with: store)
/// ```
/// - Note: Thread-safe. One writer connection (guarded by `writeLock`), one
///   reader connection (guarded by `readLock`; WAL readers do not wait for the writer).
public final class RecordIndex: @unchecked Sendable {
    private let writeLock = NSLock()
    private let writer: SQLiteConnection
    private let readLock = NSLock()
    private let reader: SQLiteConnection
    private let hashAlgorithm: HashAlgorithm

    /// Schema 2: a record's bytes are stored once, in its version row; `records_current` holds the filter columns
    /// and the current version's number (schema 1 kept a second copy of the body and metadata there).
    static let schemaVersion = 2

    static let schema = """
        CREATE TABLE IF NOT EXISTS records_current(
            record_id TEXT PRIMARY KEY, kind TEXT NOT NULL, factory TEXT NOT NULL, time INTEGER NOT NULL,
            product TEXT, batch TEXT, device TEXT, location TEXT, operator TEXT, version INTEGER NOT NULL) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS records_by_time ON records_current(time, record_id);
        CREATE INDEX IF NOT EXISTS records_by_product ON records_current(product, time, record_id);
        CREATE INDEX IF NOT EXISTS records_by_batch ON records_current(batch, time, record_id);
        CREATE INDEX IF NOT EXISTS records_by_device ON records_current(device, time, record_id);
        CREATE INDEX IF NOT EXISTS records_by_factory ON records_current(factory, time, record_id);
        CREATE INDEX IF NOT EXISTS records_by_location ON records_current(location, time, record_id);
        CREATE INDEX IF NOT EXISTS records_by_operator ON records_current(operator, time, record_id);
        CREATE INDEX IF NOT EXISTS records_by_kind ON records_current(kind, time, record_id);
        CREATE TABLE IF NOT EXISTS records_versions(
            record_id TEXT NOT NULL, version INTEGER NOT NULL, body BLOB NOT NULL, digest BLOB NOT NULL, uploader TEXT NOT NULL,
            height INTEGER NOT NULL, tx_id BLOB NOT NULL, changed TEXT NOT NULL, condition TEXT NOT NULL, committed_at INTEGER NOT NULL,
            PRIMARY KEY(record_id, version)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS records_meta(key TEXT PRIMARY KEY, value BLOB NOT NULL);
        """

    /// An index of an older schema is dropped and derived again from the chain by the next ``catchUp(with:through:collectingChanges:)``
    /// (it holds nothing the chain does not).
    private static func migrate(_ db: SQLiteConnection) throws(LedgerError) {
        let columns = try db.textRows("SELECT name FROM pragma_table_info('records_current')")
        guard columns.contains("body") else { return }
        try db.execute("""
            BEGIN IMMEDIATE;
            DROP TABLE IF EXISTS records_current; DROP TABLE IF EXISTS records_versions; DROP TABLE IF EXISTS records_meta;
            COMMIT;
            """)
    }

    /// Opens (creating the tables as needed) the index in the database at `path`.
    /// - Parameters:
    ///   - path: Required. The node's database file (`DIR/ledger.sqlite`), or `:memory:` in tests.
    ///   - hashAlgorithm: Optional, default SHA-256: the chain's algorithm.
    /// - Throws: `AppError` `.indexFailure` (5204).
    public init(path: String, hashAlgorithm: HashAlgorithm = .default) throws(AppError) {
        self.hashAlgorithm = hashAlgorithm
        do {
            writer = try SQLiteConnection(path: path, mode: .readWrite)
            try writer.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
            try Self.migrate(writer)
            try writer.execute(Self.schema)
            reader = path == ":memory:" ? writer : try SQLiteConnection(path: path, mode: .readOnly)
        } catch {
            throw Self.failure(error)
        }
    }

    static func failure(_ error: LedgerError) -> AppError {
        AppError(.indexFailure, "record index: \(error.message)", details: ["cause": String(error.numericCode)])
    }

    // MARK: Deriving from the chain

    /// The height indexed so far (0 for an empty index).
    public var indexedHeight: UInt64 {
        writeLock.withLock {
            let stored: [UInt8]? = (try? meta("height")) ?? nil
            return stored.map { UInt64(Self.int($0)) } ?? 0
        }
    }

    private func meta(_ key: String) throws(LedgerError) -> [UInt8]? {
        let s = try writer.statement("SELECT value FROM records_meta WHERE key = ?1")
        defer { s.reset() }
        s.bind(1, text: key)
        return try s.step() ? s.blob(0) : nil
    }

    private func setMeta(_ key: String, _ value: [UInt8]) throws(LedgerError) {
        let s = try writer.statement("INSERT OR REPLACE INTO records_meta(key, value) VALUES (?1, ?2)")
        s.bind(1, text: key)
        s.bind(2, value)
        try s.run()
    }

    private static func int(_ b: [UInt8]) -> Int { b.reduce(0) { $0 << 8 | Int($1) } }
    private static func bytes(_ v: UInt64) -> [UInt8] { (0..<8).reversed().map { UInt8(truncatingIfNeeded: v >> (UInt64($0) * 8)) } }

    /// Indexes every committed block after the indexed height, up to the
    /// store's head; rebuilds first when the chain no longer holds the block
    /// last indexed (a rollback). Returns the changes it indexed, in commit order.
    /// - Parameters:
    ///   - store: Required. The node's ledger.
    ///   - through: Optional, default the head: stop after this height.
    ///   - collectingChanges: Optional, default true. When false the index is brought up to date the same way but
    ///     no ``RecordChange`` is built (nobody listens; a change holds two versions of a record, and building them
    ///     for every record of a large batch was a sixth of the index's work).
    /// - Throws: `AppError` `.indexFailure` (5204).
    @discardableResult
    public func catchUp(with store: LedgerStore, through: UInt64? = nil, collectingChanges: Bool = true) throws(AppError) -> [RecordChange] {
        try writeLock.locked { () throws(AppError) -> [RecordChange] in
            do {
                guard let head = store.head?.height.rawValue else { return [] }
                let target = min(head, through ?? head)
                var from = (try meta("height")).map { UInt64(Self.int($0)) } ?? 0
                if from > 0 {
                    let hash = try meta("hash") ?? []
                    if try from > head || store.blockHash(atHeight: Height(from)).bytes != hash {
                        try clear()
                        from = 0
                    }
                }
                guard from < target else { return [] }
                var changes = [RecordChange]()
                var h = from + 1
                while h <= target {
                    let end = min(target, h + 63)
                    try writer.execute("BEGIN IMMEDIATE")
                    do {
                        for height in h...end { try apply(height: height, store: store, collecting: collectingChanges, into: &changes) }
                        try setMeta("height", Self.bytes(end))
                        try setMeta("hash", try store.blockHash(atHeight: Height(end)).bytes)
                        try writer.execute("COMMIT")
                    } catch {
                        try? writer.execute("ROLLBACK")
                        throw error
                    }
                    h = end + 1
                }
                return changes
            } catch let e as AppError {
                throw e
            } catch let e as LedgerError {
                throw Self.failure(e)
            } catch {
                throw AppError(.indexFailure, "record index: \(error)")
            }
        }
    }

    /// Drops the index and derives it again from every committed block of `store`.
    /// - Throws: `AppError` `.indexFailure` (5204).
    /// - Returns: The number of record versions indexed.
    @discardableResult
    public func rebuild(from store: LedgerStore) throws(AppError) -> Int {
        try writeLock.locked { () throws(AppError) in
            do throws(LedgerError) { try writer.transaction { () throws(LedgerError) in try clear() } } catch { throw Self.failure(error) }
        }
        return try catchUp(with: store).count
    }

    /// Merges the write-ahead log into the index file and truncates the log to zero bytes, so a data folder
    /// left by a stopped process holds the index in `records-index.sqlite` alone (the log of a large import is
    /// many times the database's size). ``Platform/close()`` calls it; the index stays usable afterwards.
    /// - Throws: `AppError` `.indexFailure` (5204) when SQLite cannot checkpoint (for example a reader of
    ///   another process holds the log); nothing is lost then, the next open replays the log.
    /// - Note: Waits for a running catch-up or query to finish; safe to call concurrently and more than once.
    public func checkpoint() throws(AppError) {
        try writeLock.locked { () throws(AppError) in
            try readLock.locked { () throws(AppError) in
                do throws(LedgerError) {
                    let rows = try writer.textRows("PRAGMA wal_checkpoint(TRUNCATE)")
                    // One row: busy (0 or 1), frames in the log, frames checkpointed.
                    if rows.first == "1" {
                        throw LedgerError(.sqlite, "the log is in use by another connection", details: ["sql": "PRAGMA wal_checkpoint(TRUNCATE)"])
                    }
                } catch {
                    throw Self.failure(error)
                }
            }
        }
    }

    private func clear() throws(LedgerError) {
        try writer.execute("DELETE FROM records_current; DELETE FROM records_versions; DELETE FROM records_meta;")
    }

    private func apply(height: UInt64, store: LedgerStore, collecting: Bool, into changes: inout [RecordChange]) throws {
        let block = try store.block(atHeight: Height(height))
        guard block.transactions.contains(where: { $0.payload.kind == RecordsExecutor.kind }) else { return }
        let receipts = try store.receipts(atHeight: Height(height))
        let committedAt = RecordTime(millisecondsSince1970: block.header.timestamp.millisecondsSince1970)
        let statements = try inserts()
        for (i, tx) in block.transactions.enumerated() where tx.payload.kind == RecordsExecutor.kind {
            guard i < receipts.count, receipts[i].status == Receipt.success else { continue }
            let txID = receipts[i].transactionID
            let ops = try RecordOperation.operations(inBody: tx.payload.body)
            if collecting { changes.reserveCapacity(changes.count + ops.count) }
            for op in ops {
                let record = try ManufacturingRecord(canonicalEncoding: op.recordBytes)
                let stored = StoredRecord(recordID: op.recordID, version: op.version, record: record, digest: op.digest, uploader: op.uploader,
                                          height: height, transactionID: txID, changedFields: op.changedFields,
                                          condition: op.condition.text, committedAt: committedAt)
                let before = collecting && op.version > 1 ? try currentLocked(op.recordID, connection: writer) : nil
                try insert(stored, bytes: op.recordBytes, using: statements)
                if collecting {
                    changes.append(RecordChange(recordID: op.recordID, kind: record.kind, factoryUID: record.factoryUID, before: before, after: stored))
                }
            }
        }
    }

    /// The two insert statements, prepared (looked up in the connection's cache) once per block rather than per record.
    private struct Inserts {
        var version: SQLiteConnection.Statement
        var current: SQLiteConnection.Statement
    }

    private func inserts() throws(LedgerError) -> Inserts {
        Inserts(version: try writer.statement("""
            INSERT OR REPLACE INTO records_versions(record_id, version, body, digest, uploader, height, tx_id, changed, condition, committed_at)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
            """), current: try writer.statement("""
            INSERT OR REPLACE INTO records_current(record_id, kind, factory, time, product, batch, device, location, operator, version)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
            """))
    }

    private func insert(_ r: StoredRecord, bytes: [UInt8], using statements: Inserts) throws(LedgerError) {
        let v = statements.version
        v.bind(1, text: r.recordID)
        v.bind(2, r.version)
        v.bind(3, bytes)
        v.bind(4, r.digest)
        v.bind(5, text: r.uploader)
        v.bind(6, r.height)
        v.bind(7, r.transactionID)
        v.bind(8, text: r.changedFields.joined(separator: ","))
        v.bind(9, text: r.condition)
        v.bind(10, r.committedAt.millisecondsSince1970)
        try v.run()
        let c = statements.current
        let rec = r.record
        c.bind(1, text: r.recordID)
        c.bind(2, text: rec.kind.rawValue)
        c.bind(3, text: rec.factoryUID)
        c.bind(4, rec.time.millisecondsSince1970)
        for (i, value) in [rec.productUID, rec.batchNumber, rec.deviceID, rec.location, rec.operatorID].enumerated() {
            if let value { c.bind(Int32(5 + i), text: value) } else { c.bindNull(Int32(5 + i)) }
        }
        c.bind(10, r.version)
        try c.run()
    }

    // MARK: Reads

    private static let columns = "record_id, version, body, digest, uploader, height, tx_id, changed, condition, committed_at"
    /// The current versions: each `records_current` row with its version's row (`c` and `v`).
    private static let currentColumns = "v.record_id, v.version, v.body, v.digest, v.uploader, v.height, v.tx_id, v.changed, v.condition, v.committed_at"
    private static let currentRows = "records_current c JOIN records_versions v ON v.record_id = c.record_id AND v.version = c.version"

    private static func row(_ s: SQLiteConnection.Statement) throws(AppError) -> StoredRecord {
        let changed = s.text(7)
        return StoredRecord(recordID: s.text(0), version: s.uint(1), record: try ManufacturingRecord(canonicalEncoding: s.blob(2)),
                            digest: s.digest(3) ?? .zero, uploader: s.text(4), height: s.uint(5), transactionID: s.digest(6) ?? .zero,
                            changedFields: changed.isEmpty ? [] : changed.split(separator: ",").map(String.init),
                            condition: s.text(8), committedAt: RecordTime(millisecondsSince1970: s.uint(9)))
    }

    private func currentLocked(_ recordID: String, connection db: SQLiteConnection) throws -> StoredRecord? {
        let s = try db.statement("SELECT \(Self.currentColumns) FROM \(Self.currentRows) WHERE c.record_id = ?1")
        defer { s.reset() }
        s.bind(1, text: recordID)
        return try s.step() ? try Self.row(s) : nil
    }

    private func read<R>(_ body: (SQLiteConnection) throws -> R) throws(AppError) -> R {
        let lock = reader === writer ? writeLock : readLock
        return try lock.locked { () throws(AppError) -> R in
            do { return try body(reader) } catch let e as AppError {
                throw e
            } catch let e as LedgerError {
                throw Self.failure(e)
            } catch {
                throw AppError(.indexFailure, "record index: \(error)")
            }
        }
    }

    /// The current version of a record, or nil.
    /// - Throws: `AppError` `.indexFailure` (5204).
    public func current(_ recordID: String) throws(AppError) -> StoredRecord? {
        try read { db in try currentLocked(recordID, connection: db) }
    }

    /// Which of `recordIDs` are indexed already.
    public func existing(_ recordIDs: [String]) throws(AppError) -> Set<String> {
        try read { db in
            let s = try db.statement("SELECT 1 FROM records_current WHERE record_id = ?1")
            var found = Set<String>()
            for id in recordIDs {
                s.bind(1, text: id)
                if try s.step() { found.insert(id) }
                s.reset()
            }
            return found
        }
    }

    /// The digest each of `recordIDs` was created with (version 1), for those indexed already.
    /// - Throws: `AppError` `.indexFailure` (5204).
    public func creationDigests(_ recordIDs: [String]) throws(AppError) -> [String: Digest] {
        try read { db in
            let s = try db.statement("SELECT digest FROM records_versions WHERE record_id = ?1 AND version = 1")
            var found = [String: Digest]()
            for id in recordIDs {
                s.bind(1, text: id)
                if try s.step() { found[id] = s.digest(0) ?? .zero }
                s.reset()
            }
            return found
        }
    }

    /// Every version of a record, oldest first (empty when unknown).
    /// - Throws: `AppError` `.indexFailure` (5204).
    public func history(_ recordID: String) throws(AppError) -> [StoredRecord] {
        try read { db in
            let s = try db.statement("SELECT \(Self.columns) FROM records_versions WHERE record_id = ?1 ORDER BY version")
            defer { s.reset() }
            s.bind(1, text: recordID)
            var out = [StoredRecord]()
            while try s.step() { out.append(try Self.row(s)) }
            return out
        }
    }

    /// The column names of one of the index's tables (for schema tests).
    package func tableColumnsForTesting(_ table: String) throws(AppError) -> [String] {
        try read { db in try db.textRows("SELECT name FROM pragma_table_info('\(table)')") }
    }

    /// The number of records (current versions) indexed.
    public func count() throws(AppError) -> Int {
        try read { db in Int(try db.scalarInt("SELECT count(*) FROM records_current") ?? 0) }
    }

    /// The SQL and bindings of a query page (exposed for `EXPLAIN QUERY PLAN` in tests).
    package func sql(for query: RecordQuery, factories: [String]?, kinds: [RecordKind]?) throws(AppError) -> (sql: String, bindings: [String]) {
        var clauses = [String](), bindings = [String]()
        func add(_ column: String, _ value: String?) {
            guard let value else { return }
            bindings.append(value)
            clauses.append("\(column) = ?\(bindings.count)")
        }
        add("c.product", query.productUID)
        add("c.batch", query.batchNumber)
        add("c.device", query.deviceID)
        add("c.location", query.location)
        add("c.operator", query.operatorID)
        add("c.factory", query.factoryUID)
        add("c.kind", query.kind?.rawValue)
        if let from = query.from { bindings.append(String(from.millisecondsSince1970)); clauses.append("c.time >= CAST(?\(bindings.count) AS INTEGER)") }
        if let to = query.to { bindings.append(String(to.millisecondsSince1970)); clauses.append("c.time < CAST(?\(bindings.count) AS INTEGER)") }
        if query.factoryUID == nil, let factories {
            clauses.append("c.factory IN (\(factories.map { f -> String in bindings.append(f); return "?\(bindings.count)" }.joined(separator: ",")))")
        }
        if query.kind == nil, let kinds {
            clauses.append("c.kind IN (\(kinds.map { k -> String in bindings.append(k.rawValue); return "?\(bindings.count)" }.joined(separator: ",")))")
        }
        let asc = query.order == .timeAscending
        if let cursor = query.cursor {
            let (time, id) = try Self.decodeCursor(cursor, query: query)
            bindings.append(String(time))
            let t = bindings.count
            bindings.append(id)
            clauses.append("(c.time, c.record_id) \(asc ? ">" : "<") (CAST(?\(t) AS INTEGER), ?\(bindings.count))")
        }
        let dir = asc ? "ASC" : "DESC"
        let sql = "SELECT \(Self.currentColumns), c.time FROM \(Self.currentRows)" + (clauses.isEmpty ? "" : " WHERE " + clauses.joined(separator: " AND "))
            + " ORDER BY c.time \(dir), c.record_id \(dir) LIMIT \(query.limit + 1)"
        return (sql, bindings)
    }

    /// One page of current records matching `query`, restricted to
    /// `factories` and `kinds` (nil: no restriction).
    /// - Throws: `AppError` `.invalidQuery` (5201), `.invalidCursor` (5202), `.indexFailure` (5204).
    public func page(_ query: RecordQuery, factories: [String]? = nil, kinds: [RecordKind]? = nil) throws(AppError) -> RecordPage {
        try query.validate()
        let (sql, bindings) = try sql(for: query, factories: factories, kinds: kinds)
        return try read { db in
            let s = try db.statement(sql)
            defer { s.reset() }
            for (i, b) in bindings.enumerated() { s.bind(Int32(i + 1), text: b) }
            var rows = [StoredRecord](), times = [UInt64]()
            while try s.step() {
                rows.append(try Self.row(s))
                times.append(s.uint(10))
            }
            var next: String?
            if rows.count > query.limit {
                rows.removeLast()
                next = Self.encodeCursor(time: times[query.limit - 1], id: rows[query.limit - 1].recordID, query: query)
            }
            return RecordPage(records: rows, nextCursor: next)
        }
    }

    /// `EXPLAIN QUERY PLAN` of a query (for tests that guard index use).
    package func queryPlan(_ query: RecordQuery, factories: [String]? = nil, kinds: [RecordKind]? = nil) throws(AppError) -> [String] {
        let (sql, bindings) = try sql(for: query, factories: factories, kinds: kinds)
        return try read { db in
            let s = try db.statement("EXPLAIN QUERY PLAN " + sql)
            defer { s.reset() }
            for (i, b) in bindings.enumerated() { s.bind(Int32(i + 1), text: b) }
            var out = [String]()
            while try s.step() { out.append(s.text(3)) }
            return out
        }
    }

    // Cursor: base64url("1|<fingerprint>|<time>|<recordID>"): opaque, stable (keyset on (time, record_id)).
    static func encodeCursor(time: UInt64, id: String, query: RecordQuery) -> String {
        Data("1|\(query.fingerprint)|\(time)|\(id)".utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func decodeCursor(_ cursor: String, query: RecordQuery) throws(AppError) -> (UInt64, String) {
        var b64 = cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while b64.count % 4 != 0 { b64 += "=" }
        guard let data = Data(base64Encoded: b64), let text = String(data: data, encoding: .utf8) else {
            throw AppError(.invalidCursor, "cursor is not a cursor of this API", details: ["field": "cursor"])
        }
        let parts = text.split(separator: "|", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 4, parts[0] == "1", let time = UInt64(parts[2]) else {
            throw AppError(.invalidCursor, "cursor is not a cursor of this API", details: ["field": "cursor"])
        }
        guard parts[1] == query.fingerprint else {
            throw AppError(.invalidCursor, "cursor belongs to a query with other filters or order", details: ["field": "cursor"])
        }
        return (time, parts[3])
    }
}

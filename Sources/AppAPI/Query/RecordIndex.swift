import Foundation
import LedgerCore
import Synchronization

/// The query index of records (A-Q-1, A-Q-3): SQLite tables `records_*`
/// in their own database file, derived only from committed blocks, so
/// ``rebuild(from:)`` recreates it from the chain at any time.
///
/// Schema 3 keeps no copy of a record: `records_versions` holds, per version, where its canonical bytes lie
/// in the ledger (height, transaction index, offset and length inside the transaction's stored encoding), read
/// back with incremental blob I/O and checked against the digest the ledger stores right after them.
/// `records_current` has one row per record (an integer key, the record ID, the filter columns, the current
/// version) with one composite index per filter ending in `time` (SQLite appends the integer key);
/// repeated strings (kind, factory, batch, device, location, operator, uploader) are numbers into
/// `records_strings`; `records_blocks` holds each block's commit time; `records_meta` the schema and the
/// height and block hash indexed so far (a chain rolled back under the index is detected and the index
/// rebuilt). An index of another schema is dropped on open and derived again from the chain
/// (Documentation/Architecture.md, AppAPI).
///
/// ```swift
/// let index = try RecordIndex(path: dir + "/records-index.sqlite", ledger: store)
/// let changes = try index.catchUp(with: store)
/// ```
/// - Note: Thread-safe. One writer connection (guarded by `writeLock`), one
///   reader connection (guarded by `readLock`; WAL readers do not wait for the writer).
public final class RecordIndex: @unchecked Sendable {
    private let writeLock = NSLock()
    private let writer: SQLiteConnection
    private let readLock = NSLock()
    private let reader: SQLiteConnection
    /// The ledger whose records the index locates; reads fetch the bytes from it.
    private let ledger: LedgerStore
    /// The ids of strings in `records_strings` seen by the writer (guarded by `writeLock`); emptied whenever a
    /// write transaction rolls back or the index is cleared, so it never names a row that is not there.
    private var stringIDs = [String: Int64]()
    /// The height of the last catch-up chunk committed (or found on open): read without a lock by
    /// ``knownHeight``, so a query that is up to date does not wait for a catch-up in progress.
    private let committedHeight = Atomic<UInt64>(0)

    /// Schema 3: records located in the ledger instead of copied, integer keys, dictionary-coded strings.
    /// Schema 2 kept each record's bytes, digest and transaction ID in `records_versions`; schema 1 also a second
    /// copy in `records_current`.
    static let schemaVersion = 3

    static let schema = """
        CREATE TABLE IF NOT EXISTS records_strings(id INTEGER PRIMARY KEY, value TEXT NOT NULL UNIQUE);
        CREATE TABLE IF NOT EXISTS records_current(
            id INTEGER PRIMARY KEY, record_id TEXT NOT NULL UNIQUE, kind INTEGER NOT NULL, factory INTEGER NOT NULL,
            time INTEGER NOT NULL, product TEXT, batch INTEGER, device INTEGER, location INTEGER, operator INTEGER,
            version INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS records_by_time ON records_current(time);
        CREATE INDEX IF NOT EXISTS records_by_product ON records_current(product, time);
        CREATE INDEX IF NOT EXISTS records_by_batch ON records_current(batch, time);
        CREATE INDEX IF NOT EXISTS records_by_device ON records_current(device, time);
        CREATE INDEX IF NOT EXISTS records_by_factory ON records_current(factory, time);
        CREATE INDEX IF NOT EXISTS records_by_location ON records_current(location, time);
        CREATE INDEX IF NOT EXISTS records_by_operator ON records_current(operator, time);
        CREATE INDEX IF NOT EXISTS records_by_kind ON records_current(kind, time);
        CREATE TABLE IF NOT EXISTS records_versions(
            record INTEGER NOT NULL, version INTEGER NOT NULL, height INTEGER NOT NULL, tx INTEGER NOT NULL,
            offset INTEGER NOT NULL, length INTEGER NOT NULL, uploader INTEGER NOT NULL, changed TEXT, condition TEXT,
            PRIMARY KEY(record, version)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS records_blocks(height INTEGER PRIMARY KEY, committed_at INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS records_meta(key TEXT PRIMARY KEY, value BLOB NOT NULL);
        """

    /// The schema of the index in `db`: 0 for none, else `records_meta`'s `schema`, or 1 or 2 for the schemas before it kept one.
    private static func storedSchema(_ db: SQLiteConnection) throws(LedgerError) -> Int {
        let tables = try db.textRows("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('records_current', 'records_meta')")
        guard !tables.isEmpty else { return 0 }
        if tables.contains("records_meta") {
            let s = try db.statement("SELECT value FROM records_meta WHERE key = 'schema'")
            defer { s.reset() }
            if try s.step() { return int(s.blob(0)) }
        }
        return try db.textRows("SELECT name FROM pragma_table_info('records_current')").contains("body") ? 1 : 2
    }

    /// An index of another schema is dropped and derived again from the chain by the next
    /// ``catchUp(with:through:collectingChanges:)`` (it holds nothing the chain does not).
    private static func migrate(_ db: SQLiteConnection) throws(LedgerError) {
        let stored = try storedSchema(db)
        guard stored != schemaVersion else { return }
        try db.transaction { () throws(LedgerError) in
            for table in try db.textRows("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'records\\_%' ESCAPE '\\'") {
                try db.execute("DROP TABLE \"\(table)\"")
            }
            try db.execute(schema)
            let s = try db.statement("INSERT INTO records_meta(key, value) VALUES ('schema', ?1)")
            s.bind(1, bytes(UInt64(schemaVersion)))
            try s.run()
        }
    }

    /// Opens (creating the tables as needed) the index in the database at `path`, over `ledger`.
    /// - Parameters:
    ///   - path: Required. The index's database file (`DIR/records-index.sqlite`), or `:memory:` in tests.
    ///   - ledger: Required. The node's ledger: the index keeps where each record lies in it and reads the bytes
    ///     from it. ``catchUp(with:through:collectingChanges:)`` and ``rebuild(from:)`` take this same store.
    /// - Throws: `AppError` `.indexFailure` (5204).
    public init(path: String, ledger: LedgerStore) throws(AppError) {
        self.ledger = ledger
        do {
            writer = try SQLiteConnection(path: path, mode: .readWrite)
            try writer.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
            try Self.migrate(writer)
            try writer.execute(Self.schema)
            reader = path == ":memory:" ? writer : try SQLiteConnection(path: path, mode: .readOnly)
            committedHeight.store(try Self.storedHeight(writer), ordering: .releasing)
        } catch {
            throw Self.failure(error)
        }
    }

    static func failure(_ error: LedgerError) -> AppError {
        AppError(.indexFailure, "record index: \(error.message)", details: ["cause": String(error.numericCode)])
    }

    // MARK: Deriving from the chain

    /// The height indexed so far (0 for an empty index), read from the index file.
    /// - Throws: `AppError` `.indexFailure` (5204) when the index cannot be read (it used to answer 0 then, which
    ///   looked like an empty index rather than a failure).
    /// - Note: Waits for a catch-up in progress. Example: `let behind = head - (try index.indexedHeight)`.
    public var indexedHeight: UInt64 {
        get throws(AppError) {
            try writeLock.locked { () throws(AppError) -> UInt64 in
                do throws(LedgerError) { return try Self.storedHeight(writer) } catch { throw Self.failure(error) }
            }
        }
    }

    /// The height the last committed catch-up reached, without reading the file or waiting for a catch-up in
    /// progress (what ``indexedHeight`` would answer once the running catch-up's current chunk commits, or less).
    var knownHeight: UInt64 { committedHeight.load(ordering: .acquiring) }

    /// `records_meta`'s height on `db` (0 when none).
    private static func storedHeight(_ db: SQLiteConnection) throws(LedgerError) -> UInt64 {
        let s = try db.statement("SELECT value FROM records_meta WHERE key = 'height'")
        defer { s.reset() }
        return try s.step() ? UInt64(int(s.blob(0))) : 0
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

    /// The index locates records in one ledger; catching up from another would point into the wrong file.
    private func checkLedger(_ store: LedgerStore) throws(AppError) {
        guard store === ledger else {
            throw AppError(.indexFailure, "record index: catch-up from a ledger other than the one the index was opened over",
                           details: ["path": store.path ?? ":memory:"])
        }
    }

    /// Indexes every committed block after the indexed height, up to the
    /// store's head; rebuilds first when the chain no longer holds the block
    /// last indexed (a rollback). Returns the changes it indexed, in commit order.
    /// - Parameters:
    ///   - store: Required. The ledger the index was opened over (``init(path:ledger:)``).
    ///   - through: Optional, default the head: stop after this height.
    ///   - collectingChanges: Optional, default true. When false the index is brought up to date the same way but
    ///     no ``RecordChange`` is built (nobody listens; a change holds two versions of a record, and building them
    ///     for every record of a large batch was a sixth of the index's work).
    /// - Throws: `AppError` `.indexFailure` (5204); `.recordDamaged` (5205) when an update's previous version, read
    ///   back for its change, does not match the ledger.
    @discardableResult
    public func catchUp(with store: LedgerStore, through: UInt64? = nil, collectingChanges: Bool = true) throws(AppError) -> [RecordChange] {
        try checkLedger(store)
        return try writeLock.locked { () throws(AppError) -> [RecordChange] in
            do {
                guard let head = store.head?.height.rawValue else { return [] }
                let target = min(head, through ?? head)
                var from = (try meta("height")).map { UInt64(Self.int($0)) } ?? 0
                if from > 0 {
                    let hash = try meta("hash") ?? []
                    if try from > head || store.blockHash(atHeight: Height(from)).bytes != hash {
                        try writer.transaction { () throws(LedgerError) in try clear() }
                        from = 0
                    }
                }
                committedHeight.store(from, ordering: .releasing)
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
                        committedHeight.store(end, ordering: .releasing)
                    } catch {
                        // The rolled-back transaction may have added strings: forget every id learnt.
                        stringIDs.removeAll()
                        do { try writer.execute("ROLLBACK") } catch {}   // the first error is the one to report; SQLite may have rolled back already
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
    /// - Parameter store: Required. The ledger the index was opened over (``init(path:ledger:)``).
    /// - Throws: `AppError` `.indexFailure` (5204).
    /// - Returns: The number of record versions indexed.
    @discardableResult
    public func rebuild(from store: LedgerStore) throws(AppError) -> Int {
        try checkLedger(store)
        try writeLock.locked { () throws(AppError) in
            do throws(LedgerError) { try writer.transaction { () throws(LedgerError) in try clear() } } catch { throw Self.failure(error) }
            committedHeight.store(0, ordering: .releasing)
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

    /// Empties the index (the schema marker stays). Call inside a write transaction, holding `writeLock`.
    private func clear() throws(LedgerError) {
        stringIDs.removeAll()
        try writer.execute("""
            DELETE FROM records_current; DELETE FROM records_versions; DELETE FROM records_strings; DELETE FROM records_blocks;
            DELETE FROM records_meta WHERE key <> 'schema';
            """)
    }

    private func apply(height: UInt64, store: LedgerStore, collecting: Bool, into changes: inout [RecordChange]) throws {
        let (block, encoded, ranges) = try store.blockWithEncoding(atHeight: Height(height))
        guard block.transactions.contains(where: { $0.payload.kind == RecordsExecutor.kind }) else { return }
        let receipts = try store.receipts(atHeight: Height(height))
        let committedAt = RecordTime(millisecondsSince1970: block.header.timestamp.millisecondsSince1970)
        let statements = try writes()
        var blockRecorded = false
        for (i, tx) in block.transactions.enumerated() where tx.payload.kind == RecordsExecutor.kind {
            guard i < receipts.count, receipts[i].status == Receipt.success else { continue }
            let txID = receipts[i].transactionID
            let ops = try RecordOperation.operations(inBody: tx.payload.body)
            let txBytes = Array(encoded[ranges[i]])
            let recordRanges = try RecordLocation.recordRanges(inTransaction: txBytes)
            guard recordRanges.count == ops.count else {
                throw LedgerError(.indexMismatch, "height \(height), transaction \(i): \(recordRanges.count) record ranges for \(ops.count) operations",
                                  details: ["height": String(height), "transactionIndex": String(i)])
            }
            if !blockRecorded {
                statements.block.bind(1, height)
                statements.block.bind(2, committedAt.millisecondsSince1970)
                try statements.block.run()
                blockRecorded = true
            }
            if collecting { changes.reserveCapacity(changes.count + ops.count) }
            for (op, range) in zip(ops, recordRanges) {
                // The walk found the bytes the decoder read (a check on the walk, not on the chain).
                guard txBytes[range].elementsEqual(op.recordBytes) else {
                    throw LedgerError(.indexMismatch, "height \(height), transaction \(i): record '\(op.recordID)' is not at the offset found",
                                      details: ["height": String(height), "transactionIndex": String(i)])
                }
                let record = try ManufacturingRecord(canonicalEncoding: op.recordBytes)
                let location = RecordLocation(height: height, transactionIndex: i, offset: range.lowerBound, length: range.count)
                let before = collecting && op.version > 1 ? try currentLocked(op.recordID, connection: writer) : nil
                try insert(op, record: record, at: location, using: statements)
                if collecting {
                    let stored = StoredRecord(recordID: op.recordID, version: op.version, record: record, digest: op.digest, uploader: op.uploader,
                                              height: height, transactionID: txID, changedFields: op.changedFields,
                                              condition: op.condition.text, committedAt: committedAt)
                    changes.append(RecordChange(recordID: op.recordID, kind: record.kind, factoryUID: record.factoryUID, before: before, after: stored))
                }
            }
        }
    }

    /// The write statements, prepared (looked up in the connection's cache) once per block rather than per record.
    /// Plain INSERTs and a one-row UPDATE: an upsert, `OR REPLACE` or `RETURNING` made SQLite keep a statement
    /// journal per row, 20 times the index's own writes in system calls.
    private struct Writes {
        var create: SQLiteConnection.Statement
        var update: SQLiteConnection.Statement
        var lastRowID: SQLiteConnection.Statement
        var version: SQLiteConnection.Statement
        var block: SQLiteConnection.Statement
    }

    private func writes() throws(LedgerError) -> Writes {
        Writes(create: try writer.statement("""
            INSERT INTO records_current(kind, factory, time, product, batch, device, location, operator, version, record_id)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
            """), update: try writer.statement("""
            UPDATE records_current SET kind = ?1, factory = ?2, time = ?3, product = ?4, batch = ?5, device = ?6, location = ?7,
                operator = ?8, version = ?9 WHERE record_id = ?10
            """), lastRowID: try writer.statement("SELECT last_insert_rowid()"),
            version: try writer.statement("""
            INSERT INTO records_versions(record, version, height, tx, offset, length, uploader, changed, condition)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
            """), block: try writer.statement("INSERT INTO records_blocks(height, committed_at) VALUES (?1, ?2)"))
    }

    /// The id of `value` in `records_strings`, added when new. Holding `writeLock`, inside a write transaction.
    private func stringID(_ value: String) throws(LedgerError) -> Int64 {
        if let id = stringIDs[value] { return id }
        let find = try writer.statement("SELECT id FROM records_strings WHERE value = ?1")
        func found() throws(LedgerError) -> Int64? {
            find.bind(1, text: value)
            defer { find.reset() }
            return try find.step() ? find.int(0) : nil
        }
        var id = try found()
        if id == nil {
            let add = try writer.statement("INSERT INTO records_strings(value) VALUES (?1)")
            add.bind(1, text: value)
            try add.run()
            id = try found()
        }
        guard let id else { throw LedgerError(.sqlite, "record index: string not found after its insert", details: ["value": value]) }
        stringIDs[value] = id
        return id
    }

    /// The integer key of `recordID` in `records_current`.
    private func rowID(_ recordID: String) throws(LedgerError) -> Int64 {
        let s = try writer.statement("SELECT id FROM records_current WHERE record_id = ?1")
        s.bind(1, text: recordID)
        defer { s.reset() }
        guard try s.step() else {
            throw LedgerError(.sqlite, "record index: an update of record '\(recordID)', which is not indexed", details: ["recordID": recordID])
        }
        return s.int(0)
    }

    private func insert(_ op: RecordOperation, record rec: ManufacturingRecord, at location: RecordLocation, using statements: Writes) throws(LedgerError) {
        // A create adds the record's row; an update rewrites it (the filters may change) and keeps its key.
        let c = op.version == 1 ? statements.create : statements.update
        c.bind(1, try stringID(rec.kind.rawValue))
        c.bind(2, try stringID(rec.factoryUID))
        c.bind(3, rec.time.millisecondsSince1970)
        if let product = rec.productUID { c.bind(4, text: product) } else { c.bindNull(4) }
        for (i, value) in [rec.batchNumber, rec.deviceID, rec.location, rec.operatorID].enumerated() {
            if let value { c.bind(Int32(5 + i), try stringID(value)) } else { c.bindNull(Int32(5 + i)) }
        }
        c.bind(9, op.version)
        c.bind(10, text: op.recordID)
        try c.run()
        let id: Int64
        if op.version == 1 {
            let last = statements.lastRowID
            defer { last.reset() }
            guard try last.step() else { throw LedgerError(.sqlite, "record index: no row id after inserting '\(op.recordID)'") }
            id = last.int(0)
        } else {
            id = try rowID(op.recordID)
        }
        let v = statements.version
        v.bind(1, id)
        v.bind(2, op.version)
        v.bind(3, location.height)
        v.bind(4, location.transactionIndex)
        v.bind(5, location.offset)
        v.bind(6, location.length)
        v.bind(7, try stringID(op.uploader))
        if op.changedFields.isEmpty { v.bindNull(8) } else { v.bind(8, text: op.changedFields.joined(separator: ",")) }
        if case .none = op.condition { v.bindNull(9) } else { v.bind(9, text: op.condition.text) }
        try v.run()
    }

    // MARK: Reads

    /// A version as the index holds it: where its bytes are, and what the ledger does not say about it.
    private struct IndexedVersion {
        var recordID: String
        var version: UInt64
        var location: RecordLocation
        /// The uploader's id in `records_strings`; ``uploader`` is filled from it by ``complete(_:_:)``.
        var uploaderID: Int64
        var uploader = ""
        var changedFields: [String]
        var condition: String
        /// Filled from `records_blocks` by ``complete(_:_:)``.
        var committedAt = RecordTime(millisecondsSince1970: 0)
    }

    /// The columns of an ``IndexedVersion``, from `c` (`records_current`) and `v` (`records_versions`): ``versionRows``
    /// or ``currentRows``.
    private static let versionColumns = "c.record_id, v.version, v.height, v.tx, v.offset, v.length, v.uploader, v.changed, v.condition"
    /// Every version of every record. CROSS JOIN keeps SQLite's loop order: records first, so a filter index on
    /// `records_current` gives the order and the versions are primary-key lookups.
    private static let versionRows = "records_current c CROSS JOIN records_versions v ON v.record = c.id"
    /// The current versions: each `records_current` row with its version's row.
    private static let currentRows = "records_current c CROSS JOIN records_versions v ON v.record = c.id AND v.version = c.version"

    private static func row(_ s: SQLiteConnection.Statement) -> IndexedVersion {
        let changed = s.isNull(7) ? "" : s.text(7)
        return IndexedVersion(recordID: s.text(0), version: s.uint(1),
                              location: RecordLocation(height: s.uint(2), transactionIndex: Int(s.int(3)), offset: Int(s.int(4)), length: Int(s.int(5))),
                              uploaderID: s.int(6), changedFields: changed.isEmpty ? [] : changed.split(separator: ",").map(String.init),
                              condition: s.isNull(8) ? "" : s.text(8))
    }

    /// Fills each row's uploader name and commit time, looking up each distinct uploader and height once (a page's
    /// rows share a few of each; joining them per row was a fifth of a page's index work).
    private static func complete(_ rows: inout [IndexedVersion], _ db: SQLiteConnection) throws(LedgerError) {
        guard !rows.isEmpty else { return }
        let names = try db.statement("SELECT value FROM records_strings WHERE id = ?1")
        let blocks = try db.statement("SELECT committed_at FROM records_blocks WHERE height = ?1")
        var uploaders = [Int64: String](), times = [UInt64: RecordTime]()
        for i in rows.indices {
            let id = rows[i].uploaderID, height = rows[i].location.height
            if uploaders[id] == nil {
                names.bind(1, id)
                defer { names.reset() }
                guard try names.step() else {
                    throw LedgerError(.sqlite, "record index: uploader \(id) of '\(rows[i].recordID)' is not in records_strings", details: ["recordID": rows[i].recordID])
                }
                uploaders[id] = names.text(0)
            }
            if times[height] == nil {
                blocks.bind(1, height)
                defer { blocks.reset() }
                guard try blocks.step() else {
                    throw LedgerError(.sqlite, "record index: height \(height) of '\(rows[i].recordID)' is not in records_blocks", details: ["recordID": rows[i].recordID])
                }
                times[height] = RecordTime(millisecondsSince1970: blocks.uint(0))
            }
            rows[i].uploader = uploaders[id] ?? ""
            rows[i].committedAt = times[height] ?? RecordTime(millisecondsSince1970: 0)
        }
    }

    /// The error for a version whose bytes in the ledger are not what the index says they are.
    private static func damaged(_ row: IndexedVersion, _ why: String, cause: LedgerError? = nil) -> AppError {
        var details = ["recordID": row.recordID, "version": String(row.version), "height": String(row.location.height),
                       "transactionIndex": String(row.location.transactionIndex)]
        if let cause { details["cause"] = String(cause.numericCode) }
        return AppError(.recordDamaged, "record '\(row.recordID)' version \(row.version) at height \(row.location.height), transaction "
                        + "\(row.location.transactionIndex): \(why)", details: details)
    }

    /// Reads the versions' bytes from the ledger (one snapshot) and checks each: the record bytes hash to the digest
    /// item stored right after them, decode, and carry the indexed record ID.
    /// - Throws: `AppError` `.recordDamaged` (5205), `.indexFailure` (5204) for any other ledger failure.
    private func resolve(_ rows: [IndexedVersion]) throws(AppError) -> [StoredRecord] {
        let read: [(transactionID: Digest, bytes: [UInt8])]
        do {
            read = try ledger.read(rows.map { $0.location.slice })
        } catch where error.code == .indexMismatch {
            // Name the version concerned: the one whose transaction the error names, else the first.
            let row = rows.first { String($0.location.height) == error.details["height"]
                && String($0.location.transactionIndex) == error.details["transactionIndex"] } ?? rows[0]
            throw Self.damaged(row, error.message, cause: error)
        } catch {
            throw Self.failure(error)
        }
        let algorithm = ledger.hashAlgorithm
        var out = [StoredRecord]()
        out.reserveCapacity(rows.count)
        for (row, found) in zip(rows, read) {
            let n = row.location.length
            let bytes = found.bytes
            guard bytes.count == n + RecordLocation.digestItemBytes, bytes[n] == 0xa0 else {
                throw Self.damaged(row, "no digest follows the record bytes")
            }
            let digest = bytes.withUnsafeBytes { Digest(unsafeRaw: $0.baseAddress! + n + 1) }
            let recordBytes = Array(bytes[0..<n])
            guard algorithm.hash(recordBytes) == digest else {
                throw Self.damaged(row, "the record bytes do not hash to the digest stored with them")
            }
            let record: ManufacturingRecord
            do { record = try ManufacturingRecord(canonicalEncoding: recordBytes) } catch {
                throw Self.damaged(row, "the record bytes do not decode: \(error.message)")
            }
            guard record.recordID == row.recordID else {
                throw Self.damaged(row, "the bytes hold record '\(record.recordID)'")
            }
            out.append(StoredRecord(recordID: row.recordID, version: row.version, record: record, digest: digest, uploader: row.uploader,
                                    height: row.location.height, transactionID: found.transactionID, changedFields: row.changedFields,
                                    condition: row.condition, committedAt: row.committedAt))
        }
        return out
    }

    private func currentLocked(_ recordID: String, connection db: SQLiteConnection) throws(AppError) -> StoredRecord? {
        let row: IndexedVersion?
        do throws(LedgerError) {
            let s = try db.statement("SELECT \(Self.versionColumns) FROM \(Self.currentRows) WHERE c.record_id = ?1")
            s.bind(1, text: recordID)
            var rows = try s.step() ? [Self.row(s)] : []
            s.reset()
            try Self.complete(&rows, db)
            row = rows.first
        } catch {
            throw Self.failure(error)
        }
        guard let row else { return nil }
        return try resolve([row]).first
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

    /// The index rows `sql` selects (``versionColumns`` first), read under the reader's lock; the ledger is read after.
    /// - Parameter limit: Optional. Stop once more than `limit` rows are read and the row after them has another
    ///   time than row `limit` (column 9, a page's `c.time`): the rows kept then include every record that shares a
    ///   time with the last one a page can hold. Their times are returned beside them.
    /// - Parameter withHeight: Optional, default false. Also read the indexed height, in one read transaction with
    ///   the rows (so the height is the one the rows were indexed at); 0 when false.
    private func versions(_ sql: String, bind: (SQLiteConnection.Statement) -> Void, limit: Int? = nil,
                          withHeight: Bool = false) throws(AppError) -> (rows: [IndexedVersion], times: [UInt64], height: UInt64) {
        try read { db in
            func readRows() throws(LedgerError) -> (rows: [IndexedVersion], times: [UInt64], height: UInt64) {
                let height = withHeight ? try Self.storedHeight(db) : 0
                let s = try db.statement(sql)
                defer { s.reset() }
                bind(s)
                var rows = [IndexedVersion](), times = [UInt64]()
                while try s.step() {
                    if let limit {
                        let time = s.uint(9)
                        if rows.count > limit, time != times[limit] { break }
                        times.append(time)
                    }
                    rows.append(Self.row(s))
                }
                s.reset()
                try Self.complete(&rows, db)
                return (rows, times, height)
            }
            return withHeight ? try db.transaction(immediate: false, readRows) : try readRows()
        }
    }

    /// The current version of a record, or nil.
    /// - Throws: `AppError` `.indexFailure` (5204), `.recordDamaged` (5205).
    public func current(_ recordID: String) throws(AppError) -> StoredRecord? {
        let rows = try versions("SELECT \(Self.versionColumns) FROM \(Self.currentRows) WHERE c.record_id = ?1", bind: { $0.bind(1, text: recordID) }).rows
        return try resolve(rows).first
    }

    /// Which of `recordIDs` are indexed already.
    /// - Throws: `AppError` `.indexFailure` (5204).
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

    /// The digest each of `recordIDs` was created with (version 1), for those indexed already, read from the ledger.
    /// - Throws: `AppError` `.indexFailure` (5204), `.recordDamaged` (5205).
    public func creationDigests(_ recordIDs: [String]) throws(AppError) -> [String: Digest] {
        let rows = try read { db in
            let s = try db.statement("SELECT \(Self.versionColumns) FROM \(Self.versionRows) WHERE c.record_id = ?1 AND v.version = 1")
            var rows = [IndexedVersion]()
            for id in recordIDs {
                s.bind(1, text: id)
                if try s.step() { rows.append(Self.row(s)) }
                s.reset()
            }
            try Self.complete(&rows, db)
            return rows
        }
        var found = [String: Digest]()
        for stored in try resolve(rows) { found[stored.recordID] = stored.digest }
        return found
    }

    /// Every version of a record, oldest first (empty when unknown).
    /// - Throws: `AppError` `.indexFailure` (5204), `.recordDamaged` (5205).
    public func history(_ recordID: String) throws(AppError) -> [StoredRecord] {
        let rows = try versions("SELECT \(Self.versionColumns) FROM \(Self.versionRows) WHERE c.record_id = ?1 ORDER BY v.version",
                                bind: { $0.bind(1, text: recordID) }).rows
        return try resolve(rows)
    }

    /// The column names of one of the index's tables (for schema tests).
    package func tableColumnsForTesting(_ table: String) throws(AppError) -> [String] {
        try read { db in try db.textRows("SELECT name FROM pragma_table_info('\(table)')") }
    }

    /// Where the index says version `version` of `recordID` lies in the ledger: height, transaction index, and the
    /// byte range of the record inside the transaction's encoding (for tests that damage the ledger under it).
    package func locationForTesting(_ recordID: String, version: UInt64) throws(AppError) -> (height: UInt64, transactionIndex: Int, bytes: Range<Int>)? {
        let rows = try versions("SELECT \(Self.versionColumns) FROM \(Self.versionRows) WHERE c.record_id = ?1 AND v.version = ?2", bind: {
            $0.bind(1, text: recordID)
            $0.bind(2, version)
        }).rows
        return rows.first.map { ($0.location.height, $0.location.transactionIndex, $0.location.offset..<($0.location.offset + $0.location.length)) }
    }

    /// The number of records (current versions) indexed.
    /// - Throws: `AppError` `.indexFailure` (5204).
    public func count() throws(AppError) -> Int {
        try read { db in Int(try db.scalarInt("SELECT count(*) FROM records_current") ?? 0) }
    }

    /// The SQL and bindings of a query page (exposed for `EXPLAIN QUERY PLAN` in tests). Filter values are strings
    /// looked up in `records_strings` by a scalar subquery (SQLite evaluates it once, then searches the filter's index).
    package func sql(for query: RecordQuery, factories: [String]?, kinds: [RecordKind]?) throws(AppError) -> (sql: String, bindings: [String]) {
        var clauses = [String](), bindings = [String]()
        func bind(_ value: String) -> String {
            bindings.append(value)
            return "?\(bindings.count)"
        }
        func coded(_ column: String, _ value: String?) {
            guard let value else { return }
            clauses.append("\(column) = (SELECT id FROM records_strings WHERE value = \(bind(value)))")
        }
        if let product = query.productUID { clauses.append("c.product = \(bind(product))") }
        coded("c.batch", query.batchNumber)
        coded("c.device", query.deviceID)
        coded("c.location", query.location)
        coded("c.operator", query.operatorID)
        coded("c.factory", query.factoryUID)
        coded("c.kind", query.kind?.rawValue)
        if let from = query.from { clauses.append("c.time >= CAST(\(bind(String(from.millisecondsSince1970))) AS INTEGER)") }
        if let to = query.to { clauses.append("c.time < CAST(\(bind(String(to.millisecondsSince1970))) AS INTEGER)") }
        if query.factoryUID == nil, let factories {
            clauses.append("c.factory IN (SELECT id FROM records_strings WHERE value IN (\(factories.map(bind).joined(separator: ","))))")
        }
        if query.kind == nil, let kinds {
            clauses.append("c.kind IN (SELECT id FROM records_strings WHERE value IN (\(kinds.map { bind($0.rawValue) }.joined(separator: ","))))")
        }
        let asc = query.order == .timeAscending
        if let cursor = query.cursor {
            let (time, id) = try Self.decodeCursor(cursor, query: query)
            let t = bind(String(time)), r = bind(id)
            // Keyset on (time, record_id), spelt so that the time bound is a range on the filter's index.
            clauses.append(asc ? "c.time >= CAST(\(t) AS INTEGER) AND (c.time > CAST(\(t) AS INTEGER) OR c.record_id > \(r))"
                               : "c.time <= CAST(\(t) AS INTEGER) AND (c.time < CAST(\(t) AS INTEGER) OR c.record_id < \(r))")
        }
        // The filter's index delivers rows in time order; ``page(_:factories:kinds:)`` steps until the page and the
        // records sharing its last time are read, and orders those ties by record ID itself.
        let sql = "SELECT \(Self.versionColumns), c.time FROM \(Self.currentRows)" + (clauses.isEmpty ? "" : " WHERE " + clauses.joined(separator: " AND "))
            + " ORDER BY c.time \(asc ? "ASC" : "DESC")"
        return (sql, bindings)
    }

    /// One page of current records matching `query`, restricted to
    /// `factories` and `kinds` (nil: no restriction), as the index holds them now: it does not catch up first.
    /// The page's ``RecordPage/indexedHeight`` is the height its rows were read at and
    /// ``RecordPage/headHeight`` the ledger's head just before; ``RecordPage/behind`` says how many committed
    /// blocks the page does not reflect.
    /// - Throws: `AppError` `.invalidQuery` (5201), `.invalidCursor` (5202), `.indexFailure` (5204), `.recordDamaged` (5205).
    public func page(_ query: RecordQuery, factories: [String]? = nil, kinds: [RecordKind]? = nil) throws(AppError) -> RecordPage {
        try page(query, factories: factories, kinds: kinds, headHeight: ledger.head?.height.rawValue ?? 0)
    }

    /// ``page(_:factories:kinds:)`` reporting `headHeight` as the ledger's head (the one a caller caught up to).
    func page(_ query: RecordQuery, factories: [String]?, kinds: [RecordKind]?, headHeight: UInt64) throws(AppError) -> RecordPage {
        try query.validate()
        let (sql, bindings) = try sql(for: query, factories: factories, kinds: kinds)
        let found = try versions(sql, bind: { s in
            for (i, b) in bindings.enumerated() { s.bind(Int32(i + 1), text: b) }
        }, limit: query.limit, withHeight: true)
        var rows = found.rows
        let times = found.times
        Self.orderTies(&rows, times: times, ascending: query.order == .timeAscending)
        var next: String?
        if rows.count > query.limit {
            rows.removeSubrange(query.limit...)
            next = Self.encodeCursor(time: times[query.limit - 1], id: rows[query.limit - 1].recordID, query: query)
        }
        return RecordPage(records: try resolve(rows), nextCursor: next, indexedHeight: found.height, headHeight: headHeight)
    }

    /// Orders each run of rows that share a time (`times`, parallel to `rows`, already in time order) by record ID:
    /// the second key of a page's order. The filter's index gives the time order; records sharing one time are few,
    /// and sorting them here costs less than SQLite's sorter did for every row.
    private static func orderTies(_ rows: inout [IndexedVersion], times: [UInt64], ascending: Bool) {
        var start = 0
        while start < rows.count {
            var end = start + 1
            while end < rows.count, times[end] == times[start] { end += 1 }
            if end - start > 1 {
                rows[start..<end].sort { ascending ? $0.recordID < $1.recordID : $0.recordID > $1.recordID }
            }
            start = end
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

import CSQLite
import LedgerCrypto

/// One SQLite connection: owns the `sqlite3*` handle, caches prepared
/// statements, and runs closures inside a transaction.
///
/// Not `Sendable`: a connection is used by one thread at a time. The store
/// keeps its writer behind a lock and hands each reader its own connection.
package final class SQLiteConnection {
    package let handle: OpaquePointer
    package let path: String
    private var cache: [String: Statement] = [:]

    /// How a connection is opened.
    package enum Mode { case readWrite, readOnly }

    /// Opens (creating when `mode` is `.readWrite`) the database at `path`;
    /// `:memory:` opens a private in-memory database.
    package init(path: String, mode: Mode) throws(LedgerError) {
        var db: OpaquePointer?
        var flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI
        flags |= mode == .readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let db { sqlite3_close_v2(db) }
            throw SQLiteConnection.error(rc, message: "cannot open \(path): \(message)", sql: nil)
        }
        handle = db
        self.path = path
        sqlite3_extended_result_codes(db, 1)
        // A writer and a checkpointing reader may briefly contend; wait rather than fail.
        sqlite3_busy_timeout(db, 5_000)
    }

    deinit {
        cache.removeAll()   // finalize statements before closing
        sqlite3_close_v2(handle)
    }

    /// Maps an SQLite result code to a `LedgerError`: corruption codes to
    /// `.storeCorrupted`, everything else to `.sqlite`.
    package static func error(_ rc: Int32, message: String, sql: String?) -> LedgerError {
        var details = ["sqlite": String(rc)]
        if let sql { details["sql"] = sql }
        switch rc & 0xff {
        case SQLITE_CORRUPT, SQLITE_NOTADB:
            return LedgerError(.storeCorrupted, "database file is damaged: \(message)", details: details)
        default:
            return LedgerError(.sqlite, "SQLite error \(rc): \(message)", details: details)
        }
    }

    package func error(_ rc: Int32, sql: String?) -> LedgerError {
        Self.error(rc, message: String(cString: sqlite3_errmsg(handle)), sql: sql)
    }

    /// Runs one or more statements without results.
    package func execute(_ sql: String) throws(LedgerError) {
        let rc = sqlite3_exec(handle, sql, nil, nil, nil)
        guard rc == SQLITE_OK else { throw error(rc, sql: sql) }
    }

    /// A cached prepared statement for `sql`, reset and with bindings cleared.
    package func statement(_ sql: String) throws(LedgerError) -> Statement {
        if let s = cache[sql] {
            s.reset()
            return s
        }
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw error(rc, sql: sql) }
        let s = Statement(stmt, connection: self, sql: sql)
        cache[sql] = s
        return s
    }

    /// Runs `body` inside `BEGIN IMMEDIATE ... COMMIT` (or `BEGIN DEFERRED`
    /// for reads); rolls back if `body` throws.
    package func transaction<R>(immediate: Bool = true, _ body: () throws(LedgerError) -> R) throws(LedgerError) -> R {
        try execute(immediate ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED")
        do {
            let r = try body()
            try execute("COMMIT")
            return r
        } catch {
            _ = sqlite3_exec(handle, "ROLLBACK", nil, nil, nil)
            throw error
        }
    }

    /// The first column of the first row of `sql` as an integer (nil when no row).
    /// The rowid of the last row this connection inserted.
    package var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    package func scalarInt(_ sql: String) throws(LedgerError) -> Int64? {
        let s = try statement(sql)
        defer { s.reset() }
        guard try s.step() else { return nil }
        return s.isNull(0) ? nil : s.int(0)
    }

    /// Every row's first column as text (for pragmas that report lines).
    package func textRows(_ sql: String) throws(LedgerError) -> [String] {
        let s = try statement(sql)
        defer { s.reset() }
        var out = [String]()
        while try s.step() { out.append(s.text(0)) }
        return out
    }

    package var changes: Int { Int(sqlite3_changes(handle)) }

    /// A prepared statement. Column and parameter indexes: columns from 0,
    /// parameters from 1, as in the C API.
    package final class Statement {
        package let stmt: OpaquePointer
        unowned let connection: SQLiteConnection
        package let sql: String

        package init(_ stmt: OpaquePointer, connection: SQLiteConnection, sql: String) {
            self.stmt = stmt
            self.connection = connection
            self.sql = sql
        }

        deinit { sqlite3_finalize(stmt) }

        package func reset() {
            sqlite3_reset(stmt)
            sqlite3_clear_bindings(stmt)
        }

        package func bind(_ i: Int32, _ v: Int64) { sqlite3_bind_int64(stmt, i, v) }
        package func bind(_ i: Int32, _ v: UInt64) { sqlite3_bind_int64(stmt, i, Int64(bitPattern: v)) }
        package func bind(_ i: Int32, _ v: Int) { sqlite3_bind_int64(stmt, i, Int64(v)) }
        package func bindNull(_ i: Int32) { sqlite3_bind_null(stmt, i) }
        package func bind(_ i: Int32, text v: String) { sqlite3_bind_text(stmt, i, v, -1, forgechain_sqlite_transient()) }

        /// Binds a blob, copying it (SQLITE_TRANSIENT).
        package func bind(_ i: Int32, _ v: [UInt8]) {
            _ = v.withUnsafeBytes { p in
                // A zero-length blob must still be a blob, not NULL.
                sqlite3_bind_blob(stmt, i, p.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(p.count), forgechain_sqlite_transient())
            }
        }

        /// Binds raw bytes that stay valid until the statement is stepped
        /// and reset (SQLITE_STATIC: no copy).
        package func bindStatic(_ i: Int32, _ p: UnsafeRawBufferPointer) {
            sqlite3_bind_blob(stmt, i, p.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(p.count), forgechain_sqlite_static())
        }

        package func bind(_ i: Int32, _ d: Digest) {
            _ = d.withUnsafeBytes { p in
                sqlite3_bind_blob(stmt, i, p.baseAddress, 32, forgechain_sqlite_transient())
            }
        }

        /// Binds the first 8 bytes of `d`: the tag a state-tree node row is found by.
        package func bindTag(_ i: Int32, _ d: Digest) {
            _ = d.withUnsafeBytes { p in
                sqlite3_bind_blob(stmt, i, p.baseAddress, 8, forgechain_sqlite_transient())
            }
        }

        /// Steps once: true when a row is ready, false when done.
        @discardableResult
        package func step() throws(LedgerError) -> Bool {
            let rc = sqlite3_step(stmt)
            switch rc {
            case SQLITE_ROW: return true
            case SQLITE_DONE: return false
            default:
                let e = connection.error(rc, sql: sql)
                sqlite3_reset(stmt)
                throw e
            }
        }

        /// Binds `bytes` at `i` without copying (SQLITE_STATIC), steps once
        /// (a statement without rows) and resets.
        package func run(binding bytes: [UInt8], at i: Int32) throws(LedgerError) {
            let rc = bytes.withUnsafeBytes { p -> Int32 in
                bindStatic(i, p)
                let rc = sqlite3_step(stmt)
                sqlite3_reset(stmt)
                return rc
            }
            guard rc == SQLITE_DONE || rc == SQLITE_ROW else { throw connection.error(rc, sql: sql) }
        }

        /// Steps a statement that returns no rows, then resets it.
        package func run() throws(LedgerError) {
            defer { sqlite3_reset(stmt) }
            try step()
        }

        package func isNull(_ c: Int32) -> Bool { sqlite3_column_type(stmt, c) == SQLITE_NULL }
        package func int(_ c: Int32) -> Int64 { sqlite3_column_int64(stmt, c) }
        package func uint(_ c: Int32) -> UInt64 { UInt64(bitPattern: sqlite3_column_int64(stmt, c)) }
        package func text(_ c: Int32) -> String {
            guard let p = sqlite3_column_text(stmt, c) else { return "" }
            return String(cString: p)
        }
        package func blob(_ c: Int32) -> [UInt8] {
            let n = Int(sqlite3_column_bytes(stmt, c))
            guard n > 0, let p = sqlite3_column_blob(stmt, c) else { return [] }
            return Array(UnsafeRawBufferPointer(start: p, count: n))
        }
        /// A 32-byte column as a digest; nil when it is not 32 bytes.
        package func digest(_ c: Int32) -> Digest? {
            let n = Int(sqlite3_column_bytes(stmt, c))
            guard n == 32, let p = sqlite3_column_blob(stmt, c) else { return nil }
            return Digest(unsafeRaw: p)
        }
    }
}

import LedgerCrypto
import LedgerModel

// Ledger store errors (15xx). Every error that concerns a block carries its
// height in `details["height"]` and names it in the message.
extension LedgerError.Code {
    /// The database file is damaged: SQLite reported SQLITE_CORRUPT or SQLITE_NOTADB, `PRAGMA quick_check`/`integrity_check` failed, or a stored row does not decode. `details["height"]` names the block when one is concerned.
    public static let storeCorrupted = Self(rawValue: 1501)
    /// The database file is shorter than its header says (it was truncated) or is not a whole number of pages.
    public static let truncatedFile = Self(rawValue: 1502)
    /// No block is stored at the requested height (above the head, or the store is empty).
    public static let heightNotFound = Self(rawValue: 1503)
    /// An appended block's height is not the store's head height + 1 (0 for an empty store).
    public static let heightGap = Self(rawValue: 1504)
    /// An appended block's parent hash is not the hash of the store's head block (a fork).
    public static let parentNotHead = Self(rawValue: 1505)
    /// A stored block's header no longer hashes to its recorded hash (its bytes were altered).
    public static let blockHashMismatch = Self(rawValue: 1506)
    /// A block between genesis and the recorded head is missing from the store.
    public static let missingBlock = Self(rawValue: 1507)
    /// A schema migration failed or the database was written by a newer schema version.
    public static let migrationFailed = Self(rawValue: 1508)
    /// An online backup or a restore could not be completed; `details["sqlite"]` has the SQLite code.
    public static let backupFailed = Self(rawValue: 1509)
    /// Any other SQLite failure; `details["sqlite"]` is the extended result code, `details["sql"]` the statement.
    public static let sqlite = Self(rawValue: 1510)
    /// The receipts handed to append do not match the block: wrong count, or their root differs from the header's receipt root.
    public static let receiptRootMismatch = Self(rawValue: 1511)
    /// A stored block's transaction, receipt or state root does not match what is stored with it (`details["root"]`).
    public static let storedRootMismatch = Self(rawValue: 1512)
    /// A stored block's parent hash is not the hash of the stored block below it.
    public static let brokenParentLink = Self(rawValue: 1513)
    /// The state root computed from a block's state changes differs from the header's state root.
    public static let stateRootMismatch = Self(rawValue: 1514)
    /// The transaction index or receipts of a stored block do not match its transactions (a row was deleted or altered).
    public static let indexMismatch = Self(rawValue: 1515)
    /// A write was attempted on a store opened read-only.
    public static let readOnlyStore = Self(rawValue: 1516)
    /// The store was created with another hash algorithm than the one it is opened with.
    public static let configurationMismatch = Self(rawValue: 1517)
    /// State at the requested height is not retained, or the state tree node a proof needs is missing.
    public static let stateNotRetained = Self(rawValue: 1518)
    /// The store path names a folder, not a database file; `details["path"]` names it, and `details["storeFile"]` the `ledger.sqlite` inside it when there is one.
    public static let storePathIsFolder = Self(rawValue: 1519)
    /// The store is open for writing elsewhere: another `LedgerStore` (in another process or in this one) holds the exclusive lock on `<store file>.lock`. `details["path"]` names the store, `details["lockFile"]` the lock file, `details["pid"]` the holder when it is readable, `details["errno"]` the system error when the lock file could not be opened or locked at all. Nothing was read or written.
    public static let storeLocked = Self(rawValue: 1520)
    /// A write (`append`, `rollback`, `saveConsensusState`) was attempted on a store after its `close()`; reads keep working.
    public static let storeClosed = Self(rawValue: 1521)
}

extension LedgerError {
    /// An error about the block at `height`: the message names it and
    /// `details["height"]` carries it.
    static func store(_ code: Code, height: Height?, _ message: String, details: [String: String] = [:]) -> LedgerError {
        var d = details
        var m = message
        if let height {
            d["height"] = height.description
            m = "height \(height): " + message
        }
        return LedgerError(code, m, details: d)
    }
}

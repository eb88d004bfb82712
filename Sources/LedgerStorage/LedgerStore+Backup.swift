import CSQLite
import Foundation
import LedgerCrypto
import LedgerModel

/// `close(2)`; inside `LedgerStore` the name means ``LedgerStore/close()``.
private func closeDescriptor(_ fd: Int32) { _ = close(fd) }

/// What one backup produced.
public struct BackupInfo: Hashable, Sendable {
    /// The backup file.
    public var path: String
    /// The head height the backup holds (nil for an empty store).
    public var height: Height?
    /// File size in bytes.
    public var bytes: Int
}

extension LedgerStore {
    /// Takes an online backup with SQLite's backup API while the node keeps
    /// appending.
    ///
    /// The copy runs on its own connection inside one read transaction, so
    /// it is one consistent snapshot (a whole number of blocks) and the
    /// writer is never blocked (WAL). Pages are copied `pagesPerStep` at a
    /// time; the backup is written to `path + ".partial"`, fsynced, switched
    /// to a single-file journal mode, and renamed into place, so a crash
    /// never leaves a half-written file under `path`.
    /// - Parameters:
    ///   - path: Required. The destination file; replaced if it exists. Its directory must exist.
    ///   - pagesPerStep: Optional, default 1024, range `1...`.
    /// - Returns: The file, the height it holds, and its size.
    /// - Throws: `LedgerError` `.backupFailed` (1509) with the SQLite code in
    ///   `details["sqlite"]`; an in-memory store cannot be backed up to a file
    ///   by this method (`.backupFailed`).
    /// - Note: Thread-safe; no timeout (time grows with the file size).
    ///   Example: `let info = try store.backup(to: "/backups/ledger-100.sqlite")`.
    @discardableResult
    public func backup(to path: String, pagesPerStep: Int = 1024) throws(LedgerError) -> BackupInfo {
        guard self.path != nil else {
            throw LedgerError(.backupFailed, "an in-memory store has no file to back up")
        }
        let partial = path + ".partial"
        Self.removeDatabaseFiles(partial)
        let height = try read { (source) throws(LedgerError) -> Height? in
            // `read` holds a read transaction on `source`: the backup copies that snapshot.
            let head = try Self.loadHead(source)?.height
            try Self.copyDatabase(from: source, toPath: partial, pagesPerStep: pagesPerStep)
            return head
        }
        return try Self.finishBackupFile(partial: partial, path: path, height: height)
    }

    /// Copies `source` (a connection, inside its current transaction if any)
    /// to a new file at `path` with the backup API.
    package static func copyDatabase(from source: SQLiteConnection, toPath path: String, pagesPerStep: Int) throws(LedgerError) {
        let destination: SQLiteConnection
        do { destination = try SQLiteConnection(path: path, mode: .readWrite) } catch {
            throw LedgerError(.backupFailed, "cannot create backup file \(path): \(error.message)", details: error.details)
        }
        guard let backup = sqlite3_backup_init(destination.handle, "main", source.handle, "main") else {
            throw LedgerError(.backupFailed, "backup could not start: \(String(cString: sqlite3_errmsg(destination.handle)))",
                              details: ["sqlite": String(sqlite3_errcode(destination.handle))])
        }
        var rc: Int32
        repeat {
            rc = sqlite3_backup_step(backup, Int32(max(1, pagesPerStep)))
            if rc == SQLITE_BUSY || rc == SQLITE_LOCKED { usleep(1_000) }
        } while rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED
        let finish = sqlite3_backup_finish(backup)
        guard rc == SQLITE_DONE, finish == SQLITE_OK else {
            throw LedgerError(.backupFailed, "backup to \(path) failed: \(String(cString: sqlite3_errmsg(destination.handle)))",
                              details: ["sqlite": String(rc == SQLITE_DONE ? finish : rc), "path": path])
        }
        do {
            // A single file that opens read-only anywhere: leave WAL mode.
            _ = try destination.textRows("PRAGMA journal_mode = DELETE")
        } catch {
            throw LedgerError(.backupFailed, "backup \(path): \(error.message)", details: error.details)
        }
    }

    static func finishBackupFile(partial: String, path: String, height: Height?) throws(LedgerError) -> BackupInfo {
        let fd = open(partial, O_RDONLY)
        if fd >= 0 { fsync(fd); closeDescriptor(fd) }
        removeDatabaseFiles(path)
        guard rename(partial, path) == 0 else {
            throw LedgerError(.backupFailed, "cannot move backup into place at \(path): errno \(errno)", details: ["path": path])
        }
        let dir = (path as NSString).deletingLastPathComponent
        let dfd = open(dir.isEmpty ? "." : dir, O_RDONLY)
        if dfd >= 0 { fsync(dfd); closeDescriptor(dfd) }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
        return BackupInfo(path: path, height: height, bytes: size)
    }

    static func removeDatabaseFiles(_ path: String) {
        for suffix in ["", "-wal", "-shm", "-journal"] { unlink(path + suffix) }
    }

    /// Opens a backup read-only and runs the full integrity check on it, as
    /// on a live store.
    /// - Parameter path: Required. A backup file (or any store file).
    /// - Returns: The report of the full check.
    /// - Throws: The same typed errors as ``checkIntegrity(_:progress:)`` and
    ///   ``init(path:configuration:)``: `.truncatedFile` (1502),
    ///   `.storeCorrupted` (1501), `.missingBlock` (1507), ...
    /// - Note: Thread-safe; never writes to the file. Example:
    ///   `try LedgerStore.verifyBackup(at: "/backups/ledger-100.sqlite")`.
    @discardableResult
    public static func verifyBackup(at path: String) throws(LedgerError) -> IntegrityReport {
        let store = try LedgerStore(path: path, configuration: .init(readOnly: true, quickCheckBlocks: 0, sqliteQuickCheckOnOpen: false))
        return try store.checkIntegrity(.full)
    }

    /// Restores a backup to `path`: takes the store lock of `path`, verifies
    /// the backup (full check), copies it next to `path`, switches the copy to
    /// WAL, renames it into place, and opens it (still under the lock) for the check.
    /// - Parameters:
    ///   - backupPath: Required. A file written by ``backup(to:pagesPerStep:)``.
    ///   - path: Required. The store file to (re)create; an existing store
    ///     there (with its `-wal`/`-shm`) is replaced.
    /// - Returns: The report of the check of the restored store.
    /// - Throws: `.storeLocked` (1520) at once when a store opened for writing
    ///   (a live node's, in any process) holds `path`: nothing is replaced then.
    ///   The backup's integrity errors (nothing is replaced then), `.backupFailed` (1509).
    /// - Note: Safe to call while a node has `path` open: it fails with `.storeLocked`
    ///   instead of replacing the file under it. Example:
    ///   `try LedgerStore.restore(backup: "/backups/ledger-100.sqlite", to: dataPath)`.
    @discardableResult
    public static func restore(backup backupPath: String, to path: String) throws(LedgerError) -> IntegrityReport {
        let lock = try StoreLock.acquire(storePath: path)
        defer { lock.release() }
        try verifyBackup(at: backupPath)
        let staging = path + ".restoring"
        removeDatabaseFiles(staging)
        let source = try SQLiteConnection(path: backupPath, mode: .readOnly)
        try copyDatabase(from: source, toPath: staging, pagesPerStep: 4096)
        do {
            let c = try SQLiteConnection(path: staging, mode: .readWrite)
            _ = try c.textRows("PRAGMA journal_mode = WAL")
        } catch {
            throw LedgerError(.backupFailed, "restore staging \(staging): \(error.message)", details: error.details)
        }
        _ = try finishBackupFile(partial: staging, path: path, height: nil)
        let restored = try LedgerStore(path: path, configuration: .init(), heldLock: lock)
        defer { restored.close() }
        return try restored.checkIntegrity(.full)
    }
}

/// When to take backups and how many to keep.
public struct BackupSchedule: Hashable, Sendable {
    /// Optional (nil: no block trigger). Back up after this many blocks, range `1...`.
    public var everyBlocks: UInt64?
    /// Optional (nil: no time trigger). Back up when this many seconds passed, range `> 0`.
    public var everySeconds: Double?
    /// Required, range `1...`. Backups kept; older ones are deleted.
    public var keep: Int
    /// Required. The folder backups are written to (`ledger-<height>.sqlite`).
    public var directory: String

    /// - Parameters:
    ///   - everyBlocks: Optional, default nil. Back up when this many blocks were appended since the last backup; at least 1.
    ///   - everySeconds: Optional, default nil. Back up when this many seconds passed and there are new blocks.
    ///   - keep: Required. Backup files to keep, at least 1; older ones are deleted.
    ///   - directory: Required. Where the files go; created when missing.
    public init(everyBlocks: UInt64? = nil, everySeconds: Double? = nil, keep: Int, directory: String) {
        self.everyBlocks = everyBlocks.map { max(1, $0) }
        self.everySeconds = everySeconds
        self.keep = max(1, keep)
        self.directory = directory
    }
}

/// Takes backups of a store on a ``BackupSchedule``: call ``runIfDue(now:)``
/// after appends or from a timer; it backs up when N blocks or T seconds
/// have passed since the last backup and keeps the last K files.
///
/// ```swift
/// let backups = BackupScheduler(store: store, schedule: .init(everyBlocks: 1000, keep: 5, directory: dir))
/// try backups.runIfDue()
/// ```
/// - Note: Thread-safe (`lock` guards the bookkeeping); backups themselves
///   run on the caller's thread and do not block the store's writer.
public final class BackupScheduler: @unchecked Sendable {
    /// The store backed up.
    public let store: LedgerStore
    /// When to back up and how many files to keep.
    public let schedule: BackupSchedule
    // Guarded by lock.
    private let lock = NSLock()
    private var lastHeight: Height?
    private var lastTime: ContinuousClock.Instant?

    /// Both are required. Call ``runIfDue(now:)`` after appends or from a timer.
    public init(store: LedgerStore, schedule: BackupSchedule) {
        self.store = store
        self.schedule = schedule
    }

    /// The file name used for a backup at `height`.
    public static func fileName(height: Height?) -> String {
        let h = height.map { String($0.rawValue) } ?? "empty"
        return "ledger-" + String(repeating: "0", count: max(0, 12 - h.count)) + h + ".sqlite"
    }

    /// Backs up if the schedule says so.
    /// - Parameter now: Optional, default the current instant (tests pass their own).
    /// - Returns: The backup taken, or nil when none was due.
    /// - Throws: `.backupFailed` (1509).
    @discardableResult
    public func runIfDue(now: ContinuousClock.Instant = .now) throws(LedgerError) -> BackupInfo? {
        lock.lock()
        defer { lock.unlock() }
        guard let head = store.head?.height else { return nil }
        if head == lastHeight { return nil }   // nothing new since the last backup
        var due = false
        if let every = schedule.everyBlocks {
            // Blocks since the last backup (a rollback below it counts as new blocks).
            let since = lastHeight.map { head > $0 ? head.rawValue - $0.rawValue : every } ?? head.rawValue + 1
            if since >= every { due = true }
        }
        if let seconds = schedule.everySeconds {
            if let last = lastTime {
                if now - last >= .milliseconds(Int64(seconds * 1000)) { due = true }
            } else {
                lastTime = now   // the clock starts at the first call
            }
        }
        guard due else { return nil }
        do {
            try FileManager.default.createDirectory(atPath: schedule.directory, withIntermediateDirectories: true)
        } catch {
            throw LedgerError(.backupFailed, "cannot create the backup folder \(schedule.directory): \(error.localizedDescription)",
                              details: ["path": schedule.directory])
        }
        let target = (schedule.directory as NSString).appendingPathComponent(Self.fileName(height: head))
        let info = try store.backup(to: target)
        lastHeight = info.height
        lastTime = now
        try prune()
        return info
    }

    /// The backup files in the directory, oldest first.
    public func backups() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: schedule.directory)) ?? []
        return names.filter { $0.hasPrefix("ledger-") && $0.hasSuffix(".sqlite") }.sorted()
            .map { (schedule.directory as NSString).appendingPathComponent($0) }
    }

    private func prune() throws(LedgerError) {
        let all = backups()
        for old in all.dropLast(schedule.keep) { LedgerStore.removeDatabaseFiles(old) }
    }
}

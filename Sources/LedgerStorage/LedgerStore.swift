import CSQLite
import Foundation
import LedgerCrypto
import LedgerModel
import Logging
import Synchronization

/// A node's whole ledger in one SQLite database (WAL): blocks, the
/// transaction index, receipts with their logs, and the world state.
///
/// Appending a block writes the block, its transaction index, receipts,
/// state changes and the head marker in one SQLite transaction: after a
/// crash a block is wholly in or wholly out. Reads run on their own
/// connections, concurrently with the single writer, each in a read
/// transaction (a consistent snapshot).
///
/// ```swift
/// let store = try LedgerStore(path: dir + "/ledger.sqlite")
/// try store.append(block, receipts: receipts, stateChanges: changes)
/// ```
///
/// A store opened for writing holds an exclusive lock on `<file>.lock`
/// until ``close()`` or until it is released (or its process dies): a
/// second writing open of the same file, from any process, fails at once
/// with `.storeLocked` (1520). Read-only opens take no lock.
///
/// - Note: Thread-safe. Writes (`append`, `rollback`) are serialised by
///   `writeLock`; reads take a connection from `readers` (guarded by
///   `poolLock`) and never wait for a write to finish. An in-memory store
///   has one connection, so there reads wait for the writer.
public final class LedgerStore: @unchecked Sendable {
    /// Durability of a committed append.
    public enum Durability: String, Sendable, CaseIterable {
        /// `synchronous=NORMAL`: a committed block survives a crash of the
        /// process (the SIGKILL crash test), but the last blocks before a
        /// power loss or kernel panic may be lost (never half a block).
        /// The default.
        case normal
        /// `synchronous=FULL`: every commit is fsynced; a committed block
        /// also survives power loss.
        case full
    }

    /// How to open a store.
    public struct Configuration: Sendable {
        /// Optional. The chain's hash algorithm. nil (default) means the one
        /// recorded in the store, or SHA-256 for a new store. When set and
        /// the store records another one, opening fails with
        /// `.configurationMismatch` (1517).
        public var hashAlgorithm: HashAlgorithm?
        /// Optional, default `.normal`. See ``Durability``.
        public var durability: Durability
        /// Optional, default false. Open without writing anything (no
        /// migration, no WAL switch, no store lock, so it works beside the
        /// node that has the store open); `append` and `rollback` then fail with
        /// `.readOnlyStore` (1516).
        public var readOnly: Bool
        /// Optional, default 16, range `0...`. Blocks checked at open (0 skips the check).
        public var quickCheckBlocks: Int
        /// Optional, default true. Run `PRAGMA quick_check` at open (O(file size)).
        public var sqliteQuickCheckOnOpen: Bool
        /// Optional, default 4, range `1...64`. Idle read connections kept.
        public var maximumIdleReaders: Int
        /// Optional, default 32,768 (32 MiB), range `0...4_194_304`; 0 keeps SQLite's own default (2 MiB).
        /// The page cache of each connection (the writer and every reader), in KiB: state-tree nodes and
        /// index pages are read and written at random, and a cache smaller than the working set turns
        /// each block into thousands of file reads. Memory is taken as pages are used, not up front.
        public var pageCacheKibibytes: Int
        /// Optional, default 8,192 (32 MiB of 4 KiB pages), range `0...1_000_000`; 0 keeps SQLite's 1,000.
        /// The write-ahead log is copied into the database once it holds this many pages. Blocks rewrite
        /// the same tree and index pages again and again, so a longer log copies each page once for many
        /// blocks; the price is a larger `-wal` file between checkpoints.
        public var walCheckpointPages: Int
        /// Optional, default `.archive`. How many heights' state trees stay whole (provable, and
        /// reachable by ``LedgerStore/rollback(toHeight:)``); see ``StateRetention``. Values at every
        /// height stay readable either way (``LedgerStore/stateValue(forKey:atHeight:)``).
        public var stateRetention: StateRetention
        /// Optional, default `Logger(label: "forgechain.store")` (the host's `LoggingSystem` backend).
        /// Receives integrity findings (error, with `code` and `height`), passed explicit checks and
        /// rollbacks; never block contents. See `Documentation/Architecture.md` → Logs and metrics.
        public var logger = Logger(label: "forgechain.store")

        /// Every parameter is optional; see the properties for defaults and ranges.
        public init(hashAlgorithm: HashAlgorithm? = nil, durability: Durability = .normal, readOnly: Bool = false,
                    quickCheckBlocks: Int = 16, sqliteQuickCheckOnOpen: Bool = true, maximumIdleReaders: Int = 4,
                    pageCacheKibibytes: Int = 32_768, walCheckpointPages: Int = 8_192, stateRetention: StateRetention = .archive) {
            self.hashAlgorithm = hashAlgorithm
            self.durability = durability
            self.readOnly = readOnly
            self.quickCheckBlocks = max(0, quickCheckBlocks)
            self.sqliteQuickCheckOnOpen = sqliteQuickCheckOnOpen
            self.maximumIdleReaders = min(64, max(1, maximumIdleReaders))
            self.pageCacheKibibytes = min(4_194_304, max(0, pageCacheKibibytes))
            self.walCheckpointPages = min(1_000_000, max(0, walCheckpointPages))
            self.stateRetention = stateRetention
        }
    }

    /// How much state-tree history a store keeps.
    ///
    /// Each block replaces the tree nodes on the paths it changes. An archive keeps every replaced
    /// node, so the tree at every height stays provable, and the tree's share of the file grows with
    /// history (about `log2(keys / keys-per-block)` nodes per changed key). A store keeping recent
    /// heights deletes a replaced node once no retained height needs it, so the tree's share stays
    /// about the size of the live state plus the window's replaced nodes.
    ///
    /// Either way the flat state table keeps the value of every key at every height
    /// (``LedgerStore/stateValue(forKey:atHeight:)`` answers for any height). What the window limits is
    /// ``LedgerStore/stateProof(key:atHeight:)`` and ``LedgerStore/rollback(toHeight:)``: below the
    /// window both fail with `.stateNotRetained` (1518) and change nothing. Only blocks appended
    /// while the window is set are pruned; turning it on later leaves older history as it is.
    ///
    /// ```swift
    /// var c = LedgerStore.Configuration()
    /// c.stateRetention = .recent(heights: 128)   // proofs and rollback for the last 128 heights
    /// let store = try LedgerStore(path: "ledger.sqlite", configuration: c)
    /// ```
    public enum StateRetention: Sendable, Hashable {
        /// Every height's tree stays whole (an archive node). The default.
        case archive
        /// The trees of the last `heights` heights stay whole (range `1...`; a smaller value is
        /// taken as 1, the head alone). Older replaced nodes are deleted as blocks are appended, at
        /// most once every quarter window and only once they are at least half as many as the rows
        /// of the live tree: they lie on pages all over the file, so a prune rewrites most of the
        /// tree's pages whatever it deletes, and waiting for a share of the tree keeps that cost per
        /// block the same as the state grows. At least `heights` heights always stay provable; the
        /// tree's rows stay below about 1.5 times the live tree plus the window's replaced nodes.
        case recent(heights: Int)

        /// Heights between prunes: a quarter of the window (at least 1).
        var pruneStride: UInt64 {
            guard case .recent(let heights) = self else { return 0 }
            return UInt64(max(1, heights / 4))
        }

        /// The lowest height whose tree must stay whole once `head` is appended; nil for an archive.
        func lowestRetained(head: Height) -> Height? {
            guard case .recent(let heights) = self else { return nil }
            let keep = UInt64(max(1, heights))
            return head.rawValue + 1 > keep ? Height(head.rawValue + 1 - keep) : nil
        }
    }

    /// The head of the chain as the store last committed it.
    public struct Head: Hashable, Sendable {
        /// The height of the last block.
        public var height: Height
        /// Its header hash.
        public var hash: Digest
        /// The state root after it.
        public var stateRoot: Digest

        /// - Parameters:
        ///   - height: Required. The block's height.
        ///   - hash: Required. Its header hash.
        ///   - stateRoot: Required. The state root its header declares.
        public init(height: Height, hash: Digest, stateRoot: Digest) {
            self.height = height
            self.hash = hash
            self.stateRoot = stateRoot
        }
    }

    /// The file path, or nil for an in-memory store.
    public let path: String?
    /// The chain's hash algorithm (recorded in the store).
    public let hashAlgorithm: HashAlgorithm
    /// The configuration the store was opened with.
    public let configuration: Configuration

    // Guarded by writeLock: writer, isClosed. Changes to the published head also hold writeLock.
    private let writeLock = NSLock()
    private let writer: SQLiteConnection
    private var isClosed = false
    /// The exclusive lock on `<path>.lock`; nil for read-only and in-memory stores.
    private let fileLock: StoreLock?
    /// The head and (once this store appended it; nil after open and rollback:
    /// read on demand) its header, behind a lock of their own so readers of
    /// the head never wait for an append in progress.
    private let published = Mutex<(head: Head?, header: BlockHeader?)>((nil, nil))
    /// Rows of the nodes the last appends wrote: changed by appends and rollbacks (under writeLock),
    /// read by transitions on any thread.
    private let recentStateNodes = Mutex(RecentStateNodes())
    var recentStateNodesSnapshot: RecentStateNodes { recentStateNodes.withLock { $0 } }
    private var cachedHead: Head? {
        get { published.withLock { $0.head } }
        set { published.withLock { $0.head = newValue } }
    }
    // Guarded by poolLock: idleReaders.
    private let poolLock = NSLock()
    private var idleReaders: [SQLiteConnection] = []

    /// Opens (or creates) the store at `path`, migrates its schema, and runs
    /// the quick integrity check.
    ///
    /// Unless `configuration.readOnly` is set, the store takes an exclusive
    /// lock on `path + ".lock"` (created with mode 0600; it holds this
    /// process's ID) before it reads or writes anything, and keeps it until
    /// ``close()``, until the store is released, or until the process dies.
    /// - Parameters:
    ///   - path: Required. A file path; its directory must exist. Created when missing (unless read-only).
    ///   - configuration: Optional, default ``Configuration/init(hashAlgorithm:durability:readOnly:quickCheckBlocks:sqliteQuickCheckOnOpen:maximumIdleReaders:pageCacheKibibytes:walCheckpointPages:stateRetention:)``.
    /// - Throws: `LedgerError` `.storeLocked` (1520) at once when another
    ///   store opened for writing (in any process, this one included) holds
    ///   the file: the message names the lock file and the holder's PID,
    ///   and nothing is read or written. `.storePathIsFolder` (1519),
    ///   `.storeCorrupted` (1501) for a damaged file,
    ///   `.truncatedFile` (1502), `.missingBlock` (1507), `.blockHashMismatch`
    ///   (1506), `.brokenParentLink` (1513), `.storedRootMismatch` (1512),
    ///   `.indexMismatch` (1515), `.migrationFailed` (1508),
    ///   `.configurationMismatch` (1517), `.sqlite` (1510). Never repairs anything.
    /// - Note: Never waits for the store lock. Blocks up to 5 s if a reader holds SQLite's
    ///   write lock (a checkpoint). Example:
    ///   `let store = try LedgerStore(path: "/var/lib/forgechain/ledger.sqlite")`.
    public convenience init(path: String, configuration: Configuration = .init()) throws(LedgerError) {
        try self.init(path: path, configuration: configuration, heldLock: nil)
    }

    /// Opens the store at `path`; a writing open takes the store lock, or uses `heldLock` when the caller took it
    /// already (a restore holds it while it replaces the file).
    convenience init(path: String, configuration: Configuration, heldLock: StoreLock?) throws(LedgerError) {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
            throw StoreFileCheck.folderError(path)
        }
        var lock = heldLock
        if lock == nil, !configuration.readOnly { lock = try StoreLock.acquire(storePath: path) }
        try StoreFileCheck.check(path: path, mustExist: configuration.readOnly)
        try self.init(location: path, inMemory: false, configuration: configuration, lock: lock)
    }

    /// Opens an empty in-memory store (for quick tests); it vanishes when released.
    /// - Parameter configuration: Optional; `durability` and `readOnly` are ignored.
    /// - Throws: `.sqlite` (1510) when SQLite cannot allocate the database.
    public static func inMemory(configuration: Configuration = .init()) throws(LedgerError) -> LedgerStore {
        var c = configuration
        c.readOnly = false
        return try LedgerStore(location: ":memory:", inMemory: true, configuration: c, lock: nil)
    }

    private init(location: String, inMemory: Bool, configuration: Configuration, lock: StoreLock?) throws(LedgerError) {
        self.configuration = configuration
        path = inMemory ? nil : location
        fileLock = lock
        writer = try SQLiteConnection(path: location, mode: configuration.readOnly ? .readOnly : .readWrite)
        try Self.sizeCache(writer, configuration)
        if configuration.readOnly {
            try writer.execute("PRAGMA query_only = 1")
            let version = Int(try writer.scalarInt("PRAGMA user_version") ?? 0)
            guard version == StoreSchema.latestVersion else {
                throw LedgerError(.migrationFailed, "read-only store has schema version \(version), this build needs \(StoreSchema.latestVersion)",
                                  details: ["schemaVersion": String(version)])
            }
        } else {
            if !inMemory { _ = try writer.textRows("PRAGMA journal_mode = WAL") }
            try writer.execute("PRAGMA synchronous = \(configuration.durability == .full ? "FULL" : "NORMAL")")
            if configuration.walCheckpointPages > 0 { _ = try writer.textRows("PRAGMA wal_autocheckpoint = \(configuration.walCheckpointPages)") }
            try StoreSchema.migrate(writer)
        }
        hashAlgorithm = try Self.recordAlgorithm(writer, requested: configuration.hashAlgorithm, readOnly: configuration.readOnly)
        cachedHead = try Self.loadHead(writer)
        do throws(LedgerError) {
            if configuration.sqliteQuickCheckOnOpen {
                try Self.sqliteCheck(writer, full: false)
            }
            if configuration.quickCheckBlocks > 0, let head = cachedHead {
                let from = head.height.rawValue >= UInt64(configuration.quickCheckBlocks)
                    ? head.height.rawValue - UInt64(configuration.quickCheckBlocks) + 1 : 0
                _ = try IntegrityChecker(db: writer, algorithm: hashAlgorithm)
                    .checkBlocks(from: Height(from), through: head.height)
            }
        } catch {
            Self.logFinding(error, check: "open", path: path, logger: configuration.logger)
            throw error
        }
    }

    /// Logs an integrity finding at error level: the code, the height when one is named, the check and the file.
    static func logFinding(_ error: LedgerError, check: String, path: String?, logger: Logger) {
        var metadata: Logger.Metadata = ["code": "\(error.numericCode)", "check": "\(check)", "store": "\(path ?? ":memory:")"]
        if let height = error.details["height"] { metadata["height"] = "\(height)" }
        logger.error("store integrity finding: \(error.message)", metadata: metadata)
    }

    private static func recordAlgorithm(_ db: SQLiteConnection, requested: HashAlgorithm?, readOnly: Bool) throws(LedgerError) -> HashAlgorithm {
        let s = try db.statement("SELECT value FROM meta WHERE key = 'hash_algorithm'")
        let stored: String? = try s.step() ? s.text(0) : nil
        s.reset()
        if let stored {
            guard let algorithm = HashAlgorithm(rawValue: stored) else {
                throw LedgerError(.storeCorrupted, "store records unknown hash algorithm '\(stored)'", details: ["field": "meta.hash_algorithm"])
            }
            if let requested, requested != algorithm {
                throw LedgerError(.configurationMismatch, "store uses hash algorithm \(algorithm.rawValue), opened with \(requested.rawValue)",
                                  details: ["stored": algorithm.rawValue, "requested": requested.rawValue])
            }
            return algorithm
        }
        let algorithm = requested ?? .sha256
        if !readOnly {
            let ins = try db.statement("INSERT INTO meta(key, value) VALUES('hash_algorithm', ?1)")
            ins.bind(1, text: algorithm.rawValue)
            try ins.run()
        }
        return algorithm
    }

    /// Reads the head from the `head_height` marker, and checks that the
    /// block it names is stored and is the highest one.
    static func loadHead(_ db: SQLiteConnection) throws(LedgerError) -> Head? {
        let marker = try db.statement("SELECT value FROM meta WHERE key = 'head_height'")
        let recorded: UInt64? = try marker.step() ? UInt64(marker.text(0)) : nil
        marker.reset()
        let top = try db.scalarInt("SELECT max(height) FROM blocks").map { Height(UInt64(bitPattern: $0)) }
        guard let recorded else {
            if let top {
                throw LedgerError.store(.storeCorrupted, height: top, "blocks are stored but the head marker is missing")
            }
            return nil
        }
        guard let top, top.rawValue >= recorded else {
            throw LedgerError.store(.missingBlock, height: Height(recorded), "the recorded head block is missing")
        }
        guard top.rawValue == recorded else {
            throw LedgerError.store(.storeCorrupted, height: top, "block above the recorded head \(recorded)")
        }
        let s = try db.statement("SELECT hash, state_root FROM blocks WHERE height = ?1")
        defer { s.reset() }
        s.bind(1, recorded)
        guard try s.step(), let hash = s.digest(0), let root = s.digest(1) else {
            throw LedgerError.store(.storeCorrupted, height: Height(recorded), "head row is unreadable")
        }
        return Head(height: Height(recorded), hash: hash, stateRoot: root)
    }

    static func sqliteCheck(_ db: SQLiteConnection, full: Bool) throws(LedgerError) {
        let rows = try db.textRows(full ? "PRAGMA integrity_check" : "PRAGMA quick_check")
        guard rows == ["ok"] else {
            throw LedgerError(.storeCorrupted, "SQLite \(full ? "integrity_check" : "quick_check") failed: \(rows.prefix(5).joined(separator: "; "))",
                              details: ["check": full ? "integrity_check" : "quick_check"])
        }
    }

    // MARK: Close

    /// Ends this handle's ownership of the store: waits for an append or
    /// rollback in progress, then releases the store lock, so another
    /// ``init(path:configuration:)`` (in this process or another) can open
    /// the file for writing at once.
    ///
    /// Afterwards ``append(_:receipts:stateChanges:stateTransition:certificate:)``,
    /// ``rollback(toHeight:)`` and ``saveConsensusState(_:)`` fail with
    /// `.storeClosed` (1521); reads keep working on their own connections
    /// (a record service may still hold the handle). Releasing the last
    /// reference closes the store too; a process that dies releases the lock
    /// with it.
    /// - Note: Idempotent, thread-safe. Example: `store.close()`.
    public func close() {
        writeLock.lock()
        defer { writeLock.unlock() }
        isClosed = true
        fileLock?.release()
    }

    /// Throws `.readOnlyStore` or `.storeClosed` when this handle may not write. Call with `writeLock` held.
    private func checkWritable() throws(LedgerError) {
        guard !configuration.readOnly else {
            throw LedgerError(.readOnlyStore, "the store is open read-only")
        }
        guard !isClosed else {
            throw LedgerError(.storeClosed, "store \(path ?? ":memory:") was closed", details: ["path": path ?? ":memory:"])
        }
    }

    // MARK: Head

    /// The head block's height, hash and state root; nil for an empty store.
    /// - Note: Thread-safe; reflects the last committed append or rollback.
    public var head: Head? { cachedHead }

    // MARK: Append

    /// Appends the next block with its receipts and state changes, in one
    /// SQLite transaction.
    ///
    /// Checks linkage (height = head + 1, or 0 on an empty store; parent hash
    /// = head's hash), the header hash and transaction root, and the receipts
    /// against the header's receipt root. Full validation (signatures,
    /// timestamps, producers) is the caller's job (`BlockValidator`).
    /// - Parameters:
    ///   - block: Required. The next block.
    ///   - receipts: Optional, default empty. One per transaction, in order;
    ///     empty is allowed only when the header's receipt root is `Digest.zero`.
    ///   - stateChanges: Optional, default none. The block's writes to the world state.
    ///   - stateTransition: Optional, default nil (the store computes it). The
    ///     state-tree update of `stateChanges` from the head's state root, computed
    ///     before (``stateTransition(applying:)``); the store checks that it starts
    ///     from the head's root and ends at the header's, and writes its nodes
    ///     without recomputing them, so it must come from these very changes.
    ///   - certificate: Optional, default nil. The block's commit certificate, stored
    ///     in the same SQLite transaction (read back with ``certificate(atHeight:)``).
    /// - Throws: `LedgerError` `.heightGap` (1504), `.parentNotHead` (1505),
    ///   `.blockHashMismatch` (1506), `.transactionRootMismatch` (1109),
    ///   `.receiptRootMismatch` (1511), `.stateRootMismatch` (1514),
    ///   `.readOnlyStore` (1516), `.storeClosed` (1521) after ``close()``,
    ///   `.sqlite` (1510), `.storeCorrupted` (1501).
    ///   On any error nothing is written.
    /// - Note: Thread-safe; appends are serialised. When it returns, the
    ///   block is committed (durable as ``Durability`` says). Example:
    ///   `try store.append(block)`.
    public func append(_ block: Block, receipts: [Receipt] = [], stateChanges: StateChangeSet = StateChangeSet(),
                       stateTransition: StateTransition? = nil, certificate: CommitCertificate? = nil) throws(LedgerError) {
        guard !configuration.readOnly else {
            throw LedgerError(.readOnlyStore, "the store is open read-only")
        }
        let prepared = try PreparedBlock(block, receipts: receipts, algorithm: hashAlgorithm)
        writeLock.lock()
        defer { writeLock.unlock() }
        try checkWritable()
        let height = block.header.height
        let expected = cachedHead.map { $0.height.next } ?? 0
        guard height == expected else {
            throw LedgerError.store(.heightGap, height: height, "cannot append: expected height \(expected)",
                                    details: ["expected": expected.description])
        }
        if let head = cachedHead, block.header.parentHash != head.hash {
            throw LedgerError.store(.parentNotHead, height: height,
                                    "parent hash \(block.header.parentHash.hex) is not the head's hash \(head.hash.hex)",
                                    details: ["parentHash": block.header.parentHash.hex, "headHash": head.hash.hex])
        }
        let db = writer
        let parentRoot = cachedHead?.stateRoot
        var written = [Digest: Int64]()
        try db.transaction { () throws(LedgerError) in
            try Self.insert(prepared, into: db)
            written = try StateWriter.write(stateChanges, transition: stateTransition, height: height, header: block.header,
                                            parentRoot: parentRoot, algorithm: hashAlgorithm, retention: configuration.stateRetention,
                                            recent: recentStateNodesSnapshot, into: db)
            // Pruned at most every quarter window, once what it would delete is half the live tree (see StateRetention).
            if let lowest = configuration.stateRetention.lowestRetained(head: height) {
                let retained = try StateWriter.retainedFrom(db)
                if lowest.rawValue >= retained.rawValue + configuration.stateRetention.pruneStride,
                   try StateWriter.pruneIsDue(keepingFrom: lowest, retainedFrom: retained, head: height, in: db) {
                    try StateWriter.prune(keepingFrom: lowest, into: db)
                }
            }
            if let certificate {
                let c = try db.statement("INSERT OR REPLACE INTO certificates(height, encoded) VALUES(?1, ?2)")
                c.bind(1, height.rawValue)
                try c.run(binding: certificate.encoded, at: 2)
            }
            let marker = try db.statement("INSERT OR REPLACE INTO meta(key, value) VALUES('head_height', ?1)")
            marker.bind(1, text: height.description)
            try marker.run()
        }
        recentStateNodes.withLock { $0.record(height, written) }
        published.withLock { $0 = (Head(height: height, hash: prepared.hash, stateRoot: block.header.stateRoot), block.header) }
    }

    /// The head's header when this store appended it, so a node building on
    /// its head does not read and decode the whole head block.
    func headHeader(ifAt height: Height) -> BlockHeader? {
        published.withLock { $0.header?.height == height ? $0.header : nil }
    }

    private static func insert(_ p: PreparedBlock, into db: SQLiteConnection) throws(LedgerError) {
        let header = p.block.header
        let b = try db.statement(
            "INSERT INTO blocks(height, hash, parent_hash, state_root, timestamp, tx_count, encoded) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)")
        b.bind(1, header.height.rawValue)
        b.bind(2, p.hash)
        b.bind(3, header.parentHash)
        b.bind(4, header.stateRoot)
        b.bind(5, header.timestamp.rawValue)
        b.bind(6, p.block.transactions.count)
        try b.run(binding: p.encoded, at: 7)
        let t = try db.statement("INSERT INTO transactions(key, id, offset, length, receipt) VALUES(?1, ?2, ?3, ?4, ?5)")
        for i in p.ids.indices {
            t.bind(1, StoreSchema.transactionKey(height: header.height, index: i))
            t.bind(2, p.ids[i])
            t.bind(3, p.offsets[i])
            t.bind(4, p.lengths[i])
            if p.receipts.isEmpty {
                t.bindNull(5)
                try t.run()
            } else {
                try t.run(binding: p.receipts[i], at: 5)
            }
        }
    }

    // MARK: Rollback

    /// Rolls the chain back to `height`: blocks, transactions, receipts,
    /// state and indexes above it are removed in one SQLite transaction.
    /// - Parameter height: Required. `0...head.height`; the head's height is a no-op.
    /// - Returns: The undone transactions in chain order (block by block, in
    ///   block order), so a node can resubmit them.
    /// - Throws: `LedgerError` `.heightNotFound` (1503) when `height` is
    ///   above the head or the store is empty, `.storeCorrupted` (1501) when
    ///   an undone block does not decode (nothing is removed then),
    ///   `.stateNotRetained` (1518) when `height` is below the state
    ///   retention window (``StateRetention``; nothing is removed),
    ///   `.readOnlyStore` (1516), `.storeClosed` (1521) after ``close()``, `.sqlite` (1510).
    /// - Note: Thread-safe; serialised with appends. Readers in the middle of
    ///   a read keep their snapshot. Example: `let undone = try store.rollback(toHeight: 10)`.
    @discardableResult
    public func rollback(toHeight height: Height) throws(LedgerError) -> [Transaction] {
        guard !configuration.readOnly else {
            throw LedgerError(.readOnlyStore, "the store is open read-only")
        }
        writeLock.lock()
        defer { writeLock.unlock() }
        try checkWritable()
        guard let head = cachedHead, height <= head.height else {
            throw LedgerError.store(.heightNotFound, height: height,
                                    "cannot roll back: head is \(cachedHead.map { $0.height.description } ?? "none (empty store)")")
        }
        guard height < head.height else { return [] }
        let db = writer
        let retained = try StateWriter.retainedFrom(db)
        guard height >= retained else {
            throw LedgerError.store(.stateNotRetained, height: height,
                                    "cannot roll back below the state retention window: the tree is whole from height \(retained) (StateRetention)",
                                    details: ["retainedFrom": retained.description])
        }
        let undone = try db.transaction { () throws(LedgerError) -> [Transaction] in
            var txs = [Transaction]()
            let s = try db.statement("SELECT height, encoded FROM blocks WHERE height > ?1 ORDER BY height")
            s.bind(1, height.rawValue)
            while try s.step() {
                let h = Height(s.uint(0))
                do throws(LedgerError) { txs += try Block(decoding: s.blob(1)).transactions } catch {
                    s.reset()
                    throw LedgerError.store(.storeCorrupted, height: h, "stored block does not decode: \(error.message)",
                                            details: ["cause": String(error.numericCode)])
                }
            }
            s.reset()
            let h = Int64(bitPattern: height.rawValue)
            // Node rows are appended block after block, so the rows above `height` are those from the
            // first row of the first block above it on.
            var removedNodes = 0, removedStale = 0
            for sql in ["DELETE FROM blocks WHERE height > ?1", "DELETE FROM state WHERE height > ?1",
                        "DELETE FROM state_nodes WHERE id >= (SELECT min(first_id) FROM state_node_marks WHERE height > ?1)",
                        "DELETE FROM state_node_marks WHERE height > ?1", "DELETE FROM state_stale WHERE height > ?1",
                        "DELETE FROM state_roots WHERE height > ?1",
                        "DELETE FROM certificates WHERE height > ?1"] {
                let d = try db.statement(sql)
                d.bind(1, h)
                try d.run()
                if sql.hasPrefix("DELETE FROM state_nodes ") { removedNodes = db.changes }
                if sql.hasPrefix("DELETE FROM state_stale ") { removedStale = db.changes }
            }
            try StateWriter.countRows(nodes: -removedNodes, stale: -removedStale, in: db)
            let d = try db.statement("DELETE FROM transactions WHERE key >= ?1")
            d.bind(1, StoreSchema.transactionKey(height: height.next, index: 0))
            try d.run()
            let marker = try db.statement("INSERT OR REPLACE INTO meta(key, value) VALUES('head_height', ?1)")
            marker.bind(1, text: height.description)
            try marker.run()
            return txs
        }
        recentStateNodes.withLock { $0.forget(above: height) }
        let reloaded = try Self.loadHead(db)
        published.withLock { $0 = (reloaded, nil) }
        configuration.logger.notice("store rolled back", metadata: [
            "height": "\(height)", "from": "\(head.height)", "transactions": "\(undone.count)", "store": "\(path ?? ":memory:")",
        ])
        return undone
    }

    private static func sizeCache(_ db: SQLiteConnection, _ configuration: Configuration) throws(LedgerError) {
        if configuration.pageCacheKibibytes > 0 { try db.execute("PRAGMA cache_size = -\(configuration.pageCacheKibibytes)") }
    }

    // MARK: Read connections

    /// Runs `body` on a read connection inside a read transaction (one
    /// consistent snapshot). In-memory stores use the writer under its lock.
    func read<R>(_ body: (SQLiteConnection) throws(LedgerError) -> R) throws(LedgerError) -> R {
        guard let path else {
            writeLock.lock()
            defer { writeLock.unlock() }
            return try body(writer)
        }
        poolLock.lock()
        var conn = idleReaders.popLast()
        poolLock.unlock()
        if conn == nil {
            let c = try SQLiteConnection(path: path, mode: configuration.readOnly ? .readOnly : .readWrite)
            try c.execute("PRAGMA query_only = 1")
            try Self.sizeCache(c, configuration)
            conn = c
        }
        let c = conn!
        defer {
            poolLock.lock()
            if idleReaders.count < configuration.maximumIdleReaders { idleReaders.append(c) }
            poolLock.unlock()
        }
        return try c.transaction(immediate: false) { () throws(LedgerError) -> R in try body(c) }
    }

    /// The writer connection's value of a pragma (for tests and diagnostics).
    func pragma(_ name: String) throws(LedgerError) -> String? {
        try withWriter { (db) throws(LedgerError) -> String? in try db.textRows("PRAGMA \(name)").first }
    }

    /// Runs `body` with the writer connection held (for backup and tests).
    func withWriter<R>(_ body: (SQLiteConnection) throws(LedgerError) -> R) throws(LedgerError) -> R {
        writeLock.lock()
        defer { writeLock.unlock() }
        return try body(writer)
    }

    /// ``withWriter(_:)`` for a write: fails with `.readOnlyStore` or `.storeClosed` when this handle may not write.
    func withWritableWriter<R>(_ body: (SQLiteConnection) throws(LedgerError) -> R) throws(LedgerError) -> R {
        writeLock.lock()
        defer { writeLock.unlock() }
        try checkWritable()
        return try body(writer)
    }
}

/// A block with everything the append writes, computed before the write
/// lock is taken: its canonical encoding, transaction IDs and their byte
/// ranges inside the encoding, and the encoded receipts.
struct PreparedBlock {
    let block: Block
    let hash: Digest
    let encoded: [UInt8]
    let ids: [Digest]
    let offsets: [Int]
    let lengths: [Int]
    let receipts: [[UInt8]]

    init(_ block: Block, receipts: [Receipt], algorithm: HashAlgorithm) throws(LedgerError) {
        self.block = block
        let height = block.header.height
        hash = block.header.hash(using: algorithm)
        guard hash == block.headerHash else {
            throw LedgerError.store(.blockHashMismatch, height: height,
                                    "declared header hash \(block.headerHash.hex) differs from the computed \(hash.hex)")
        }
        let txEncodings = block.transactions.map(\.encoded)
        ids = txEncodings.map { algorithm.hash($0) }
        let root = Block.transactionRoot(ids: ids, using: algorithm)
        guard root == block.header.transactionRoot else {
            throw LedgerError.store(.transactionRootMismatch, height: height,
                                    "transaction root \(root.hex) differs from the header's \(block.header.transactionRoot.hex)")
        }
        if receipts.isEmpty && block.header.receiptRoot == .zero {
            self.receipts = []
        } else {
            guard receipts.count == block.transactions.count else {
                throw LedgerError.store(.receiptRootMismatch, height: height,
                                        "\(receipts.count) receipts for \(block.transactions.count) transactions")
            }
            for (i, r) in receipts.enumerated() where r.transactionID != ids[i] {
                throw LedgerError.store(.receiptRootMismatch, height: height,
                                        "receipt \(i) is for transaction \(r.transactionID.hex), not \(ids[i].hex)",
                                        details: ["transactionIndex": String(i)])
            }
            let encodedReceipts = receipts.map(\.encoded)
            let rroot = Receipt.root(digests: encodedReceipts.map { algorithm.hash($0) }, using: algorithm)
            guard rroot == block.header.receiptRoot else {
                throw LedgerError.store(.receiptRootMismatch, height: height,
                                        "receipt root \(rroot.hex) differs from the header's \(block.header.receiptRoot.hex)")
            }
            self.receipts = encodedReceipts
        }
        (encoded, offsets) = BlockEncoding.assemble(block, transactionEncodings: txEncodings)
        lengths = txEncodings.map(\.count)
    }
}

/// Builds `Block.encoded` from precomputed transaction encodings and reports
/// where each transaction's bytes start, so one transaction can be read
/// straight out of the stored block.
package enum BlockEncoding {
    package static func assemble(_ block: Block, transactionEncodings txs: [[UInt8]]) -> (encoded: [UInt8], offsets: [Int]) {
        var head = [UInt8]()
        RLP.append(.uint(Block.encodingVersion), to: &head)
        RLP.append(block.header.item, to: &head)
        RLP.append(.digest(block.headerHash), to: &head)
        let txPayload = txs.reduce(0) { $0 + $1.count }
        let txListHeader = listHeader(txPayload)
        let outerPayload = head.count + txListHeader.count + txPayload
        let outerHeader = listHeader(outerPayload)
        var out = [UInt8]()
        out.reserveCapacity(outerHeader.count + outerPayload)
        out += outerHeader
        out += head
        out += txListHeader
        var offsets = [Int]()
        offsets.reserveCapacity(txs.count)
        for t in txs {
            offsets.append(out.count)
            out += t
        }
        return (out, offsets)
    }

    static func listHeader(_ length: Int) -> [UInt8] {
        if length < 56 { return [0xc0 + UInt8(length)] }
        let l = RLP.bigEndianBytes(UInt64(length))
        return [0xf7 + UInt8(l.count)] + l
    }
}

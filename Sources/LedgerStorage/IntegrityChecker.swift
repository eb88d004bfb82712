import LedgerCrypto
import LedgerModel
import Logging

/// How thoroughly ``LedgerStore/checkIntegrity(_:progress:)`` checks.
public enum IntegrityLevel: Hashable, Sendable {
    /// The last `lastBlocks` blocks (header hash, parent link, roots, index)
    /// and SQLite's `PRAGMA quick_check`. What every open runs.
    case quick(lastBlocks: Int)
    /// Every block and `PRAGMA integrity_check`.
    case full
}

/// What an integrity check covered.
public struct IntegrityReport: Hashable, Sendable {
    /// The head height checked against; nil for an empty store.
    public var head: Height?
    /// Blocks whose header hash, parent link, roots and index were checked.
    public var blocksChecked: Int
    /// Transactions whose ID and index entry were checked.
    public var transactionsChecked: Int
}

/// Re-derives what each stored block commits to and compares: header hash,
/// parent link, transaction root, receipt root, state root column, and the
/// transaction index. Reports the first damage found as a typed error
/// naming the height; never repairs.
struct IntegrityChecker {
    let db: SQLiteConnection
    let algorithm: HashAlgorithm

    /// Checks the blocks `from...through`; returns (blocks, transactions) checked. Calls `progress` with the
    /// number of blocks checked so far after each block.
    func checkBlocks(from: Height, through: Height, progress: ((_ checked: Int) -> Void)? = nil) throws(LedgerError) -> (blocks: Int, transactions: Int) {
        var previousHash: Digest?
        if from.rawValue > 0 {
            let p = try db.statement("SELECT hash FROM blocks WHERE height = ?1")
            p.bind(1, from.rawValue - 1)
            guard try p.step(), let h = p.digest(0) else {
                p.reset()
                throw LedgerError.store(.missingBlock, height: Height(from.rawValue - 1), "block is missing from the store")
            }
            p.reset()
            previousHash = h
        }
        let s = try db.statement(
            "SELECT height, hash, parent_hash, state_root, tx_count, encoded FROM blocks WHERE height BETWEEN ?1 AND ?2 ORDER BY height")
        defer { s.reset() }
        s.bind(1, from.rawValue)
        s.bind(2, through.rawValue)
        var expected = from
        var blocks = 0, transactions = 0
        // Below the retention window a block's tree may be pruned; its root is checked from the window up.
        let retainedFrom = try StateWriter.retainedFrom(db)
        while try s.step() {
            let height = Height(s.uint(0))
            guard height == expected else {
                throw LedgerError.store(.missingBlock, height: expected, "block is missing from the store")
            }
            guard let hash = s.digest(1), let parent = s.digest(2), let stateRoot = s.digest(3) else {
                throw LedgerError.store(.storeCorrupted, height: height, "block row has a malformed hash column")
            }
            let encoded = s.blob(5)
            let block: Block
            do { block = try Block(decoding: encoded) } catch {
                throw LedgerError.store(.storeCorrupted, height: height, "stored block does not decode: \(error.message)",
                                        details: ["cause": String(error.numericCode)])
            }
            let header = block.header
            guard header.height == height else {
                throw LedgerError.store(.storeCorrupted, height: height, "stored block declares height \(header.height)")
            }
            let computed = header.hash(using: algorithm)
            guard computed == block.headerHash, computed == hash else {
                throw LedgerError.store(.blockHashMismatch, height: height,
                                        "header hashes to \(computed.hex); block declares \(block.headerHash.hex), index records \(hash.hex)",
                                        details: ["computed": computed.hex, "recorded": hash.hex])
            }
            guard parent == header.parentHash else {
                throw LedgerError.store(.storeCorrupted, height: height, "parent-hash column differs from the header")
            }
            if let previousHash, header.parentHash != previousHash {
                throw LedgerError.store(.brokenParentLink, height: height,
                                        "parent hash \(header.parentHash.hex) is not the hash \(previousHash.hex) of block \(height.rawValue - 1)")
            }
            guard stateRoot == header.stateRoot else {
                throw LedgerError.store(.storedRootMismatch, height: height, "state-root column differs from the header's state root",
                                        details: ["root": "state"])
            }
            guard Int(s.int(4)) == block.transactions.count else {
                throw LedgerError.store(.indexMismatch, height: height, "transaction-count column differs from the block")
            }
            let ids = block.transactions.map { $0.id(using: algorithm) }
            let root = Block.transactionRoot(ids: ids, using: algorithm)
            guard root == header.transactionRoot else {
                throw LedgerError.store(.storedRootMismatch, height: height,
                                        "transactions hash to root \(root.hex), header says \(header.transactionRoot.hex)",
                                        details: ["root": "transaction"])
            }
            try checkIndex(height: height, header: header, ids: ids, encoded: encoded)
            if height >= retainedFrom, stateRoot != StateTree.emptyRoot(algorithm) {
                let present: Bool
                do {
                    let nodes = try SQLiteStateNodeStore.atHeight(height, db: db, algorithm: algorithm)
                    present = try nodes.node(stateRoot).map { SQLiteStateNodeStore.digest(of: $0, algorithm) == stateRoot } ?? false
                } catch {
                    throw LedgerError.store(.sqlite, height: height, "state tree root unreadable: \(error)")
                }
                guard present else {
                    throw LedgerError.store(.storedRootMismatch, height: height, "the state tree root \(stateRoot.hex) is not stored",
                                            details: ["root": "state"])
                }
            }
            previousHash = hash
            expected = height.next
            blocks += 1
            transactions += ids.count
            progress?(blocks)
        }
        guard expected.rawValue == through.rawValue + 1 else {
            throw LedgerError.store(.missingBlock, height: expected, "block is missing from the store")
        }
        return (blocks, transactions)
    }

    /// Every key in the flat state table has, at the head, the value the
    /// state tree under the head's root gives it.
    func checkFlatState(head: LedgerStore.Head) throws(LedgerError) {
        let tree = StateTree(algorithm)
        // One walk per key from the root's row, so the locations a walk learns do not pile up.
        let root = try SQLiteStateNodeStore.atHeight(head.height, db: db, algorithm: algorithm).locations
        let s = try db.statement("""
            SELECT key, value, height FROM state AS s WHERE height = (SELECT max(height) FROM state WHERE key = s.key AND height <= ?1) ORDER BY key
            """)
        s.bind(1, head.height.rawValue)
        var rows = [(key: [UInt8], value: [UInt8]?, height: Height)]()
        while try s.step() { rows.append((s.blob(0), s.isNull(1) ? nil : s.blob(1), Height(s.uint(2)))) }
        s.reset()
        for row in rows {
            let inTree: [UInt8]?
            do {
                inTree = try tree.value(forKey: row.key, root: head.stateRoot, store: SQLiteStateNodeStore(db: db, algorithm: algorithm, locations: root))
            } catch {
                throw LedgerError.store(.storedRootMismatch, height: row.height, "state tree unreadable: \(error.message)",
                                        details: ["root": "state", "cause": String(error.numericCode)])
            }
            guard inTree == row.value else {
                throw LedgerError.store(.storedRootMismatch, height: row.height,
                                        "state key \(Hex.encode(row.key)) differs between the versioned table and the state tree",
                                        details: ["root": "state", "key": Hex.encode(row.key)])
            }
        }
    }

    /// Every state-tree leaf stored as a reference finds its flat state row (a lost one would otherwise
    /// surface only when a proof or an update reads that leaf; an altered one fails the flat-state
    /// check against the head's tree, or the digest check of the parent that reads it).
    func checkLeafReferences() throws(LedgerError) {
        let s = try db.statement("SELECT id, bytes FROM state_nodes WHERE substr(bytes, 1, 1) = x'00'")
        defer { s.reset() }
        while try s.step() {
            let stored = s.blob(1)
            let leaf = try SQLiteStateNodeStore.resolve(stored, db)
            guard leaf != stored, SQLiteStateNodeStore.digest(of: leaf, algorithm) != nil else {
                throw LedgerError.store(.storedRootMismatch, height: Height(SQLiteStateNodeStore.leafReference(stored)?.height ?? 0),
                                        "state leaf row \(s.int(0)) refers to a flat state row that is missing or does not match it",
                                        details: ["root": "state", "row": String(s.int(0))])
            }
        }
    }

    /// The block's rows in `transactions`: one per transaction, in order,
    /// with the right ID and byte range, and receipts that hash to the
    /// header's receipt root.
    private func checkIndex(height: Height, header: BlockHeader, ids: [Digest], encoded: [UInt8]) throws(LedgerError) {
        let t = try db.statement("SELECT key, id, offset, length, receipt FROM transactions WHERE key >= ?1 AND key < ?2 ORDER BY key")
        defer { t.reset() }
        t.bind(1, StoreSchema.transactionKey(height: height, index: 0))
        t.bind(2, StoreSchema.transactionKey(height: height.next, index: 0))
        var i = 0
        var receiptDigests = [Digest]()
        var missingReceipts = 0
        while try t.step() {
            guard i < ids.count, t.int(0) == StoreSchema.transactionKey(height: height, index: i) else {
                throw LedgerError.store(.indexMismatch, height: height, "transaction index entry \(i) is missing or out of place",
                                        details: ["transactionIndex": String(i)])
            }
            let offset = Int(t.int(2)), length = Int(t.int(3))
            guard t.digest(1) == ids[i], offset >= 0, length > 0, offset + length <= encoded.count,
                  encoded.withUnsafeBytes({ algorithm.hash(UnsafeRawBufferPointer(rebasing: $0[offset..<offset + length])) }) == ids[i] else {
                throw LedgerError.store(.indexMismatch, height: height, "transaction index entry \(i) does not match the block",
                                        details: ["transactionIndex": String(i)])
            }
            if t.isNull(4) {
                missingReceipts += 1
            } else {
                let r = t.blob(4)
                do { _ = try Receipt(decoding: r) } catch {
                    throw LedgerError.store(.storeCorrupted, height: height, "receipt \(i) does not decode: \(error.message)",
                                            details: ["transactionIndex": String(i)])
                }
                receiptDigests.append(algorithm.hash(r))
            }
            i += 1
        }
        guard i == ids.count else {
            throw LedgerError.store(.indexMismatch, height: height, "transaction index entry \(i) is missing",
                                    details: ["transactionIndex": String(i)])
        }
        if header.receiptRoot == .zero && receiptDigests.isEmpty { return }
        guard missingReceipts == 0 else {
            throw LedgerError.store(.indexMismatch, height: height, "\(missingReceipts) receipts are missing")
        }
        let root = Receipt.root(digests: receiptDigests, using: algorithm)
        guard root == header.receiptRoot else {
            throw LedgerError.store(.storedRootMismatch, height: height,
                                    "receipts hash to root \(root.hex), header says \(header.receiptRoot.hex)",
                                    details: ["root": "receipt"])
        }
    }
}

extension LedgerStore {
    /// Checks the stored chain and the database file.
    ///
    /// `.quick(lastBlocks:)` is what every open runs; `.full` re-hashes every
    /// block's header, follows every parent link, recomputes every
    /// transaction and receipt root, checks the transaction index, and runs
    /// `PRAGMA integrity_check`.
    /// - Parameters:
    ///   - level: Optional, default `.full`.
    ///   - progress: Optional, default nil. Called on the calling thread after each block is checked, with the
    ///     blocks checked so far and the number the check covers (for a progress display; the store prints nothing).
    /// - Returns: What was checked.
    /// - Throws: The first damage found, naming the height: `.missingBlock`
    ///   (1507), `.blockHashMismatch` (1506), `.brokenParentLink` (1513),
    ///   `.storedRootMismatch` (1512), `.indexMismatch` (1515),
    ///   `.storeCorrupted` (1501); `.sqlite` (1510). Never repairs anything.
    /// - Note: Runs on a read snapshot, concurrently with appends; O(ledger
    ///   size) for `.full`. Example: `try store.checkIntegrity(.full)`.
    @discardableResult
    public func checkIntegrity(_ level: IntegrityLevel = .full,
                               progress: ((_ checked: Int, _ total: Int) -> Void)? = nil) throws(LedgerError) -> IntegrityReport {
        let check = level == .full ? "full" : "quick"
        do throws(LedgerError) {
            let report = try runIntegrityCheck(level, progress: progress)
            configuration.logger.log(level: level == .full ? .info : .debug, "store integrity check passed", metadata: [
                "check": "\(check)", "blocks": "\(report.blocksChecked)", "transactions": "\(report.transactionsChecked)",
                "height": "\(report.head.map(\.description) ?? "none")", "store": "\(path ?? ":memory:")",
            ])
            return report
        } catch {
            Self.logFinding(error, check: check, path: path, logger: configuration.logger)
            throw error
        }
    }

    private func runIntegrityCheck(_ level: IntegrityLevel,
                                   progress: ((_ checked: Int, _ total: Int) -> Void)?) throws(LedgerError) -> IntegrityReport {
        try read { (db) throws(LedgerError) -> IntegrityReport in
            let head = try Self.loadHead(db)
            let checker = IntegrityChecker(db: db, algorithm: hashAlgorithm)
            var report = IntegrityReport(head: head?.height, blocksChecked: 0, transactionsChecked: 0)
            if let head {
                var from: Height = 0
                if case .quick(let n) = level {
                    let k = UInt64(max(1, n))
                    from = Height(head.height.rawValue >= k ? head.height.rawValue - k + 1 : 0)
                }
                let total = Int(head.height.rawValue - from.rawValue + 1)
                let counts = try checker.checkBlocks(from: from, through: head.height, progress: progress.map { report in { report($0, total) } })
                report.blocksChecked = counts.blocks
                report.transactionsChecked = counts.transactions
                if level == .full {
                    try checker.checkFlatState(head: head)
                    try checker.checkLeafReferences()
                    let extra = try db.scalarInt("SELECT count(*) FROM transactions WHERE key >= \(StoreSchema.transactionKey(height: head.height.next, index: 0))") ?? 0
                    guard extra == 0 else {
                        throw LedgerError.store(.indexMismatch, height: head.height.next, "\(extra) transaction index entries above the head")
                    }
                }
            }
            try Self.sqliteCheck(db, full: level == .full)
            return report
        }
    }
}

import CSQLite
import LedgerCrypto
import LedgerModel

/// A byte range inside the stored encoding (`Transaction.encoded`) of a committed transaction: what the
/// record index keeps instead of a copy of each record (``LedgerStore/read(_:)``).
package struct TransactionSlice: Hashable, Sendable {
    /// The block that holds the transaction.
    package var height: Height
    /// The transaction's position in the block, from 0.
    package var index: Int
    /// The first byte, counted from the start of the transaction's encoding.
    package var offset: Int
    /// The number of bytes.
    package var length: Int

    package init(height: Height, index: Int, offset: Int, length: Int) {
        self.height = height
        self.index = index
        self.offset = offset
        self.length = length
    }
}

/// Where a transaction sits in the chain.
public struct TransactionLocation: Hashable, Sendable {
    /// The block that holds it.
    public var height: Height
    /// Its position in the block, from 0.
    public var index: Int
}

extension LedgerStore {
    /// The block at `height`.
    /// - Parameter height: Required. `0...head.height`.
    /// - Throws: `LedgerError` `.heightNotFound` (1503); `.storeCorrupted`
    ///   (1501) when the stored bytes do not decode.
    /// - Note: Thread-safe, runs concurrently with appends. Example: `let b = try store.block(atHeight: 7)`.
    public func block(atHeight height: Height) throws(LedgerError) -> Block {
        try read { (db) throws(LedgerError) -> Block in
            let s = try db.statement("SELECT encoded FROM blocks WHERE height = ?1")
            defer { s.reset() }
            s.bind(1, height.rawValue)
            guard try s.step() else {
                throw LedgerError.store(.heightNotFound, height: height, "no block at this height")
            }
            return try Self.decodeBlock(s.blob(0), height: height)
        }
    }

    /// The block whose header hash is `hash`, or nil.
    /// - Throws: `.storeCorrupted` (1501), `.sqlite` (1510).
    /// - Note: Thread-safe. Example: `let b = try store.block(withHash: digest)`.
    public func block(withHash hash: Digest) throws(LedgerError) -> Block? {
        try read { (db) throws(LedgerError) -> Block? in
            let s = try db.statement("SELECT height, encoded FROM blocks WHERE hash = ?1")
            defer { s.reset() }
            s.bind(1, hash)
            guard try s.step() else { return nil }
            return try Self.decodeBlock(s.blob(1), height: Height(s.uint(0)))
        }
    }

    /// The header of the block at `height`.
    /// - Throws: `.heightNotFound` (1503), `.storeCorrupted` (1501).
    /// - Note: Thread-safe. The head's header is served from memory when
    ///   this store appended it; other heights decode their stored block.
    ///   Example: `let h = try store.header(atHeight: 7)`.
    public func header(atHeight height: Height) throws(LedgerError) -> BlockHeader {
        if let header = headHeader(ifAt: height) { return header }
        return try block(atHeight: height).header
    }

    /// The header hash recorded for `height`, without decoding the block.
    /// - Throws: `.heightNotFound` (1503).
    public func blockHash(atHeight height: Height) throws(LedgerError) -> Digest {
        try read { (db) throws(LedgerError) -> Digest in
            let s = try db.statement("SELECT hash FROM blocks WHERE height = ?1")
            defer { s.reset() }
            s.bind(1, height.rawValue)
            guard try s.step(), let d = s.digest(0) else {
                throw LedgerError.store(.heightNotFound, height: height, "no block at this height")
            }
            return d
        }
    }

    static func decodeBlock(_ bytes: [UInt8], height: Height) throws(LedgerError) -> Block {
        do { return try Block(decoding: bytes) } catch {
            throw LedgerError.store(.storeCorrupted, height: height, "stored block does not decode: \(error.message)",
                                    details: ["cause": String(error.numericCode)])
        }
    }

    /// Where the transaction with `id` was committed, or nil.
    /// - Parameter id: Required. A transaction ID (`Transaction.id(using:)`).
    /// - Note: Thread-safe. Example: `let at = try store.location(ofTransaction: id)`.
    public func location(ofTransaction id: Digest) throws(LedgerError) -> TransactionLocation? {
        try read { (db) throws(LedgerError) -> TransactionLocation? in
            let s = try db.statement("SELECT key FROM transactions WHERE id = ?1 ORDER BY key LIMIT 1")
            defer { s.reset() }
            s.bind(1, id)
            guard try s.step() else { return nil }
            return Self.location(key: s.int(0))
        }
    }

    static func location(key: Int64) -> TransactionLocation {
        TransactionLocation(height: Height(UInt64(key >> StoreSchema.transactionIndexBits)),
                            index: Int(key & (1 << StoreSchema.transactionIndexBits - 1)))
    }

    /// The committed transaction with `id` and where it is, or nil. Reads
    /// only the transaction's bytes out of the stored block.
    /// - Throws: `.storeCorrupted` (1501) when the stored bytes do not decode
    ///   or no longer hash to `id`.
    /// - Note: Thread-safe. Example: `let (tx, at) = try store.transaction(withID: id)!`.
    public func transaction(withID id: Digest) throws(LedgerError) -> (transaction: Transaction, location: TransactionLocation)? {
        try read { (db) throws(LedgerError) -> (transaction: Transaction, location: TransactionLocation)? in
            let s = try db.statement("SELECT key, offset, length FROM transactions WHERE id = ?1 ORDER BY key LIMIT 1")
            s.bind(1, id)
            guard try s.step() else { s.reset(); return nil }
            let at = Self.location(key: s.int(0))
            let offset = Int32(s.int(1)), length = Int(s.int(2))
            s.reset()
            var blob: OpaquePointer?
            var rc = sqlite3_blob_open(db.handle, "main", "blocks", "encoded", Int64(bitPattern: at.height.rawValue), 0, &blob)
            guard rc == SQLITE_OK, let blob else {
                if let blob { sqlite3_blob_close(blob) }
                throw LedgerError.store(.indexMismatch, height: at.height, "transaction \(at.index) is indexed but its block is missing")
            }
            defer { sqlite3_blob_close(blob) }
            var bytes = [UInt8](repeating: 0, count: length)
            rc = bytes.withUnsafeMutableBytes { sqlite3_blob_read(blob, $0.baseAddress, Int32(length), offset) }
            guard rc == SQLITE_OK else { throw db.error(rc, sql: nil) }
            guard hashAlgorithm.hash(bytes) == id else {
                throw LedgerError.store(.indexMismatch, height: at.height, "transaction \(at.index) bytes do not hash to its indexed ID",
                                        details: ["transactionIndex": String(at.index)])
            }
            do throws(LedgerError) { return (try Transaction(decoding: bytes), at) } catch {
                throw LedgerError.store(.storeCorrupted, height: at.height, "transaction \(at.index) does not decode: \(error.message)")
            }
        }
    }

    /// The block at `height`, its stored encoding, and the range each transaction's encoding occupies in it
    /// (as the transaction index records it), from one read: for a reader that derives positions inside
    /// transactions (the record index) without encoding anything again.
    /// - Throws: `.heightNotFound` (1503); `.storeCorrupted` (1501) when the stored bytes do not decode;
    ///   `.indexMismatch` (1515) when the transaction index does not cover the block's transactions.
    /// - Note: Thread-safe.
    package func blockWithEncoding(atHeight height: Height) throws(LedgerError) -> (block: Block, encoded: [UInt8], transactions: [Range<Int>]) {
        try read { (db) throws(LedgerError) -> (block: Block, encoded: [UInt8], transactions: [Range<Int>]) in
            let s = try db.statement("SELECT encoded FROM blocks WHERE height = ?1")
            s.bind(1, height.rawValue)
            guard try s.step() else {
                s.reset()
                throw LedgerError.store(.heightNotFound, height: height, "no block at this height")
            }
            let encoded = s.blob(0)
            s.reset()
            let block = try Self.decodeBlock(encoded, height: height)
            let t = try db.statement("SELECT offset, length FROM transactions WHERE key >= ?1 AND key < ?2 ORDER BY key")
            defer { t.reset() }
            t.bind(1, StoreSchema.transactionKey(height: height, index: 0))
            t.bind(2, StoreSchema.transactionKey(height: height.next, index: 0))
            var ranges = [Range<Int>]()
            ranges.reserveCapacity(block.transactions.count)
            while try t.step() {
                let offset = Int(t.int(0)), length = Int(t.int(1))
                guard offset >= 0, length >= 0, offset + length <= encoded.count else {
                    throw LedgerError.store(.indexMismatch, height: height, "transaction \(ranges.count) is indexed outside its block",
                                            details: ["transactionIndex": String(ranges.count)])
                }
                ranges.append(offset..<(offset + length))
            }
            guard ranges.count == block.transactions.count else {
                throw LedgerError.store(.indexMismatch, height: height,
                                        "\(ranges.count) transactions indexed, the block holds \(block.transactions.count)")
            }
            return (block, encoded, ranges)
        }
    }

    /// Slices of one transaction at most this far apart are read in one call, as long as the run stays within ``sliceRunBytes``.
    static let sliceGapBytes = 4_096
    static let sliceRunBytes = 256 << 10

    /// For each slice, the ID of its transaction and the slice's bytes, in the order given, from one snapshot. Only
    /// the pages that hold the bytes are read (SQLite incremental blob I/O on the stored block), not whole blocks.
    /// The bytes are not checked here: the caller knows what they must hash or decode to.
    /// - Parameter slices: Required. Each names a committed transaction and a range inside its encoding.
    /// - Throws: `.indexMismatch` (1515) when no transaction is stored at a slice's height and index, or the
    ///   slice reaches outside the transaction; `.sqlite` (1510).
    /// - Note: Thread-safe, runs concurrently with appends.
    package func read(_ slices: [TransactionSlice]) throws(LedgerError) -> [(transactionID: Digest, bytes: [UInt8])] {
        guard !slices.isEmpty else { return [] }
        return try read { (db) throws(LedgerError) -> [(transactionID: Digest, bytes: [UInt8])] in
            let s = try db.statement("SELECT id, offset, length FROM transactions WHERE key = ?1")
            var blob: OpaquePointer?
            var blobHeight: Height?
            // The transaction row of the previous slice: in key order, slices of one transaction follow each other.
            var transaction: (key: Int64, id: Digest, start: Int64, length: Int64)?
            defer { if let blob { sqlite3_blob_close(blob) } }
            // Read block by block, each in increasing offsets: SQLite caches a blob's overflow page list while
            // one handle stays on a row, so a later slice continues the walk instead of starting it again.
            let order = slices.indices.sorted {
                let a = slices[$0], b = slices[$1]
                return (a.height.rawValue, a.index, a.offset) < (b.height.rawValue, b.index, b.offset)
            }
            var out = [(transactionID: Digest, bytes: [UInt8])](repeating: (.zero, []), count: slices.count)
            var next = 0
            while next < order.count {
                let slice = slices[order[next]]
                let key = StoreSchema.transactionKey(height: slice.height, index: slice.index)
                let found: (key: Int64, id: Digest, start: Int64, length: Int64)
                if let previous = transaction, previous.key == key {
                    found = previous
                } else {
                    s.bind(1, key)
                    guard try s.step(), let id = s.digest(0) else {
                        s.reset()
                        throw LedgerError.store(.indexMismatch, height: slice.height, "no transaction \(slice.index) is stored in this block",
                                                details: ["transactionIndex": String(slice.index)])
                    }
                    found = (key, id, s.int(1), s.int(2))
                    s.reset()
                    transaction = found
                }
                // One read for a run of slices of this transaction that lie close together (a page of records
                // uploaded together): the gaps cost less than a call per slice.
                var last = next
                var end = slice.offset + slice.length
                while last + 1 < order.count {
                    let candidate = slices[order[last + 1]]
                    guard candidate.height == slice.height, candidate.index == slice.index,
                          candidate.offset - end <= Self.sliceGapBytes, candidate.offset + candidate.length - slice.offset <= Self.sliceRunBytes else { break }
                    end = max(end, candidate.offset + candidate.length)
                    last += 1
                }
                for position in order[next...last] {
                    let piece = slices[position]
                    guard piece.offset >= 0, piece.length >= 0, Int64(piece.offset + piece.length) <= found.length else {
                        throw LedgerError.store(.indexMismatch, height: piece.height,
                                                "bytes \(piece.offset)..<\(piece.offset + piece.length) lie outside transaction \(piece.index) (\(found.length) bytes)",
                                                details: ["transactionIndex": String(piece.index)])
                    }
                }
                let row = Int64(bitPattern: slice.height.rawValue)
                if let open = blob {
                    if blobHeight != slice.height {
                        let rc = sqlite3_blob_reopen(open, row)
                        guard rc == SQLITE_OK else {
                            // A failed reopen leaves the handle aborted; it is still closed once, by the defer.
                            throw LedgerError.store(.indexMismatch, height: slice.height, "transaction \(slice.index) is indexed but its block is missing")
                        }
                    }
                } else {
                    let rc = sqlite3_blob_open(db.handle, "main", "blocks", "encoded", row, 0, &blob)
                    guard rc == SQLITE_OK, blob != nil else {
                        throw LedgerError.store(.indexMismatch, height: slice.height, "transaction \(slice.index) is indexed but its block is missing")
                    }
                }
                blobHeight = slice.height
                var run = [UInt8](repeating: 0, count: end - slice.offset)
                let rc = run.withUnsafeMutableBytes {
                    sqlite3_blob_read(blob, $0.baseAddress, Int32($0.count), Int32(found.start) + Int32(slice.offset))
                }
                guard rc == SQLITE_OK else { throw db.error(rc, sql: nil) }
                if last == next {
                    out[order[next]] = (found.id, run)
                } else {
                    for position in order[next...last] {
                        let piece = slices[position]
                        let from = piece.offset - slice.offset
                        out[position] = (found.id, Array(run[from..<(from + piece.length)]))
                    }
                }
                next = last + 1
            }
            return out
        }
    }

    /// The receipt of the transaction with `id`, or nil when the
    /// transaction is unknown or its block was stored without receipts.
    /// - Throws: `.storeCorrupted` (1501).
    /// - Note: Thread-safe. Example: `let r = try store.receipt(forTransaction: id)`.
    public func receipt(forTransaction id: Digest) throws(LedgerError) -> Receipt? {
        try read { (db) throws(LedgerError) -> Receipt? in
            let s = try db.statement("SELECT key, receipt FROM transactions WHERE id = ?1 ORDER BY key LIMIT 1")
            defer { s.reset() }
            s.bind(1, id)
            guard try s.step(), !s.isNull(1) else { return nil }
            return try Self.decodeReceipt(s.blob(1), at: Self.location(key: s.int(0)))
        }
    }

    /// The receipts of the block at `height`, in transaction order (empty
    /// when the block was stored without receipts).
    /// - Throws: `.heightNotFound` (1503), `.storeCorrupted` (1501).
    /// - Note: Thread-safe. Example: `let rs = try store.receipts(atHeight: 7)`.
    public func receipts(atHeight height: Height) throws(LedgerError) -> [Receipt] {
        try read { (db) throws(LedgerError) -> [Receipt] in
            let b = try db.statement("SELECT 1 FROM blocks WHERE height = ?1")
            b.bind(1, height.rawValue)
            guard try b.step() else {
                b.reset()
                throw LedgerError.store(.heightNotFound, height: height, "no block at this height")
            }
            b.reset()
            let s = try db.statement("SELECT key, receipt FROM transactions WHERE key >= ?1 AND key < ?2 AND receipt IS NOT NULL ORDER BY key")
            defer { s.reset() }
            s.bind(1, StoreSchema.transactionKey(height: height, index: 0))
            s.bind(2, StoreSchema.transactionKey(height: height.next, index: 0))
            var out = [Receipt]()
            while try s.step() { out.append(try Self.decodeReceipt(s.blob(1), at: Self.location(key: s.int(0)))) }
            return out
        }
    }

    static func decodeReceipt(_ bytes: [UInt8], at: TransactionLocation) throws(LedgerError) -> Receipt {
        do { return try Receipt(decoding: bytes) } catch {
            throw LedgerError.store(.storeCorrupted, height: at.height, "receipt \(at.index) does not decode: \(error.message)",
                                    details: ["transactionIndex": String(at.index)])
        }
    }

    // MARK: State

    /// The value of `key` in the world state after block `height`, or nil
    /// when the key is absent (never written, or deleted) at that height.
    /// - Parameters:
    ///   - key: Required. 1–1024 bytes.
    ///   - height: Optional, default the head. `0...head.height`.
    /// - Throws: `.heightNotFound` (1503) for a height above the head or an empty store.
    /// - Note: Thread-safe; a read at a committed height is unaffected by
    ///   appends running at the same time. Example: `try store.stateValue(forKey: k, atHeight: 9)`.
    public func stateValue(forKey key: [UInt8], atHeight height: Height? = nil) throws(LedgerError) -> [UInt8]? {
        try read { (db) throws(LedgerError) -> [UInt8]? in
            let h = try Self.resolve(height, db)
            return try Self.stateValue(key, at: h, db)
        }
    }

    static func resolve(_ height: Height?, _ db: SQLiteConnection) throws(LedgerError) -> Height {
        let top = try db.scalarInt("SELECT max(height) FROM blocks").map { Height(UInt64(bitPattern: $0)) }
        guard let top else {
            throw LedgerError(.heightNotFound, "the store is empty")
        }
        let h = height ?? top
        guard h <= top else {
            throw LedgerError.store(.heightNotFound, height: h, "state requested above the head \(top)")
        }
        return h
    }

    static func stateValue(_ key: [UInt8], at height: Height, _ db: SQLiteConnection) throws(LedgerError) -> [UInt8]? {
        let s = try db.statement("SELECT value FROM state WHERE key = ?1 AND height <= ?2 ORDER BY height DESC LIMIT 1")
        defer { s.reset() }
        s.bind(1, key)
        s.bind(2, height.rawValue)
        guard try s.step(), !s.isNull(0) else { return nil }
        return s.blob(0)
    }

    /// A consistent read-only view of the world state at `height` (default:
    /// the current head), for an execution that runs while the next block is
    /// being written.
    /// - Throws: `.heightNotFound` (1503).
    /// - Note: The snapshot is `Sendable`; its reads are thread-safe and see
    ///   exactly the state after block `height` until that block is rolled back.
    ///   Example: `let view = try store.snapshot(); let v = try view.value(forKey: k)`.
    public func snapshot(atHeight height: Height? = nil) throws(LedgerError) -> StateSnapshot {
        let h = try read { (db) throws(LedgerError) -> Height in try Self.resolve(height, db) }
        return StateSnapshot(store: self, height: h)
    }

    /// Every key/value pair live at `height`, sorted by key bytes.
    /// - Note: O(state size); for tools and tests. Thread-safe.
    public func stateEntries(atHeight height: Height? = nil) throws(LedgerError) -> [(key: [UInt8], value: [UInt8])] {
        try read { (db) throws(LedgerError) -> [(key: [UInt8], value: [UInt8])] in
            let h = try Self.resolve(height, db)
            let s = try db.statement("""
                SELECT key, value FROM state AS s WHERE height = (SELECT max(height) FROM state WHERE key = s.key AND height <= ?1)
                AND value IS NOT NULL ORDER BY key
                """)
            defer { s.reset() }
            s.bind(1, h.rawValue)
            var out = [(key: [UInt8], value: [UInt8])]()
            while try s.step() { out.append((s.blob(0), s.blob(1))) }
            return out
        }
    }
}

/// The world state as of one committed height.
public struct StateSnapshot: Sendable {
    /// The store read from.
    public let store: LedgerStore
    /// The height whose post-state this view shows.
    public let height: Height

    /// The value of `key` at ``height``, or nil when absent.
    /// - Throws: `.heightNotFound` (1503) if the height was rolled back since.
    public func value(forKey key: [UInt8]) throws(LedgerError) -> [UInt8]? {
        try store.stateValue(forKey: key, atHeight: height)
    }
}

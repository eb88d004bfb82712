import ArgumentParser
import CSQLite
import Foundation
import LedgerCore
import LedgerCoreTesting

/// `forgechain bench append`: the ledger store's append path against the
/// same rows written through the SQLite C API directly.
extension Benchmarks {
    /// Everything one block writes, precomputed, for the raw C-API baseline.
    struct RawBlockRows {
        var height: Int64, hash: [UInt8], parent: [UInt8], stateRoot: [UInt8], timestamp: Int64, count: Int64
        var encoded: [UInt8]
        var tx: [(key: Int64, id: [UInt8], offset: Int64, length: Int64, receipt: [UInt8])]
        var nodes: [(digest: [UInt8], bytes: [UInt8])]
        var state: [(key: [UInt8], value: [UInt8]?)]
    }

    static func append(_ r: BenchReporter, scale: Double) throws {
        let blockCount = max(3, Int(20 * scale))
        let perBlock = 1_000
        let algorithm = HashAlgorithm.sha256
        let producer = try PrivateKey.generate(.ed25519)
        let txs = try Workloads.signedTransactions(count: blockCount * perBlock, senders: 100, scheme: .ed25519, payloadBytes: 64)
        // Build the chain on a scratch store (it computes the state roots).
        let scratch = try LedgerStore.inMemory()
        var prepared = [(Block, [Receipt], StateChangeSet)]()
        var raw = [RawBlockRows]()
        var parent: BlockHeader?
        var root = StateTree.emptyRoot(algorithm)
        let tree = StateTree(algorithm)
        let nodes = InMemoryStateNodeStore()
        for b in 0..<blockCount {
            let slice = Array(txs[(b * perBlock)..<((b + 1) * perBlock)])
            var changes = StateChangeSet()
            for (i, tx) in slice.enumerated() {
                changes.set(Array("batch/\(i % 5_000 + b * 37 % 5_000)".utf8), to: tx.payload.body)
            }
            let receipts = slice.map { Receipt(transactionID: $0.id(using: algorithm), status: 0, output: [1], costUnits: 21_000) }
            let update = try tree.update(root: root, changes: changes.changes, store: nodes)
            nodes.insert(update)
            root = update.root
            let block = try Block.make(parent: parent, transactions: slice, stateRoot: update.root,
                                       receiptRoot: Receipt.root(of: receipts, using: algorithm), producerKey: producer,
                                       chainID: 1, hashAlgorithm: algorithm,
                                       timestamp: Timestamp(millisecondsSince1970: 1_764_000_000_000 + UInt64(b) * 1000))
            try scratch.append(block, receipts: receipts, stateChanges: changes)
            let (encoded, offsets) = BlockEncoding.assemble(block, transactionEncodings: slice.map(\.encoded))
            let height = Int64(b)
            raw.append(RawBlockRows(
                height: height, hash: block.headerHash.bytes, parent: block.header.parentHash.bytes,
                stateRoot: block.header.stateRoot.bytes, timestamp: Int64(block.header.timestamp.rawValue),
                count: Int64(slice.count), encoded: encoded,
                tx: slice.indices.map { i in (height << 20 | Int64(i), slice[i].id(using: algorithm).bytes, Int64(offsets[i]),
                                              Int64(slice[i].encoded.count), receipts[i].encoded) },
                nodes: update.nodes.map { ($0.digest.bytes, $0.encoded) },
                state: changes.netChanges.map { ($0.key, $0.value) }))
            prepared.append((block, receipts, changes))
            parent = block.header
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("forgechain-bench-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }

        var storeSeconds = Double.infinity, rawSeconds = Double.infinity
        var lastStore: LedgerStore?
        for rep in 0..<3 {
            // Alternate so both see the same machine load.
            let rawPath = dir + "/raw-\(rep).sqlite"
            rawSeconds = min(rawSeconds, try rawAppend(raw, path: rawPath))
            let path = dir + "/store-\(rep).sqlite"
            let store = try LedgerStore(path: path)
            let start = ContinuousClock.now
            for (block, receipts, changes) in prepared { try store.append(block, receipts: receipts, stateChanges: changes) }
            storeSeconds = min(storeSeconds, seconds(ContinuousClock.now - start))
            lastStore = store
        }
        r.report("store.append.block1000tx", count: blockCount, seconds: storeSeconds,
                 extra: ["tx_per_sec": Double(blockCount * perBlock) / storeSeconds])
        r.report("raw-sqlite.append.block1000tx", count: blockCount, seconds: rawSeconds,
                 extra: ["tx_per_sec": Double(blockCount * perBlock) / rawSeconds])
        r.report("store.append.ratio_to_raw", count: 1, seconds: 1, extra: ["ratio": rawSeconds / storeSeconds])

        // State reads at the head and at an older height, and proofs.
        let store = lastStore!
        let keys = (0..<5_000).map { Array("batch/\($0)".utf8) }
        let n = max(1_000, Int(20_000 * scale))
        var found = 0
        let readSeconds = try measure {
            for i in 0..<n where try store.stateValue(forKey: keys[(i &* 7919) % keys.count]) != nil { found += 1 }
        }
        r.report("store.state.read.head", count: n, seconds: readSeconds)
        let oldSeconds = try measure {
            for i in 0..<n { _ = try store.stateValue(forKey: keys[(i &* 7919) % keys.count], atHeight: 1) }
        }
        r.report("store.state.read.height1", count: n, seconds: oldSeconds)
        let p = max(200, Int(5_000 * scale))
        let proofSeconds = try measure {
            for i in 0..<p { _ = try store.stateProof(key: keys[(i &* 7919) % keys.count]) }
        }
        r.report("store.state.proof", count: p, seconds: proofSeconds)
        let stateWrites = prepared.reduce(0) { $0 + $1.2.netChanges.count }
        r.report("store.state.writes_in_append", count: stateWrites, seconds: storeSeconds)
        let lookups = max(1_000, Int(20_000 * scale))
        let ids = prepared.flatMap { $0.0.transactions.prefix(50).map { $0.id(using: algorithm) } }
        let lookupSeconds = try measure {
            for i in 0..<lookups { _ = try store.transaction(withID: ids[(i &* 31) % ids.count]) }
        }
        r.report("store.transaction.by_id", count: lookups, seconds: lookupSeconds)
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }

    /// The same rows as `LedgerStore.append` writes (same schema, same
    /// pragmas: WAL, synchronous=NORMAL), one transaction per block, through
    /// the C API with prepared statements and SQLITE_STATIC binds.
    static func rawAppend(_ blocks: [RawBlockRows], path: String) throws -> Double {
        var db: OpaquePointer?
        guard sqlite3_open(path, &db) == SQLITE_OK, let db else { throw ExitCode.failure }
        defer { sqlite3_close(db) }
        func exec(_ sql: String) throws {
            guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else {
                printError("raw baseline: \(String(cString: sqlite3_errmsg(db))) in \(sql)")
                throw ExitCode.failure
            }
        }
        try exec("PRAGMA journal_mode=WAL")
        try exec("PRAGMA synchronous=NORMAL")
        for m in StoreSchema.migrations { try exec(m) }
        func prepare(_ sql: String) -> OpaquePointer {
            var s: OpaquePointer?
            sqlite3_prepare_v2(db, sql, -1, &s, nil)
            return s!
        }
        let insBlock = prepare("INSERT INTO blocks(height, hash, parent_hash, state_root, timestamp, tx_count, encoded) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)")
        let insTx = prepare("INSERT INTO transactions(key, id, offset, length, receipt) VALUES(?1, ?2, ?3, ?4, ?5)")
        let findNode = prepare("SELECT id, bytes FROM state_nodes WHERE tag = ?1")
        let insNode = prepare("INSERT INTO state_nodes(tag, bytes) VALUES(?1, ?2)")
        let insMark = prepare("INSERT OR REPLACE INTO state_node_marks(height, first_id) VALUES(?1, ?2)")
        let insState = prepare("INSERT OR REPLACE INTO state(key, height, value) VALUES(?1, ?2, ?3)")
        let insMeta = prepare("INSERT OR REPLACE INTO meta(key, value) VALUES('head_height', ?1)")
        defer { for s in [insBlock, insTx, findNode, insNode, insMark, insState, insMeta] { sqlite3_finalize(s) } }
        func blob(_ s: OpaquePointer, _ i: Int32, _ b: [UInt8]) {
            b.withUnsafeBytes { _ = sqlite3_bind_blob(s, i, $0.baseAddress, Int32($0.count), forgechain_sqlite_transient()) }
        }
        func step(_ s: OpaquePointer) throws {
            guard sqlite3_step(s) == SQLITE_DONE else {
                printError("raw baseline: \(String(cString: sqlite3_errmsg(db)))")
                throw ExitCode.failure
            }
            sqlite3_reset(s)
        }
        let start = ContinuousClock.now
        for b in blocks {
            try exec("BEGIN IMMEDIATE")
            sqlite3_bind_int64(insBlock, 1, b.height)
            blob(insBlock, 2, b.hash); blob(insBlock, 3, b.parent); blob(insBlock, 4, b.stateRoot)
            sqlite3_bind_int64(insBlock, 5, b.timestamp); sqlite3_bind_int64(insBlock, 6, b.count)
            blob(insBlock, 7, b.encoded)
            try step(insBlock)
            for t in b.tx {
                sqlite3_bind_int64(insTx, 1, t.key); blob(insTx, 2, t.id)
                sqlite3_bind_int64(insTx, 3, t.offset); sqlite3_bind_int64(insTx, 4, t.length); blob(insTx, 5, t.receipt)
                try step(insTx)
            }
            var firstNode: Int64?
            for n in b.nodes.sorted(by: { $0.digest.lexicographicallyPrecedes($1.digest) }) {
                blob(findNode, 1, Array(n.digest.prefix(8)))
                var stored = false
                while sqlite3_step(findNode) == SQLITE_ROW {
                    let count = Int(sqlite3_column_bytes(findNode, 1))
                    if count == n.bytes.count, let p = sqlite3_column_blob(findNode, 1),
                       n.bytes.withUnsafeBytes({ memcmp($0.baseAddress!, p, count) == 0 }) { stored = true; break }
                }
                sqlite3_reset(findNode)
                if stored { continue }
                blob(insNode, 1, Array(n.digest.prefix(8))); blob(insNode, 2, n.bytes)
                try step(insNode)
                if firstNode == nil { firstNode = sqlite3_last_insert_rowid(db) }
            }
            if let firstNode {
                sqlite3_bind_int64(insMark, 1, b.height); sqlite3_bind_int64(insMark, 2, firstNode)
                try step(insMark)
            }
            for s in b.state {
                blob(insState, 1, s.key); sqlite3_bind_int64(insState, 2, b.height)
                if let v = s.value { blob(insState, 3, v) } else { sqlite3_bind_null(insState, 3) }
                try step(insState)
            }
            let h = String(b.height)
            sqlite3_bind_text(insMeta, 1, h, -1, forgechain_sqlite_transient())
            try step(insMeta)
            try exec("COMMIT")
        }
        return seconds(ContinuousClock.now - start)
    }
}

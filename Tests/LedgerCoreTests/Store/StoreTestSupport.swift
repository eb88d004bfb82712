import CSQLite
import Foundation
import LedgerCore

/// A temporary folder removed when the test is done.
final class TemporaryDirectory {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("forgechain-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
}

/// Builds a chain of blocks quickly: unsigned transactions with distinct
/// nonces (the store does not check signatures), one Ed25519 header
/// signature per block, receipts with a log each, and state changes.
struct TestChain {
    let producer: PrivateKey
    let sender: PrivateKey
    let algorithm: HashAlgorithm
    var parent: BlockHeader?
    var nonce: UInt64 = 0
    var time: UInt64 = 1_764_000_000_000

    init(algorithm: HashAlgorithm = .sha256) throws {
        producer = try PrivateKey.generate(.ed25519)
        sender = try PrivateKey.generate(.ed25519)
        self.algorithm = algorithm
    }

    /// The next block with `count` transactions, its receipts (when asked) and `changes`.
    mutating func next(transactions count: Int = 3, receipts withReceipts: Bool = true,
                       changes: StateChangeSet = StateChangeSet(), stateRoot: Digest? = nil) throws -> (block: Block, receipts: [Receipt]) {
        var txs = [Transaction]()
        for i in 0..<count {
            txs.append(Transaction(chainID: 1, sender: sender.publicKey, nonce: nonce, timestamp: Timestamp(millisecondsSince1970: time + UInt64(i)),
                                   payload: TransactionPayload(kind: "kv", body: Array("payload \(nonce) \(UUID().uuidString)".utf8))))
            nonce += 1
        }
        let receipts: [Receipt] = withReceipts ? txs.enumerated().map { (i, tx) -> Receipt in
            let id = tx.id(using: algorithm)
            return Receipt(transactionID: id, status: UInt64(i % 2), output: Array("out \(i)".utf8),
                           logs: [ReceiptLog(emitter: Array("kv".utf8), topics: [id], data: [UInt8(i & 0xff)])], costUnits: UInt64(100 + i))
        } : []
        time += 1_000
        // Without changes the state, and so its root, is the parent's.
        let root = stateRoot ?? parent?.stateRoot ?? StateTree.emptyRoot(algorithm)
        let block = try Block.make(parent: parent, transactions: txs, stateRoot: root,
                                   receiptRoot: withReceipts ? Receipt.root(of: receipts, using: algorithm) : .zero,
                                   producerKey: producer, chainID: 1, hashAlgorithm: algorithm,
                                   timestamp: Timestamp(millisecondsSince1970: time))
        parent = block.header
        return (block, receipts)
    }

    /// Appends `count` blocks to `store`; returns them.
    @discardableResult
    mutating func extend(_ store: LedgerStore, blocks count: Int, transactions: Int = 3,
                         changes: (Height) -> StateChangeSet = { _ in StateChangeSet() }) throws -> [Block] {
        var out = [Block]()
        for _ in 0..<count {
            let h = parent.map { $0.height.next } ?? 0
            let c = changes(h)
            let (block, receipts) = try next(transactions: transactions, changes: c, stateRoot: try store.stateRoot(applying: c))
            try store.append(block, receipts: receipts, stateChanges: c)
            out.append(block)
        }
        return out
    }
}

/// Deterministic state writes for height h: keys k0..k9, some deleted.
func sampleChanges(_ h: Height) -> StateChangeSet {
    var c = StateChangeSet()
    for i in 0..<4 {
        let key = Array("k\((Int(h.rawValue) * 3 + i) % 10)".utf8)
        if (Int(h.rawValue) + i) % 5 == 0 { c.delete(key) } else { c.set(key, to: Array("v\(h)-\(i)".utf8)) }
    }
    return c
}

/// Runs SQL directly on a store file through the C API (to damage it on purpose).
func rawSQL(_ path: String, _ sql: String) throws {
    var db: OpaquePointer?
    guard sqlite3_open(path, &db) == SQLITE_OK, let db else { throw CocoaError(.fileReadUnknown) }
    defer { sqlite3_close(db) }
    guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else {
        throw CocoaError(.fileWriteUnknown, userInfo: ["sqlite": String(cString: sqlite3_errmsg(db))])
    }
}

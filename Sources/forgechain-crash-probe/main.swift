// forgechain-crash-probe PATH [--transactions N] [--blocks N]
//
// Appends blocks to the store at PATH (continuing from its head) and writes
// each height to stdout, one line per block, with write(2) right after
// `append` returns. The store crash test kills this process with SIGKILL at
// a random moment and then requires every reported height to be in the
// store. Exits 0 after --blocks blocks (default: effectively forever).
import Foundation
import LedgerCore
import LedgerCoreTesting

let arguments = Array(CommandLine.arguments.dropFirst())
guard let path = arguments.first else {
    FileHandle.standardError.write(Data("usage: forgechain-crash-probe PATH [--transactions N] [--blocks N]\n".utf8))
    exit(2)
}
func option(_ name: String, _ fallback: Int, in arguments: [String]) -> Int {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count, let v = Int(arguments[i + 1]) else { return fallback }
    return v
}
let perBlock = option("--transactions", 20, in: arguments)
let maximumBlocks = option("--blocks", Int.max, in: arguments)

do {
    let store = try LedgerStore(path: path, configuration: .init(quickCheckBlocks: 1, sqliteQuickCheckOnOpen: false))
    let producer = try PrivateKey.generate(.ed25519)
    var parent: BlockHeader? = try store.head.map { try store.header(atHeight: $0.height) }
    var time = parent.map { $0.timestamp.rawValue + 1 } ?? 1_764_000_000_000
    let pool = try Workloads.signedTransactions(count: perBlock, senders: 4, scheme: .ed25519, chainID: 1,
                                                seed: UInt64(time))
    var written = 0
    while written < maximumBlocks {
        let height = parent.map { $0.height.next } ?? 0
        let txs = pool
        var changes = StateChangeSet()
        for i in 0..<perBlock {
            let key = Array("key-\(i % 50)".utf8)
            if (Int(height.rawValue) + i) % 7 == 0 { changes.delete(key) } else {
                changes.set(key, to: Array("value at \(height) for \(i)".utf8))
            }
        }
        let ids = txs.map { $0.id(using: .sha256) }
        let receipts = ids.enumerated().map { i, id in
            Receipt(transactionID: id, status: 0, output: [UInt8(i & 0xff)],
                    logs: [ReceiptLog(emitter: Array("probe".utf8), topics: [id], data: [1, 2, 3])], costUnits: UInt64(i))
        }
        time += 1
        let block = try Block.make(parent: parent, transactions: txs,
                                   stateRoot: try store.stateRoot(applying: changes),
                                   receiptRoot: Receipt.root(of: receipts, using: .sha256),
                                   producerKey: producer, chainID: 1, hashAlgorithm: .sha256,
                                   timestamp: Timestamp(millisecondsSince1970: time))
        try store.append(block, receipts: receipts, stateChanges: changes)
        let line = Array("\(height)\n".utf8)
        _ = line.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
        parent = block.header
        written += 1
    }
} catch {
    FileHandle.standardError.write(Data("crash-probe: \(error)\n".utf8))
    exit(1)
}

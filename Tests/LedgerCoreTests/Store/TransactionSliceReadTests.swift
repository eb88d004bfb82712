import Testing
@testable import LedgerStorage
import LedgerCrypto
import LedgerModel

/// `LedgerStore.read(_:)`: slices of stored transactions, as the record index reads records out of the ledger.
struct TransactionSliceReadTests {
    @Test func slicesInAnyOrderReturnTheirTransactionsBytesAndIDsInTheOrderAsked() throws {
        let store = try LedgerStore.inMemory()
        var chain = try TestChain()
        try chain.extend(store, blocks: 4, transactions: 4)
        var slices = [TransactionSlice](), expected = [(Digest, [UInt8])]()
        var rng = SplitMix64(seed: 13)
        for height in 0...3 {
            let block = try store.block(atHeight: Height(UInt64(height)))
            for (index, tx) in block.transactions.enumerated() {
                let bytes = tx.encoded
                // Nearby, overlapping, far apart and whole: runs of one transaction and reads on their own.
                for _ in 0..<5 {
                    let offset = Int(rng.next() % UInt64(bytes.count - 8))
                    let length = 1 + Int(rng.next() % UInt64(min(40, bytes.count - offset)))
                    slices.append(TransactionSlice(height: Height(UInt64(height)), index: index, offset: offset, length: length))
                    expected.append((tx.id(using: .sha256), Array(bytes[offset..<(offset + length)])))
                }
                slices.append(TransactionSlice(height: Height(UInt64(height)), index: index, offset: 0, length: bytes.count))
                expected.append((tx.id(using: .sha256), bytes))
            }
        }
        let order = Array(slices.indices).shuffled(using: &rng)
        let read = try store.read(order.map { slices[$0] })
        #expect(read.count == slices.count)
        for (i, position) in order.enumerated() {
            #expect(read[i].transactionID == expected[position].0)
            #expect(read[i].bytes == expected[position].1, "slice \(slices[position])")
        }
        #expect(try store.read([]).isEmpty)
    }

    @Test func aSliceOutsideItsTransactionOrOfAMissingTransactionIsAnIndexMismatch() throws {
        let store = try LedgerStore.inMemory()
        var chain = try TestChain()
        try chain.extend(store, blocks: 2, transactions: 2)
        let tx = try store.block(atHeight: 1).transactions[1]
        let past = #expect(throws: LedgerError.self) {
            try store.read([TransactionSlice(height: 1, index: 1, offset: tx.encoded.count - 4, length: 5)])
        }
        #expect(past?.code == .indexMismatch && past?.details["height"] == "1" && past?.details["transactionIndex"] == "1")
        let missing = #expect(throws: LedgerError.self) { try store.read([TransactionSlice(height: 1, index: 7, offset: 0, length: 1)]) }
        #expect(missing?.code == .indexMismatch && missing?.details["transactionIndex"] == "7")
        let above = #expect(throws: LedgerError.self) { try store.read([TransactionSlice(height: 9, index: 0, offset: 0, length: 1)]) }
        #expect(above?.code == .indexMismatch)
    }

    @Test func aBlockIsReturnedWithItsStoredEncodingAndEachTransactionsRange() throws {
        let store = try LedgerStore.inMemory()
        var chain = try TestChain()
        try chain.extend(store, blocks: 3, transactions: 3)
        let (block, encoded, ranges) = try store.blockWithEncoding(atHeight: 2)
        #expect(block == (try store.block(atHeight: 2)))
        #expect(encoded == block.encoded)
        #expect(ranges.count == 3)
        for (range, tx) in zip(ranges, block.transactions) { #expect(Array(encoded[range]) == tx.encoded) }
        let missing = #expect(throws: LedgerError.self) { try store.blockWithEncoding(atHeight: 5) }
        #expect(missing?.code == .heightNotFound)
    }
}

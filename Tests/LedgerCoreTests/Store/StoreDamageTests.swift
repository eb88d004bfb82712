import Foundation
import Testing
import LedgerCore

/// Damage done to a closed store file is reported with the matching typed
/// error naming the height: never a crash, never a silent repair.
struct StoreDamageTests {
    /// A closed 60-block store on disk, and its blocks.
    struct Damaged {
        let dir: TemporaryDirectory
        let path: String
        let blocks: [Block]

        init(blocks count: Int = 60) throws {
            dir = try TemporaryDirectory()
            path = dir.path("ledger.sqlite")
            var chain = try TestChain()
            let store = try LedgerStore(path: path)
            blocks = try chain.extend(store, blocks: count, transactions: 3, changes: sampleChanges)
        }   // the store closes here: the WAL is checkpointed into the file

        var bytes: [UInt8] { get throws { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) } }

        func write(_ bytes: [UInt8]) throws { try Data(bytes).write(to: URL(fileURLWithPath: path)) }

        /// Flips one byte at the first occurrence of `needle` (plus `offset`).
        func flip(inside needle: [UInt8], offset: Int) throws {
            var b = try bytes
            let at = try #require(b.firstRange(of: needle), "pattern not found in the file")
            b[at.lowerBound + offset] ^= 0x5a
            try write(b)
        }

        /// The first error from opening the store and running the full check.
        func detect() -> LedgerError? {
            do {
                let store = try LedgerStore(path: path)
                try store.checkIntegrity(.full)
                return nil
            } catch {
                return error
            }
        }
    }

    @Test func alteredHeaderBytesAreReportedAsABlockHashMismatchAtTheirHeight() throws {
        let d = try Damaged()
        let header = RLP.encode(d.blocks[30].header.item)
        let root = d.blocks[30].header.transactionRoot.bytes
        let offset = try #require(header.firstRange(of: root)).lowerBound + 5
        try d.flip(inside: header, offset: offset)
        // Block 30 is outside the quick check at open; the full check finds it.
        let error = try #require(d.detect())
        #expect(error.code == .blockHashMismatch, "\(error)")
        #expect(error.details["height"] == "30")
    }

    @Test func alteredTransactionBytesAreReportedAsARootMismatchAtTheirHeight() throws {
        let d = try Damaged()
        let body = d.blocks[17].transactions[1].payload.body
        try d.flip(inside: body, offset: 3)
        let error = try #require(d.detect())
        #expect(error.code == .storedRootMismatch, "\(error)")
        #expect(error.details["height"] == "17")
        #expect(error.details["root"] == "transaction")
    }

    @Test func alteredBytesInARecentBlockAreCaughtWhenTheStoreOpens() throws {
        let d = try Damaged()
        let header = RLP.encode(d.blocks[58].header.item)
        let root = d.blocks[58].header.transactionRoot.bytes
        try d.flip(inside: header, offset: try #require(header.firstRange(of: root)).lowerBound)
        let error = #expect(throws: LedgerError.self) { try LedgerStore(path: d.path) }
        #expect(error?.code == .blockHashMismatch)
        #expect(error?.details["height"] == "58")
    }

    @Test(arguments: [1, 3, 10])
    func truncatedFileIsReportedAsTruncated(pagesCut: Int) throws {
        let d = try Damaged()
        var b = try d.bytes
        b.removeLast(4096 * pagesCut)
        try d.write(b)
        let error = #expect(throws: LedgerError.self) { try LedgerStore(path: d.path) }
        #expect(error?.code == .truncatedFile)
        let backup = #expect(throws: LedgerError.self) { try LedgerStore.verifyBackup(at: d.path) }
        #expect(backup?.code == .truncatedFile)
    }

    @Test func fileCutInsideAPageIsReportedAsTruncated() throws {
        let d = try Damaged()
        var b = try d.bytes
        b.removeLast(1000)
        try d.write(b)
        #expect((#expect(throws: LedgerError.self) { try LedgerStore(path: d.path) })?.code == .truncatedFile)
    }

    @Test func deletedBlockRowIsReportedAsAMissingBlockAtItsHeight() throws {
        let d = try Damaged()
        try rawSQL(d.path, "DELETE FROM blocks WHERE height = 20")
        let error = try #require(d.detect())
        #expect(error.code == .missingBlock, "\(error)")
        #expect(error.details["height"] == "20")
    }

    @Test func deletedHeadRowIsReportedAsAMissingBlockWhenTheStoreOpens() throws {
        let d = try Damaged()
        try rawSQL(d.path, "DELETE FROM blocks WHERE height = 59")
        let error = #expect(throws: LedgerError.self) { try LedgerStore(path: d.path) }
        #expect(error?.code == .missingBlock)
        #expect(error?.details["height"] == "59")
    }

    @Test func deletedTransactionIndexRowIsReportedAsAnIndexMismatch() throws {
        let d = try Damaged()
        try rawSQL(d.path, "DELETE FROM transactions WHERE key = \(12 << 20 | 1)")
        let error = try #require(d.detect())
        #expect(error.code == .indexMismatch, "\(error)")
        #expect(error.details["height"] == "12")
    }

    @Test func deletedStateNodeIsReportedAtTheHeightThatNeedsIt() throws {
        let d = try Damaged()
        let root = d.blocks[44].header.stateRoot
        try rawSQL(d.path, "DELETE FROM state_nodes WHERE tag = x'\(root.hex.prefix(16))'")
        let error = try #require(d.detect())
        #expect(error.code == .storedRootMismatch, "\(error)")
        #expect(error.details["height"] == "44")
        #expect(error.details["root"] == "state")
    }

    @Test func fileThatIsNotADatabaseIsReportedAsCorrupted() throws {
        let d = try Damaged()
        var b = try d.bytes
        for i in 0..<16 { b[i] = 0x41 }
        try d.write(b)
        #expect((#expect(throws: LedgerError.self) { try LedgerStore(path: d.path) })?.code == .storeCorrupted)
    }

    @Test(arguments: [2, 5, 9])
    func pageOverwrittenWithGarbageIsReportedNeverRepaired(page: Int) throws {
        let d = try Damaged()
        var b = try d.bytes
        let pageSize = 4096
        let p = min(page, b.count / pageSize - 1)
        for i in (p * pageSize)..<((p + 1) * pageSize) { b[i] = UInt8(truncatingIfNeeded: i &* 131) }
        try d.write(b)
        let error = try #require(d.detect(), "garbage page \(p) went unnoticed")
        let typed: Set<LedgerError.Code> = [.storeCorrupted, .blockHashMismatch, .storedRootMismatch, .indexMismatch, .missingBlock]
        #expect(typed.contains(error.code), "\(error)")
        if error.code != .storeCorrupted { #expect(error.details["height"] != nil) }
        // Not repaired: detection is stable.
        #expect(d.detect()?.code == error.code)
    }
}

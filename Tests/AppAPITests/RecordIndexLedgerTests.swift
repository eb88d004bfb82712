import Foundation
import Testing
@testable import AppAPI
import LedgerCore

/// The record index keeps where each record version lies in the ledger, not a copy (schema 3): what a query
/// returns is read from the chain's own bytes and checked against the digest stored beside them.
struct RecordIndexLedgerTests {
    /// A single-node platform whose transactions hold at most 4 KiB of operations, so a batch spreads over
    /// several transactions and blocks.
    static func smallTransactions(directory: String? = nil) async throws -> RecordsFixture {
        let dir = directory ?? FileManager.default.temporaryDirectory.appendingPathComponent("forgechain-index-\(UUID().uuidString)").path
        var options = Platform.Options()
        options.identity.hasher = PasswordHasher(logN: 10)
        options.passphrase = try Passphrase("test-keystore-passphrase")
        options.commitTimeout = .seconds(60)
        options.clock = .simulated
        options.maximumTransactionBodyBytes = 4 << 10
        let platform = try await Platform.open(.singleNode(directory: dir), options: options)
        if try await platform.identity.needsBootstrap() {
            _ = try await platform.identity.createAdministrator(user: "root", password: RecordsFixture.password, roles: [.superAdmin], token: nil)
        }
        let token = try await platform.identity.login(user: "root", password: RecordsFixture.password, oneTimeCode: nil).token
        return RecordsFixture(platform: platform, directory: dir, rootToken: token)
    }

    @Test func recordsReadThroughTheIndexEqualTheUploadedOnesAcrossBlocksAndTransactions() async throws {
        let f = try await Self.smallTransactions()
        var uploaded = [String: ManufacturingRecord]()
        for batch in 0..<3 {
            let records = (0..<60).map { i -> ManufacturingRecord in
                let n = batch * 60 + i
                return n % 3 == 0 ? RecordsFixture.inspection(n) : RecordsFixture.production(n, batch: "B-\(n % 7)", device: n % 2 == 0 ? "PRESS-\(n % 5)" : nil)
            }
            _ = try await f.platform.records.uploadBatch(records, token: f.rootToken)
            for r in records { uploaded[r.recordID] = r }
        }
        let updated = try await f.platform.records.update(recordID: "P-4", fields: ["pro_op_info.pro_op_record": "shift B"], token: f.rootToken)
        #expect(updated.version == 2)

        let index = f.platform.records.index
        let ledger = await f.platform.node.ledger
        var places = Set<[UInt64]>(), heights = Set<UInt64>()
        for id in uploaded.keys {
            let at = try #require(try index.locationForTesting(id, version: 1))
            places.insert([at.height, UInt64(at.transactionIndex)])
            heights.insert(at.height)
        }
        #expect(heights.count >= 3 && places.count > heights.count, "\(heights.count) blocks, \(places.count) transactions")

        var seen = [StoredRecord]()
        var query = RecordQuery(limit: 25)
        repeat {
            let page = try await f.platform.records.query(query, token: f.rootToken)
            seen += page.records
            query.cursor = page.nextCursor
        } while query.cursor != nil
        #expect(seen.count == uploaded.count)
        #expect(seen.map(\.recordID) == seen.sorted { ($0.record.time, $0.recordID) < ($1.record.time, $1.recordID) }.map(\.recordID))
        for stored in seen where stored.recordID != "P-4" {
            #expect(stored.record == uploaded[stored.recordID])
            #expect(stored.digest == HashAlgorithm.sha256.hash(stored.record.canonicalEncoding))
            #expect(stored.version == 1 && stored.uploader == "root")
            let tx = try #require(try ledger.transaction(withID: stored.transactionID))
            #expect(tx.location.height.rawValue == stored.height)
        }
        let history = try await f.platform.records.history(recordID: "P-4", token: f.rootToken)
        #expect(history.map(\.version) == [1, 2])
        #expect(history[0].record == uploaded["P-4"])
        #expect(history[1].changedFields == ["pro_op_info.pro_op_record"])
        #expect(history[1].digest == HashAlgorithm.sha256.hash(history[1].record.canonicalEncoding))
        #expect(try index.current("P-4") == history[1])
        await f.close()
    }

    /// The index gives the time order; records sharing one time are ordered by ID after the read, and a page
    /// that ends inside such a group continues with the rest of it on the next page.
    @Test(arguments: RecordQuery.Order.allCases)
    func recordsSharingATimeAreOrderedByIDAcrossPages(_ order: RecordQuery.Order) async throws {
        let f = try await RecordsFixture.open()
        // 30 records at 3 times, uploaded in an order unlike their IDs' (as text: P-1 < P-10 < P-2).
        let numbers = [17, 3, 25, 9, 1, 28, 12, 5, 21, 14, 0, 19, 7, 26, 10, 2, 23, 15, 8, 29, 4, 11, 27, 16, 6, 20, 13, 24, 18, 22]
        let records = numbers.map { RecordsFixture.production($0, minute: $0 % 3) }
        _ = try await f.platform.records.uploadBatch(records, token: f.rootToken)
        let ascending = records.sorted { ($0.time, $0.recordID) < ($1.time, $1.recordID) }.map(\.recordID)
        let expected = order == .timeAscending ? ascending : Array(ascending.reversed())
        for filtered in [false, true] {
            var seen = [String]()
            var query = RecordQuery(batchNumber: filtered ? "B-17" : nil, order: order, limit: 4)
            repeat {
                let page = try await f.platform.records.query(query, token: f.rootToken)
                #expect(page.records.count == 4 || page.nextCursor == nil)
                seen += page.records.map(\.recordID)
                query.cursor = page.nextCursor
            } while query.cursor != nil
            #expect(seen == expected, "filtered: \(filtered)")
        }
        await f.close()
    }

    /// Which stored byte the damage test changes: one inside the record, or one of the digest stored after it.
    enum DamagedByte: CaseIterable, Sendable { case record, digest }

    @Test(arguments: DamagedByte.allCases)
    func aDamagedLedgerByteUnderAnIndexedRecordIsATypedErrorNotAWrongRecord(_ byte: DamagedByte) async throws {
        let f = try await Self.smallTransactions()
        _ = try await f.platform.records.uploadBatch((0..<40).map { RecordsFixture.production($0) }, token: f.rootToken)
        let index = f.platform.records.index
        let at = try #require(try index.locationForTesting("P-5", version: 1))
        let ledgerPath = try #require(await f.platform.node.ledger.path)
        do {
            // Another connection changes one byte of the stored block, as a disk or an editor would.
            let db = try SQLiteConnection(path: ledgerPath, mode: .readWrite)
            let key = Int64(at.height) << 20 | Int64(at.transactionIndex)
            let s = try db.statement("SELECT offset FROM transactions WHERE key = ?1")
            s.bind(1, key)
            #expect(try s.step())
            let txOffset = Int(s.int(0))
            s.reset()
            let r = try db.statement("SELECT encoded FROM blocks WHERE height = ?1")
            r.bind(1, at.height)
            #expect(try r.step())
            var encoded = r.blob(0)
            r.reset()
            let position = txOffset + (byte == .record ? at.bytes.lowerBound + at.bytes.count / 2 : at.bytes.upperBound + 10)
            encoded[position] ^= 0x01
            let w = try db.statement("UPDATE blocks SET encoded = ?1 WHERE height = ?2")
            w.bind(1, encoded)
            w.bind(2, at.height)
            try w.run()
        }
        let error = try #require(throws: AppError.self) { try index.current("P-5") }
        #expect(error.code == .recordDamaged)
        #expect(error.details["recordID"] == "P-5" && error.details["height"] == String(at.height))
        let history = try #require(throws: AppError.self) { try index.history("P-5") }
        #expect(history.code == .recordDamaged)
        let page = await #expect(throws: AppError.self) {
            try await f.platform.records.query(RecordQuery(productUID: "P-5"), token: f.rootToken)
        }
        #expect(page?.code == .recordDamaged)
        // Records stored elsewhere still read.
        let other = try #require(try index.locationForTesting("P-39", version: 1))
        if other.height != at.height || other.transactionIndex != at.transactionIndex {
            #expect(try index.current("P-39")?.record == RecordsFixture.production(39))
        }
        await f.close()
    }

    /// The index's bytes per record, bounded: the budget leaves the index about 300 B of the 1.05 KB
    /// per record (the ledger takes the rest). Schema 3 measures about 238 B at 20,000 such records and 249 B at
    /// 300,000 (Performance.md, "Scale"); schema 2 took 599 B at 20,000 (a copy of each record, its digest and
    /// transaction ID, filter strings in every index entry), so this fails if copies or strings come back.
    @Test func theIndexTakesAtMost300BytesPerRecord() async throws {
        let f = try await RecordsFixture.open()
        let count = 20_000
        var first = 0
        while first < count {
            let records = (first..<(first + 2_000)).map { i in
                RecordsFixture.production(i, batch: "B-\(i / 100)", factory: "F-KM-0\(i % 3)", device: "PRESS-\(i % 20)")
            }
            _ = try await f.platform.records.uploadBatch(records, token: f.rootToken)
            first += 2_000
        }
        #expect(try f.platform.records.index.count() == count)
        await f.platform.close()   // checkpoints the index: its file alone holds it
        let db = try SQLiteConnection(path: f.directory + "/records-index.sqlite", mode: .readOnly)
        let pages = try #require(try db.scalarInt("PRAGMA page_count")) - (try db.scalarInt("PRAGMA freelist_count") ?? 0)
        let bytes = Int(pages) * Int(try #require(try db.scalarInt("PRAGMA page_size")))
        #expect(bytes / count <= 300, "\(bytes / count) bytes per record")
        try? FileManager.default.removeItem(atPath: f.directory)
    }
}

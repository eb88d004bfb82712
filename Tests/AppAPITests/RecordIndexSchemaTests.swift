import Foundation
import Testing
@testable import AppAPI
import LedgerCore

/// The record index stores each record's bytes once, and an index of the earlier schema (a second copy of every
/// record in `records_current`) is dropped on open and derived again from the chain.
struct RecordIndexSchemaTests {
    @Test func aRecordsBytesAreStoredOnceAndTheCurrentRowPointsAtItsVersion() throws {
        let index = try RecordIndex(path: ":memory:")
        let columns = try index.tableColumnsForTesting("records_current")
        #expect(!columns.contains("body") && !columns.contains("digest"))
        #expect(columns.contains("version") && columns.contains("batch"))
        #expect(try index.tableColumnsForTesting("records_versions").contains("body"))
    }

    @Test func anIndexOfTheEarlierSchemaIsRebuiltFromTheChainOnOpen() async throws {
        var f = try await RecordsFixture.open()
        let records = (0..<20).map { RecordsFixture.production($0) }
        _ = try await f.platform.records.uploadBatch(records, token: f.rootToken)
        _ = try await f.platform.records.update(recordID: "P-4", fields: ["pro_op_info.pro_op_record": "shift B"], token: f.rootToken)
        await f.platform.close()

        // Put the index file back to schema 1: records_current with a copy of every record, filled, meta at the head.
        let path = f.directory + "/records-index.sqlite"
        do {
            let db = try SQLiteConnection(path: path, mode: .readWrite)
            try db.execute("""
                DROP TABLE records_current;
                CREATE TABLE records_current(
                    record_id TEXT PRIMARY KEY, kind TEXT NOT NULL, factory TEXT NOT NULL, time INTEGER NOT NULL,
                    product TEXT, batch TEXT, device TEXT, location TEXT, operator TEXT,
                    version INTEGER NOT NULL, body BLOB NOT NULL, digest BLOB NOT NULL, uploader TEXT NOT NULL,
                    height INTEGER NOT NULL, tx_id BLOB NOT NULL, changed TEXT NOT NULL, condition TEXT NOT NULL, committed_at INTEGER NOT NULL);
                INSERT INTO records_current SELECT v.record_id, 'production', 'F-KM-02', 0, NULL, 'B-OLD', NULL, NULL, NULL,
                    v.version, v.body, v.digest, v.uploader, v.height, v.tx_id, v.changed, v.condition, v.committed_at
                    FROM records_versions v WHERE v.version = (SELECT max(version) FROM records_versions w WHERE w.record_id = v.record_id);
                """)
        }

        f = try await RecordsFixture.open(directory: f.directory)
        // Rebuilt from the chain: every record once, current versions, filters from the records themselves.
        let all = try await f.platform.records.query(RecordQuery(limit: 1000), token: f.rootToken)
        #expect(all.records.map(\.recordID).sorted() == records.map(\.recordID).sorted())
        #expect(all.records.first { $0.recordID == "P-4" }?.version == 2)
        #expect(try await f.platform.records.query(RecordQuery(batchNumber: "B-OLD", limit: 10), token: f.rootToken).records.isEmpty)
        #expect(try await f.platform.records.query(RecordQuery(batchNumber: "B-17", limit: 1000), token: f.rootToken).records.count == 20)
        #expect(try await f.platform.records.history(recordID: "P-4", token: f.rootToken).map(\.version) == [1, 2])
        let columns = try f.platform.records.index.tableColumnsForTesting("records_current")
        #expect(!columns.contains("body"))
        await f.close()
    }
}

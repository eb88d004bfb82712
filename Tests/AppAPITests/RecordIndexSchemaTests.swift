import Foundation
import Testing
@testable import AppAPI
import LedgerCore

/// The record index keeps no copy of a record (schema 3: where it lies in the ledger, integer keys, strings
/// numbered once), and an index of an earlier schema is dropped on open and derived again from the chain.
struct RecordIndexSchemaTests {
    @Test func aVersionRowLocatesItsRecordInTheLedgerInsteadOfCopyingIt() throws {
        let index = try RecordIndex(path: ":memory:", ledger: LedgerStore.inMemory())
        let versions = try index.tableColumnsForTesting("records_versions")
        #expect(versions == ["record", "version", "height", "tx", "offset", "length", "uploader", "changed", "condition"])
        let current = try index.tableColumnsForTesting("records_current")
        #expect(current.first == "id" && current.contains("batch") && current.contains("version"))
        #expect(!current.contains("body") && !current.contains("digest"))
    }

    @Test func anIndexOfSchema2IsRebuiltFromTheChainOnOpen() async throws {
        var f = try await RecordsFixture.open()
        let records = (0..<20).map { RecordsFixture.production($0) }
        _ = try await f.platform.records.uploadBatch(records, token: f.rootToken)
        _ = try await f.platform.records.update(recordID: "P-4", fields: ["pro_op_info.pro_op_record": "shift B"], token: f.rootToken)
        await f.platform.close()

        // Put the index file back to schema 2 (each record's bytes copied into records_versions), filled with
        // rows the chain does not hold, meta at the head so that a catch-up alone would keep them.
        let path = f.directory + "/records-index.sqlite"
        do {
            let db = try SQLiteConnection(path: path, mode: .readWrite)
            try db.execute("""
                DROP TABLE records_current; DROP TABLE records_versions; DROP TABLE records_strings; DROP TABLE records_blocks;
                DELETE FROM records_meta WHERE key = 'schema';
                CREATE TABLE records_current(
                    record_id TEXT PRIMARY KEY, kind TEXT NOT NULL, factory TEXT NOT NULL, time INTEGER NOT NULL,
                    product TEXT, batch TEXT, device TEXT, location TEXT, operator TEXT, version INTEGER NOT NULL) WITHOUT ROWID;
                CREATE TABLE records_versions(
                    record_id TEXT NOT NULL, version INTEGER NOT NULL, body BLOB NOT NULL, digest BLOB NOT NULL, uploader TEXT NOT NULL,
                    height INTEGER NOT NULL, tx_id BLOB NOT NULL, changed TEXT NOT NULL, condition TEXT NOT NULL, committed_at INTEGER NOT NULL,
                    PRIMARY KEY(record_id, version)) WITHOUT ROWID;
                INSERT INTO records_current VALUES ('OLD-1', 'production', 'F-KM-02', 0, NULL, 'B-OLD', NULL, NULL, NULL, 1);
                INSERT INTO records_versions VALUES ('OLD-1', 1, x'00', zeroblob(32), 'root', 1, zeroblob(32), '', '', 0);
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
        let columns = try f.platform.records.index.tableColumnsForTesting("records_versions")
        #expect(!columns.contains("body") && columns.contains("offset"))
        await f.close()
    }
}

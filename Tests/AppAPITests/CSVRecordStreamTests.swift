import Foundation
import Testing
@testable import AppAPI
import LedgerCore

/// A CSV file read a batch at a time: the same checks as `RecordIngest.parse`, indexes and lines counted from
/// the file's start, structural errors with their line after the batches before them, and re-runs of an upload
/// that skip what is on chain already.
struct CSVRecordStreamTests {
    static let header = "production_time,production_location,product_uid,pro_raw_material.pro_supplier,pro_raw_material.pro_batch_number,"
        + "pro_raw_material.pro_Report_qualify_eval,propara.pro_temperature,propara.pro_humidity,propara.pro_pressure,"
        + "pro_op_info.pro_op_name,pro_op_info.pro_op_id,pro_op_info.pro_op_record,pro_factory_uid,device_id"

    /// Row `i`: product `P-i`; the note of every 5th row holds a quoted line break (the row spans two lines).
    static func row(_ i: Int, time: String = "2025-03-02T08:00:00Z") -> String {
        let note = i % 5 == 0 ? "\"shift A\nrestarted\"" : "shift A"
        return "\(time),Line 3,P-\(i),Copper Co.,B-19,pass,70.1,39,101.3,Li Wei,OP-7,\(note),F-KM-02,PRESS-04"
    }

    func file(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("forgechain-csv-\(UUID().uuidString).csv").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func batchesCarryFileWideIndexesAndLinesAndTheBadRecordsAsIssues() throws {
        // 25 rows; row 11 has a bad time. Rows 0, 5, 10... take two lines each.
        let rows = (0..<25).map { $0 == 11 ? Self.row($0, time: "yesterday") : Self.row($0) }
        let path = try file("\u{FEFF}" + Self.header + "\n" + rows.joined(separator: "\n") + "\n\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let stream = try CSVRecordStream(path: path)
        var sizes = [Int](), ids = [String](), issues = [RecordIngest.Issue]()
        while let batch = try stream.next(7) {
            sizes.append(batch.records.count + batch.issues.count)
            ids += batch.records.map(\.record.recordID)
            issues += batch.issues
            #expect(batch.records.map(\.index) == batch.records.map { Int($0.record.recordID.dropFirst(2))! })
        }
        #expect(sizes == [7, 7, 7, 4])
        #expect(stream.recordsRead == 25)
        #expect(ids == (0..<25).filter { $0 != 11 }.map { "P-\($0)" })
        let issue = try #require(issues.first)
        #expect(issues.count == 1 && issue.index == 11)
        // Line 1 is the header; rows 0, 5 and 10 span two lines, so row 11 starts on line 2 + 11 + 3.
        #expect(issue.line == 16)
        #expect(issue.error.details["field"] == "production_time")
        #expect(try stream.next(7) == nil)
    }

    @Test func theSameFileParsesAlikeWholeOrStreamed() throws {
        let text = Self.header + "\n" + (0..<12).map { $0 == 4 ? Self.row($0, time: "") : Self.row($0) }.joined(separator: "\n")
        let path = try file(text)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let whole = try RecordIngest.parse(Data(text.utf8), format: .csv)
        let stream = try CSVRecordStream(path: path)
        var streamed = RecordIngest.Result(records: [], issues: [], token: nil)
        while let b = try stream.next(5) { streamed.records += b.records; streamed.issues += b.issues }
        #expect(streamed.records.map(\.index) == whole.records.map(\.index))
        #expect(streamed.records.map(\.record) == whole.records.map(\.record))
        #expect(streamed.issues == whole.issues)
    }

    @Test func aBrokenRowStopsTheStreamWithItsLineAfterTheBatchesBeforeIt() throws {
        let rows = (0..<9).map { Self.row($0 + 1) } + ["2025-03-02T08:00:00Z,too,few,cells"] + [Self.row(50)]
        let path = try file(Self.header + "\n" + rows.joined(separator: "\n"))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let stream = try CSVRecordStream(path: path)
        #expect(try stream.next(4)?.records.count == 4)
        #expect(try stream.next(4)?.records.count == 4)
        let e = #expect(throws: AppError.self) { try stream.next(4) }
        #expect(e?.code == .malformedCSV)
        // Rows 1...9: row 5 spans two lines, so the broken row starts on line 12.
        #expect(e?.details["line"] == "12")
    }

    @Test func unreadableEmptyAndHeaderOnlyFilesAreRefused() throws {
        let missing = #expect(throws: AppError.self) { try CSVRecordStream(path: "/nonexistent/records.csv") }
        #expect(missing?.code == .emptyInput)
        let empty = try file("")
        defer { try? FileManager.default.removeItem(atPath: empty) }
        #expect((#expect(throws: AppError.self) { try CSVRecordStream(path: empty) })?.code == .emptyInput)
        let headerOnly = try file(Self.header + "\n")
        defer { try? FileManager.default.removeItem(atPath: headerOnly) }
        let stream = try CSVRecordStream(path: headerOnly)
        #expect((#expect(throws: AppError.self) { try stream.next() })?.code == .emptyInput)
        let twice = try file("product_uid,product_uid\nP-1,P-1\n")
        defer { try? FileManager.default.removeItem(atPath: twice) }
        #expect((#expect(throws: AppError.self) { try CSVRecordStream(path: twice) })?.code == .malformedCSV)
    }

    @Test func checkAllRejectsAFileWithAnyBadRecordAndCountsAGoodOne() throws {
        let good = try file(Self.header + "\n" + (0..<30).map { Self.row($0) }.joined(separator: "\n"))
        let bad = try file(Self.header + "\n" + (0..<30).map { $0 == 27 ? Self.row($0, time: "soon") : Self.row($0) }.joined(separator: "\n"))
        defer { for p in [good, bad] { try? FileManager.default.removeItem(atPath: p) } }
        #expect(try CSVRecordStream(path: good).checkAll() == 30)
        let e = #expect(throws: AppError.self) { try CSVRecordStream(path: bad).checkAll() }
        #expect(e?.code == .batchRejected)
        #expect(e?.details["rejected"] == "1" && e?.details["records"] == "30")
        #expect(e?.details["record 27"] != nil)
    }

    @Test func uploadNewSkipsRecordsAlreadyOnChainAndRefusesAnIDWithOtherContent() async throws {
        let f = try await RecordsFixture.open()
        let first = (0..<10).map { RecordsFixture.production($0) }
        #expect(try await f.platform.records.uploadBatch(first, token: f.rootToken).count == 10)
        // A re-run of an interrupted import: the first ten again, then five new ones.
        let again = first + (10..<15).map { RecordsFixture.production($0) }
        let result = try await f.platform.records.uploadNew(again, token: f.rootToken)
        #expect(result.alreadyOnChain == first.map(\.recordID))
        #expect(result.receipts.map(\.recordID) == (10..<15).map { RecordsFixture.production($0).recordID })
        // Nothing left to upload: no transaction, no receipt.
        let head = await f.platform.node.head.height
        let none = try await f.platform.records.uploadNew(again, token: f.rootToken)
        #expect(none.receipts.isEmpty && none.alreadyOnChain.count == 15)
        #expect(await f.platform.node.head.height == head)
        // An ID on chain with other content is refused and nothing of the batch goes to the chain.
        let changed = RecordsFixture.production(3, batch: "B-99")
        #expect(changed.recordID == first[3].recordID)
        let e = await #expect(throws: AppError.self) {
            try await f.platform.records.uploadNew([RecordsFixture.production(20), changed], token: f.rootToken)
        }
        #expect(e?.code == .recordExists)
        let page = try await f.platform.records.query(RecordQuery(limit: 1000), token: f.rootToken)
        #expect(page.records.count == 15)
        await f.platform.close()
    }
    @Test func theRecordLimitIsABatchesNotAFiles() throws {
        let text = Self.header + "\n" + (0..<5).map { Self.row($0) }.joined(separator: "\n")
        // The API batch limit (100,000; 3 here) refuses a larger batch; a file the CLI uploads in batches has none.
        let e = #expect(throws: AppError.self) { try RecordIngest.parse(Data(text.utf8), format: .csv, kind: .production, allOrNothing: false, recordLimit: 3) }
        #expect(e?.code == .invalidFieldValue)
        #expect(try RecordIngest.parseFile(Data(text.utf8), format: .csv).records.count == 5)
    }
}

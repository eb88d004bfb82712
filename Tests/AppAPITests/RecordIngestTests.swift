import Foundation
import Testing
@testable import AppAPI
import LedgerCore

/// The sample files a plant team starts from, in Examples/data.
enum SampleData {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Examples/data")
    static func data(_ name: String) throws -> Data { try Data(contentsOf: folder.appendingPathComponent(name)) }
}

struct RecordIngestTests {
    @Test func readsTheSampleJSONBatchWithAppendixAFields() throws {
        let result = try RecordIngest.parse(try SampleData.data("production-records.json"), format: .json)
        #expect(result.issues.isEmpty)
        #expect(result.records.count == 2)
        guard case .production(let r) = result.records[0].record else { Issue.record("kind"); return }
        #expect(r.productUID == "P-2025-0001")
        #expect(r.rawMaterial.batchNumber == "B-17")
        #expect(r.processParameters.temperature == "71.5")   // a JSON number kept as written
        #expect(r.operatorInfo.id == "OP-7")
        #expect(r.factoryUID == "F-KM-02")
        #expect(r.deviceID == "PRESS-04")
        #expect(r.productionTime.iso8601 == "2025-03-01T08:00:00.000Z")
        guard case .production(let r2) = result.records[1].record else { Issue.record("kind"); return }
        #expect(r2.productionTime.iso8601 == "2025-03-01T08:30:00.000Z")   // epoch seconds normalised
        #expect(result.token == "demo-token")
    }

    @Test func readsTheSampleXMLWithEntitiesAndZoneOffsets() throws {
        let result = try RecordIngest.parse(try SampleData.data("production-records.xml"), format: .xml)
        #expect(result.issues.isEmpty)
        guard case .production(let r) = result.records.first?.record else { Issue.record("kind"); return }
        #expect(r.rawMaterial.supplier == "Dian Steel & Alloy")
        #expect(r.productionTime.iso8601 == "2025-03-01T09:30:00.000Z")
    }

    @Test func readsTheSampleCSVWithRFC4180Quoting() throws {
        let result = try RecordIngest.parse(try SampleData.data("production-records.csv"), format: .csv)
        #expect(result.issues.isEmpty, "\(result.issues)")
        #expect(result.records.count == 2)
        guard case .production(let r) = result.records[0].record, case .production(let r2) = result.records[1].record else {
            Issue.record("kind"); return
        }
        #expect(r.productionLocation == "Kunming plant 2, line 3")
        #expect(r.rawMaterial.qualityReport == "QR-19: pass, \"A\" grade")
        #expect(r.operatorInfo.record == "shift A\nline restarted at 08:40")
        #expect(r2.productionTime.iso8601 == "2025-03-02T08:20:00.000Z")   // epoch milliseconds
        #expect(r2.deviceID == nil)   // empty cell = absent optional field
    }

    static let good = #"""
    {"production_time": "2025-03-01T08:00:00Z", "production_location": "L", "product_uid": "P-1",
     "pro_raw_material": {"pro_supplier": "S", "pro_batch_number": "B", "pro_Report_qualify_eval": "Q"},
     "propara": {"pro_temperature": "1", "pro_humidity": "2", "pro_pressure": "3"},
     "pro_op_info": {"pro_op_name": "N", "pro_op_id": "I", "pro_op_record": "R"},
     "pro_factory_uid": "F"}
    """#

    @Test func theSameRecordInEveryFormatHasTheSameDigest() throws {
        let json = try RecordIngest.parse(Data(Self.good.utf8), format: .json).records[0].record
        let xml = """
        <record><production_time>1740816000</production_time><production_location>L</production_location>
        <product_uid>P-1</product_uid><pro_raw_material><pro_supplier>S</pro_supplier><pro_batch_number>B</pro_batch_number>
        <pro_Report_qualify_eval>Q</pro_Report_qualify_eval></pro_raw_material><propara><pro_temperature>1</pro_temperature>
        <pro_humidity>2</pro_humidity><pro_pressure>3</pro_pressure></propara><pro_op_info><pro_op_name>N</pro_op_name>
        <pro_op_id>I</pro_op_id><pro_op_record>R</pro_op_record></pro_op_info><pro_factory_uid>F</pro_factory_uid></record>
        """
        let csv = """
        production_time,production_location,product_uid,pro_raw_material.pro_supplier,pro_raw_material.pro_batch_number,pro_raw_material.pro_Report_qualify_eval,propara.pro_temperature,propara.pro_humidity,propara.pro_pressure,pro_op_info.pro_op_name,pro_op_info.pro_op_id,pro_op_info.pro_op_record,pro_factory_uid
        2025-03-01T16:00:00+08:00,L,P-1,S,B,Q,1,2,3,N,I,R,F
        """
        let fromXML = try RecordIngest.parse(Data(xml.utf8), format: .xml).records[0].record
        let fromCSV = try RecordIngest.parse(Data(csv.utf8), format: .csv).records[0].record
        #expect(json == fromXML)
        #expect(json == fromCSV)
        #expect(json.digest() == fromCSV.digest())
        #expect(json.digest(using: .sm3) != json.digest())
    }

    @Test func aBadRecordInABatchReportsItsLineAndField() throws {
        let batch = "[\n" + Self.good + ",\n" + Self.good.replacingOccurrences(of: "\"pro_supplier\": \"S\", ", with: "") + "\n]"
        let result = try RecordIngest.parse(Data(batch.utf8), format: .json)
        #expect(result.records.count == 1)
        #expect(result.issues.count == 1)
        let issue = try #require(result.issues.first)
        #expect(issue.index == 1)
        #expect(issue.error.code == .missingField)
        #expect(issue.error.details["field"] == "pro_raw_material.pro_supplier")
        #expect(issue.line == 8)   // the line where that record's pro_raw_material object starts
    }

    @Test func allOrNothingRejectsTheWholeBatch() throws {
        let batch = "[" + Self.good + "," + Self.good.replacingOccurrences(of: "\"P-1\"", with: "\"\"") + "]"
        let error = #expect(throws: AppError.self) { try RecordIngest.parse(Data(batch.utf8), format: .json, allOrNothing: true) }
        #expect(error?.code == .batchRejected)
        #expect(error?.details["rejected"] == "1")
        #expect(error?.message.contains("product_uid") == true)
    }

    @Test func csvRowWithABadValueReportsItsLineAndColumn() throws {
        let csv = """
        production_time,production_location,product_uid,pro_raw_material.pro_supplier,pro_raw_material.pro_batch_number,pro_raw_material.pro_Report_qualify_eval,propara.pro_temperature,propara.pro_humidity,propara.pro_pressure,pro_op_info.pro_op_name,pro_op_info.pro_op_id,pro_op_info.pro_op_record,pro_factory_uid
        2025-03-01T08:00:00Z,L,P-1,S,B,"multi
        line",1,2,3,N,I,R,F
        yesterday,L,P-2,S,B,Q,1,2,3,N,I,R,F
        """
        let result = try RecordIngest.parse(Data(csv.utf8), format: .csv)
        #expect(result.records.count == 1)
        let issue = try #require(result.issues.first)
        #expect(issue.line == 4)
        #expect(issue.error.code == .invalidFieldValue)
        #expect(issue.error.details["field"] == "production_time")
    }

    @Test func csvRowWithTheWrongCellCountIsMalformed() {
        let csv = "product_uid,pro_factory_uid\nP-1,F,extra\n"
        let error = #expect(throws: AppError.self) { try RecordIngest.parse(Data(csv.utf8), format: .csv) }
        #expect(error?.code == .malformedCSV)
        #expect(error?.details["line"] == "2")
    }

    @Test func malformedJSONReportsItsLine() {
        let error = #expect(throws: AppError.self) { try RecordIngest.parse(Data("[\n{\"a\": 1},\n{\"b\" 2}\n]".utf8), format: .json) }
        #expect(error?.code == .malformedJSON)
        #expect(error?.details["line"] == "3")
    }

    @Test func malformedXMLReportsItsLine() {
        let error = #expect(throws: AppError.self) {
            try RecordIngest.parse(Data("<records>\n<record>\n<product_uid>P</product_uid>\n</records>".utf8), format: .xml)
        }
        #expect(error?.code == .malformedXML)
        #expect(error?.details["line"] == "4")
    }

    @Test func unknownFieldsAreRejectedByName() throws {
        let bad = Self.good.replacingOccurrences(of: "\"pro_factory_uid\": \"F\"", with: "\"pro_factory_uid\": \"F\", \"colour\": \"red\"")
        let issue = try #require(try RecordIngest.parse(Data(bad.utf8), format: .json).issues.first)
        #expect(issue.error.code == .unknownField)
        #expect(issue.error.details["field"] == "colour")
    }

    @Test func theAccessTokenIsTakenOutAndNeverPartOfTheRecord() throws {
        let withToken = Self.good.replacingOccurrences(of: "\"pro_factory_uid\": \"F\"", with: "\"pro_factory_uid\": \"F\", \"token\": \"SECRET-TOKEN-123\"")
        let result = try RecordIngest.parse(Data(withToken.utf8), format: .json)
        #expect(result.token == "SECRET-TOKEN-123")
        let record = result.records[0].record
        #expect(record == (try RecordIngest.parse(Data(Self.good.utf8), format: .json).records[0].record))
        #expect(!String(decoding: record.canonicalEncoding, as: UTF8.self).contains("SECRET-TOKEN-123"))
        guard case .production(let p) = record else { return }
        let json = String(decoding: try JSONEncoder().encode(p), as: UTF8.self)
        #expect(!json.contains("SECRET-TOKEN-123"))
    }

    @Test func formatsAreChosenByFileExtension() throws {
        #expect(try RecordFormat(fileName: "batch.CSV") == .csv)
        #expect(try RecordFormat(fileName: "/tmp/a.xml") == .xml)
        let error = #expect(throws: AppError.self) { try RecordFormat(fileName: "data.txt") }
        #expect(error?.code == .unsupportedFormat)
    }

    /// Seeded fuzzing: random bytes and mutations of valid inputs, in every
    /// format, give records or typed errors; never a crash.
    @Test(arguments: RecordFormat.allCases)
    func randomAndMutatedInputNeverCrashes(format: RecordFormat) throws {
        let sample = try SampleData.data("production-records.\(format.rawValue)")
        var rng = SplitMix64(seed: 99)
        var failures = 0
        for round in 0..<1_500 {
            var bytes = [UInt8](sample)
            if round % 3 == 0 {
                bytes = (0..<Int.random(in: 0...300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            } else {
                for _ in 0..<Int.random(in: 1...6, using: &rng) {
                    bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
            }
            do {
                let r = try RecordIngest.parse(Data(bytes), format: format)
                failures += r.issues.count
            } catch {
                failures += 1
            }
        }
        #expect(failures > 500)
    }
}

struct RecordTimeTests {
    @Test(arguments: [
        ("2025-03-01T08:00:00Z", "2025-03-01T08:00:00.000Z"),
        ("2025-03-01T16:00:00.250+08:00", "2025-03-01T08:00:00.250Z"),
        ("1740816000", "2025-03-01T08:00:00.000Z"),
        ("1740816000.5", "2025-03-01T08:00:00.500Z"),
        ("1740816000250", "2025-03-01T08:00:00.250Z"),
    ])
    func normalisesISO8601AndEpochToUTC(input: String, expected: String) throws {
        #expect(try RecordTime(parsing: input).iso8601 == expected)
    }

    @Test func theHandWrittenFormatAndParseAgreeWithFoundationOverTheWholeRange() throws {
        let reference = ISO8601DateFormatter()
        reference.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        reference.timeZone = TimeZone(identifier: "UTC")
        var rng = SplitMix64(seed: 1407)
        var samples: [UInt64] = [0, 951_782_400_000, 4_107_542_400_000, 253_402_300_799_999]   // 1970, 2000-02-29, 2100-03-01, 9999-12-31
        for _ in 0..<2_000 { samples.append(rng.next() % 253_402_300_800_000) }
        for ms in samples {
            let time = RecordTime(millisecondsSince1970: ms)
            #expect(time.iso8601 == reference.string(from: Date(timeIntervalSince1970: Double(ms) / 1000)), "\(ms)")
            #expect(try RecordTime(parsing: time.iso8601).millisecondsSince1970 == ms)
        }
        // Offsets, lower-case separators, short fractions; and what the fast path leaves to Foundation.
        #expect(try RecordTime(parsing: "2025-03-01t16:00:00.2+08:00").iso8601 == "2025-03-01T08:00:00.200Z")
        #expect(try RecordTime(parsing: "2025-03-01T00:30:00-05:30").iso8601 == "2025-03-01T06:00:00.000Z")
        #expect(try RecordTime(parsing: "2024-02-29T23:59:59.999z").millisecondsSince1970 == 1_709_251_199_999)
        #expect(RecordTime.rfc3339("2025-02-29T08:00:00Z") == .invalid)
        #expect(RecordTime.rfc3339("1969-12-31T23:59:59Z") == .invalid)
        #expect(RecordTime.rfc3339("2025-03-01T08:00:00.1234Z") == .otherForm)
        #expect(try RecordTime(parsing: "2025-03-01T08:00:00.1234Z").millisecondsSince1970 == 1_740_816_000_123)
    }

    @Test(arguments: ["2025-03-01T08:00:00", "yesterday", "", "-5", "1.2.3", "99999999999999999999", "2025-02-30T08:00:00Z"])
    func rejectsAmbiguousOrInvalidTimes(input: String) {
        let error = #expect(throws: AppError.self) { try RecordTime(parsing: input, field: "production_time") }
        #expect(error?.code == .invalidFieldValue)
        #expect(error?.details["field"] == "production_time")
    }
}

struct OtherRecordKindTests {
    @Test func equipmentRecordsValidateTheirStatus() throws {
        let json = #"{"record_kind": "equipment", "device_id": "PRESS-04", "recorded_time": "2025-03-01T08:00:00Z", "status": "Running", "readings": {"spindle_rpm": "1200", "oil_temp": 55.5}, "factory_uid": "F-KM-02"}"#
        guard case .equipment(let e) = try RecordIngest.parse(Data(json.utf8), format: .json).records[0].record else {
            Issue.record("kind"); return
        }
        #expect(e.status == .running)
        #expect(e.readings["oil_temp"] == "55.5")
        let bad = json.replacingOccurrences(of: "Running", with: "exploded")
        let issue = try #require(try RecordIngest.parse(Data(bad.utf8), format: .json).issues.first)
        #expect(issue.error.details["field"] == "status")
    }

    @Test func qualityInspectionNeedsAProductOrABatch() throws {
        let digest = HashAlgorithm.sha256.hash(Array("report.pdf".utf8)).hex
        let json = #"{"inspection_time": 1740816000, "batch_number": "B-17", "result": "pass", "inspector": {"name": "Wang Fang", "id": "QA-3"}, "report_digest": "\#(digest)", "factory_uid": "F-KM-02"}"#
        let ok = try RecordIngest.parse(Data(json.utf8), format: .json, kind: .qualityInspection)
        guard case .qualityInspection(let q) = ok.records.first?.record else { Issue.record("kind"); return }
        #expect(q.batchNumber == "B-17")
        #expect(q.reportDigest.hex == digest)
        let noTarget = json.replacingOccurrences(of: #""batch_number": "B-17", "#, with: "")
        let issue = try #require(try RecordIngest.parse(Data(noTarget.utf8), format: .json, kind: .qualityInspection).issues.first)
        #expect(issue.error.code == .missingField)
        let badDigest = json.replacingOccurrences(of: digest, with: "abc")
        let issue2 = try #require(try RecordIngest.parse(Data(badDigest.utf8), format: .json, kind: .qualityInspection).issues.first)
        #expect(issue2.error.details["field"] == "report_digest")
    }
}

struct EnvelopeTests {
    @Test func successAndFailureShareOneStructureInJSONAndXML() throws {
        let ok = Envelope.success(["P-1", "P-2"])
        let json = try JSONSerialization.jsonObject(with: ok.jsonData()) as! [String: Any]
        #expect(json["code"] as? Int == 0)
        #expect(json["message"] as? String == "ok")
        #expect((json["data"] as? [String]) == ["P-1", "P-2"])
        let failure = Envelope<[String]>.failure(AppError(.missingField, "required field 'product_uid' is missing", details: ["field": "product_uid"]))
        let f = try JSONSerialization.jsonObject(with: failure.jsonData()) as! [String: Any]
        #expect(f["code"] as? Int == 5001)
        #expect((f["details"] as? [String: String])?["field"] == "product_uid")
        let xml = String(decoding: try failure.xmlData(), as: UTF8.self)
        #expect(xml.contains("<envelope>"))
        #expect(xml.contains("<code>5001</code>"))
        #expect(xml.contains("<message>required field &apos;product_uid&apos; is missing</message>") || xml.contains("<message>required field 'product_uid' is missing</message>"))
    }

    @Test func ledgerErrorsKeepTheirCodesInTheEnvelope() throws {
        let e = Envelope<String>.failure(LedgerError(.transactionRootMismatch, "root differs", details: ["height": "4"]))
        #expect(e.code == 1109)
        #expect(e.details["height"] == "4")
        #expect(!e.isSuccess)
    }
}
